import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { ConsoleProgress } from '../console-progress.js';
import { type Lock, acquireLock } from '../lock.js';
import { createEngine } from '../sync/engine.js';
import type { Gate } from '../sync/execute.js';
import type { HashPool } from '../sync/hash-pool.js';
import { RecordStore } from '../sync/record.js';
import type { ScanScope } from '../sync/scope.js';
import type { PassReport } from '../sync/types.js';
import type { Trees } from '../trees/factory.js';
import { openTrees } from '../trees/open.js';

/** A job with everything it needs open to run passes: its lock, trees, record, engine and notifications. */
export interface Opened {
  readonly lock: Lock | undefined;
  /** One pass; its report also goes to the job's notifications. */
  readonly runPass: (req: { signal: AbortSignal; scope?: ScanScope }) => Promise<PassReport>;
  /** Says what notifications still hold (bounded; nothing more when `hurry`), closes the connections, lets the lock go. Idempotent. */
  close(hurry: boolean): Promise<void>;
}

/** What opening a job takes besides its configuration. */
export interface OpenDeps {
  /** The job's name, for its notifications. */
  readonly name: string;
  readonly log: Logger;
  readonly pool: HashPool;
  /** The daemon-wide bound on file operations. */
  readonly gate?: Gate;
  /** The progress line on a terminal (a single pair only). */
  readonly progress?: ConsoleProgress;
}

/**
 * Opens one source/replica pair for passes, in the order that refuses early: the lock (another
 * foldersync on this replica: LockedError), the trees (an unknown host key, an unreachable host:
 * ConnectError), the record. What was opened is closed again when a later step fails. The one
 * way a single pair and a config file's job are opened.
 */
export async function openJob(c: Config, d: OpenDeps): Promise<Opened> {
  let lock: Lock | undefined;
  let trees: Trees | undefined;
  try {
    if (!c.dryRun) lock = await acquireLock(c.replica);
    trees = await openTrees(c, d.pool);
    const { store, warning, info } = await RecordStore.load(c.statePath, c.source, c.replica);
    if (warning) d.log.warn({ path: c.statePath }, warning);
    if (info) d.log.info({ path: c.statePath }, info);
    // Loaded only when asked for: nodemailer is a good part of a start-up otherwise.
    const notes = c.notify ? (await import('../notify/for-job.js')).jobNotifications(c.notify, { job: d.name, source: c.source, replica: c.replica }, d.log) : undefined;
    const progress = d.progress;
    const engine = createEngine(c, {
      log: d.log,
      store,
      pool: d.pool,
      trees,
      ...(d.gate ? { gate: d.gate } : {}),
      ...(notes ? { sink: notes.sink } : {}),
      ...(progress ? { progress } : {}),
    });
    const opened = trees;
    let closed = false;
    return {
      lock,
      runPass: async (req) => {
        progress?.begin();
        try {
          const report = await engine.runPass(req);
          notes?.afterPass(report);
          return report;
        } finally {
          progress?.end();
        }
      },
      close: async (hurry) => {
        if (closed) return;
        closed = true;
        await notes?.close(hurry);
        opened.close();
        await lock?.release();
      },
    };
  } catch (err) {
    trees?.close();
    await lock?.release();
    throw err;
  }
}
