import type { Trees } from '../trees/factory.js';
import { type TreeSettings, openTrees } from '../trees/open.js';
import type { FsTraits } from '../trees/probe.js';
import type { FolderListing, TreeReader } from '../trees/tree.js';
import type { FilterSpec } from '../sync/filter.js';
import type { HashPool, HashResult } from '../sync/hash-pool.js';
import type { HashAlgo } from '../sync/types.js';

/** One side of a check: how to list it, hash a file of it, and what its filesystem keeps. */
export interface CheckTree {
  readonly reader: TreeReader;
  /** Hashes one file (relative path) without changing anything. */
  hash(rel: string, algo: HashAlgo, signal?: AbortSignal): Promise<HashResult>;
  /** What the filesystem keeps, found without writing (a check writes nothing, not even a probe). */
  traits(): Promise<FsTraits>;
}

/** Both sides of a check; `close` ends their connections (idempotent). */
export interface CheckTrees {
  readonly source: CheckTree;
  readonly replica: CheckTree;
  close(): void;
}

/** A root that could not be listed: nothing below it can be compared. */
export class UnlistedRoot extends Error {
  constructor(
    readonly side: 'source' | 'replica',
    readonly location: string,
    cause: unknown,
  ) {
    super(`cannot list the ${side} ${location}`, { cause });
    this.name = 'UnlistedRoot';
  }
}

/**
 * Opens the two sides through the code a pass uses (openTrees): local folders, or folders on
 * another machine over SFTP, connected now (a bad host key, an unreachable host or a refused
 * login throws the pass's ConnectError). The filter is the pass's, for a replica lister that
 * wants it.
 */
export async function openCheckTrees(s: TreeSettings, filter: FilterSpec, pool: HashPool): Promise<CheckTrees> {
  return checkTreesOf(await openTrees(s, pool), filter);
}

/** The check's view of a pair of trees: read-only, so hashing a remote file is the pass's (on the server when it can). */
export function checkTreesOf(trees: Trees, filter: FilterSpec): CheckTrees {
  // Small: a check lists each folder once, so a listing thread would only cost its start.
  const replicaReader = trees.replicaReader(false, filter);
  return {
    source: {
      reader: rooted(trees.sourceReader(), 'source', trees.source),
      hash: (rel, algo, signal) => trees.hash('src', rel, algo, signal),
      traits: () => trees.guessedTraits('src'),
    },
    replica: {
      reader: rooted(replicaReader.tree, 'replica', trees.replica),
      hash: (rel, algo, signal) => trees.hash('rep', rel, algo, signal),
      traits: () => trees.guessedTraits('rep'),
    },
    close: () => {
      replicaReader.stop();
      trees.close();
    },
  };
}

/** A reader whose root listing failure names its side (a remote error carries only the server's path). */
function rooted(reader: TreeReader, side: UnlistedRoot['side'], location: string): TreeReader {
  return {
    root: reader.root,
    list: async (dir: string): Promise<FolderListing> => {
      try {
        return await reader.list(dir);
      } catch (err) {
        throw dir === '' ? new UnlistedRoot(side, location, err) : err;
      }
    },
    stat: (rel) => reader.stat(rel),
  };
}
