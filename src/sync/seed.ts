import { StepGauge } from '../trees/probe.js';
import type { TreeReader } from '../trees/tree.js';
import type { Filter } from './filter.js';
import { takeSource } from './march.js';
import type { Entry, PathIssue } from './types.js';

/** One source folder of a first copy, as listed: what to create in the replica folder of the same path. */
export interface SeedFolder {
  /** The folder's own entry (undefined for the root). */
  readonly dir: Entry | undefined;
  /** Its entries by path, in name order; excluded and special ones left out. */
  readonly entries: Map<string, Entry>;
  readonly issues: readonly PathIssue[];
  /** Fifos, sockets and devices (never mirrored). */
  readonly skipped: readonly string[];
}

/** What the walk needs: the source, its filter, and what to do with each folder before going below it. */
export interface SeedInput {
  readonly source: TreeReader;
  readonly filter: Filter | undefined;
  readonly signal?: AbortSignal;
  /** Creates the folder's entries in the replica; returns the subfolders to go into (those it kept). */
  readonly onFolder: (f: SeedFolder) => Promise<readonly Entry[]>;
}

/** What the walk saw besides what it handed over. */
export interface Seeded {
  /** Entries listed in the source (excluded and special ones not). */
  readonly count: number;
  /** The source's mtime step as its entries show it (see observedResolutionMs). */
  readonly sourceStep: number | undefined;
}

/**
 * A first copy into an empty replica, streamed: the source is walked folder by folder (the
 * march's order) and each folder is created in the replica before the walk goes below it.
 * With nothing in the replica and nothing recorded there is nothing to rename, replace or
 * delete, so no plan over the whole tree is needed: memory is one folder and the path to it.
 */
export async function seed(inp: SeedInput): Promise<Seeded> {
  const gauge = new StepGauge();
  let gauging = true;
  let count = 0;
  const stack: Entry[] = [];
  // The root first (no entry of its own), then each folder it hands back.
  let dir: Entry | undefined;
  do {
    inp.signal?.throwIfAborted();
    const l = await inp.source.list(dir?.path ?? '');
    const { items, issues, skipped } = takeSource(l, inp.filter);
    const entries = new Map<string, Entry>();
    for (const { e } of items) {
      entries.set(e.path, e);
      if (gauging && e.kind !== 'symlink') gauging = gauge.add(e.mtimeMs);
    }
    count += entries.size;
    const below = await inp.onFolder({ dir, entries, issues, skipped });
    // Reversed: the first subfolder is walked next, and all of it before its next sibling.
    for (let i = below.length - 1; i >= 0; i--) stack.push(below[i]!);
    dir = stack.pop();
  } while (dir !== undefined);
  return { count, sourceStep: gauge.step };
}
