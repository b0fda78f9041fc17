import type { Stats } from 'node:fs';
import { constants } from 'node:fs';
import { chmod, copyFile, lstat, rename, symlink, unlink, utimes } from 'node:fs/promises';
import { FsOpError, isGone } from '../errors.js';
import { abs, baseOf, joinRel, parentOf, tmpName } from './paths.js';
import { openSourceFile } from './source-file.js';
import { toEntry } from './scan.js';
import type { Entry } from './types.js';

/** Temp files being written right now, so a hard stop can remove them before exiting. */
export const inFlight = new Set<string>();

/** Removes every temp file still being written (called on a hard abort, synchronously). */
export function removeInFlight(unlinkSync: (p: string) => void): void {
  for (const p of inFlight) {
    try {
      unlinkSync(p);
    } catch {
      // already renamed into place or never created: nothing to clean
    }
  }
  inFlight.clear();
}

/** How an atomic copy ended. */
export type CopyOutcome =
  | { readonly kind: 'done'; readonly src: Entry; readonly rep: Entry }
  | { readonly kind: 'vanished' }
  | { readonly kind: 'changing' };

const RETRIES = 3;

/**
 * Copies one source file into the replica atomically: the kernel copies it (copy_file_range,
 * reflinks) to a `.foldersync-*.tmp` sibling, mode and mtime are set, the source is stat'ed
 * again, and only an untouched copy is renamed into place. A file that changed meanwhile is
 * retried, then reported as changing; a torn copy is never renamed.
 */
export async function copyAtomic(srcRoot: string, repRoot: string, rel: string, signal?: AbortSignal, repDir?: string): Promise<CopyOutcome> {
  const from = abs(srcRoot, rel);
  // `repDir`: the replica folder that holds `rel`, named so that no link can redirect it (SafeDirs.within).
  const dest = repDir === undefined ? abs(repRoot, rel) : joinRel(repDir, baseOf(rel));
  for (let attempt = 0; attempt < RETRIES; attempt++) {
    signal?.throwIfAborted();
    // Read through an fd that provably is the file at `rel` (no link followed on the way), so a
    // folder swapped for a link to elsewhere mid-pass cannot smuggle outside bytes in.
    const opened = await openSourceFile(srcRoot, rel);
    if (opened === 'vanished') return { kind: 'vanished' };
    if (typeof opened === 'string') return { kind: 'changing' };
    const pre = opened.st;
    const tmp = repDir === undefined ? abs(repRoot, joinRel(parentOf(rel), tmpName())) : joinRel(repDir, tmpName());
    inFlight.add(tmp);
    try {
      try {
        await kernelCopy(opened.readPath, tmp, signal);
      } catch (err) {
        signal?.throwIfAborted();
        if (isGone(err) && !(await statOrNull(from, 'lstat'))) return { kind: 'vanished' };
        throw new FsOpError('copy', rel, err);
      }
      await setAttrs(tmp, rel, pre.mode & 0o7777, pre.atimeMs, pre.mtimeMs);
      const post = await statOrNull(from, 'lstat');
      const copied = await lstat(tmp);
      if (!post) return { kind: 'vanished' };
      if (!sameVersion(pre, post) || copied.size !== pre.size) continue;
      try {
        await rename(tmp, dest);
      } catch (err) {
        throw new FsOpError('rename into place', rel, err);
      }
      const rep = await lstat(dest);
      return { kind: 'done', src: toEntry(rel, pre)!, rep: toEntry(rel, rep)! };
    } finally {
      // Forgotten only once removed: a hard stop's synchronous cleanup must still see it.
      await unlink(tmp).catch(() => undefined);
      inFlight.delete(tmp);
      await opened.fh.close().catch(() => undefined);
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

/** Sets permission bits and mtime of a path we just created (not a symlink). */
export async function setAttrs(p: string, rel: string, mode: number, atimeMs: number, mtimeMs: number): Promise<void> {
  try {
    await chmod(p, mode);
    await utimes(p, atimeMs / 1000, mtimeMs / 1000);
  } catch (err) {
    throw new FsOpError('set attributes of', rel, err);
  }
}

/** Same size, mtime, ctime and inode: the file was not written in between. */
export function sameVersion(a: Stats | Entry, b: Stats | Entry): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

async function statOrNull(p: string, op: string): Promise<Stats | null> {
  try {
    return await lstat(p);
  } catch (err) {
    if (isGone(err)) return null;
    throw new FsOpError(op, p, err);
  }
}
