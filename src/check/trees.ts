import path from 'node:path';
import { LocalTree } from '../trees/local.js';
import { type FsTraits, guessTraits } from '../trees/probe.js';
import type { TreeReader } from '../trees/tree.js';
import type { HashPool, HashResult } from '../sync/hash-pool.js';
import { abs } from '../sync/paths.js';
import type { HashAlgo } from '../sync/types.js';

/** One side of a check: how to list it, hash a file of it, and what its filesystem keeps. */
export interface CheckTree {
  readonly reader: TreeReader;
  /** Hashes one file (relative path) without changing anything. */
  hash(rel: string, algo: HashAlgo, signal?: AbortSignal): Promise<HashResult>;
  /** What the filesystem keeps, found without writing (a check writes nothing, not even a probe). */
  traits(): Promise<FsTraits>;
}

/**
 * Opens the tree a location names for reading. Only local folders so far; a remote location
 * plugs in here with its own reader, hashing and traits.
 */
export function openTree(location: string, pool: HashPool): CheckTree {
  const root = path.resolve(location);
  return {
    reader: new LocalTree(root),
    hash: (rel, algo, signal) => pool.hash(abs(root, rel), algo, signal),
    traits: () => guessTraits(root),
  };
}
