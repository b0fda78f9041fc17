/** What kind of entry a path is; fifos, sockets and devices never become entries. */
export type EntryKind = 'file' | 'dir' | 'symlink';

/**
 * One lstat'ed path of a tree. Paths are relative to the tree root, '/'-separated, never
 * normalised (NFC and NFD spellings of one name are two entries, as the filesystem says).
 */
export interface Entry {
  readonly path: string;
  readonly kind: EntryKind;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  /** Permission bits only (mode & 0o7777). */
  readonly mode: number;
  readonly ino: number;
  readonly dev: number;
  /** Link target text, for symlinks. */
  readonly target?: string;
}

/** A failure tied to one path, collected instead of thrown so a pass can go on. */
export interface PathIssue {
  readonly path: string;
  readonly op: string;
  readonly message: string;
  readonly code?: string;
}

/** The listing of one tree. */
export interface Snapshot {
  readonly root: string;
  readonly entries: Map<string, Entry>;
  /** Paths that could not be read: a listing with issues is incomplete. */
  readonly issues: PathIssue[];
  /** Excluded paths found in the tree (kept unless --delete-excluded). */
  readonly excluded: Map<string, Entry>;
  /** Leftover `.foldersync-*.tmp` names from an interrupted pass (replica side). */
  readonly stale: string[];
  /** Fifos, sockets and devices that were skipped (source side). */
  readonly skipped: string[];
}

/** What foldersync last made true for one replica path. */
export interface RecordEntry {
  readonly kind: EntryKind;
  readonly size: number;
  readonly mtimeMs: number;
  readonly mode: number;
  readonly target?: string;
  /** The replica entry's inode and ctime right after foldersync wrote it. */
  readonly rIno: number;
  readonly rCtimeMs: number;
  /** The source entry's identity when it was mirrored: finds renames without reading data. */
  readonly sIno: number;
  readonly sDev: number;
  readonly sCtimeMs: number;
  /** Content hash (hex) and its algorithm, when known. */
  readonly hash?: string;
  readonly algo?: HashAlgo;
}

/** The record: replica path → what was made true there. */
export type FileRecord = Map<string, RecordEntry>;

/** Supported content hashes. */
export type HashAlgo = 'sha256' | 'md5';

/** Hashes known for this pass, keyed by hashKey(side, path). */
export type HashMap = Map<string, string>;

/** Which tree a hash belongs to. */
export type Side = 'src' | 'rep';

/** The names used in logs and the pass summary. */
export type ActionName = 'copy' | 'update' | 'move' | 'delete' | 'mkdir' | 'rmdir' | 'symlink' | 'attrs';

/** One change to the replica. `path` is relative to the replica root. */
export type Action =
  | { readonly type: 'mkdir'; readonly path: string; readonly src: Entry }
  | {
      readonly type: 'move';
      readonly from: string;
      readonly path: string;
      readonly kind: EntryKind;
      readonly src: Entry;
      /** An occupant set aside under a temp name so the path can be reused; not a user-visible move. */
      readonly stage?: boolean;
      readonly hash?: string;
      /** Where the scan saw the moved entry, when that differs from `from` (it was set aside first). */
      readonly orig?: string;
      /**
       * Only the spelling changes (case or Unicode form, on a replica that folds them): the entry
       * keeps its content and attributes, which the plan compares and fixes like any other's.
       */
      readonly nameOnly?: boolean;
    }
  | {
      readonly type: 'copy' | 'update';
      readonly path: string;
      readonly src: Entry;
    }
  | { readonly type: 'symlink'; readonly path: string; readonly src: Entry }
  | { readonly type: 'attrs'; readonly path: string; readonly src: Entry; readonly kind: EntryKind; readonly hash?: string }
  | {
      readonly type: 'delete';
      readonly path: string;
      readonly kind: EntryKind;
      /** Where the scan saw it, when it was set aside under a temp name first. */
      readonly orig?: string;
      /** True for an excluded folder removed with everything in it (--delete-excluded). */
      readonly recursive?: boolean;
    }
  | { readonly type: 'rmdir'; readonly path: string; readonly orig?: string };

/** The result of planning: ordered actions plus what the record should learn. */
export interface Plan {
  readonly actions: Action[];
  /** Hashes the planner wanted but did not have; the engine hashes them and plans again. */
  readonly missing: { side: Side; path: string }[];
  /** Entries already in sync whose record line is missing or outdated. */
  readonly verified: { path: string; src: Entry; rep: Entry; hash?: string }[];
  /** Entries removed from the replica by the plan, counted for --max-delete. */
  readonly deleteCount: number;
  /** True when deletes were withheld because the source listing was incomplete. */
  readonly deletesWithheld: boolean;
}

/** Per-pass counters, as in the `pass complete` log line. */
export interface PassCounts {
  copy: number;
  update: number;
  move: number;
  delete: number;
  mkdir: number;
  rmdir: number;
  symlink: number;
  attrs: number;
  /** Old versions moved into --backup-dir. */
  backup: number;
  bytes: number;
  hashed: number;
  hashedBytes: number;
  errors: number;
}

/** How a pass ended. */
export type PassOutcome = 'ok' | 'errors' | 'refused' | 'aborted';

/** The summary of one pass. */
export interface PassReport extends PassCounts {
  outcome: PassOutcome;
  durationMs: number;
  /** Why a pass was refused (safety) or why it failed entirely. */
  reason?: string;
  dryRun: boolean;
}

/** Builds the key under which a hash is stored in a HashMap. */
export function hashKey(side: Side, path: string): string {
  return `${side}\0${path}`;
}

/** A zeroed set of pass counters. */
export function emptyCounts(): PassCounts {
  return { copy: 0, update: 0, move: 0, delete: 0, mkdir: 0, rmdir: 0, symlink: 0, attrs: 0, backup: 0, bytes: 0, hashed: 0, hashedBytes: 0, errors: 0 };
}

/** A listing of nothing yet: what a walk fills, or a replica that does not exist. */
export function emptySnapshot(root: string): Snapshot {
  return { root, entries: new Map(), issues: [], excluded: new Map(), stale: [], skipped: [] };
}
