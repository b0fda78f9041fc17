import type { Logger } from 'pino';
import pLimit from 'p-limit';
import { HeapTrim } from '../heap-trim.js';
import type { Reply, Steering } from '../console.js';
import { type Config, DEFAULTS } from '../config.js';
import { UsageError, describe } from '../errors.js';
import { EXIT, worstCode } from '../exit.js';
import type { StopControl } from '../stop.js';
import type { HashPool } from '../sync/hash-pool.js';
import { writeStatusFile } from '../status-file.js';
import { JOB_NAME, type JobSpec } from './config-file.js';
import { conflicts } from './conflicts.js';
import { Job, type JobStatus } from './job.js';
import type { Opened } from './open-job.js';
import type { LoggingSet } from './loggings.js';

/** What the daemon is built from. */
export interface DaemonDeps {
  readonly stop: StopControl;
  readonly pool: HashPool;
  readonly loggings: LoggingSet;
  /** Where the daemon's own lines (reload, add, remove) go. */
  readonly log: Logger;
  readonly statusFile?: string;
  /** Validates the options of an `add` into a job's Config, as the command line (and the config file's defaults) would. */
  readonly buildJob: (words: readonly string[]) => Promise<Config>;
}

/** Where a job came from: a reload only replaces the config file's jobs. */
type Origin = 'file' | 'console';

interface Running {
  readonly job: Job;
  readonly origin: Origin;
  /** Settles once the job's last pass ended and its lock is released. */
  readonly done: Promise<void>;
}

/**
 * The running jobs and the one place that starts and ends them: the console's `Steering`, the
 * config reload, the status file, and the daemon-wide bound on file operations (the largest
 * `--jobs` of its jobs, so ten jobs do not run ten times as many copies).
 */
export class Daemon implements Steering {
  private readonly jobs = new Map<string, Running>();
  /** Jobs removed or replaced whose last pass has not ended yet. */
  private readonly ending = new Set<Promise<void>>();
  private readonly gate = pLimit(DEFAULTS.jobs);
  private statusWarned = false;
  /** Returns a pass's memory to the system once no job runs one. */
  private readonly heap = new HeapTrim();

  constructor(private readonly d: DaemonDeps) {}

  /** Starts a job's schedule (its first pass at once). */
  start(spec: JobSpec, origin: Origin, opts: { readonly tagged: boolean; readonly opened?: Opened } = { tagged: true }): void {
    const { job, log } = this.makeJob(spec, opts);
    const done = job.run().then(
      () => undefined,
      (err: unknown) => log.error({ err: describe(err) }, `job stopped: ${describe(err)}`),
    );
    this.jobs.set(spec.name, { job, origin, done });
    this.resize();
  }

  /** One pass of each job at once (`--once`): the most severe exit code among them. */
  async once(specs: readonly JobSpec[]): Promise<number> {
    this.gate.concurrency = Math.max(1, ...specs.map((s) => s.config.jobs));
    const runs = specs.map((s) => {
      const { job } = this.makeJob(s, { tagged: true });
      const code = job.once();
      // Registered like a daemon's jobs, so that --status-file lists them.
      this.jobs.set(s.name, { job, origin: 'file', done: code.then(() => undefined) });
      return code;
    });
    const codes = await Promise.all(runs);
    this.writeStatus();
    return worstCode(codes);
  }

  private makeJob(spec: JobSpec, opts: { readonly tagged: boolean; readonly opened?: Opened }): { job: Job; log: Logger } {
    const c = spec.config;
    // A dry run writes nothing anywhere, its log file included.
    const logging = this.d.loggings.get(c.dryRun ? null : c.logDir, c.logLevel);
    const log = opts.tagged ? logging.log.child({ job: spec.name }) : logging.log;
    const job = new Job(spec.name, c, {
      pool: this.d.pool,
      gate: this.gate,
      log,
      flush: () => logging.flush(),
      stop: this.d.stop,
      changed: () => this.passChanged(),
      ...(opts.opened ? { opened: opts.opened } : {}),
    });
    return { job, log };
  }

  /** Runs until a graceful stop, then waits for every job's current pass; the exit code. */
  async run(): Promise<number> {
    this.writeStatus();
    const stop = this.d.stop.graceful;
    if (!stop.aborted) await new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true }));
    await Promise.all([...[...this.jobs.values()].map((r) => r.done), ...this.ending]);
    this.heap.close();
    this.writeStatus();
    return this.d.stop.hard.aborted ? EXIT.aborted : EXIT.ok;
  }

  /** Every job's status, in the order they were started. */
  status(): JobStatus[] {
    return [...this.jobs.values()].map((r) => r.job.status());
  }

  /** `sync [JOB…]`. */
  sync(names: readonly string[]): Reply {
    return this.each(names, (j) => j.sync(), 'pass started');
  }

  /** `pause [JOB…]`. */
  pause(names: readonly string[]): Reply {
    return this.each(names, (j) => j.pause(), 'paused');
  }

  /** `resume [JOB…]`. */
  resume(names: readonly string[]): Reply {
    return this.each(names, (j) => j.resume(), 'resumed');
  }

  /** `add NAME options…`: validated completely before it starts; refused with the reason otherwise. */
  async add(name: string, words: readonly string[]): Promise<Reply> {
    if (!JOB_NAME.test(name)) return { ok: false, text: `add ${name}: a job name is letters, digits, ".", "_" and "-"` };
    if (this.jobs.has(name)) return { ok: false, text: `add ${name}: there is already a job named ${name}` };
    let config: Config;
    try {
      config = await this.d.buildJob(words);
    } catch (err) {
      return { ok: false, text: `add ${name}: ${err instanceof UsageError ? err.message : describe(err)}` };
    }
    // Checked again: another `add` of that name (from ctl) may have finished meanwhile.
    if (this.jobs.has(name)) return { ok: false, text: `add ${name}: there is already a job named ${name}` };
    const clash = this.clash({ name, config });
    if (clash) return { ok: false, text: `add ${name}: --replica ${clash}` };
    this.start({ name, config }, 'console');
    this.d.log.info({ job: name, source: config.source, replica: config.replica }, 'job added');
    return { ok: true, text: `added ${name}: ${config.source} -> ${config.replica}` };
  }

  /** `remove NAME`: the job stops after its current pass and is forgotten. */
  remove(name: string): Reply {
    const r = this.jobs.get(name) ?? this.byName([name]).jobs[0];
    if (!r) return { ok: false, text: `remove: no job named ${name}` };
    this.end(r);
    this.d.log.info({ job: r.job.name }, 'job removed');
    this.writeStatus();
    return { ok: true, text: `removed ${r.job.name}` };
  }

  /** `quit`: the graceful stop. */
  quit(word: string): Reply {
    this.d.stop.request(word);
    return { ok: true, text: 'stopping after the current passes' };
  }

  /**
   * Applies a re-read config file: removed jobs end after their current pass, added ones start,
   * changed ones restart with their new settings once their current pass ended.
   */
  reload(specs: readonly JobSpec[]): void {
    const wanted = new Map(specs.map((s) => [s.name, s]));
    for (const r of [...this.jobs.values()]) {
      const next = wanted.get(r.job.name);
      if (r.origin === 'console' && !next) continue;
      if (next && JSON.stringify(next.config) === JSON.stringify(r.job.config)) {
        wanted.delete(r.job.name);
        continue;
      }
      this.end(r);
      if (!next) this.d.log.info({ job: r.job.name }, 'job removed (no longer in the config file)');
    }
    for (const spec of wanted.values()) {
      const old = [...this.ending];
      // A changed job's new schedule waits for the old one's pass and lock.
      void Promise.all(old).then(() => {
        if (this.d.stop.graceful.aborted || this.jobs.has(spec.name)) return;
        this.start(spec, 'file');
        this.d.log.info({ job: spec.name }, 'job started');
      });
    }
    this.writeStatus();
  }

  private end(r: Running): void {
    this.jobs.delete(r.job.name);
    r.job.remove();
    this.ending.add(r.done);
    void r.done.then(() => this.ending.delete(r.done));
    this.resize();
  }

  /** The running jobs named (all when none is), or the names that are not jobs. */
  private byName(names: readonly string[]): { jobs: Running[]; unknown: string[] } {
    if (names.length === 0) return { jobs: [...this.jobs.values()], unknown: [] };
    const jobs: Running[] = [];
    const unknown: string[] = [];
    for (const n of names) {
      const r = this.jobs.get(n) ?? [...this.jobs.values()].find((x) => x.job.name.toLowerCase() === n.toLowerCase());
      if (r) jobs.push(r);
      else unknown.push(n);
    }
    return { jobs, unknown };
  }

  private each(names: readonly string[], act: (j: Job) => void, done: string): Reply {
    const { jobs, unknown } = this.byName(names);
    if (unknown.length) return { ok: false, text: `no job named ${unknown.join(', ')} (jobs: ${[...this.jobs.keys()].join(', ') || 'none'})` };
    if (jobs.length === 0) return { ok: false, text: 'no jobs' };
    for (const r of jobs) act(r.job);
    this.writeStatus();
    return { ok: true, text: `${done}: ${jobs.map((r) => r.job.name).join(', ')}` };
  }

  /** Why a new job cannot join the running ones (same replica, replica in a source), or null. */
  private clash(spec: JobSpec): string | null {
    const current = [...this.jobs.values()].map((r) => ({ name: r.job.name, config: r.job.config }));
    const before = conflicts(current).length;
    const after = conflicts([...current, spec]);
    return after.length > before ? (after.find((c) => c.name === spec.name) ?? after[after.length - 1]!).message : null;
  }

  private resize(): void {
    this.gate.concurrency = Math.max(1, ...[...this.jobs.values()].map((r) => r.job.config.jobs));
  }

  /** A job's pass started or ended: the status file, and a heap trim once none runs. */
  private passChanged(): void {
    this.writeStatus();
    this.heap.busy([...this.jobs.values()].some((r) => r.job.status().state === 'running'));
  }

  private writeStatus(): void {
    if (!this.d.statusFile) return;
    try {
      writeStatusFile(this.d.statusFile, this.status());
      this.statusWarned = false;
    } catch (err) {
      // Said once until it works again: a full disk must not flood the log after every pass.
      if (!this.statusWarned) this.d.log.warn({ path: this.d.statusFile, err: describe(err) }, `cannot write the status file ${this.d.statusFile}: ${describe(err)}`);
      this.statusWarned = true;
    }
  }
}
