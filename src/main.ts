import { mkdirSync } from 'node:fs';
import { parseCli } from './cli.js';
import { ConsoleProgress } from './console-progress.js';
import type { Config } from './config.js';
import { formatDuration } from './duration.js';
import { UsageError, describe, unreachable } from './errors.js';
import { LockedError, acquireLock, type Lock } from './lock.js';
import { type Logging, createLogging } from './logger.js';
import { runSchedule } from './scheduler.js';
import { installStop, type StopControl } from './stop.js';
import { createEngine } from './sync/engine.js';
import { HashPool } from './sync/hash-pool.js';
import { RecordStore } from './sync/record.js';
import type { PassReport } from './sync/types.js';
import { type ScanScope, isNothing } from './sync/scope.js';
import type { Watcher } from './watch.js';

/** Exit codes, as in the contract. */
export const EXIT = Object.freeze({ ok: 0, errors: 1, usage: 2, refused: 3, locked: 4, aborted: 130 });

/** Maps a pass's outcome to the process exit code. */
export function exitCodeFor(r: PassReport | undefined): number {
  if (!r) return EXIT.ok;
  switch (r.outcome) {
    case 'ok':
      return EXIT.ok;
    case 'errors':
      return EXIT.errors;
    case 'refused':
      return EXIT.refused;
    case 'aborted':
      return EXIT.aborted;
    default:
      return unreachable(r.outcome);
  }
}

/** The composition root: parse, validate, wire the parts, run, and return the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  let config: Config;
  try {
    const cli = await parseCli(argv.slice(2));
    if (cli.kind === 'exit') return cli.code;
    config = cli.config;
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
  let lock: Lock | undefined;
  const pool = new HashPool();
  let stop: StopControl | undefined;
  try {
    // Signals are ours from the start: a SIGTERM while the record loads is a graceful stop too.
    stop = installStop({
      stdin: config.once ? null : process.stdin,
      onHup: () => logging.reopen(),
      onSignal: (why) => logging.log.info({ signal: why }, why === 'second SIGINT' ? 'aborting the pass now' : `stopping (${why})`),
    });
    if (!config.dryRun) lock = await acquireLock(config.replica);
    const { store, warning, info } = await RecordStore.load(config.statePath, config.source, config.replica);
    if (warning) logging.log.warn({ path: config.statePath }, warning);
    if (info) logging.log.info({ path: config.statePath }, info);
    const engine = createEngine(config, { log: logging.log, store, pool, ...(progress ? { progress } : {}) });
    const hard = stop.hard;
    const runOne = async (scope?: ScanScope): Promise<PassReport> => {
      progress?.begin();
      try {
        return await engine.runPass({ signal: hard, ...(scope ? { scope } : {}) });
      } finally {
        progress?.end();
        // Every pass's lines reach the file when it ends, not when 4 KB have piled up.
        logging.flush();
      }
    };
    if (config.once) return exitCodeFor(await runOne());
    return await daemon(config, logging, stop, runOne, lock);
  } catch (err) {
    if (err instanceof LockedError) {
      process.stderr.write(`foldersync: ${err.message}\n`);
      return EXIT.locked;
    }
    logging.log.error({ err: describe(err) }, describe(err));
    return EXIT.errors;
  } finally {
    stop?.dispose();
    await pool.close();
    await lock?.release();
    logging.flush();
  }
}

/** The daemon: passes on the schedule (and on watch nudges) until a stop; the exit code. */
async function daemon(
  config: Config,
  logging: Logging,
  stop: StopControl,
  runOne: (scope?: ScanScope) => Promise<PassReport>,
  lock: Lock | undefined,
): Promise<number> {
  const intervalMs = config.intervalMs!;
  const log = logging.log;
  if (process.stdin.isTTY) process.stderr.write('foldersync is running; type quit to stop\n');
  log.info({ source: config.source, replica: config.replica, intervalMs }, `mirroring ${config.source} to ${config.replica} every ${formatDuration(intervalMs)}`);
  let watcher: Watcher | undefined;
  if (config.watch) {
    try {
      // Loaded only for --watch: chokidar's import is a tenth of a --once run's startup.
      const { startWatch } = await import('./watch.js');
      watcher = startWatch(config, log);
    } catch (err) {
      log.warn({ path: config.source, err: describe(err) }, `cannot watch ${config.source}: ${describe(err)}; passes run on the interval only`);
    }
  }
  try {
    const last = await runSchedule({
      intervalMs,
      stop: stop.graceful,
      ...(watcher ? { nudges: watcher } : {}),
      runPass: async (kind) => {
        const warning = await lock?.refresh();
        if (warning) log.warn({ path: lock?.file }, warning);
        // A full pass covers every change seen so far; a nudged one only what the events touched.
        const scope = watcher?.takeScope();
        if (kind === 'interval') return runOne();
        if (scope && isNothing(scope)) return undefined;
        return runOne(scope);
      },
    });
    if (last?.outcome === 'aborted' || stop.hard.aborted) return EXIT.aborted;
    log.info(`stopped (${stop.reason() ?? 'quit'})`);
    return EXIT.ok;
  } finally {
    await watcher?.close();
  }
}
