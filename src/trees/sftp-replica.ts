import type { InputAttributes, Stats } from 'ssh2';
import { FsOpError, isGone } from '../errors.js';
import { ConnectionLost } from '../remote/errors.js';
import type { RemoteEnd } from '../remote/remote-end.js';
import { sameVersion } from '../sync/copy.js';
import type { FsRules } from '../sync/fs-rules.js';
import { ancestors, isWithin, joinRel, parentOf, sameMtime, tmpName } from '../sync/paths.js';
import type { Entry } from '../sync/types.js';
import { sftpEntry } from './sftp-entry.js';
import type { SourceFiles } from './source-files.js';
import type { CopyOutcome, ReplicaWriter } from './tree.js';

/** What a remote replica writer needs besides its end. */
export interface SftpReplicaOptions {
  /** Where copies read from (a local source, or another remote one). */
  readonly source: SourceFiles;
  /** What the replica keeps: modes are only set where kept. */
  readonly rules: Pick<FsRules, 'modes'>;
  readonly signal?: AbortSignal;
  /** --backup-dir: the backup folder (relative to the replica root: inside it) and this pass's stamp folder name. */
  readonly backup?: { readonly rel: string; readonly stamp: string };
}

const RETRIES = 3;
/** Write requests in flight per upload: the server acknowledges each, so one at a time would wait a round trip per chunk. */
const WRITES_IN_FLIGHT = 16;
/** Bytes per write request (ssh2 splits them further to the server's packet limit). */
const WRITE_CHUNK = 64 * 1024;

/**
 * A replica folder on another machine, written over SFTP. New content goes to a fresh
 * `.foldersync-*.tmp` (opened with O_EXCL: never an existing name, never through a link),
 * renamed into place with posix-rename@openssh.com when whole and unchanged at the source.
 * SFTP has no openat: before it first writes under a folder in a pass, it asks the server to
 * resolve the folder's path (realpath) and refuses any that does not resolve to itself inside
 * the replica, i.e. that has a symlink on the way.
 */
export class SftpReplica implements ReplicaWriter {
  /** Folders proven this pass to resolve to themselves. */
  private readonly proven = new Set<string>();
  /** Folders already made (or found) writable this pass: the executor asks before every action, a round trip each. */
  private readonly writable = new Set<string>();
  private realRoot: string | null = null;

  constructor(
    private readonly end: RemoteEnd,
    private readonly o: SftpReplicaOptions,
  ) {}

  private get io() {
    return this.end.sftp;
  }

  /** Creates the replica root and the folders above it when missing. */
  async ensureRoot(): Promise<void> {
    const root = this.end.root;
    const parts = root.split('/').filter(Boolean);
    let cur = '';
    for (const part of parts) {
      cur = `${cur}/${part}`;
      try {
        const st = await this.io.lstat(cur);
        if (st.isDirectory() || st.isSymbolicLink()) continue;
        throw Object.assign(new Error(`ENOTDIR: not a folder, mkdir '${cur}'`), { code: 'ENOTDIR' });
      } catch (err) {
        if (!isGone(err) || (err as { code?: string }).code === 'ENOTDIR') throw new FsOpError('create', this.end.text, err);
        await this.io.mkdir(cur, 0o755).catch((e: unknown) => {
          throw new FsOpError('create', this.end.text, e);
        });
      }
    }
  }

  /** Throws unless the folder `rel` resolves, on the server, to itself inside the replica. */
  private async safe(rel: string): Promise<string> {
    const p = this.end.abs(rel);
    if (this.proven.has(rel)) return p;
    this.realRoot ??= await this.io.realpath(this.end.root);
    let real: string;
    try {
      real = await this.io.realpath(p);
    } catch (err) {
      throw new FsOpError('open the replica folder', rel === '' ? '.' : rel, err);
    }
    const want = rel === '' ? this.realRoot : `${this.realRoot === '/' ? '' : this.realRoot}/${rel}`;
    if (real !== want) {
      const why = Object.assign(new Error(`ELOOP: a folder on the way is a symbolic link on the server (it leads to ${real}); nothing is written through it`), { code: 'ELOOP' });
      throw new FsOpError('write in', rel === '' ? '.' : rel, why);
    }
    this.proven.add(rel);
    return p;
  }

  /** Creates a folder owner-only (its mode is set with the other folders' at the end). */
  async mkdir(rel: string): Promise<Entry> {
    await this.safe(parentOf(rel));
    const p = this.end.abs(rel);
    // Sent together: the lstat's answer comes right after the mkdir's.
    const [made, after] = await Promise.allSettled([this.io.mkdir(p, 0o700), this.stat(rel)]);
    if (after.status === 'fulfilled' && after.value.kind === 'dir') return after.value;
    if (made.status === 'rejected') throw new FsOpError('mkdir', rel, made.reason);
    throw after.status === 'rejected' ? after.reason : new FsOpError('mkdir', rel, new Error('ENOTDIR: not a folder'));
  }

  /** Uploads one source file into place atomically: temp file, attributes, source unchanged, (the old file into the backup folder as `backupAs`,) rename. */
  async copyIn(rel: string, backupAs?: string): Promise<CopyOutcome> {
    const dir = await this.safe(parentOf(rel));
    const dest = this.end.abs(rel);
    for (let attempt = 0; attempt < RETRIES; attempt++) {
      this.o.signal?.throwIfAborted();
      const opened = await this.o.source.open(rel);
      if (opened === 'vanished') return { kind: 'vanished' };
      if (opened === 'not-regular') return { kind: 'changing' };
      const pre = opened.st;
      const tmp = `${dir}/${tmpName()}`;
      let placed = false;
      let written = -1;
      try {
        try {
          const attrs = { ...(this.o.rules.modes ? { mode: pre.mode } : {}), atime: Math.floor(Date.now() / 1000), mtime: Math.floor(pre.mtimeMs / 1000) };
          written = await this.upload(opened.chunks(this.o.signal), tmp, rel, attrs);
        } catch (err) {
          this.o.signal?.throwIfAborted();
          throw err instanceof FsOpError ? err : new FsOpError('copy', rel, err);
        }
        const post = await this.o.source.stat(rel);
        if (!post) return { kind: 'vanished' };
        if (!sameVersion(pre, post) || written !== pre.size) continue;
        const backedUp = backupAs === undefined ? false : await this.backup(rel, backupAs);
        // The server answers requests of a channel in order: the lstat is sent with the rename,
        // not a round trip after it, and sees the renamed file (its answer is dropped if the rename failed).
        const [renamed, after] = await Promise.allSettled([this.io.rename(tmp, dest), this.stat(rel)]);
        if (renamed.status === 'rejected') throw new FsOpError('rename into place', rel, renamed.reason);
        placed = true;
        if (after.status === 'rejected') throw after.reason;
        return backedUp ? { kind: 'done', src: pre, rep: after.value, backedUp } : { kind: 'done', src: pre, rep: after.value };
      } finally {
        await opened.close();
        // A drop leaves the temp file; the next pass removes it as stale.
        if (!placed && !this.end.lost()) await this.io.unlink(tmp).catch(() => undefined);
      }
    }
    return { kind: 'changing' };
  }

  /**
   * Writes a new file from chunks, WRITES_IN_FLIGHT requests outstanding, under the rate limit,
   * then closes it and sets its attributes; the bytes written. A close that fails (a full disk
   * on flush) fails the copy: the content may not be whole.
   */
  private async upload(chunks: AsyncIterable<Buffer>, tmp: string, rel: string, attrs: InputAttributes): Promise<number> {
    const h = await this.io.open(tmp, 'wx', 0o600);
    const inFlight = new Set<Promise<void>>();
    let failed: unknown;
    let pos = 0;
    let ended = false;
    try {
      for await (const chunk of chunks) {
        for (let off = 0; off < chunk.length; off += WRITE_CHUNK) {
          const piece = chunk.subarray(off, Math.min(chunk.length, off + WRITE_CHUNK));
          await this.end.throttle?.take(piece.length, this.o.signal);
          if (failed !== undefined) throw failed;
          const w = this.io.write(h, tmp, piece, piece.length, pos).then(
            () => {
              inFlight.delete(w);
            },
            (err: unknown) => {
              inFlight.delete(w);
              failed ??= err;
            },
          );
          inFlight.add(w);
          pos += piece.length;
          if (inFlight.size >= WRITES_IN_FLIGHT) await Promise.race(inFlight);
        }
      }
      // Close and attributes go right behind the last writes, not a round trip after them: the
      // server handles a channel's requests in order, and any failure among them fails the copy.
      ended = true;
      const closing = this.io.close(h, tmp);
      const setting = this.io.setstat(tmp, attrs);
      await Promise.all([...inFlight, closing, setting]);
      if (failed !== undefined) throw failed;
    } catch (err) {
      await Promise.allSettled(inFlight);
      if (!ended) await this.io.close(h, tmp).catch(() => undefined);
      throw new FsOpError('copy', rel, err);
    }
    return pos;
  }

  /** Creates or retargets a symlink atomically (temp link, then rename over the old entry). */
  async symlink(rel: string, target: string): Promise<Entry> {
    const dir = await this.safe(parentOf(rel));
    const tmp = `${dir}/${tmpName()}`;
    try {
      await this.io.symlink(target, tmp);
      await this.io.rename(tmp, this.end.abs(rel));
    } catch (err) {
      if (!this.end.lost()) await this.io.unlink(tmp).catch(() => undefined);
      throw new FsOpError('symlink', rel, err);
    }
    return this.stat(rel);
  }

  /** Makes `rel` another name of the replica file `existing`: a hard link under a temp name, renamed over what is there. */
  async link(existing: string, rel: string): Promise<Entry> {
    await this.safe(parentOf(existing));
    const dir = await this.safe(parentOf(rel));
    const tmp = `${dir}/${tmpName()}`;
    try {
      await this.io.hardlink(this.end.abs(existing), tmp);
      await this.io.rename(tmp, this.end.abs(rel));
    } catch (err) {
      if (!this.end.lost()) await this.io.unlink(tmp).catch(() => undefined);
      throw new FsOpError('hard-link', `${rel} -> ${existing}`, err);
    }
    return this.stat(rel);
  }

  /**
   * Moves the entry at `rel` into this pass's stamp folder as `as` by one rename on the server
   * (`as~N` when an earlier pass of the same second kept one); false when nothing was there.
   */
  async backup(rel: string, as: string): Promise<boolean> {
    const b = this.backupArea();
    await this.safe(parentOf(rel));
    try {
      await this.io.lstat(this.end.abs(rel));
    } catch (err) {
      if (isGone(err)) return false;
      throw new FsOpError('lstat', rel, err);
    }
    const target = joinRel(joinRel(b.rel, b.stamp), as);
    await this.folders(parentOf(target));
    for (let n = 0; ; n++) {
      const name = n === 0 ? target : `${target}~${n}`;
      try {
        await this.io.lstat(this.end.abs(name));
        continue;
      } catch (err) {
        if (!isGone(err)) throw new FsOpError('lstat', name, err);
      }
      try {
        await this.io.rename(this.end.abs(rel), this.end.abs(name));
      } catch (err) {
        throw new FsOpError('move into the backup folder', `${rel} -> ${name}`, err);
      }
      this.forget(rel);
      return true;
    }
  }

  /** The stamp folders of the backup folder (none when it does not exist). */
  async backupStamps(): Promise<string[]> {
    const b = this.backupArea();
    try {
      return (await this.io.readdir(this.end.abs(b.rel))).map((e) => e.filename);
    } catch (err) {
      if (isGone(err)) return [];
      throw new FsOpError('list', b.rel, err);
    }
  }

  /** Removes one stamp folder with everything in it, never following a link. */
  async removeBackupStamp(stamp: string): Promise<void> {
    const b = this.backupArea();
    await this.safe(b.rel);
    const rel = joinRel(b.rel, stamp);
    try {
      await this.removeTree(this.end.abs(rel));
    } catch (err) {
      if (!isGone(err)) throw new FsOpError('remove old versions', rel, err);
    }
    this.forget(rel);
  }

  private backupArea(): { readonly rel: string; readonly stamp: string } {
    if (!this.o.backup) throw new Error('no --backup-dir is set');
    return this.o.backup;
  }

  /** Creates the folders of `rel` (inside the replica) that are missing, each under a proven parent. */
  private async folders(rel: string): Promise<void> {
    for (const d of [...ancestors(rel), rel]) {
      if (d === '' || this.proven.has(d)) continue;
      await this.safe(parentOf(d));
      try {
        await this.io.mkdir(this.end.abs(d), 0o700);
      } catch (err) {
        let st: Stats | undefined;
        try {
          st = await this.io.lstat(this.end.abs(d));
        } catch {
          throw new FsOpError('mkdir', d, err);
        }
        if (!st.isDirectory()) throw new FsOpError('mkdir', d, err);
      }
    }
    await this.safe(rel);
  }

  /** Renames on the server (rename(2): never follows a link at either end). */
  async rename(from: string, to: string): Promise<void> {
    await this.safe(parentOf(from));
    await this.safe(parentOf(to));
    try {
      await this.io.rename(this.end.abs(from), this.end.abs(to));
    } catch (err) {
      throw new FsOpError('rename', `${from} -> ${to}`, err);
    }
  }

  /** lstats a replica entry. */
  async stat(rel: string): Promise<Entry> {
    const p = this.end.abs(rel);
    try {
      const a = await this.io.lstat(p);
      const e = sftpEntry(rel, a, a.isSymbolicLink() ? await this.io.readlink(p) : undefined);
      if (e === null) throw Object.assign(new Error('EINVAL: not a file, folder or symlink'), { code: 'EINVAL' });
      return e;
    } catch (err) {
      throw new FsOpError('lstat', rel, err);
    }
  }

  /** Gives a replica file the source's mode and mtime (checked to be a regular file just before: setstat follows links). */
  async fixFile(rel: string, src: Entry): Promise<Entry> {
    await this.safe(parentOf(rel));
    const p = this.end.abs(rel);
    try {
      const st = await this.io.lstat(p);
      if (!st.isFile()) throw Object.assign(new Error('EINVAL: not a regular file'), { code: 'EINVAL' });
      const mode = this.o.rules.modes && (st.mode & 0o7777) !== src.mode ? { mode: src.mode } : {};
      const time = sameMtime(st.mtime * 1000, Math.floor(src.mtimeMs / 1000) * 1000) ? {} : { atime: st.atime, mtime: Math.floor(src.mtimeMs / 1000) };
      if ('mode' in mode || 'mtime' in time) await this.io.setstat(p, { ...mode, ...time });
    } catch (err) {
      throw new FsOpError('set attributes of', rel, err);
    }
    return this.stat(rel);
  }

  /** Restores a folder's mode and mtime. */
  async fixFolder(rel: string, src: Entry): Promise<void> {
    const p = await this.safe(rel);
    try {
      const st = await this.io.lstat(p);
      if (!st.isDirectory()) return;
      const modeOk = !this.o.rules.modes || (st.mode & 0o7777) === src.mode;
      const mtime = Math.floor(src.mtimeMs / 1000);
      if (modeOk && st.mtime === mtime) return;
      await this.io.setstat(p, { ...(this.o.rules.modes ? { mode: src.mode } : {}), atime: st.atime, mtime });
    } catch (err) {
      throw new FsOpError('set attributes of', rel, err);
    }
  }

  /** Deletes a file, a link, or (recursive) a folder with everything in it, never following a link. */
  async remove(rel: string, recursive: boolean): Promise<void> {
    await this.safe(parentOf(rel));
    try {
      if (recursive) await this.removeTree(this.end.abs(rel));
      else await this.io.unlink(this.end.abs(rel));
    } catch (err) {
      if (!isGone(err)) throw new FsOpError('delete', rel, err);
    }
    if (recursive) this.forget(rel);
  }

  private async removeTree(p: string): Promise<void> {
    const st = await this.io.lstat(p);
    if (!st.isDirectory()) return this.io.unlink(p);
    for (const e of await this.io.readdir(p)) {
      const child = `${p}/${e.filename}`;
      if (e.attrs.isDirectory()) await this.removeTree(child);
      else await this.io.unlink(child).catch((err: unknown) => {
        if (!isGone(err)) throw err;
      });
    }
    await this.io.rmdir(p);
  }

  /** Removes an empty folder. */
  async rmdir(rel: string): Promise<void> {
    await this.safe(parentOf(rel));
    try {
      await this.io.rmdir(this.end.abs(rel));
    } catch (err) {
      if (!isGone(err)) throw new FsOpError('rmdir', rel, err);
    }
    this.forget(rel);
  }

  /** Gives the owner write and search permission in a read-only folder while the pass writes there. */
  async openForWriting(rel: string): Promise<boolean> {
    if (this.writable.has(rel)) return false;
    const p = this.end.abs(rel);
    let st: Stats;
    try {
      st = await this.io.lstat(p);
    } catch (err) {
      if (err instanceof ConnectionLost) throw err;
      return false;
    }
    if (!st.isDirectory()) return false;
    this.writable.add(rel);
    if ((st.mode & 0o300) === 0o300) return false;
    await this.safe(rel);
    try {
      await this.io.setstat(p, { mode: (st.mode & 0o7777) | 0o700 });
    } catch (err) {
      throw new FsOpError('make writable', rel, err);
    }
    return true;
  }

  /** Forgets what was proven of a folder and everything below it (renamed or removed). */
  forget(rel: string): void {
    for (const d of this.proven) if (isWithin(d, rel)) this.proven.delete(d);
    for (const d of this.writable) if (isWithin(d, rel)) this.writable.delete(d);
  }

  /** Removes leftover temp files (and set-aside folders). */
  async removeStale(paths: readonly string[]): Promise<void> {
    for (const rel of paths) {
      try {
        await this.safe(parentOf(rel));
        await this.removeTree(this.end.abs(rel));
      } catch (err) {
        if (err instanceof ConnectionLost) throw err;
      }
    }
  }
}
