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
  /** A regular file with more than one name (hard links): how many, where the tree says so. */
  readonly nlink?: number;
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

/** How putting one source file into the replica ended. */
export type CopyOutcome =
  | { readonly kind: 'done'; readonly src: Entry; readonly rep: Entry; /** The old file was moved into the backup folder first. */ readonly backedUp?: boolean }
  | { readonly kind: 'vanished' }
  | { readonly kind: 'changing' };

/**
 * The writing side of a replica: every change a pass makes goes through one of these, and none
 * of them ever writes through a symlink in the replica. Paths are relative to the replica root.
 */
export interface ReplicaWriter {
  /** Creates the replica root if it is missing. */
  ensureRoot(): Promise<void>;
  /** Creates a folder (one already there is fine); its entry. */
  mkdir(rel: string): Promise<Entry>;
  /**
   * Puts the source file at `rel` in place atomically: a temp file, renamed only when the source
   * held still. With `backupAs`, what was at `rel` is first moved into the backup folder under
   * that path, just before the new file is renamed into place.
   */
  copyIn(rel: string, backupAs?: string): Promise<CopyOutcome>;
  /** Creates or retargets a symlink atomically; its entry. */
  symlink(rel: string, target: string): Promise<Entry>;
  /** Makes `rel` another name of the replica file `existing` (a hard link), atomically replacing what is there; its entry. */
  link(existing: string, rel: string): Promise<Entry>;
  /** Renames an entry (a file or a whole folder). */
  rename(from: string, to: string): Promise<void>;
  /** The entry at `rel` now. */
  stat(rel: string): Promise<Entry>;
  /** Gives a file the source's mode (where kept) and mtime; its entry. */
  fixFile(rel: string, src: Entry): Promise<Entry>;
  /** Gives a folder the source folder's mode (where kept) and mtime. */
  fixFolder(rel: string, src: Entry): Promise<void>;
  /** Deletes a file or link (`recursive`: a folder with everything in it); one already gone is fine. */
  remove(rel: string, recursive: boolean): Promise<void>;
  /** Removes an empty folder; one already gone is fine. */
  rmdir(rel: string): Promise<void>;
  /** Lets the pass write in a read-only folder; true when its mode must be restored at the end. */
  openForWriting(rel: string): Promise<boolean>;
  /** Forgets what it knew of a folder and everything below it (renamed or removed). */
  forget(rel: string): void;
  /** Removes leftover temp files of an interrupted pass. */
  removeStale(paths: readonly string[]): Promise<void>;
  /**
   * Moves the entry at `rel` (a file, a link or a whole folder) into this pass's backup folder
   * as `<stamp>/<as>`, by one rename on the replica's filesystem; false when nothing was there.
   */
  backup(rel: string, as: string): Promise<boolean>;
  /** The names of the stamp folders in the backup folder (none when it does not exist). */
  backupStamps(): Promise<string[]>;
  /** Removes one stamp folder of the backup folder, with everything in it. */
  removeBackupStamp(stamp: string): Promise<void>;
}
