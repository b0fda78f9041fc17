import type { Logger } from 'pino';
import { describe } from '../errors.js';
import type { ReplicaWriter } from '../trees/tree.js';

/** What --backup-dir and --backup-keep ask for. */
export interface BackupSettings {
  /** The backup folder, absolute (a relative --backup-dir is resolved inside the replica). */
  readonly dir: string;
  /** Stamp folders older than this are removed at the end of a pass; null keeps them all. */
  readonly keepMs: number | null;
}

const STAMP_RE = /^(\d{4})-(\d{2})-(\d{2})_(\d{2})(\d{2})(\d{2})$/;

const two = (n: number): string => String(n).padStart(2, '0');

/** The stamp folder name of a pass started at `t`, in local time: `2026-12-04_213005`. */
export function stampOf(t: Date): string {
  return `${t.getFullYear()}-${two(t.getMonth() + 1)}-${two(t.getDate())}_${two(t.getHours())}${two(t.getMinutes())}${two(t.getSeconds())}`;
}

/** The local time a stamp folder name stands for; null for any other name (never removed). */
export function parseStamp(name: string): Date | null {
  const m = STAMP_RE.exec(name);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const t = new Date(y, mo - 1, d, h, mi, s);
  // 2026-02-31 would roll over to March: not a name foldersync wrote.
  return t.getMonth() === mo - 1 && t.getDate() === d ? t : null;
}

/** Pure: the stamp folders older than `keepMs` at `now`; other names are not ours and never chosen. */
export function expiredStamps(names: readonly string[], now: Date, keepMs: number): string[] {
  return names.filter((n) => {
    const t = parseStamp(n);
    return t !== null && now.getTime() - t.getTime() > keepMs;
  });
}

/**
 * Retention at the end of a pass: removes the stamp folders older than --backup-keep through
 * the replica's writer (one line each). A failure is a warning: old versions kept a little
 * longer never harm the mirror.
 */
export async function pruneVersions(writer: ReplicaWriter, keepMs: number, now: Date, log: Logger): Promise<void> {
  let names: string[];
  try {
    names = await writer.backupStamps();
  } catch (err) {
    log.warn({ err: describe(err) }, `cannot list the backup folder: ${describe(err)}`);
    return;
  }
  for (const stamp of expiredStamps(names, now, keepMs)) {
    try {
      await writer.removeBackupStamp(stamp);
      log.info({ path: stamp }, `removed old versions ${stamp}`);
    } catch (err) {
      log.warn({ path: stamp, err: describe(err) }, `cannot remove old versions ${stamp}: ${describe(err)}`);
    }
  }
}
