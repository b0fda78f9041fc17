import { performance } from 'node:perf_hooks';
import { unreachable } from './errors.js';
import type { ProgressPhase, ProgressSink } from './sync/progress-sink.js';

/** A pass shorter than this shows no progress line at all. */
const SHOW_AFTER_MS = 2_000;
/** At most 10 redraws a second. */
const REDRAW_MS = 100;
/** Erase the line the cursor is on and go back to its start. */
const CLEAR = '\r\x1b[K';

/** The terminal a progress line is drawn on (process.stderr when it is a TTY). */
export interface ProgressTerminal {
  write(s: string): unknown;
  readonly columns?: number;
}

/**
 * One updating line on a terminal while a pass runs: phase, entries listed, files and bytes
 * copied of the total planned, rate and time left. The pass only bumps counters; a timer draws
 * (from 2 s into the pass, at most 10 times a second, only when the text changed), and
 * `clear()` erases the line before any other console line is written, so the two never mix.
 * Written with `\r` and an erase-line escape, cut to the terminal's width so it never wraps: a
 * library (log-update, cli-progress) would bring several packages for these few lines.
 */
export class ConsoleProgress implements ProgressSink {
  private current: ProgressPhase = 'listing';
  private entries = 0;
  private expectedEntries = 0;
  private files = 0;
  private bytes = 0;
  private plannedFiles = 0;
  private plannedBytes = 0;
  private hashedFiles = 0;
  private hashedBytes = 0;
  /** When the pass, and the phase whose rate is shown, began. */
  private started = 0;
  private phaseStarted = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The text on screen ('' when none). */
  private shown = '';
  /** Time spent drawing, to report the line's own cost (see README, "Progress"). */
  private drawMs = 0;

  constructor(
    private readonly term: ProgressTerminal,
    private readonly showAfterMs = SHOW_AFTER_MS,
  ) {}

  /** A pass starts: counters reset, the timer runs (unref'd: it never keeps the process alive). */
  begin(): void {
    this.end();
    this.current = 'listing';
    this.entries = this.expectedEntries = this.files = this.bytes = this.plannedFiles = this.plannedBytes = this.hashedFiles = this.hashedBytes = 0;
    this.started = this.phaseStarted = performance.now();
    this.timer = setInterval(() => this.draw(), REDRAW_MS);
    this.timer.unref();
  }

  /** The pass ended: the line is erased and the timer stopped. Returns the time spent drawing (ms). */
  end(): number {
    clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
    const spent = this.drawMs;
    this.drawMs = 0;
    return spent;
  }

  /** Erases the line (before another console line); the next tick draws it again. */
  clear(): void {
    if (this.shown === '') return;
    this.term.write(CLEAR);
    this.shown = '';
  }

  phase(p: ProgressPhase): void {
    if (p === this.current) return;
    this.current = p;
    this.phaseStarted = performance.now();
  }

  expected(entries: number): void {
    this.expectedEntries = entries;
  }

  listed(n: number): void {
    this.entries += n;
  }

  planned(files: number, bytes: number): void {
    this.plannedFiles += files;
    this.plannedBytes += bytes;
  }

  copied(bytes: number): void {
    this.files++;
    this.bytes += bytes;
  }

  hashed(bytes: number): void {
    this.hashedFiles++;
    this.hashedBytes += bytes;
  }

  /** Draws the line when the pass has run long enough and the text changed. */
  private draw(): void {
    const t0 = performance.now();
    if (t0 - this.started < this.showAfterMs) return;
    // A pseudo-terminal without a size says 0 columns.
    const width = Math.max(20, (this.term.columns || 80) - 1);
    const text = this.text(t0).slice(0, width);
    if (text !== this.shown) {
      this.term.write(`${CLEAR}${text}`);
      this.shown = text;
    }
    this.drawMs += performance.now() - t0;
  }

  /** The line itself, e.g. `copying: 1,204/5,000 files, 1.2 GB/4.8 GB, 85.3 MB/s, 0:43 left, 52,113 listed`. */
  text(now: number): string {
    const secs = Math.max(0.001, (now - this.phaseStarted) / 1000);
    const listed = `${count(this.entries)} listed`;
    switch (this.current) {
      case 'listing': {
        const rate = this.entries / secs;
        if (this.expectedEntries <= this.entries) return `listing: ${listed}, ${count(rate)}/s`;
        // The record's size is an estimate: the trees may have grown or shrunk since.
        return `listing: ${count(this.entries)} of about ${count(this.expectedEntries)} listed, ${count(rate)}/s, ${clock((this.expectedEntries - this.entries) / Math.max(rate, 1))} left`;
      }
      case 'hashing':
        return `hashing: ${count(this.hashedFiles)} files, ${size(this.hashedBytes)}, ${size(this.hashedBytes / secs)}/s, ${listed}`;
      case 'copying': {
        const rate = this.bytes / secs;
        const left = this.plannedBytes - this.bytes;
        const eta = rate > 0 && left > 0 ? `, ${clock(left / rate)} left` : '';
        return `copying: ${count(this.files)}/${count(this.plannedFiles)} files, ${size(this.bytes)}/${size(this.plannedBytes)}, ${size(rate)}/s${eta}, ${listed}`;
      }
      default:
        return unreachable(this.current);
    }
  }
}

function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Bytes in decimal units, as disks are sold: 1.2 GB. */
function size(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** Seconds as h:mm:ss or m:ss. */
function clock(secs: number): string {
  const s = Math.ceil(secs);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
