import { baseOf, parentOf } from './paths.js';
import type { FsTraits } from '../trees/probe.js';
import type { Entry } from './types.js';

/** A source entry the replica's filesystem cannot hold, and why. */
export interface Unplaceable {
  readonly path: string;
  readonly reason: string;
  /** Entries below it (a folder) that are left out with it. */
  readonly below: number;
}

/** What a replica's filesystem allows in names and entries. */
export type NameTraits = Pick<FsTraits, 'type' | 'symlinks' | 'caseInsensitive' | 'normalizing' | 'windowsNames' | 'unicodeNames'> &
  Partial<Pick<FsTraits, 'outwardLinks'>>;

const WINDOWS_FORBIDDEN = /["*:<>?\\|\x00-\x1f]/;
const MAX_NAME = 255;

/** Byte order of UTF-8, which is code-point order: the order "sorts first" means. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Why a symlink cannot exist on the replica, or undefined when it can. */
function linkProblem(e: Entry, t: NameTraits): string | undefined {
  if (!t.symlinks) return `the replica's filesystem (${t.type}) cannot hold symbolic links`;
  if (t.outwardLinks === false && e.target !== undefined && (e.target.startsWith('/') || e.target.split('/').includes('..'))) {
    return `the replica's filesystem (${t.type}) refuses to read back a link target that is absolute or climbs with '..' (${JSON.stringify(e.target)})`;
  }
  return undefined;
}

/** Why a name cannot exist on the replica, or undefined when it can. */
function nameProblem(name: string, t: NameTraits): string | undefined {
  if (t.windowsNames) {
    const bad = WINDOWS_FORBIDDEN.exec(name);
    if (bad) return `the name contains ${bad[0] < ' ' ? `control character ${JSON.stringify(bad[0])}` : `'${bad[0]}'`}, which ${t.type} does not allow`;
    if (/[. ]$/.test(name)) return `the name ends with a ${name.endsWith('.') ? 'dot' : 'space'}, which ${t.type} does not allow`;
    if (name.length > MAX_NAME) return `the name is ${name.length} UTF-16 units long; ${t.type} holds at most ${MAX_NAME}`;
    // A UTF-16 unit is at most 3 bytes of UTF-8: names of 85 units or fewer need no counting.
  } else if (name.length > MAX_NAME / 3 && Buffer.byteLength(name) > MAX_NAME) {
    return `the name is ${Buffer.byteLength(name)} bytes long; ${t.type} holds at most ${MAX_NAME}`;
  }
  if (!t.unicodeNames && /[^\x00-\x7f]/.test(name)) return `the name has characters beyond ASCII, which this ${t.type} filesystem refuses`;
  return undefined;
}

/**
 * Finds the source entries the replica cannot hold: symlinks where it has none, names it
 * forbids or cannot fit, and names that collide once the replica folds case (or Unicode
 * normalisation): of those, the one first in byte order is kept, the others are returned. A
 * folder's subtree goes with it and is reported once, as the folder. Pure.
 */
export function findUnplaceable(entries: ReadonlyMap<string, Entry>, t: NameTraits, fold?: (p: string) => string): Unplaceable[] {
  const found = new Map<string, string>();
  const winners = new Map<string, string>();
  for (const e of entries.values()) {
    const problem = e.kind === 'symlink' ? linkProblem(e, t) ?? nameProblem(baseOf(e.path), t) : nameProblem(baseOf(e.path), t);
    if (problem !== undefined) found.set(e.path, problem);
  }
  // Only what the replica can hold competes for a folded name: a link `README` beside a file
  // `readme` on FAT leaves the file to be mirrored.
  for (const e of entries.values()) {
    if (fold === undefined) break;
    if (found.has(e.path)) continue;
    const key = fold(e.path);
    const other = winners.get(key);
    if (other === undefined) winners.set(key, e.path);
    else if (byteOrder(e.path, other) < 0) winners.set(key, e.path);
  }
  if (fold !== undefined) {
    for (const e of entries.values()) {
      const w = winners.get(fold(e.path));
      if (w !== undefined && w !== e.path && !found.has(e.path)) {
        found.set(e.path, `differs only in case or Unicode form from ${JSON.stringify(w)}, and the replica's filesystem (${t.type}) cannot hold both; ${JSON.stringify(w)} is kept`);
      }
    }
  }
  if (found.size === 0) return [];
  // Below a reported folder everything is left out with it: one line for the folder says it all.
  const tops = new Set<string>();
  for (const p of [...found.keys()].sort(byteOrder)) if (!hasAncestorIn(p, tops)) tops.add(p);
  const below = new Map<string, number>([...tops].map((p) => [p, 0]));
  for (const p of entries.keys()) {
    for (let a = parentOf(p); a !== ''; a = parentOf(a)) {
      const n = below.get(a);
      if (n !== undefined) below.set(a, n + 1);
    }
  }
  return [...tops].map((p) => ({ path: p, reason: found.get(p)!, below: below.get(p)! }));
}

/** Removes these paths and everything below them from a listing. */
export function dropSubtrees(entries: Map<string, Entry>, paths: readonly string[]): void {
  if (paths.length === 0) return;
  const tops = new Set(paths);
  for (const p of [...entries.keys()]) if (tops.has(p) || hasAncestorIn(p, tops)) entries.delete(p);
}

function hasAncestorIn(p: string, set: ReadonlySet<string>): boolean {
  for (let a = parentOf(p); a !== ''; a = parentOf(a)) if (set.has(a)) return true;
  return false;
}

/**
 * Folders spelt differently in the source and the replica (`Photos` and `photos`) on a replica
 * that folds names but cannot rename folders: the source folder cannot be mirrored (its
 * copies would land in the replica's spelling every pass) and the replica one must not be
 * deleted (it is the same name). Only the topmost such pairs. Pure.
 */
export function caseConflicts(source: ReadonlyMap<string, Entry>, replica: ReadonlyMap<string, Entry>, fold: (p: string) => string): { source: string; replica: string }[] {
  const wanted = new Map<string, string>();
  for (const e of source.values()) if (e.kind === 'dir') wanted.set(fold(e.path), e.path);
  const found: { source: string; replica: string }[] = [];
  for (const e of replica.values()) {
    if (e.kind !== 'dir' || source.has(e.path)) continue;
    const q = wanted.get(fold(e.path));
    if (q !== undefined && q !== e.path) found.push({ source: q, replica: e.path });
  }
  found.sort((a, b) => byteOrder(a.replica, b.replica));
  const tops = new Set<string>();
  return found.filter((c) => {
    if (hasAncestorIn(c.replica, tops)) return false;
    tops.add(c.replica);
    return true;
  });
}
