import { spawn } from 'node:child_process';
import { describe } from '../errors.js';
import type { PassSummary } from './summary.js';
import { changesOf } from './when.js';

/** How long a notify command may run before it is killed (the contract's bound). */
export const HOOK_TIMEOUT_MS = 60_000;

/** Bytes of a command's stderr kept to explain its failure. */
const STDERR_KEPT = 1_000;

/** How a notify command ended. */
export type HookResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** The FOLDERSYNC_* variables a notify command gets. */
export function hookEnv(s: PassSummary): Record<string, string> {
  return {
    FOLDERSYNC_JOB: s.job,
    FOLDERSYNC_OUTCOME: s.outcome,
    FOLDERSYNC_CHANGES: String(changesOf(s)),
    FOLDERSYNC_ERRORS: String(s.errors),
    FOLDERSYNC_SOURCE: s.source,
    FOLDERSYNC_REPLICA: s.replica,
  };
}

/**
 * Runs `cmd` with /bin/sh -c, the summary as one JSON line on its stdin and the FOLDERSYNC_*
 * variables in its environment. It runs in its own process group, so at the bound (or when
 * `signal` fires: a hard stop) the shell and everything it started are killed together. Never
 * throws: a failure is a result.
 */
export function runHook(cmd: string, summary: PassSummary, timeoutMs = HOOK_TIMEOUT_MS, signal?: AbortSignal): Promise<HookResult> {
  return new Promise((resolve) => {
    let settled = false;
    let stderr = '';
    let timedOut = false;
    const done = (r: HookResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const child = spawn('/bin/sh', ['-c', cmd], {
      stdio: ['pipe', 'ignore', 'pipe'],
      detached: true,
      env: { ...process.env, ...hookEnv(summary) },
    });
    const killAll = (): void => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killAll();
    }, timeoutMs);
    signal?.addEventListener('abort', killAll, { once: true });
    child.on('error', (err) => done({ ok: false, reason: describe(err) }));
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < STDERR_KEPT) stderr += d.toString('utf8');
    });
    // A command that does not read its stdin closes the pipe early: not its failure.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(`${JSON.stringify(summary)}\n`);
    // The output is read to its end ('close'), but a background process the command left
    // behind may hold stderr open: then its exit status is enough.
    let status: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const finish = (): void => done(verdict(status, timedOut, timeoutMs, stderr));
    child.on('exit', (code, signal) => {
      status = { code, signal };
      setTimeout(finish, 200).unref();
    });
    child.on('close', finish);
    child.on('close', () => signal?.removeEventListener('abort', killAll));
  });
}

/** How a command ended, from its exit status and the tail of its stderr. */
function verdict(status: { code: number | null; signal: NodeJS.Signals | null } | undefined, timedOut: boolean, timeoutMs: number, stderr: string): HookResult {
  if (timedOut) return { ok: false, reason: `killed after ${timeoutMs / 1000} s` };
  if (!status) return { ok: false, reason: 'ended without an exit status' };
  if (status.code === 0) return { ok: true };
  const why = status.signal ? `killed by ${status.signal}` : `exit status ${status.code}`;
  const said = stderr.trim().split('\n').slice(-3).join(' / ').slice(0, 300);
  return { ok: false, reason: said ? `${why}: ${said}` : why };
}
