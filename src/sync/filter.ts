import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Ignore, Options } from 'ignore';
import { UsageError } from '../errors.js';

/** Decides whether a relative path is excluded; directories are asked with isDir = true. */
export interface Filter {
  excluded(rel: string, isDir: boolean): boolean;
  /** True when no pattern was given (lets the scanner skip the check). */
  readonly empty: boolean;
}

/** Builds a gitignore-syntax filter from patterns (relative to the source root). */
export function makeFilter(patterns: readonly string[]): Filter {
  const clean = patterns.map((p) => p.replace(/\r$/, '')).filter((p) => p.trim() !== '' && !p.startsWith('#'));
  if (clean.length === 0) return { empty: true, excluded: () => false };
  // Loaded only when there are patterns: its import costs more than most no-change passes' planning.
  const ignore = createRequire(import.meta.url)('ignore') as (options?: Options) => Ignore;
  const ig: Ignore = ignore({ allowRelativePaths: true }).add(clean);
  return {
    empty: false,
    // `ignore` wants dir-only patterns (`build/`) asked with a trailing slash.
    excluded: (rel, isDir) => ig.ignores(isDir ? `${rel}/` : rel),
  };
}

/** Reads patterns from an --exclude-from file, one a line. */
export async function readPatternFile(file: string): Promise<string[]> {
  try {
    return (await readFile(file, 'utf8')).split('\n');
  } catch (err) {
    throw new UsageError(`--exclude-from ${JSON.stringify(file)}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}
