import { performance } from 'node:perf_hooks';
import { Digest, type PassNote } from './digest.js';
import type { Lines } from './pass-lines.js';

/** At most one mail per job in this time (the contract's 15 minutes). */
export const MAIL_INTERVAL_MS = 15 * 60_000;

/** What a mailbox needs: how to send, what to do when that fails, and its clock. */
export interface MailboxOptions {
  readonly send: (d: Digest) => Promise<void>;
  readonly onError: (err: unknown, d: Digest) => void;
  /** Default MAIL_INTERVAL_MS. */
  readonly intervalMs?: number;
  /** Monotonic clock in ms (default performance.now: a clock change does not move the throttle). */
  readonly now?: () => number;
}

/**
 * One job's mails, throttled: the first report goes out at once; what comes within the interval
 * after a mail waits and goes out as one mail when the interval is over. A mail that could not
 * be sent is kept and goes out with the next one. One mail at a time.
 */
export class Mailbox {
  private pending = new Digest();
  private lastSent: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private closed = false;
  /** The last send failed: nothing is sent again before the next report. */
  private held = false;
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(private readonly o: MailboxOptions) {
    this.intervalMs = o.intervalMs ?? MAIL_INTERVAL_MS;
    this.now = o.now ?? (() => performance.now());
  }

  /** Adds a pass to the next mail, and sends it now if the throttle allows. */
  add(note: PassNote, lines: Lines): void {
    this.pending.add(note, lines);
    this.held = false;
    this.schedule();
  }

  /**
   * Sends what is pending (throttle or not) once what is in flight is done, unless the last try
   * just failed or `hurry` (a hard stop) says to send nothing more; no more mails after.
   */
  async close(hurry = false): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    // A hard stop does not wait for a mail server that may take its time to answer.
    if (hurry) return;
    await this.sending;
    // A mail that just failed is not tried again on the way out: the server was just found down.
    if (!this.pending.empty && !this.held) await this.sendPending();
  }

  private schedule(): void {
    if (this.sending || this.timer || this.closed || this.held || this.pending.empty) return;
    const wait = this.lastSent === undefined ? 0 : this.lastSent + this.intervalMs - this.now();
    if (wait <= 0) {
      this.sending = this.sendPending().finally(() => {
        this.sending = undefined;
        this.schedule();
      });
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.schedule();
    }, wait);
  }

  private async sendPending(): Promise<void> {
    const d = this.pending;
    this.pending = new Digest();
    try {
      await this.o.send(d);
      this.lastSent = this.now();
    } catch (err) {
      this.o.onError(err, d);
      // Kept, with whatever came meanwhile, for the next mail; no retry before the next report.
      d.absorb(this.pending);
      this.pending = d;
      this.held = true;
    }
  }
}
