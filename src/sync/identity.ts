import { type FsRules, mtimeEq } from './fs-rules.js';
import type { Entry, FileRecord, RecordEntry } from './types.js';

/** Which side's inode numbers to check against the record. */
export type IdSide = 'src' | 'rep';

/**
 * True when a side's inode numbers were renumbered since the record was written: on a
 * filesystem that numbers inodes per mount (sshfs, exfat-fuse, CIFS without server inode
 * numbers), most entries that kept their path, kind, size and mtime now carry a number the
 * record cannot explain. That is a remount, not a tree of hand edits: trusting the old numbers
 * would take every file for drift (and read it whole) or pair the wrong files as renames.
 *
 * A number that the record holds for another entry of the same kind, size and mtime explains
 * itself: files swapped or rotated in place, which identity must still catch. Filesystems
 * whose inode numbers last (`perMount` false) are never renumbered: a tree restored there
 * with new inodes is hashed once, as drift should be. Pure.
 */
export function renumbered(
  side: IdSide,
  record: FileRecord,
  entries: ReadonlyMap<string, Entry>,
  rules: Pick<FsRules, 'windowMs'>,
  perMount: boolean,
  inScope: (p: string) => boolean = () => true,
  /** Entries left out of `record` and `entries` because they matched it exactly (their numbers explained). */
  settled = 0,
): boolean {
  if (!perMount) return false;
  const inoOf = (r: RecordEntry): number => (side === 'src' ? r.sIno : r.rIno);
  const sameTime = (a: number, b: number): boolean => (side === 'src' ? a === b : mtimeEq(rules, a, b));
  let byIno: Map<number, RecordEntry[]> | undefined;
  const explained = (e: Entry): boolean => {
    if (byIno === undefined) {
      byIno = new Map();
      for (const r of record.values()) {
        const list = byIno.get(inoOf(r));
        if (list) list.push(r);
        else byIno.set(inoOf(r), [r]);
      }
    }
    return (byIno.get(e.ino) ?? []).some((r) => r.kind === e.kind && r.size === e.size && sameTime(e.mtimeMs, r.mtimeMs));
  };
  let same = settled;
  let unexplained = 0;
  for (const [p, rec] of record) {
    const e = entries.get(p);
    if (e === undefined || e.kind !== rec.kind || !inScope(p)) continue;
    if (e.kind === 'file' && (e.size !== rec.size || !sameTime(e.mtimeMs, rec.mtimeMs))) continue;
    same++;
    if (inoOf(rec) !== e.ino && !explained(e)) unexplained++;
  }
  return unexplained * 2 > same;
}
