import type { Stats } from 'node:fs';
import { closeSync, constants, lstatSync, lutimesSync, utimesSync } from 'node:fs';
import { chmod, copyFile, lstat, open, rename, symlink, unlink, utimes } from 'node:fs/promises';
import { FsOpError, isGone } from '../errors.js';
import { mtimeEq } from './fs-rules.js';
import type { InFlight } from './in-flight.js';
import { abs, baseOf, joinRel, parentOf, tmpName } from './paths.js';
import { openSourceFile } from './source-file.js';
import { toEntry } from '../trees/local.js';
import type { CopyOutcome } from '../trees/tree.js';
import type { Entry } from './types.js';


const RETRIES = 3;

/** Where and how copyAtomic copies. */
export interface CopyOptions {
  readonly srcRoot: string;
  readonly repRoot: string;
  /** The replica folder that holds the file, named so that no link can redirect it (SafeDirs.within). */
  readonly repDir?: string;
  readonly signal?: AbortSignal;
  /** What the replica keeps: permission bits, and the mtime step a rename may round to. Default: everything, exactly. */
  readonly kept?: { readonly modes: boolean; readonly windowMs: number };
  /** The pass's temp files in flight, so a hard stop can remove this one. */
  readonly inFlight: InFlight;
  /** Runs once the copy is whole and checked, just before it is renamed into place (moves the old version aside). */
  readonly beforePlace?: () => Promise<void>;
}

/**
 * Copies one source file into the replica atomically: the kernel copies it (copy_file_range,
 * reflinks) to a `.foldersync-*.tmp` sibling, mode and mtime are set, the source is stat'ed
 * again, and only an untouched copy is renamed into place. A file that changed meanwhile is
 * retried, then reported as changing; a torn copy is never renamed.
 */
export async function copyAtomic(rel: string, o: CopyOptions): Promise<CopyOutcome> {
  const { srcRoot, repRoot, signal, repDir, inFlight } = o;
  const kept = o.kept ?? { modes: true, windowMs: 0 };
  const keepModes = kept.modes;
  const from = abs(srcRoot, rel);
  // `repDir`: the replica folder that holds `rel`, named so that no link can redirect it (SafeDirs.within).
  const dest = repDir === undefined ? abs(repRoot, rel) : joinRel(repDir, baseOf(rel));
  for (let attempt = 0; attempt < RETRIES; attempt++) {
    signal?.throwIfAborted();
    // Read through an fd that provably is the file at `rel` (no link followed on the way), so a
    // folder swapped for a link to elsewhere mid-pass cannot smuggle outside bytes in.
    const opened = openSourceFile(srcRoot, rel);
    if (opened === 'vanished') return { kind: 'vanished' };
    if (typeof opened === 'string') return { kind: 'changing' };
    const pre = opened.st;
    const tmp = repDir === undefined ? abs(repRoot, joinRel(parentOf(rel), tmpName())) : joinRel(repDir, tmpName());
    inFlight.add(tmp);
    let placed = false;
    try {
      try {
        // The data copy stays in the thread pool even for small files: with a cold cache, copies
        // run one after another on the main thread were 2-3x slower (20k files: 14 s vs 5.5 s).
        // fs.copyFile sets the copy's permission bits and fails where the filesystem has none
        // (fusefat: ENOSYS); there the bytes are streamed into a new file instead.
        await (keepModes ? kernelCopy(opened.readPath, tmp, signal) : streamCopy(opened.readPath, tmp, signal));
      } catch (err) {
        signal?.throwIfAborted();
        if (isGone(err) && !statOrNull(from, 'lstat')) return { kind: 'vanished' };
        throw new FsOpError('copy', rel, err);
      }
      // Besides the data copy above, only the rename into place goes through the thread pool.
      // The other metadata calls below are synchronous: microseconds each on inodes just
      // touched, where a thread-pool round trip costs the main thread several times that
      // (profile of a 20k-file first copy: ~70 % of the main thread was spent handing calls
      // like these to the pool). fs.copyFile (libuv)
      // already gave the copy the source's permission bits (fchmod with the mode of the file it
      // read, which is `pre` unless the source changed, and then `post` differs), so only the
      // mtime is set; `copied` proves the bits, and chmod runs only where that fchmod failed.
      const post = statOrNull(from, 'lstat');
      let copied: Stats;
      try {
        utimesSync(tmp, pre.atimeMs / 1000, pre.mtimeMs / 1000);
        copied = lstatSync(tmp);
      } catch (err) {
        throw new FsOpError('set attributes of', rel, err);
      }
      if (!post) return { kind: 'vanished' };
      if (!sameVersion(pre, post) || copied.size !== pre.size) continue;
      if (keepModes && (copied.mode & 0o7777) !== (pre.mode & 0o7777)) await setAttrs(tmp, rel, pre.mode & 0o7777, pre.atimeMs, pre.mtimeMs);
      await o.beforePlace?.();
      let rep: Stats;
      try {
        // In the thread pool: a rename over an existing file makes ext4 start writing the new
        // data back first (auto_da_alloc), up to a third of a millisecond the main thread would wait.
        await rename(tmp, dest);
        placed = true;
        rep = lstatSync(dest);
        // Some filesystems (fusefat) stamp a renamed file with the time of the rename: set it
        // again on the name itself (lutimes: a link swapped in meanwhile is not followed).
        if (!mtimeEq(kept, rep.mtimeMs, pre.mtimeMs) && rep.isFile()) {
          lutimesSync(dest, pre.atimeMs / 1000, pre.mtimeMs / 1000);
          rep = lstatSync(dest);
        }
      } catch (err) {
        throw new FsOpError(placed ? 'lstat' : 'rename into place', rel, err);
      }
      return { kind: 'done', src: toEntry(rel, pre)!, rep: toEntry(rel, rep)! };
    } finally {
      // Forgotten only once removed: a hard stop's synchronous cleanup must still see it.
      if (!placed) await unlink(tmp).catch(() => undefined);
      inFlight.delete(tmp);
      try {
        closeSync(opened.fd);
      } catch {
        // closed already: nothing to release
      }
    }
  }
  return { kind: 'changing' };
}

/**
 * fs.copyFile, but a hard stop does not wait for it: the kernel copy cannot be interrupted, so
 * on abort this rejects at once and the abandoned copy's temp file is removed when it settles
 * (the caller removes it right away too; a copy left by an exit in between is stale next pass).
 */
function kernelCopy(from: string, tmp: string, signal?: AbortSignal): Promise<void> {
  const copying = copyFile(from, tmp, constants.COPYFILE_EXCL);
  if (!signal) return copying;
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      copying.then(() => unlink(tmp)).catch(() => undefined);
      reject(signal.reason);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    copying.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** Bytes per read and write of a streamed copy. */
const STREAM_CHUNK = 1 << 20;

/**
 * Copies bytes into a new file (never an existing one) without touching its mode, for
 * filesystems that keep no permission bits. Both files are closed before it resolves: some
 * filesystems (fusefat) stamp the mtime when the file is closed, which must come before the
 * caller sets it.
 */
async function streamCopy(from: string, tmp: string, signal?: AbortSignal): Promise<void> {
  const input = await open(from, 'r');
  try {
    const output = await open(tmp, 'wx');
    try {
      const buf = Buffer.allocUnsafe(STREAM_CHUNK);
      for (;;) {
        signal?.throwIfAborted();
        const { bytesRead } = await input.read(buf, 0, STREAM_CHUNK, null);
        if (bytesRead === 0) break;
        let off = 0;
        while (off < bytesRead) off += (await output.write(buf, off, bytesRead - off)).bytesWritten;
      }
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

/** Creates or retargets a symlink atomically (temp link, then rename over the old entry). */
export async function symlinkAtomic(repRoot: string, rel: string, target: string, repDir?: string): Promise<Entry> {
  const dest = repDir === undefined ? abs(repRoot, rel) : joinRel(repDir, baseOf(rel));
  const tmp = repDir === undefined ? abs(repRoot, joinRel(parentOf(rel), tmpName())) : joinRel(repDir, tmpName());
  try {
    await symlink(target, tmp);
    await rename(tmp, dest);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw new FsOpError('symlink', rel, err);
  }
  const st = await lstat(dest);
  return toEntry(rel, st, target)!;
}

/** Sets permission bits (unless null: the filesystem keeps none) and mtime of a path we just created (not a symlink). */
export async function setAttrs(p: string, rel: string, mode: number | null, atimeMs: number, mtimeMs: number): Promise<void> {
  try {
    if (mode !== null) await chmod(p, mode);
    await utimes(p, atimeMs / 1000, mtimeMs / 1000);
  } catch (err) {
    throw new FsOpError('set attributes of', rel, err);
  }
}

/** Same size, mtime, ctime and inode: the file was not written in between. */
export function sameVersion(a: Stats | Entry, b: Stats | Entry): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

function statOrNull(p: string, op: string): Stats | null {
  try {
    return lstatSync(p);
  } catch (err) {
    if (isGone(err)) return null;
    throw new FsOpError(op, p, err);
  }
}
