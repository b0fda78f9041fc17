import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { configFromRaw, parseCli } from './cli.js';
import { ConsoleProgress } from './console-progress.js';
import type { Config } from './config.js';
import { formatDuration } from './duration.js';
import { UsageError, describe } from './errors.js';
import { EXIT, exitCodeFor } from './exit.js';
import { LoggingSet } from './jobs/loggings.js';
import { LockedError, acquireLock, type Lock } from './lock.js';
import { type Logging, createLogging } from './logger.js';
import type { JobNotifications } from './notify/for-job.js';
import { ConnectError } from './remote/errors.js';
import { installStop, type StopControl } from './stop.js';
import { createEngine } from './sync/engine.js';
import { HashPool } from './sync/hash-pool.js';
import { RecordStore } from './sync/record.js';
import type { PassReport } from './sync/types.js';
import type { ScanScope } from './sync/scope.js';
import type { Trees } from './trees/factory.js';
import { openTrees } from './trees/open.js';

export { EXIT, exitCodeFor } from './exit.js';

/** The composition root: parse, validate, wire the parts, run, and return the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  // What only a daemon, a config file, ctl or notifications need is loaded when asked for: a --once run from cron starts faster.
  if (argv[2] === 'ctl') return (await import('./ctl.js')).runCtl(argv.slice(3), (t) => process.stdout.write(t), (t) => process.stderr.write(t));
  let config: Config;
  let statusFile: string | undefined;
  try {
    const cli = await parseCli(argv.slice(2));
    if (cli.kind === 'exit') return cli.code;
    // Loaded only for check: a sync run does not pay for its import.
    if (cli.kind === 'check') return await (await import('./check/run.js')).runCheck(cli.config);
    if (cli.kind === 'jobs') return await (await import('./jobs/run.js')).runJobs(cli);
    config = cli.config;
    statusFile = cli.statusFile;
  } catch (err) {
    process.stderr.write(`foldersync: ${err instanceof UsageError ? err.message : describe(err)}\n`);
    return EXIT.usage;
  }

  if (config.logDir && !config.dryRun) {
    try {
      mkdirSync(config.logDir, { recursive: true });
    } catch (err) {
      process.stderr.write(`foldersync: --log-dir ${config.logDir}: ${describe(err)}\n`);
      return EXIT.usage;
    }
  }
  // A progress line only where someone watches: a terminal on stderr (never under cron or systemd).
  const progress = config.progress && process.stderr.isTTY ? new ConsoleProgress(process.stderr) : undefined;
  const logging = createLogging({ level: config.logLevel, logDir: config.dryRun ? null : config.logDir, ...(progress ? { beforeLine: () => progress.clear() } : {}) });
  // Jobs added from the console may log elsewhere: SIGHUP reopens every log file.
  const loggings = new LoggingSet({ logging, logDir: config.dryRun ? null : config.logDir, level: config.logLevel });
  let lock: Lock | undefined;
  const pool = new HashPool();
  let stop: StopControl | undefined;
  let notes: JobNotifications | undefined;
  let trees: Trees | undefined;
  try {
    // Signals are ours from the start: a SIGTERM while the record loads is a graceful stop too.
    stop = installStop({
      // The daemon's console reads stdin (quit among its commands).
      stdin: null,
      onHup: () => loggings.reopen(),
      onSignal: (why) => logging.log.info({ signal: why }, why === 'second SIGINT' ? 'aborting the pass now' : `stopping (${why})`),
    });
    if (!config.dryRun) lock = await acquireLock(config.replica);
    trees = await openTrees(config, pool);
    const { store, warning, info } = await RecordStore.load(config.statePath, config.source, config.replica);
    if (warning) logging.log.warn({ path: config.statePath }, warning);
    if (info) logging.log.info({ path: config.statePath }, info);
    // Without --config the one job is named after the replica folder.
    const job = { job: path.basename(config.replica), source: config.source, replica: config.replica };
    if (config.notify) notes = (await import('./notify/for-job.js')).jobNotifications(config.notify, job, logging.log);
    const engine = createEngine(config, { log: logging.log, store, pool, trees, ...(notes ? { sink: notes.sink } : {}), ...(progress ? { progress } : {}) });
    const hard = stop.hard;
    const runOne = async (scope?: ScanScope): Promise<PassReport> => {
      progress?.begin();
      try {
        const report = await engine.runPass({ signal: hard, ...(scope ? { scope } : {}) });
        notes?.afterPass(report);
        return report;
      } finally {
        progress?.end();
        // Every pass's lines reach the file when it ends, not when 4 KB have piled up.
        logging.flush();
      }
    };
    if (config.once) return exitCodeFor(await runOne());
    return await daemon(config, { logging, loggings, pool, statusFile }, stop, runOne, lock);
  } catch (err) {
    if (err instanceof LockedError) {
      process.stderr.write(`foldersync: ${err.message}\n`);
      return EXIT.locked;
    }
    if (err instanceof ConnectError) {
      process.stderr.write(`foldersync: ${err.message}\n`);
      return EXIT.usage;
    }
    logging.log.error({ err: describe(err) }, describe(err));
    return EXIT.errors;
  } finally {
    // What a notification still has to say is said before the exit (each bounded).
    await notes?.close(stop?.hard.aborted === true);
    stop?.dispose();
    trees?.close();
    await pool.close();
    await lock?.release();
    logging.flush();
  }
}

/** The daemon: one job named after the replica, steered by the console and ctl, until a stop; the exit code. */
async function daemon(
  config: Config,
  parts: { readonly logging: Logging; readonly loggings: LoggingSet; readonly pool: HashPool; readonly statusFile: string | undefined },
  stop: StopControl,
  runOne: (scope?: ScanScope) => Promise<PassReport>,
  lock: Lock | undefined,
): Promise<number> {
  const intervalMs = config.intervalMs!;
  const log = parts.logging.log;
  if (process.stdin.isTTY) process.stderr.write('foldersync is running; type quit to stop\n');
  log.info({ source: config.source, replica: config.replica, intervalMs }, `mirroring ${config.source} to ${config.replica} every ${formatDuration(intervalMs)}`);
  const [{ Daemon }, { parseJobArgs }, { serveDaemon }, { socketPath }] = await Promise.all([import('./jobs/daemon.js'), import('./jobs/options.js'), import('./jobs/run.js'), import('./ctl.js')]);
  const d = new Daemon({
    stop,
    pool: parts.pool,
    loggings: parts.loggings,
    log,
    ...(parts.statusFile ? { statusFile: parts.statusFile } : {}),
    buildJob: (words) => configFromRaw(parseJobArgs(words)),
  });
  // The lock is already ours (taken before anything ran): the job starts with it.
  d.start({ name: path.basename(config.replica) || 'replica', config }, 'file', { tagged: false, opened: { lock, runPass: (req) => runOne(req.scope) } });
  const code = await serveDaemon(d, socketPath({ replica: config.replica }), log, process.stdin);
  if (code === EXIT.ok) log.info(`stopped (${stop.reason() ?? 'quit'})`);
  return code;
}
