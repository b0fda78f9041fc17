import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The unprivileged user tests drop to (nobody). */
export const NOBODY = 65534;

/** True when the tests run as root (CI does): mode bits then deny nothing. */
export const isRoot = process.getuid?.() === 0;

const SETPRIV = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];

/**
 * The command prefix that runs the CLI without root's power to read and write anything: []
 * when the tests are not root anyway, null when root cannot drop privileges here.
 */
export const unprivileged: readonly string[] | null = !isRoot ? [] : spawnSync(SETPRIV[0]!, [...SETPRIV.slice(1), 'true']).status === 0 ? SETPRIV : null;

/** True when `chattr +i` works here (root on a filesystem that supports it): even root cannot write then. */
export const chattrWorks = ((): boolean => {
  if (!isRoot) return false;
  const d = mkdtempSync(path.join(tmpdir(), 'fs-chattr-probe-'));
  const ok = spawnSync('chattr', ['+i', d]).status === 0;
  if (ok) spawnSync('chattr', ['-i', d]);
  rmdirSync(d);
  return ok;
})();
