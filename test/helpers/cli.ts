import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The real CLI entry point, as users run it. */
export const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/foldersync.js');

/** A spawned CLI whose output is collected and whose exit is awaited with a bound. */
export interface Spawned {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or 128+signal); rejects after `ms`, killing the process. */
  exited(ms?: number): Promise<number>;
  /** Resolves once stdout+stderr match `re`; rejects after `ms`. */
  waitFor(re: RegExp, ms?: number): Promise<void>;
}

/**
 * Spawns `node bin/foldersync.js …`. State, lock and socket files go under `home` (XDG_STATE_HOME,
 * XDG_RUNTIME_DIR and TMPDIR point there), so a test never touches anything outside its temp folder.
 */
export function spawnCli(
  args: string[],
  opts: { home: string; stdin?: 'pipe' | 'ignore'; env?: NodeJS.ProcessEnv; /** A command that runs node, e.g. setpriv to drop root. */ prefix?: readonly string[] },
): Spawned {
  const [cmd, ...pre] = [...(opts.prefix ?? []), process.execPath];
  const child = spawn(cmd!, [...pre, BIN, ...args], {
    stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
    // XDG_RUNTIME_DIR: a daemon's control socket goes there, not into the machine's /run.
    env: { ...process.env, XDG_STATE_HOME: path.join(opts.home, 'state'), TMPDIR: opts.home, HOME: opts.home, XDG_RUNTIME_DIR: path.join(opts.home, 'run'), ...opts.env },
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  // 'close', not 'exit': under load 'exit' can come before the last stdout/stderr data is read.
  const exit = new Promise<number>((resolve) => {
    child.on('close', (code, signal) => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : 2)));
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited: (ms = 30_000) =>
      new Promise<number>((resolve, reject) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`foldersync ${args.join(' ')} did not exit within ${ms} ms\nstdout: ${out}\nstderr: ${err}`));
        }, ms);
        exit.then((c) => {
          clearTimeout(t);
          resolve(c);
        }, reject);
      }),
    waitFor: (re, ms = 15_000) =>
      new Promise<void>((resolve, reject) => {
        const started = Date.now();
        const tick = (): void => {
          if (re.test(out + err)) resolve();
          else if (Date.now() - started > ms) reject(new Error(`timed out waiting for ${re}\nstdout: ${out}\nstderr: ${err}`));
          else setTimeout(tick, 20);
        };
        tick();
      }),
  };
}

/** Runs the CLI to completion and returns its exit code and output. */
export async function runCli(
  args: string[],
  opts: { home: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; prefix?: readonly string[] },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const s = spawnCli(args, opts);
  const code = await s.exited(opts.timeoutMs ?? 30_000);
  return { code, stdout: s.stdout(), stderr: s.stderr() };
}
