import { existsSync, type Stats, constants } from 'node:fs';
import { type FileHandle, open, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { FsOpError, errCode, isGone } from '../errors.js';
import { abs } from './paths.js';

/** An open source file that is provably the regular file at its path inside the source. */
export interface SourceFile {
  readonly fh: FileHandle;
  /** fstat of the open file: the version being copied. */
  readonly st: Stats;
  /** A path that reopens exactly this file (the /proc fd link where there is one). */
  readonly readPath: string;
}

/** Why a source file could not be opened safely; none of these is an error of the pass. */
export type NotOpened = 'vanished' | 'not-regular' | 'escaped';

/** Linux names every open file by the path the kernel resolved: the proof no link was followed. */
const PROC_FD = existsSync('/proc/self/fd') ? '/proc/self/fd' : null;

/**
 * Opens `rel` under the source root for copying without following a symbolic link anywhere:
 * not as the last component (O_NOFOLLOW), and not as a folder on the way, which a folder swapped
 * for a link mid-pass would be (checked against the path the kernel resolved). Never blocks on
 * a fifo swapped in (O_NONBLOCK). Returns why not when the path is gone, is no longer a regular
 * file, or leads outside the source.
 */
export async function openSourceFile(srcRoot: string, rel: string): Promise<SourceFile | NotOpened> {
  let fh: FileHandle;
  try {
    fh = await open(abs(srcRoot, rel), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (isGone(err)) return 'vanished';
    if (errCode(err) === 'ELOOP') return 'not-regular';
    throw new FsOpError('open', rel, err);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      return 'not-regular';
    }
    if (PROC_FD === null) return { fh, st, readPath: abs(srcRoot, rel) };
    const link = `${PROC_FD}/${fh.fd}`;
    const [resolved, root] = await Promise.all([readlink(link), realpath(srcRoot)]);
    if (resolved !== path.join(root, rel)) {
      await fh.close();
      return resolved.endsWith(' (deleted)') ? 'vanished' : 'escaped';
    }
    return { fh, st, readPath: link };
  } catch (err) {
    await fh.close().catch(() => undefined);
    if (isGone(err)) return 'vanished';
    throw new FsOpError('open', rel, err);
  }
}
