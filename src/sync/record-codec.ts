import type { EntryKind, HashAlgo, RecordEntry } from './types.js';

/**
 * The text of record lines, both formats. Every string goes through JSON, so names with
 * newlines, quotes or lone surrogates stay on one line and come back exactly; an entry's fields
 * after its name or path are the same in the base, the journal and format 1:
 * kind ('f' | 'd' | 's'), size, mtimeMs, mode, rIno, rCtimeMs, sIno, sDev, sCtimeMs,
 * hash | 0, algo | 0, target | 0.
 */

const KIND_CODE: Record<EntryKind, string> = { file: 'f', dir: 'd', symlink: 's' };
const KINDS: Record<string, EntryKind> = { f: 'file', d: 'dir', s: 'symlink' };

/** The first characters of a base group line, told apart from entry lines without parsing (no name is "/"). */
export const GROUP_PREFIX = '["/",';

/** A base line starting the entries of folder `dir`. */
export function groupLine(dir: string): string {
  return JSON.stringify(['/', dir]);
}

/**
 * An entry's fields as JSON text without the brackets (`"f",12,…,0`): the journal holds changes
 * in this form (a third of the heap of the entry object, and written out as is).
 */
export function fieldsOf(e: RecordEntry): string {
  const text = JSON.stringify([KIND_CODE[e.kind], e.size, e.mtimeMs, e.mode, e.rIno, e.rCtimeMs, e.sIno, e.sDev, e.sCtimeMs, e.hash ?? 0, e.algo ?? 0, e.target ?? 0]);
  return text.slice(1, -1);
}

/** The entry that fieldsOf() encoded. */
export function entryOfFields(fields: string): RecordEntry {
  const e = entryAt(JSON.parse(`[${fields}]`) as unknown[], 0);
  if (e === undefined) throw new Error(`not the fields of a record entry: ${fields}`);
  return e;
}

/** A base line for the entry `name` of the current group, from its fields. */
export function entryLine(name: string, fields: string): string {
  return `[${JSON.stringify(name)},${fields}]`;
}

/** A journal (and format 1) line putting the entry with these fields at `path`. */
export function putLine(path: string, fields: string): string {
  return `["+",${JSON.stringify(path)},${fields}]`;
}

/** A journal (and format 1) line forgetting `path`. */
export function deleteLine(path: string): string {
  return JSON.stringify(['-', path]);
}

/** A parsed base line: a group start, an entry, or undefined for anything else. */
export type BaseLine = { readonly dir: string; readonly name?: undefined } | { readonly name: string; readonly e: RecordEntry };

/** Parses one base line; undefined when it is not a well-formed group or entry line. */
export function parseBaseLine(line: string): BaseLine | undefined {
  const a = parseArray(line);
  if (a === undefined || typeof a[0] !== 'string') return undefined;
  if (a.length === 2) return a[0] === '/' && typeof a[1] === 'string' ? { dir: a[1] } : undefined;
  if (a.length !== 13) return undefined;
  const e = entryAt(a, 1);
  return e ? { name: a[0], e } : undefined;
}

/** Parses one journal line: [path, entry] for a put, [path, null] for a delete, undefined when malformed. */
export function parseJournalLine(line: string): [string, RecordEntry | null] | undefined {
  const a = parseArray(line);
  if (a === undefined || typeof a[1] !== 'string') return undefined;
  if (a[0] === '-') return a.length === 2 ? [a[1], null] : undefined;
  if (a[0] !== '+' || a.length !== 14) return undefined;
  const e = entryAt(a, 2);
  return e ? [a[1], e] : undefined;
}

function parseArray(line: string): unknown[] | undefined {
  let a: unknown;
  try {
    a = JSON.parse(line);
  } catch {
    return undefined;
  }
  return Array.isArray(a) ? a : undefined;
}

/** The entry whose kind is at a[o]; undefined when a field has the wrong type. */
function entryAt(a: unknown[], o: number): RecordEntry | undefined {
  const kind = KINDS[a[o] as string];
  if (!kind) return undefined;
  // Checked one by one: this runs once per line, a million times for a million files.
  for (let i = o + 1; i < o + 9; i++) if (typeof a[i] !== 'number') return undefined;
  const e: { -readonly [K in keyof RecordEntry]: RecordEntry[K] } = {
    kind,
    size: a[o + 1] as number,
    mtimeMs: a[o + 2] as number,
    mode: a[o + 3] as number,
    rIno: a[o + 4] as number,
    rCtimeMs: a[o + 5] as number,
    sIno: a[o + 6] as number,
    sDev: a[o + 7] as number,
    sCtimeMs: a[o + 8] as number,
  };
  const hash = a[o + 9];
  const algo = a[o + 10];
  const target = a[o + 11];
  if (typeof hash === 'string') e.hash = hash;
  if (algo === 'sha256' || algo === 'md5') e.algo = algo as HashAlgo;
  if (typeof target === 'string') e.target = target;
  return e;
}

/** What the first line of a record file says. */
export type Header =
  | { readonly kind: 'v2'; readonly entries: number }
  | { readonly kind: 'v1' }
  | { readonly kind: 'foreign' }
  | { readonly kind: 'unknown-version'; readonly version: unknown }
  | { readonly kind: 'garbage' };

/** The format-2 header line, padded with spaces (JSON allows them) so a count of up to 16 digits can overwrite it in place. */
export function headerLine(source: string, replica: string, entries: number): string {
  const line = JSON.stringify({ foldersync: 2, source, replica, entries });
  const width = JSON.stringify({ foldersync: 2, source, replica, entries: 0 }).length + 15;
  return line.padEnd(width, ' ');
}

/** Reads a header line for the pair source → replica. */
export function parseHeader(line: string, source: string, replica: string): Header {
  let h: unknown;
  try {
    h = JSON.parse(line);
  } catch {
    return { kind: 'garbage' };
  }
  if (typeof h !== 'object' || h === null || !('foldersync' in h)) return { kind: 'garbage' };
  const o = h as Record<string, unknown>;
  if (o.source !== source || o.replica !== replica) return { kind: 'foreign' };
  if (o.foldersync === 1) return { kind: 'v1' };
  if (o.foldersync !== 2) return { kind: 'unknown-version', version: o.foldersync };
  const n = o.entries;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? { kind: 'v2', entries: n } : { kind: 'garbage' };
}
