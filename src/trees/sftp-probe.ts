import { performance } from 'node:perf_hooks';
import { FsOpError } from '../errors.js';
import type { RemoteEnd } from '../remote/remote-end.js';
import { type FsTraits, POSIX_KEEPS } from './probe.js';

/** What an SFTP replica is assumed to keep before it can be probed (a dry run): a POSIX server, whole seconds. */
export function guessSftpTraits(): FsTraits {
  return {
    ...POSIX_KEEPS,
    type: 'sftp',
    mtimeResolutionMs: 1000,
    ctime: false,
    stableInodes: true,
    folderRenames: true,
    probed: false,
    probeMs: 0,
  };
}

/** A set mtime on an odd second: what comes back shows whether the server keeps it. */
const PROBE_MTIME_S = 1_600_000_001;

/**
 * Finds out what the remote replica's filesystem keeps, over SFTP, with reserved
 * `.foldersync-*.tmp` names in its root (removed again; a drop leaves only names the next pass
 * removes). SFTP carries whole seconds, so the mtime step is at best 1 s; inode numbers and
 * change times are not carried at all.
 */
export async function probeSftp(end: RemoteEnd): Promise<FsTraits> {
  const t0 = performance.now();
  const io = end.sftp;
  const id = `${process.pid.toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const name = `.foldersync-probe-${id}.tmp`;
  const file = end.abs(name);
  try {
    await io.close(await io.open(file, 'wx'), file);
  } catch (err) {
    throw new FsOpError('probe the filesystem of', end.text, err);
  }
  const tryDo = async (f: () => Promise<unknown>): Promise<boolean> => {
    try {
      await f();
      return true;
    } catch {
      return false;
    }
  };
  try {
    let mtimeResolutionMs = 1000;
    if (await tryDo(() => io.setstat(file, { atime: PROBE_MTIME_S, mtime: PROBE_MTIME_S }))) {
      const got = (await io.lstat(file)).mtime;
      if (Math.abs(got - PROBE_MTIME_S) > 2) mtimeResolutionMs = Number.POSITIVE_INFINITY;
      else if (got % 2 === 0) mtimeResolutionMs = 2000;
    }
    let modes = true;
    for (const mode of [0o640, 0o604]) {
      if (!(await tryDo(() => io.setstat(file, { mode }))) || ((await io.lstat(file)).mode & 0o777) !== mode) modes = false;
    }
    const link = end.abs(`.foldersync-probe-${id}-l.tmp`);
    const readsBack = async (target: string): Promise<boolean> => {
      if (!(await tryDo(() => io.symlink(target, link)))) return false;
      try {
        return (await io.readlink(link)) === target;
      } catch {
        return false;
      } finally {
        await io.unlink(link).catch(() => undefined);
      }
    };
    const symlinks = await readsBack('foldersync-probe');
    const outwardLinks = symlinks && (await readsBack('/foldersync-probe')) && (await readsBack('../foldersync-probe'));
    const caseInsensitive = await tryDo(() => io.lstat(end.abs(name.toUpperCase())));
    const created = async (n: string): Promise<boolean> => {
      const p = end.abs(n);
      if (!(await tryDo(async () => io.close(await io.open(p, 'wx'), p)))) return false;
      return true;
    };
    const colon = `.foldersync-probe-${id}-c:.tmp`;
    const windowsNames = !(await created(colon));
    if (!windowsNames) await io.unlink(end.abs(colon)).catch(() => undefined);
    const nfc = `.foldersync-probe-${id}-\u00e9.tmp`;
    const unicodeNames = await created(nfc);
    let normalizing = false;
    if (unicodeNames) {
      normalizing = await tryDo(() => io.lstat(end.abs(`.foldersync-probe-${id}-e\u0301.tmp`)));
      await io.unlink(end.abs(nfc)).catch(() => undefined);
    }
    return {
      ...guessSftpTraits(),
      mtimeResolutionMs,
      modes,
      symlinks,
      outwardLinks,
      caseInsensitive,
      normalizing,
      windowsNames,
      unicodeNames,
      probed: true,
      probeMs: performance.now() - t0,
    };
  } finally {
    await io.unlink(file).catch(() => undefined);
  }
}
