import { Writable } from 'node:stream';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import type { LogLevel } from './config.js';
import { describeReport } from './sync/report.js';
import type { PassReport } from './sync/types.js';

/** The process's logger plus the handles main needs: reopen on SIGHUP, flush before exit. */
export interface Logging {
  readonly log: Logger;
  /** Reopens foldersync.log (for logrotate); a no-op without --log-dir. */
  reopen(): void;
  /** Writes out everything buffered; call after each pass and before the process exits. */
  flush(): void;
}

const NUM_TO_LEVEL: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** Name of the log file inside --log-dir. */
export const LOG_FILE = 'foldersync.log';

/**
 * JSON lines to `<logDir>/foldersync.log` (pino's format) and human-readable lines to the
 * console: actions and summaries on stdout, warnings and errors on stderr.
 */
export function createLogging(opts: {
  level: LogLevel;
  logDir: string | null;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}): Logging {
  const console = new ConsoleStream(opts.stdout ?? process.stdout, opts.stderr ?? process.stderr);
  const streams: pino.StreamEntry[] = [{ level: opts.level, stream: console }];
  let file: ReturnType<typeof pino.destination> | undefined;
  if (opts.logDir) {
    // Synchronous writes batched by 4 KB: nothing is left in flight when the process exits or
    // the file is reopened, and flush() (after each pass, at exit) makes every line visible.
    const dest = path.join(opts.logDir, LOG_FILE);
    file = pino.destination({ dest, mkdir: true, sync: true, minLength: 4096 });
    // A full disk or a vanished log folder must not kill a pass: say so on stderr, once per cause.
    const errOut = opts.stderr ?? process.stderr;
    const seen = new Set<string>();
    file.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code ?? err.message;
      if (seen.has(why)) return;
      seen.add(why);
      errOut.write(`foldersync: cannot write the log file ${dest}: ${err.message}\n`);
    });
    streams.push({ level: opts.level, stream: file });
  }
  const log = pino({ level: opts.level, base: undefined }, pino.multistream(streams));
  return {
    log,
    reopen: () => {
      if (!file) return;
      // Lines logged before the rotation belong in the old file.
      try {
        file.flushSync();
      } catch {
        // nothing buffered
      }
      try {
        file.reopen();
      } catch (err) {
        // The old file stays open: lines keep going somewhere until the next SIGHUP.
        log.warn({ err: String(err) }, `cannot reopen the log file: ${String(err)}`);
      }
    },
    flush: () => {
      try {
        file?.flushSync();
      } catch {
        // nothing buffered, or the file is gone: nothing more can be done at exit
      }
    },
  };
}

/** Turns pino's JSON lines into one short human line each. */
class ConsoleStream extends Writable {
  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly err: NodeJS.WritableStream,
  ) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line === '') continue;
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(line) as Record<string, unknown>;
      } catch {
        this.out.write(`${line}\n`);
        continue;
      }
      const level = typeof o.level === 'number' ? o.level : 30;
      (level >= 40 ? this.err : this.out).write(`${formatHuman(o, NUM_TO_LEVEL[level] ?? 'info')}\n`);
    }
    done();
  }
}

/** One human-readable console line for a log object. */
export function formatHuman(o: Record<string, unknown>, level: string): string {
  const msg = String(o.msg ?? '');
  if (typeof o.action === 'string') return msg;
  if ((msg === 'pass complete' || msg === 'pass aborted') && typeof o.outcome === 'string') return describeReport(o as unknown as PassReport);
  if (level === 'error' || level === 'fatal') return `error: ${msg}${o.err !== undefined && !msg.includes(String(o.err)) ? `: ${String(o.err)}` : ''}`;
  if (level === 'warn') return `warning: ${msg}`;
  return msg;
}
