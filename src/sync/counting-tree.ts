import type { FolderListing, TreeReader } from '../trees/tree.js';
import type { ProgressSink } from './progress-sink.js';

/** A tree whose every folder listing is counted into a progress line; otherwise the tree itself. */
export function counting(tree: TreeReader, sink: ProgressSink | undefined): TreeReader {
  if (sink === undefined) return tree;
  return {
    root: tree.root,
    list: async (dir: string): Promise<FolderListing> => {
      const l = await tree.list(dir);
      sink.listed(l.items.length);
      return l;
    },
    stat: (rel) => tree.stat(rel),
  };
}
