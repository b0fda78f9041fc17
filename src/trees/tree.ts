import type { Entry, PathIssue } from '../sync/types.js';

/** One name of a folder listing, with what lstat (or the server) said of it. */
export interface Listed {
  readonly name: string;
  /** The entry; for a fifo, socket or device (`special`), a placeholder file entry. */
  readonly e: Entry;
  /** Not a file, folder or symlink: never mirrored, never left in a replica. */
  readonly special?: true;
  /** A symlink whose target could not be read: listed without one. */
  readonly linkError?: PathIssue;
}

/** What one folder holds, as listed. */
export interface FolderListing {
  /** The entries, in no particular order. */
  readonly items: Listed[];
  /** Leftover `.foldersync-*.tmp` names (full relative paths). */
  readonly stale: string[];
  /** Names that could not be read (gone ones are simply absent). */
  readonly issues: PathIssue[];
}

/**
 * The reading side of a tree, local or remote: what a pass needs to walk it folder by folder.
 * Paths are relative to the root and '/'-separated; nothing here follows a symlink.
 */
export interface TreeReader {
  /** Where the tree is, as the user named it (for messages). */
  readonly root: string;
  /**
   * Lists one folder. The root that cannot be listed throws (nothing below could be trusted);
   * a folder that vanished lists as empty; one that cannot be read is one issue.
   */
  list(dir: string): Promise<FolderListing>;
  /** lstats one path; null when it is gone or is not a file, folder or symlink. */
  stat(rel: string): Promise<Entry | null>;
}
