import type { FsTraits } from '../trees/probe.js';

/**
 * How this pass compares the two trees, given what their filesystems keep. The planner, the
 * record's drift checks and the executor's attribute fixes all decide through these rules, so
 * what one of them calls "equal" the others do too (a pass over unchanged trees does nothing).
 */
export interface FsRules {
  /** Mtimes this close (ms) are equal; 0 = to the millisecond. */
  readonly windowMs: number;
  /**
   * The window was chosen automatically (`--modify-window auto`): a source mtime that differs
   * from the one recorded when the file was copied is still a change, even inside the window.
   */
  readonly exactSource: boolean;
  /** The replica keeps permission bits: compare and mirror them. */
  readonly modes: boolean;
  /** Source inode numbers are the ones the record knows (no remount renumbered them). */
  readonly srcIno: boolean;
  /** Replica inode numbers are the ones the record knows. */
  readonly repIno: boolean;
  /** The source root's device: entries on it are recorded with device 0, so a drive plugged in again under a new number is the same drive. */
  readonly srcRootDev: number;
  /** Folders may be renamed (moves, case fixes, setting aside); where not, folder renames become file moves. */
  readonly folderRenames?: boolean;
  /** Case-insensitive or normalising replica: the key under which two source paths land on one replica entry. */
  readonly fold?: (path: string) => string;
}

/** The rules of two local POSIX filesystems: exact mtimes, modes kept, inodes trusted. */
export const EXACT_RULES: FsRules = Object.freeze({ windowMs: 0, exactSource: false, modes: true, srcIno: true, repIno: true, srcRootDev: -1 });

/** Two mtimes are equal under the rules: to the millisecond, or within the modify window. */
export function mtimeEq(r: Pick<FsRules, 'windowMs'>, a: number, b: number): boolean {
  const d = Math.abs(a - b);
  return d < 1 || d <= r.windowMs;
}

/** The device number the record keeps for a source entry (0 = the source root's device, whatever its number today). */
export function devKey(r: Pick<FsRules, 'srcRootDev'>, dev: number): number {
  return dev === r.srcRootDev ? 0 : dev;
}

/** The modify window `auto` means: the coarser of the two filesystems' steps. */
export function autoWindowMs(replica: Pick<FsTraits, 'mtimeResolutionMs'>, sourceResolutionMs: number): number {
  return Math.max(replica.mtimeResolutionMs, sourceResolutionMs);
}

/** The folding a replica applies to names, if any: two source paths with one key are one replica entry. */
export function nameFolding(t: Pick<FsTraits, 'caseInsensitive' | 'normalizing'>): ((path: string) => string) | undefined {
  if (t.caseInsensitive && t.normalizing) return (p) => p.normalize('NFC').toLowerCase();
  if (t.caseInsensitive) return (p) => p.toLowerCase();
  if (t.normalizing) return (p) => p.normalize('NFC');
  return undefined;
}
