import { statSync } from 'node:fs';
import path from 'node:path';
import { UsageError, errCode } from './errors.js';
import { parseDuration } from './duration.js';
import type { BackupSettings } from './sync/versions.js';

/** The raw --backup-dir and --backup-keep values. */
export interface RawBackup {
  readonly backupDir?: string;
  readonly backupKeep?: string;
}

/**
 * Validates --backup-dir and --backup-keep against the real source and replica paths. A
 * relative folder lies inside the replica (and must stay inside it); an absolute one must be
 * outside the source and on the replica's filesystem, because old versions are moved there by
 * rename, never copied. Returns null without --backup-dir.
 */
export function checkBackup(
  raw: RawBackup,
  source: string,
  replica: string,
  isInside: (inner: string, outer: string) => boolean,
  remoteReplica = false,
): BackupSettings | null {
  const keepMs = raw.backupKeep === undefined ? null : parseDuration(raw.backupKeep, '--backup-keep');
  if (raw.backupDir === undefined) {
    if (keepMs !== null) throw new UsageError('--backup-keep needs --backup-dir');
    return null;
  }
  const given = raw.backupDir;
  const shown = `--backup-dir ${JSON.stringify(given)}`;
  if (given.trim() === '') throw new UsageError(`${shown}: expected a folder`);
  if (remoteReplica) {
    // On another machine only a folder inside the replica is sure to be on its filesystem.
    if (path.isAbsolute(given)) throw new UsageError(`${shown}: with a replica on another machine, give a folder inside it (a relative path)`);
    const rel = path.posix.normalize(given.split(path.sep).join('/'));
    if (rel === '.' || rel === '..' || rel.startsWith('../')) throw new UsageError(`${shown}: a relative backup folder must lie inside the replica`);
    return Object.freeze({ dir: path.resolve(replica, rel), keepMs });
  }
  const dir = path.resolve(replica, given);
  if (!path.isAbsolute(given)) {
    if (dir === replica || !isInside(dir, replica)) throw new UsageError(`${shown}: a relative backup folder must lie inside the replica`);
    return Object.freeze({ dir, keepMs });
  }
  if (isInside(dir, source) || isInside(source, dir)) throw new UsageError(`${shown}: must not be inside the source (or contain it)`);
  if (isInside(replica, dir) && dir !== replica) throw new UsageError(`${shown}: must not contain the replica`);
  if (dir === replica) throw new UsageError(`${shown}: must not be the replica itself`);
  const mine = deviceOf(dir);
  const theirs = deviceOf(replica);
  if (mine !== theirs) {
    throw new UsageError(`${shown}: must be on the replica's filesystem (old versions are moved there by rename, not copied)`);
  }
  return Object.freeze({ dir, keepMs });
}

/** The device of a path, or of its deepest existing folder when it does not exist yet. */
function deviceOf(p: string): number {
  for (let cur = p; ; cur = path.dirname(cur)) {
    try {
      return statSync(cur).dev;
    } catch (err) {
      const code = errCode(err);
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || path.dirname(cur) === cur) throw new UsageError(`--backup-dir ${JSON.stringify(p)}: ${String(code ?? err)}`);
    }
  }
}
