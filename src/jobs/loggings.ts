import type { LogLevel } from '../config.js';
import { type Logging, createLogging } from '../logger.js';

/**
 * The daemon's log outputs, one per (log folder, level): jobs that share a log folder share one
 * open file, so a line is never interleaved with another's, and SIGHUP reopens each file once.
 */
export class LoggingSet {
  private readonly all = new Map<string, Logging>();

  /** `first` is an already open Logging (the command line's) for its folder and level. */
  constructor(first?: { readonly logging: Logging; readonly logDir: string | null; readonly level: LogLevel }) {
    if (first) this.all.set(key(first.logDir, first.level), first.logging);
  }

  /** The Logging for a folder (null: console only) and level, opened on first use. */
  get(logDir: string | null, level: LogLevel): Logging {
    const k = key(logDir, level);
    let l = this.all.get(k);
    if (!l) {
      l = createLogging({ level, logDir });
      this.all.set(k, l);
    }
    return l;
  }

  /** Reopens every log file (logrotate's SIGHUP). */
  reopen(): void {
    for (const l of this.all.values()) l.reopen();
  }

  /** Writes out every buffered line. */
  flush(): void {
    for (const l of this.all.values()) l.flush();
  }
}

function key(logDir: string | null, level: LogLevel): string {
  return `${level}\0${logDir ?? ''}`;
}
