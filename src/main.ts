import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { configFromRaw, parseCli } from './cli.js';
import { ConsoleProgress } from './console-progress.js';
import type { Config } from './config.js';
import { formatDuration } from './duration.js';
import { UsageError, describe } from './errors.js';
import { EXIT, exitCodeFor } from './exit.js';
import { LoggingSet } from './jobs/loggings.js';
import { type Opened, openJob } from './jobs/open-job.js';
import { LockedError } from './lock.js';
import { type Logging, createLogging } from './logger.js';
import { ConnectError } from './remote/errors.js';
import { installStop, type StopControl } from './stop.js';
import { HashPool } from './sync/hash-pool.js';

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
  const pool = new HashPool();
  let stop: StopControl | undefined;
  let opened: Opened | undefined;
  try {
    // Signals are ours from the start: a SIGTERM while the record loads is a graceful stop too.
    stop = installStop({
      // The daemon's console reads stdin (quit among its commands).
      stdin: null,
      onHup: () => loggings.reopen(),
      onSignal: (why) => logging.log.info({ signal: why }, why === 'second SIGINT' ? 'aborting the pass now' : `stopping (${why})`),
    });
    // Opened before anything runs, so a locked replica or an untrusted host is its exit code at once.
    opened = await openJob(config, { name: jobName(config), log: logging.log, pool, ...(progress ? { progress } : {}) });
    if (config.once) {
      try {
        return exitCodeFor(await opened.runPass({ signal: stop.hard }));
      } finally {
        // Every pass's lines reach the file when it ends, not when 4 KB have piled up.
        logging.flush();
      }
    }
    return await daemon(config, { logging, loggings, pool, statusFile }, stop, opened);
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
    await opened?.close(stop?.hard.aborted === true);
    stop?.dispose();
    await pool.close();
    logging.flush();
  }
}

/** The daemon: one job named after the replica, steered by the console and ctl, until a stop; the exit code. */
async function daemon(
  config: Config,
  parts: { readonly logging: Logging; readonly loggings: LoggingSet; readonly pool: HashPool; readonly statusFile: string | undefined },
  stop: StopControl,
  opened: Opened,
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
  // The job is already open (its lock taken before anything ran): it starts with it.
  d.start({ name: jobName(config), config }, 'file', { tagged: false, opened });
  const code = await serveDaemon(d, socketPath({ replica: config.replica }), log, process.stdin);
  if (code === EXIT.ok) log.info(`stopped (${stop.reason() ?? 'quit'})`);
  return code;
}

/** Without --config the one job is named after the replica folder. */
function jobName(config: Config): string {
  return path.basename(config.replica) || 'replica';
}
