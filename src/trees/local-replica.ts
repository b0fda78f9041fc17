import { constants } from 'node:fs';
import { type FileHandle, link, lstat, mkdir, open, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { FsOpError, errCode, isGone } from '../errors.js';
import { copyAtomic, setAttrs, symlinkAtomic } from '../sync/copy.js';
import { copyFromStream } from '../sync/copy-stream.js';
import type { FsRules } from '../sync/fs-rules.js';
import type { InFlight } from '../sync/in-flight.js';
import { baseOf, joinRel, parentOf, sameMtime, tmpName } from '../sync/paths.js';
import { SafeDirs } from '../sync/safe-dirs.js';
import type { Entry } from '../sync/types.js';
import { WritableDirs } from '../sync/writable-dirs.js';
import { type LocalBackupOptions, LocalBackupArea } from './local-backup.js';
import { toEntry } from './local.js';
import type { SourceFiles } from './source-files.js';
import type { CopyOutcome, ReplicaWriter } from './tree.js';

/** What a local replica writer needs besides its root. */
export interface LocalReplicaOptions {
  /** The source folder copies read from (by the kernel: copy_file_range, reflinks). */
  readonly source: string;
  /** What the replica keeps: modes are only set where kept; the window tells a copy whether a rename restamped its mtime. */
  readonly rules: Pick<FsRules, 'windowMs' | 'modes'>;
  /** Temp files being written, for a hard stop to remove. */
  readonly inFlight: InFlight;
  readonly signal?: AbortSignal;
  /** Set when the source is on another machine: copies stream its bytes instead of the kernel copying a local file. */
  readonly from?: SourceFiles;
  /** Where old versions go (--backup-dir), and this pass's stamp. */
  readonly backup?: LocalBackupOptions;
}

/**
 * A replica folder on this machine. Every write goes through its parent folder held open and
 * proven to be inside the replica (SafeDirs.within), never through a name that a link swapped
 * in mid-pass could redirect outside it.
 */
export class LocalReplica implements ReplicaWriter {
  private readonly safe: SafeDirs;
  private readonly writable: WritableDirs;
  private readonly backups: LocalBackupArea | null;

  constructor(
    readonly root: string,
    private readonly o: LocalReplicaOptions,
  ) {
    this.safe = new SafeDirs(root);
    this.writable = new WritableDirs(this.safe);
    this.backups = o.backup ? new LocalBackupArea(o.backup) : null;
  }

  /** Creates the replica root (and the folders above it) if missing. */
  async ensureRoot(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }

  /** Creates a folder owner-only (its mode is set with the other folders' at the end). */
  mkdir(rel: string): Promise<Entry> {
    return this.safe.within(parentOf(rel), async (dir) => {
      const target = joinRel(dir, baseOf(rel));
      try {
        await mkdir(target, { mode: 0o700 });
      } catch (err) {
        if (errCode(err) !== 'EEXIST' || !(await lstat(target)).isDirectory()) throw new FsOpError('mkdir', rel, err);
      }
      return statAt(target, rel);
    });
  }

  /**
   * Copies one source file into place atomically (copyAtomic; copyFromStream for a source on
   * another machine), the old one first moved into the backup folder as `backupAs`.
   */
  copyIn(rel: string, backupAs?: string): Promise<CopyOutcome> {
    return this.safe.within(parentOf(rel), async (dir) => {
      let backedUp = false;
      const aside =
        backupAs === undefined
          ? {}
          : {
              beforePlace: async () => {
                backedUp = await this.moveToBackup(joinRel(dir, baseOf(rel)), rel, backupAs);
              },
            };
      const signal = this.o.signal ? { signal: this.o.signal } : {};
      const from = this.o.from;
      const out = from
        ? await copyFromStream(rel, { repDir: dir, from, modes: this.o.rules.modes, inFlight: this.o.inFlight, ...signal, ...aside })
        : await copyAtomic(rel, { srcRoot: this.o.source, repRoot: this.root, repDir: dir, kept: this.o.rules, inFlight: this.o.inFlight, ...signal, ...aside });
      return out.kind === 'done' && backedUp ? { ...out, backedUp } : out;
    });
  }

  /** Moves an entry into the backup folder by one rename; false when nothing was there. */
  backup(rel: string, as: string): Promise<boolean> {
    return this.safe.within(parentOf(rel), (dir) => this.moveToBackup(joinRel(dir, baseOf(rel)), rel, as));
  }

  /** The stamp folders of the backup folder. */
  backupStamps(): Promise<string[]> {
    return this.area().stamps();
  }

  /** Removes one stamp folder with everything in it. */
  removeBackupStamp(stamp: string): Promise<void> {
    return this.area().remove(stamp);
  }

  private area(): LocalBackupArea {
    if (this.backups === null) throw new Error('no --backup-dir is set');
    return this.backups;
  }

  /** Renames the entry at an OS path (under a held folder) into the backup folder. */
  private async moveToBackup(from: string, rel: string, as: string): Promise<boolean> {
    const area = this.area();
    try {
      await lstat(from);
    } catch (err) {
      if (isGone(err)) return false;
      throw new FsOpError('lstat', rel, err);
    }
    return area.place(as, async (target) => {
      try {
        await rename(from, target);
        return true;
      } catch (err) {
        if (isGone(err)) return false;
        throw new FsOpError('back up', `${rel} -> ${area.stamp}/${as}`, err);
      }
    });
  }

  /** Creates or retargets a symlink atomically. */
  symlink(rel: string, target: string): Promise<Entry> {
    return this.safe.within(parentOf(rel), (dir) => symlinkAtomic(this.root, rel, target, dir));
  }

  /** Hard-links `rel` to the replica file `existing`: a temp link beside `rel`, renamed over it, both folders held. */
  async link(existing: string, rel: string): Promise<Entry> {
    return this.safe.within(parentOf(existing), (fromDir) =>
      this.safe.within(parentOf(rel), async (dir) => {
        const tmp = joinRel(dir, tmpName());
        try {
          await link(joinRel(fromDir, baseOf(existing)), tmp);
          await rename(tmp, joinRel(dir, baseOf(rel)));
        } catch (err) {
          await unlink(tmp).catch(() => undefined);
          throw new FsOpError('hard-link', `${rel} -> ${existing}`, err);
        }
        return statAt(joinRel(dir, baseOf(rel)), rel);
      }),
    );
  }

  /** Renames within the replica, both folders held. */
  async rename(from: string, to: string): Promise<void> {
    await this.safe.within(parentOf(from), (fromDir) =>
      this.safe.within(parentOf(to), async (dir) => {
        try {
          await rename(joinRel(fromDir, baseOf(from)), joinRel(dir, baseOf(to)));
        } catch (err) {
          throw new FsOpError('rename', `${from} -> ${to}`, err);
        }
      }),
    );
  }

  /** lstats an entry through its held parent folder. */
  stat(rel: string): Promise<Entry> {
    return this.safe.within(parentOf(rel), (dir) => statAt(joinRel(dir, baseOf(rel)), rel));
  }

  /** Gives a replica file the source's mode and mtime without following a symlink. */
  fixFile(rel: string, src: Entry): Promise<Entry> {
    return this.safe.within(parentOf(rel), async (dir) => {
      const p = joinRel(dir, baseOf(rel));
      let fh: FileHandle | undefined;
      try {
        fh = await open(p, constants.O_RDONLY | constants.O_NOFOLLOW);
        const st = await fh.stat();
        if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EINVAL' });
        if (this.o.rules.modes && (st.mode & 0o7777) !== src.mode) await fh.chmod(src.mode);
        // Exact, not within the window: the window decides whether a pass acts, but what it
        // writes is the source's value (the filesystem keeps what it can of it).
        if (!sameMtime(st.mtimeMs, src.mtimeMs)) await fh.utimes(st.atimeMs / 1000, src.mtimeMs / 1000);
      } catch (err) {
        // Without read permission (an unprivileged run), fall back to the path, checked just before.
        if (errCode(err) !== 'EACCES' || !(await lstat(p)).isFile()) throw new FsOpError('set attributes of', rel, err);
        await setAttrs(p, rel, this.o.rules.modes ? src.mode : null, Date.now(), src.mtimeMs);
      } finally {
        await fh?.close();
      }
      return statAt(p, rel);
    });
  }

  /** Restores a folder's mode and mtime through the held folder itself (chmod and utimes cannot land on a link's target). */
  fixFolder(rel: string, src: Entry): Promise<void> {
    return this.safe.within(rel, async (dir) => {
      const st = await stat(dir);
      const modeOk = !this.o.rules.modes || (st.mode & 0o7777) === src.mode;
      if (modeOk && sameMtime(st.mtimeMs, src.mtimeMs)) return;
      await setAttrs(dir, rel, this.o.rules.modes ? src.mode : null, st.atimeMs, src.mtimeMs);
    });
  }

  /** Deletes a file, a link, or (recursive) a folder with everything in it. */
  remove(rel: string, recursive: boolean): Promise<void> {
    return this.safe.within(parentOf(rel), async (dir) => {
      const target = joinRel(dir, baseOf(rel));
      try {
        if (recursive) await rm(target, { recursive: true, force: true });
        else await unlink(target);
      } catch (err) {
        if (!isGone(err)) throw new FsOpError('delete', rel, err);
      }
    });
  }

  /** Removes an empty folder. */
  async rmdir(rel: string): Promise<void> {
    await this.safe.within(parentOf(rel), async (dir) => {
      try {
        await rmdir(joinRel(dir, baseOf(rel)));
      } catch (err) {
        if (!isGone(err)) throw new FsOpError('rmdir', rel, err);
      }
    });
    this.forget(rel);
  }

  /** Gives the owner write and search permission in a read-only folder while the pass writes there. */
  openForWriting(rel: string): Promise<boolean> {
    return this.writable.open(rel);
  }

  /** Forgets a folder and everything below it. */
  forget(rel: string): void {
    this.safe.forget(rel);
    this.writable.forget(rel);
  }

  /** Removes leftover temp files (a leftover may be a folder: a set-aside one). */
  async removeStale(paths: readonly string[]): Promise<void> {
    for (const rel of paths) {
      await this.safe.within(parentOf(rel), (dir) => rm(joinRel(dir, baseOf(rel)), { recursive: true, force: true })).catch(() => undefined);
    }
  }
}

/** The replica entry at an OS path (a held folder's path), for the record. */
async function statAt(p: string, rel: string): Promise<Entry> {
  try {
    return toEntry(rel, await lstat(p))!;
  } catch (err) {
    throw new FsOpError('lstat', rel, err);
  }
}

/** True for errors that mean "a folder on the way is not there (any more)". */
export function isMissingFolder(err: unknown): boolean {
  return isGone(err) || SafeDirs.isMissing(err);
}
