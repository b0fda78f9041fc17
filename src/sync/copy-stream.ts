import { lstat, open, rename, unlink, utimes, chmod } from 'node:fs/promises';
import { FsOpError } from '../errors.js';
import { toEntry } from '../trees/local.js';
import type { SourceFiles } from '../trees/source-files.js';
import type { CopyOutcome } from '../trees/tree.js';
import { sameVersion } from './copy.js';
import type { InFlight } from './in-flight.js';
import { baseOf, joinRel, tmpName } from './paths.js';

const RETRIES = 3;

/** Where copyFromStream writes, and what the replica keeps. */
export interface StreamCopyOptions {
  /** The replica folder that holds the file, named so that no link can redirect it (SafeDirs.within). */
  readonly repDir: string;
  readonly from: SourceFiles;
  readonly modes: boolean;
  readonly inFlight: InFlight;
  readonly signal?: AbortSignal;
  /** Runs once the copy is whole and checked, just before it is renamed into place (moves the old version aside). */
  readonly beforePlace?: () => Promise<void>;
}

/**
 * Copies one file of a source that is not on this machine into a local replica atomically:
 * its bytes are streamed into a new `.foldersync-*.tmp` in the held folder, mode and mtime
 * set, the source stat'ed again, and only an unchanged copy renamed into place.
 */
export async function copyFromStream(rel: string, o: StreamCopyOptions): Promise<CopyOutcome> {
  const dest = joinRel(o.repDir, baseOf(rel));
  for (let attempt = 0; attempt < RETRIES; attempt++) {
    o.signal?.throwIfAborted();
    const opened = await o.from.open(rel);
    if (opened === 'vanished') return { kind: 'vanished' };
    if (opened === 'not-regular') return { kind: 'changing' };
    const pre = opened.st;
    const tmp = joinRel(o.repDir, tmpName());
    o.inFlight.add(tmp);
    let placed = false;
    let written = 0;
    try {
      try {
        const out = await open(tmp, 'wx', 0o600);
        try {
          for await (const chunk of opened.chunks(o.signal)) {
            written += chunk.length;
            let off = 0;
            while (off < chunk.length) off += (await out.write(chunk, off, chunk.length - off)).bytesWritten;
          }
        } finally {
          await out.close();
        }
        if (o.modes) await chmod(tmp, pre.mode);
        await utimes(tmp, Date.now() / 1000, pre.mtimeMs / 1000);
      } catch (err) {
        o.signal?.throwIfAborted();
        throw new FsOpError('copy', rel, err);
      }
      const post = await o.from.stat(rel);
      if (!post) return { kind: 'vanished' };
      if (!sameVersion(pre, post) || written !== pre.size) continue;
      await o.beforePlace?.();
      try {
        await rename(tmp, dest);
        placed = true;
        return { kind: 'done', src: pre, rep: toEntry(rel, await lstat(dest))! };
      } catch (err) {
        throw new FsOpError(placed ? 'lstat' : 'rename into place', rel, err);
      }
    } finally {
      if (!placed) await unlink(tmp).catch(() => undefined);
      o.inFlight.delete(tmp);
      await opened.close();
    }
  }
  return { kind: 'changing' };
}
