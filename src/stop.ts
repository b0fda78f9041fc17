import { createInterface, type Interface } from 'node:readline';

/** Words that stop the daemon when typed on stdin (any case, spaces ignored). */
export const STOP_WORDS = new Set(['quit', 'exit', 'q']);

/** The two ways to stop: graceful (finish the pass) and hard (abort it). */
export interface StopControl {
  readonly graceful: AbortSignal;
  readonly hard: AbortSignal;
  /** Why the graceful stop fired ("quit", "SIGTERM", …), once it has. */
  readonly reason: () => string | undefined;
  /** A graceful stop asked for by a console command (`quit`, from stdin or ctl). */
  request(why: string): void;
  /** Removes every listener and lets stdin go; idempotent. */
  dispose(): void;
}

/**
 * Turns stdin lines and signals into abort signals. `quit`/`exit`/`q`, SIGINT and SIGTERM stop
 * gracefully; a second SIGINT stops hard. End of stdin means nothing (systemd and cron give an
 * empty one). SIGHUP calls `onHup` (reopen the log file).
 */
export function installStop(opts: { stdin?: NodeJS.ReadableStream | null; onHup?: () => void; onSignal?: (what: string) => void }): StopControl {
  const graceful = new AbortController();
  const hard = new AbortController();
  let reason: string | undefined;
  const stopGracefully = (why: string): void => {
    if (graceful.signal.aborted) return;
    reason = why;
    opts.onSignal?.(why);
    graceful.abort(new Error(`stopped by ${why}`));
  };
  const onInt = (): void => {
    if (!graceful.signal.aborted) {
      stopGracefully('SIGINT');
      return;
    }
    opts.onSignal?.('second SIGINT');
    hard.abort(new Error('aborted by a second SIGINT'));
  };
  const onTerm = (): void => stopGracefully('SIGTERM');
  const onHup = (): void => opts.onHup?.();
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onHup);

  let rl: Interface | undefined;
  if (opts.stdin) {
    rl = createInterface({ input: opts.stdin, terminal: false });
    rl.on('line', (line) => {
      if (STOP_WORDS.has(line.trim().toLowerCase())) stopGracefully(line.trim());
    });
    // A closed or broken stdin is not a request to stop.
    rl.on('error', () => undefined);
    opts.stdin.on('error', () => undefined);
  }

  let disposed = false;
  return {
    graceful: graceful.signal,
    hard: hard.signal,
    reason: () => reason,
    request: stopGracefully,
    dispose: () => {
      if (disposed) return;
      disposed = true;
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      process.off('SIGHUP', onHup);
      rl?.close();
      if (opts.stdin && 'destroy' in opts.stdin && typeof opts.stdin.destroy === 'function') opts.stdin.destroy();
    },
  };
}
