import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { UsageError, describe } from '../errors.js';
import { EXIT, exitCodeFor } from '../exit.js';
import { LockedError } from '../lock.js';
import { ConnectError } from '../remote/errors.js';
import { type Nudges, runSchedule } from '../scheduler.js';
import { type Opened, openJob } from './open-job.js';
import type { Gate } from '../sync/execute.js';
import type { HashPool } from '../sync/hash-pool.js';
import { type ScanScope, isNothing } from '../sync/scope.js';
import type { PassReport } from '../sync/types.js';
import type { Watcher } from '../watch.js';

/** What a person sees a job doing. */
export type JobState = 'idle' | 'running' | 'paused';

/** A job's last pass: the `pass complete` fields, and when it ended (epoch ms). */
export type LastPass = PassReport & { readonly endedAt: number };

/** A job's state, for the console, ctl and the status file. Times are epoch ms. */
export interface JobStatus {
  readonly name: string;
  readonly source: string;
  readonly replica: string;
  readonly state: JobState;
  readonly lastPass: LastPass | null;
  readonly lastSuccessAt: number | null;
  /** Why the last attempt did not run a pass (replica locked, unreachable), or null. */
  readonly problem: { readonly kind: 'locked' | 'failed'; readonly message: string } | null;
  readonly nextPassAt: number | null;
}

/** What a job shares with the daemon. */
export interface JobDeps {
  readonly pool: HashPool;
  readonly gate?: Gate;
  readonly log: Logger;
  /** Writes out buffered log lines (after each pass). */
  readonly flush: () => void;
  readonly stop: { readonly graceful: AbortSignal; readonly hard: AbortSignal };
  /** Called after every pass or failed attempt (the status file). */
  readonly changed: () => void;
  /** Already opened by the caller (the single-job daemon takes its lock before anything runs). */
  readonly opened?: Opened;
}

/** Exit code of an attempt that could not open the job: as in the contract. */
function openFailureCode(err: unknown): number {
  if (err instanceof LockedError) return EXIT.locked;
  // An unknown host key, an unreachable host or a refused login: as at the start of a single pair.
  return err instanceof UsageError || err instanceof ConnectError ? EXIT.usage : EXIT.errors;
}

/**
 * One source/replica pair in a daemon: its lock, record, engine, watcher and its own schedule
 * (scheduler.ts: monotonic, one pass at a time). The console steers it with sync, pause,
 * resume and remove; those only set flags and wake the loop.
 */
export class Job implements Nudges {
  private opened: Opened | undefined;
  private watcher: Watcher | undefined;
  private paused = false;
  private running = false;
  /** A `sync` asked for and not yet started. */
  private manual = false;
  private wake: (() => void) | undefined;
  private readonly removed = new AbortController();
  private last: LastPass | null = null;
  private lastSuccessAt: number | null = null;
  private problem: JobStatus['problem'] = null;
  /** The error behind `problem`: its exit code for --once. */
  private problemError: unknown;
  private nextAt: number | null = null;

  constructor(
    readonly name: string,
    readonly config: Config,
    private readonly d: JobDeps,
  ) {
    this.opened = d.opened;
  }

  /** Runs the job's schedule until the daemon stops or the job is removed; then lets its lock go. */
  async run(): Promise<PassReport | undefined> {
    const stop = AbortSignal.any([this.d.stop.graceful, this.removed.signal]);
    if (this.config.watch) {
      try {
        // Loaded only for --watch: chokidar's import is a tenth of a --once run's startup.
        const { startWatch } = await import('../watch.js');
        this.watcher = startWatch(this.config, this.d.log);
      } catch (err) {
        this.d.log.warn({ path: this.config.source, err: describe(err) }, `cannot watch ${this.config.source}: ${describe(err)}; passes run on the interval only`);
      }
    }
    try {
      return await runSchedule({ intervalMs: this.config.intervalMs!, stop, nudges: this, runPass: (kind) => this.scheduled(kind) });
    } finally {
      this.nextAt = null;
      await this.watcher?.close();
      await this.opened?.close(this.d.stop.hard.aborted);
    }
  }

  /** One pass for `--once`: its exit code (a job that cannot be opened says why on stderr). */
  async once(): Promise<number> {
    try {
      const report = await this.pass();
      return report ? exitCodeFor(report) : openFailureCode(this.problemError);
    } finally {
      await this.opened?.close(this.d.stop.hard.aborted);
    }
  }

  /** Wakes the loop for a sync or a watch nudge (the scheduler's Nudges). */
  next(signal: AbortSignal): Promise<void> {
    const asked = new Promise<void>((resolve) => {
      if (this.manual) return resolve();
      this.wake = resolve;
      signal.addEventListener(
        'abort',
        () => {
          if (this.wake === resolve) this.wake = undefined;
        },
        { once: true },
      );
    });
    return this.watcher ? Promise.race([asked, this.watcher.next(signal)]) : asked;
  }

  /** Starts a full pass now, or right after the one running. */
  sync(): void {
    this.manual = true;
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Stops the schedule; a running pass finishes. A `sync` still runs a pass. */
  pause(): void {
    this.paused = true;
  }

  /** Restarts the schedule where it was. */
  resume(): void {
    this.paused = false;
  }

  /** Stops the job after its current pass: `run()` then resolves. */
  remove(): void {
    this.removed.abort();
  }

  /** What the job is doing and did last. */
  status(): JobStatus {
    return {
      name: this.name,
      source: this.config.source,
      replica: this.config.replica,
      state: this.running ? 'running' : this.paused ? 'paused' : 'idle',
      lastPass: this.last,
      lastSuccessAt: this.lastSuccessAt,
      problem: this.problem,
      nextPassAt: this.paused ? null : this.nextAt,
    };
  }

  /** The scheduler's pass: skipped while paused (unless asked for); a nudge scans what changed. */
  private async scheduled(kind: 'interval' | 'nudge'): Promise<PassReport | undefined> {
    if (kind === 'interval') this.nextAt = Date.now() + this.config.intervalMs!;
    const manual = this.manual;
    this.manual = false;
    // A full pass covers every change seen so far; a nudged one only what the events touched.
    const scope = this.watcher?.takeScope();
    if (this.paused && !manual) return undefined;
    if (kind === 'nudge' && !manual) {
      if (scope && isNothing(scope)) return undefined;
      return this.pass(scope);
    }
    return this.pass();
  }

  private async pass(scope?: ScanScope): Promise<PassReport | undefined> {
    const opened = await this.open();
    if (!opened) {
      this.d.changed();
      return undefined;
    }
    const warning = await opened.lock?.refresh();
    if (warning) this.d.log.warn({ path: opened.lock?.file }, warning);
    this.running = true;
    this.d.changed();
    let report: PassReport;
    try {
      report = await opened.runPass({ signal: this.d.stop.hard, ...(scope ? { scope } : {}) });
    } finally {
      this.running = false;
      // Every pass's lines reach the file when it ends, not when 4 KB have piled up.
      this.d.flush();
    }
    this.last = { ...report, endedAt: Date.now() };
    if (report.outcome === 'ok') this.lastSuccessAt = this.last.endedAt;
    this.d.changed();
    return report;
  }

  /** Takes the lock and loads the record on first use; a failure is logged and tried again next time. */
  private async open(): Promise<Opened | undefined> {
    if (this.opened) return this.opened;
    const c = this.config;
    try {
      this.opened = await openJob(c, { name: this.name, log: this.d.log, pool: this.d.pool, ...(this.d.gate ? { gate: this.d.gate } : {}) });
      this.problem = null;
      return this.opened;
    } catch (err) {
      this.problemError = err;
      this.problem = { kind: err instanceof LockedError ? 'locked' : 'failed', message: describe(err) };
      const later = c.once ? '' : '; trying again at the next pass';
      this.d.log.error({ path: c.replica, err: describe(err) }, `${describe(err)}${later}`);
      this.d.flush();
      return undefined;
    }
  }
}
