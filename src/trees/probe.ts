import { lstat, open, readlink, symlink, unlink, utimes, chmod } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { FsOpError } from '../errors.js';
import { type MountInfo, keepsInodes, mountOf, renamesFolders } from './mounts.js';

/** What a filesystem keeps, measured (or, for a dry run, guessed from its type). */
export interface FsTraits {
  /** The filesystem type from the mount table (`ext4`, `fuseblk`, `fuse.sshfs`, …), or `unknown`. */
  readonly type: string;
  /** The mtime step it keeps, in ms: 0 = finer than a millisecond, 1000 on sshfs, 2000 on FAT; Infinity = set mtimes are not kept. */
  readonly mtimeResolutionMs: number;
  /** chmod sticks (FAT and exFAT have no permission bits). */
  readonly modes: boolean;
  /** It can hold symbolic links. */
  readonly symlinks: boolean;
  /** A link whose target is absolute or climbs with `..` reads back (sshfs refuses to show those). */
  readonly outwardLinks: boolean;
  /** `a` and `A` name the same entry. */
  readonly caseInsensitive: boolean;
  /** NFC and NFD spellings of a name name the same entry. */
  readonly normalizing: boolean;
  /** Names follow Windows' rules: no `"*:<>?\|`, no control characters, no trailing dot or space, 255 UTF-16 units. */
  readonly windowsNames: boolean;
  /** Names may hold characters beyond ASCII. */
  readonly unicodeNames: boolean;
  /** ctime is a real change time (not a copy of mtime): a hand edit that restores the mtime still shows. */
  readonly ctime: boolean;
  /** Inode numbers survive a remount (FUSE and CIFS without server inodes renumber). */
  readonly stableInodes: boolean;
  /** Folders can be renamed without harm (not on fusefat, which loses their contents). */
  readonly folderRenames: boolean;
  /** False when guessed from the mount type without writing (dry run). */
  readonly probed: boolean;
  /** How long the probe took. */
  readonly probeMs: number;
}

/** An mtime with digits down to the microsecond, on an odd second: what is left of it shows the step kept. */
const PROBE_MTIME_S = 1_600_000_001.987654;
/** Steps a filesystem may keep, coarsest first, in nanoseconds. */
const STEPS_NS = [2_000_000_000n, 1_000_000_000n, 100_000_000n, 10_000_000n, 1_000_000n];

/**
 * Finds out what the filesystem holding `root` (an existing folder) keeps, with a few syscalls
 * on reserved `.foldersync-*.tmp` names in it, removed again (a crash leaves only names the next
 * pass removes as stale). Each question that cannot be answered gets the cautious answer.
 */
export async function probeReplica(root: string): Promise<FsTraits> {
  const t0 = performance.now();
  const mount = await mountOf(root);
  const id = `${process.pid.toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const name = `.foldersync-probe-${id}.tmp`;
  const file = path.join(root, name);
  try {
    await (await open(file, 'wx', 0o600)).close();
  } catch (err) {
    throw new FsOpError('probe the filesystem of', root, err);
  }
  try {
    const time = await probeTime(file);
    // What only the mount table can tell (type, inode numbers that last, safe folder renames)
    // comes from the same place as a dry run's guess; everything else is measured over it.
    return {
      ...traitsOfType(mount),
      mtimeResolutionMs: time.resolutionMs,
      modes: await probeModes(file),
      ...(await probeSymlinks(path.join(root, `.foldersync-probe-${id}-l.tmp`))),
      caseInsensitive: await exists(path.join(root, name.toUpperCase())),
      ...(await probeNames(root, id)),
      ctime: time.realCtime,
      probed: true,
      probeMs: performance.now() - t0,
    };
  } finally {
    await unlink(file).catch(() => undefined);
  }
}

/** The mtime step kept, and whether ctime moved on its own when the mtime was set. */
async function probeTime(file: string): Promise<{ resolutionMs: number; realCtime: boolean }> {
  try {
    await utimes(file, PROBE_MTIME_S, PROBE_MTIME_S);
    const st = await lstat(file, { bigint: true });
    const wanted = BigInt(Math.round(PROBE_MTIME_S * 1e6)) * 1000n;
    const got = st.mtimeNs;
    const off = got > wanted ? got - wanted : wanted - got;
    // A set mtime that comes back far off was not kept at all (or shifted by a time zone).
    if (off > 2_500_000_000n) return { resolutionMs: Number.POSITIVE_INFINITY, realCtime: st.ctimeNs !== got };
    const step = STEPS_NS.find((s) => got % s === 0n);
    return { resolutionMs: step === undefined ? 0 : Number(step / 1_000_000n), realCtime: st.ctimeNs !== got };
  } catch {
    return { resolutionMs: 2000, realCtime: false };
  }
}

async function probeModes(file: string): Promise<boolean> {
  try {
    for (const mode of [0o640, 0o604]) {
      await chmod(file, mode);
      if (((await lstat(file)).mode & 0o777) !== mode) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** Whether links can be made and read back: with a plain relative target, and with ones that are absolute or climb with `..`. */
async function probeSymlinks(link: string): Promise<{ symlinks: boolean; outwardLinks: boolean }> {
  const readsBack = async (target: string): Promise<boolean> => {
    try {
      await symlink(target, link);
    } catch {
      return false;
    }
    try {
      return (await readlink(link)) === target;
    } catch {
      return false;
    } finally {
      await unlink(link).catch(() => undefined);
    }
  };
  const symlinks = await readsBack('foldersync-probe');
  return { symlinks, outwardLinks: symlinks && (await readsBack('/foldersync-probe')) && (await readsBack('../foldersync-probe')) };
}

/** Which names the filesystem takes: a `:` (Windows forbids it), an é, and whether é's NFD spelling finds the NFC one. */
async function probeNames(root: string, id: string): Promise<{ windowsNames: boolean; unicodeNames: boolean; normalizing: boolean }> {
  const colon = path.join(root, `.foldersync-probe-${id}-c:.tmp`);
  const windowsNames = !(await tryCreate(colon));
  const nfc = path.join(root, `.foldersync-probe-${id}-\u00e9.tmp`);
  const unicodeNames = await tryCreate(nfc, false);
  let normalizing = false;
  if (unicodeNames) {
    normalizing = await exists(path.join(root, `.foldersync-probe-${id}-e\u0301.tmp`));
    await unlink(nfc).catch(() => undefined);
  }
  return { windowsNames, unicodeNames, normalizing };
}

/** Creates an empty file (removed again unless `remove` is false); false if the name is refused. */
async function tryCreate(p: string, remove = true): Promise<boolean> {
  try {
    await (await open(p, 'wx', 0o600)).close();
  } catch {
    return false;
  }
  if (remove) await unlink(p).catch(() => undefined);
  return true;
}

/** True when the name leads to an entry (any failure to find it counts as no). */
async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** What a POSIX filesystem keeps of modes, links and names: the guess wherever nothing says otherwise. */
export const POSIX_KEEPS = {
  modes: true,
  symlinks: true,
  outwardLinks: true,
  caseInsensitive: false,
  normalizing: false,
  windowsNames: false,
  unicodeNames: true,
} as const satisfies Partial<FsTraits>;

/** Traits guessed from the mount type alone, for a dry run that must write nothing. */
export async function guessTraits(root: string): Promise<FsTraits> {
  const mount = await mountOf(root);
  return { ...traitsOfType(mount), probed: false, probeMs: 0 };
}

function traitsOfType(m: MountInfo | undefined): Omit<FsTraits, 'probed' | 'probeMs'> {
  const type = m?.type ?? 'unknown';
  const posix = {
    ...POSIX_KEEPS,
    type,
    mtimeResolutionMs: 0,
    ctime: true,
    stableInodes: keepsInodes(m),
    folderRenames: renamesFolders(m),
  };
  const dos = { ...posix, modes: false, symlinks: false, outwardLinks: false, caseInsensitive: true, windowsNames: true, ctime: false };
  switch (type) {
    case 'vfat':
    case 'msdos':
    case 'fuse.fusefat':
      return { ...dos, mtimeResolutionMs: 2000 };
    case 'exfat':
    case 'fuseblk':
      return { ...dos, mtimeResolutionMs: type === 'exfat' ? 10 : 1000 };
    case 'fuse.sshfs':
      return { ...posix, mtimeResolutionMs: 1000, ctime: false, outwardLinks: false };
    case 'cifs':
    case 'smb3':
      return { ...posix, caseInsensitive: true, windowsNames: true };
    default:
      return posix;
  }
}

/** Distinct mtimes needed before a listing may say the step is coarse: 2^-8 odds that eight fine ones all look even. */
const MIN_DISTINCT = 8;

/**
 * The mtime step a source shows, read from what its entries carry (nothing is written there):
 * the coarsest step that every listed mtime is a multiple of (1 = a millisecond or finer: the
 * listing stops being read once that is clear; 0 when an mtime has digits below the
 * millisecond); undefined while too few distinct mtimes were seen to tell (files written in the
 * same second all look like a 2-second filesystem).
 */
export function observedResolutionMs(mtimesMs: Iterable<number>): number | undefined {
  const g = new StepGauge();
  for (const t of mtimesMs) if (!g.add(t)) break;
  return g.step;
}

/** observedResolutionMs, fed one mtime at a time as a streamed listing goes by. */
export class StepGauge {
  private res = 2000;
  private fine = false;
  private readonly distinct = new Set<number>();

  /** Takes one mtime; false once more cannot change the answer. */
  add(t: number): boolean {
    if (this.fine) return false;
    if (!Number.isInteger(t)) {
      this.fine = true;
      return false;
    }
    while (this.res > 1 && t % this.res !== 0) this.res = this.res === 2000 ? 1000 : this.res / 10;
    if (this.distinct.size < MIN_DISTINCT) this.distinct.add(t);
    return !(this.res === 1 && this.distinct.size >= MIN_DISTINCT);
  }

  /** The step seen so far (see observedResolutionMs). */
  get step(): number | undefined {
    if (this.fine) return 0;
    return this.distinct.size >= MIN_DISTINCT ? this.res : undefined;
  }
}
