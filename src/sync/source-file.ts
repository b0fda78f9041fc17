import { type Stats, closeSync, constants, existsSync, fstatSync, openSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { FsOpError, errCode, isGone } from '../errors.js';
import { abs } from './paths.js';

/** An open source file that is provably the regular file at its path inside the source. */
export interface SourceFile {
  /** The open file descriptor; the caller closes it (closeSync). */
  readonly fd: number;
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
 *
 * Synchronous on purpose: these are metadata calls on an inode the scan just read, a few
 * microseconds each, while each thread-pool round trip costs the main thread far more (on a
 * busy 2-core machine often a context switch); only the data copy goes to the thread pool.
 */
export function openSourceFile(srcRoot: string, rel: string): SourceFile | NotOpened {
  let fd: number;
  try {
    fd = openSync(abs(srcRoot, rel), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (isGone(err)) return 'vanished';
    if (errCode(err) === 'ELOOP') return 'not-regular';
    throw new FsOpError('open', rel, err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      closeSync(fd);
      return 'not-regular';
    }
    if (PROC_FD === null) return { fd, st, readPath: abs(srcRoot, rel) };
    const link = `${PROC_FD}/${fd}`;
    const resolved = readlinkSync(link);
    // The resolved path has no link in it: equal to root/rel, it proves root/rel has none
    // either. Only otherwise (a root reached through a link) is the root's real path needed.
    if (resolved !== path.join(srcRoot, rel) && resolved !== path.join(realpathSync(srcRoot), rel)) {
      closeSync(fd);
      return resolved.endsWith(' (deleted)') ? 'vanished' : 'escaped';
    }
    return { fd, st, readPath: link };
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // already closed above
    }
    if (isGone(err)) return 'vanished';
    throw new FsOpError('open', rel, err);
  }
}
