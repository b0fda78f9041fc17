import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Ignore, Options } from 'ignore';
import { UsageError } from '../errors.js';
import { makeIncludes } from './include.js';
import { isWithin } from './paths.js';

/** Decides whether a relative path is excluded; directories are asked with isDir = true. */
export interface Filter {
  excluded(rel: string, isDir: boolean): boolean;
  /**
   * True for a path foldersync keeps for itself in the replica (the backup folder): never
   * listed, mirrored, counted or deleted, even with --delete-excluded. Also excluded.
   */
  reserved(rel: string): boolean;
  /**
   * With --include: true for a folder that is walked only because something below it may be
   * included. It is mirrored only once something below it is.
   */
  onTheWay(rel: string): boolean;
  /** True when no pattern was given (lets the scanner skip the check). */
  readonly empty: boolean;
}

/** What a filter is made of: plain data, so a listing worker thread can build the same one. */
export interface FilterSpec {
  readonly excludes: readonly string[];
  /** --include patterns: when any is given, only what they match (and the folders on the way) is in. */
  readonly includes?: readonly string[];
  /** Relative paths reserved in the replica (see Filter.reserved). */
  readonly reserved?: readonly string[];
}

/** Builds a filter from gitignore-syntax excludes (a list) or a whole FilterSpec, relative to the source root. */
export function makeFilter(spec: readonly string[] | FilterSpec): Filter {
  const { excludes, includes = [], reserved = [] } = isSpec(spec) ? spec : { excludes: spec };
  const clean = excludes.map((p) => p.replace(/\r$/, '')).filter((p) => p.trim() !== '' && !p.startsWith('#'));
  const inc = makeIncludes(includes);
  const isReserved = reserved.length === 0 ? () => false : (rel: string) => reserved.some((r) => isWithin(rel, r));
  if (clean.length === 0 && inc === null && reserved.length === 0) return { empty: true, excluded: () => false, reserved: () => false, onTheWay: () => false };
  let ig: Ignore | null = null;
  if (clean.length > 0) {
    // Loaded only when there are patterns: its import costs more than most no-change passes' planning.
    const ignore = createRequire(import.meta.url)('ignore') as (options?: Options) => Ignore;
    ig = ignore({ allowRelativePaths: true }).add(clean);
  }
  const matched = ig;
  return {
    empty: false,
    reserved: isReserved,
    onTheWay: inc === null ? () => false : (rel) => inc.onTheWay(rel),
    // `ignore` wants dir-only patterns (`build/`) asked with a trailing slash.
    excluded: (rel, isDir) =>
      isReserved(rel) || (inc !== null && !inc.included(rel, isDir)) || matched?.ignores(isDir ? `${rel}/` : rel) === true,
  };
}

function isSpec(x: readonly string[] | FilterSpec): x is FilterSpec {
  return !Array.isArray(x);
}

/** Reads patterns from an --exclude-from file, one a line. */
export async function readPatternFile(file: string): Promise<string[]> {
  try {
    return (await readFile(file, 'utf8')).split('\n');
  } catch (err) {
    throw new UsageError(`--exclude-from ${JSON.stringify(file)}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** The part of a pass's settings that says what it leaves out. */
export interface FilterSettings {
  readonly replica: string;
  readonly excludes: readonly string[];
  readonly includes?: readonly string[];
  /** The backup folder (absolute); reserved when it lies inside the replica. */
  readonly backup?: { readonly dir: string } | null;
}

/** The filter of a pass: its excludes and includes, and the backup folder when it is inside the replica. */
export function passFilterSpec(s: FilterSettings): FilterSpec {
  const rel = s.backup ? path.relative(s.replica, s.backup.dir) : '..';
  const inside = rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
  return { excludes: s.excludes, includes: s.includes ?? [], reserved: inside ? [rel.split(path.sep).join('/')] : [] };
}
