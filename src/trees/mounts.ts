import { readFile } from 'node:fs/promises';

/** The mount a path lies on, as /proc/self/mountinfo describes it. */
export interface MountInfo {
  /** Where it is mounted. */
  readonly point: string;
  /** The filesystem type: `ext4`, `vfat`, `fuseblk`, `fuse.sshfs`, `cifs`, … */
  readonly type: string;
  /** What is mounted: a device, `host:path`, `//server/share`. */
  readonly source: string;
  /** Mount and superblock options together (`ro`, `use_ino`, `noserverino`, …). */
  readonly options: readonly string[];
}

/** Unescapes the octal escapes mountinfo uses for spaces, tabs, newlines and backslashes. */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** Parses mountinfo text into mounts (later lines are later mounts: they shadow earlier ones). */
export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-');
    if (dash < 6 || f.length < dash + 3) continue;
    out.push({
      point: unescapeOctal(f[4]!),
      type: f[dash + 1]!,
      source: unescapeOctal(f[dash + 2]!),
      options: [...f[5]!.split(','), ...(f[dash + 3] ?? '').split(',')].filter((o) => o !== ''),
    });
  }
  return out;
}

/** The mount holding an absolute, real path: the last-mounted of those with the longest matching mount point. */
export function mountFor(mounts: readonly MountInfo[], absPath: string): MountInfo | undefined {
  let best: MountInfo | undefined;
  for (const m of mounts) {
    const inside = m.point === '/' || absPath === m.point || absPath.startsWith(`${m.point}/`);
    if (inside && (best === undefined || m.point.length >= best.point.length)) best = m;
  }
  return best;
}

/** The mount of a path on this machine; undefined where there is no /proc (not Linux). */
export async function mountOf(absPath: string): Promise<MountInfo | undefined> {
  let text: string;
  try {
    text = await readFile('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  return mountFor(parseMountInfo(text), absPath);
}

/**
 * Whether folders can be renamed safely on this mount. fusefat loses a renamed folder's
 * contents and corrupts the FAT; trying it in a probe would damage the drive, so it is known
 * by its type.
 */
export function renamesFolders(m: MountInfo | undefined): boolean {
  return m?.type !== 'fuse.fusefat';
}

/**
 * Whether inode numbers on this mount survive an unmount and mount again. FUSE filesystems
 * (sshfs, exfat-fuse, fusefat, ntfs-3g without `use_ino`) number inodes as paths are looked up;
 * CIFS without server inode numbers (`noserverino`) makes them up too.
 */
export function keepsInodes(m: MountInfo | undefined): boolean {
  if (m === undefined) return true;
  if ((m.type === 'fuseblk' || m.type === 'fuse' || m.type.startsWith('fuse.')) && !m.options.includes('use_ino')) return false;
  if ((m.type === 'cifs' || m.type === 'smb3') && m.options.includes('noserverino')) return false;
  return true;
}
