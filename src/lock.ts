import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, open, readFile, unlink, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, errCode } from './errors.js';

/** A held replica lock. */
export interface Lock {
  readonly file: string;
  /**
   * Confirms the lock is still ours and touches it, so a temp-folder cleaner never sees it as
   * old; puts it back if it vanished. Returns a warning to log, or undefined when all is well.
   */
  refresh(): Promise<string | undefined>;
  /** Releases the lock; idempotent. */
  release(): Promise<void>;
}

/** Another live process holds the lock. */
export class LockedError extends Error {
  constructor(
    readonly pid: number,
    readonly replica: string,
  ) {
    super(`another foldersync (pid ${pid}) is already syncing into ${replica}`);
  }
}

/**
 * The lock file for a replica, by its real path, under the system temp folder: the same for
 * every --state, so two runs with different records still exclude each other.
 */
export function lockPath(replica: string): string {
  const id = createHash('sha256').update(replica).digest('hex').slice(0, 24);
  return path.join(tmpdir(), `foldersync-${id}.lock`);
}

/** This process's start time from /proc (guards against pid reuse), or '' where unknown. */
function startTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

function alive(pid: number, start: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (errCode(err) === 'ESRCH') return false;
  }
  const now = startTime(pid);
  return start === '' || now === '' || now === start;
}

/** Takes the replica's lock, taking over one left by a dead process; throws LockedError if held. */
export async function acquireLock(replica: string): Promise<Lock> {
  const file = lockPath(replica);
  const mine = `${process.pid} ${startTime(process.pid)}\n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await linkLock(file, mine)) return held(file, mine);
    const text = await readFile(file, 'utf8').catch(() => '');
    const [pidText = '', start = ''] = text.trim().split(' ');
    const pid = Number(pidText);
    if (Number.isInteger(pid) && pid > 0 && alive(pid, start)) throw new LockedError(pid, replica);
    // Stale (dead owner, or a torn write): remove it only if it is still the same stale file.
    const again = await readFile(file, 'utf8').catch(() => null);
    if (again === text) await unlink(file).catch(() => undefined);
  }
  throw new Error(`could not take the lock ${file}: it keeps changing`);
}

/** Creates the lock file atomically: the pid is written first, then linked into place. False if it exists. */
async function linkLock(file: string, mine: string): Promise<boolean> {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(mine);
    } finally {
      await fh.close();
    }
    await link(tmp, file);
    return true;
  } catch (err) {
    if (errCode(err) === 'EEXIST') return false;
    throw new Error(`cannot create the lock file ${file}: ${describe(err)}`, { cause: err });
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

function held(file: string, mine: string): Lock {
  let released = false;
  return {
    file,
    refresh: async () => {
      if (released) return undefined;
      const cur = await readFile(file, 'utf8').catch(() => null);
      if (cur === mine) {
        const now = new Date();
        await utimes(file, now, now).catch(() => undefined);
        return undefined;
      }
      if (cur === null && (await linkLock(file, mine).catch(() => false))) return `the lock file ${file} had vanished (a temp-folder cleaner?); it was put back`;
      const other = (await readFile(file, 'utf8').catch(() => '')).trim().split(' ')[0] || 'unknown';
      return `the lock file ${file} now names pid ${other}, not this process: another foldersync may be writing into the replica`;
    },
    release: async () => {
      if (released) return;
      released = true;
      const cur = await readFile(file, 'utf8').catch(() => '');
      if (cur === mine) await unlink(file).catch(() => undefined);
    },
  };
}
