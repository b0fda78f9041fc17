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
  /** Called just before any console line is written (erases a progress line). */
  beforeLine?: () => void;
}): Logging {
  const console = new ConsoleStream(opts.stdout ?? process.stdout, opts.stderr ?? process.stderr, opts.beforeLine);
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
      console.flushLines();
      try {
        file?.flushSync();
      } catch {
        // nothing buffered, or the file is gone: nothing more can be done at exit
      }
    },
  };
}

/** Console text kept before one write: 100k action lines become ~200 writes, not 100k. */
const CONSOLE_BATCH = 16 * 1024;

/**
 * Turns pino's JSON lines into one short human line each. Lines for stdout are gathered and
 * written in batches (at 16 KB, at the end of the current event-loop turn, before any stderr
 * line so the order holds, and on flushLines); a line per write cost a first copy of 100k files
 * about a second of CPU.
 */
class ConsoleStream extends Writable {
  private pending = '';
  private scheduled = false;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly err: NodeJS.WritableStream,
    private readonly beforeLine?: () => void,
  ) {
    // pino writes strings: keep them strings rather than round-trip each through a Buffer.
    super({ decodeStrings: false });
  }

  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    for (const line of text.split('\n')) {
      if (line === '') continue;
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(line) as Record<string, unknown>;
      } catch {
        this.toOut(`${line}\n`);
        continue;
      }
      const level = typeof o.level === 'number' ? o.level : 30;
      const human = `${formatHuman(o, NUM_TO_LEVEL[level] ?? 'info')}\n`;
      if (level >= 40) {
        this.flushLines();
        this.beforeLine?.();
        this.err.write(human);
      } else this.toOut(human);
    }
    done();
  }

  /** Writes out the gathered stdout lines now. */
  flushLines(): void {
    if (this.pending === '') return;
    const text = this.pending;
    this.pending = '';
    this.beforeLine?.();
    this.out.write(text);
  }

  private toOut(text: string): void {
    this.pending += text;
    if (this.pending.length >= CONSOLE_BATCH) this.flushLines();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flushLines();
      });
    }
  }
}

/** One human-readable console line for a log object. */
export function formatHuman(o: Record<string, unknown>, level: string): string {
  // A daemon with several jobs says whose line it is.
  return typeof o.job === 'string' ? `${o.job}: ${formatLine(o, level)}` : formatLine(o, level);
}

function formatLine(o: Record<string, unknown>, level: string): string {
  const msg = String(o.msg ?? '');
  if (typeof o.action === 'string') return msg;
  if ((msg === 'pass complete' || msg === 'pass aborted') && typeof o.outcome === 'string') return describeReport(o as unknown as PassReport);
  if (level === 'error' || level === 'fatal') return `error: ${msg}${o.err !== undefined && !msg.includes(String(o.err)) ? `: ${String(o.err)}` : ''}`;
  if (level === 'warn') return `warning: ${msg}`;
  return msg;
}
