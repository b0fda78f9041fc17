import type { Logger } from 'pino';
import { configFromRaw } from '../cli.js';
import { attachConsole } from '../console.js';
import { type CtlServer, serveCtl, socketPath } from '../ctl.js';
import { describe } from '../errors.js';
import { EXIT } from '../exit.js';
import { installStop } from '../stop.js';
import { HashPool } from '../sync/hash-pool.js';
import { ConfigFileError, type JobsFile, loadJobsFile, withOverrides } from './config-file.js';
import { Daemon } from './daemon.js';
import { LoggingSet } from './loggings.js';
import { parseJobArgs } from './options.js';
import type { JobsRequest } from './request.js';

/**
 * Runs a daemon until it stops: its console on stdin, its control socket for `foldersync ctl`.
 * A socket that cannot be made is a warning; the jobs run anyway.
 */
export async function serveDaemon(d: Daemon, socket: string, log: Logger, stdin: NodeJS.ReadableStream | null): Promise<number> {
  const detach = stdin ? attachConsole(stdin, d, (t) => process.stdout.write(t)) : undefined;
  let ctl: CtlServer | undefined;
  try {
    ctl = await serveCtl(socket, d);
  } catch (err) {
    log.warn({ path: socket, err: describe(err) }, `no control socket, foldersync ctl cannot reach this daemon: ${describe(err)}`);
  }
  try {
    return await d.run();
  } finally {
    detach?.();
    await ctl?.close();
  }
}

/** The composition root of `--config`: validate the file, then run its jobs (a daemon, or one pass each). */
export async function runJobs(req: JobsRequest): Promise<number> {
  let file: JobsFile;
  try {
    file = await loadJobsFile(req);
  } catch (err) {
    const lines = err instanceof ConfigFileError ? err.lines : [describe(err)];
    for (const l of lines) process.stderr.write(`foldersync: ${l}\n`);
    return EXIT.usage;
  }
  const loggings = new LoggingSet();
  const first = file.specs[0]!.config;
  // The daemon's own lines go with the first job's: a config file usually sets log-dir in `defaults`.
  const log = loggings.get(first.dryRun ? null : first.logDir, first.logLevel).log;
  const pool = new HashPool();
  let reloading = Promise.resolve();
  let reload = (): void => undefined;
  const stop = installStop({
    stdin: null,
    onHup: () => {
      loggings.reopen();
      reload();
    },
    onSignal: (why) => log.info({ signal: why }, why === 'second SIGINT' ? 'aborting the passes now' : `stopping (${why})`),
  });
  try {
    let defaults = file.defaults;
    const d = new Daemon({
      stop,
      pool,
      loggings,
      log,
      ...(req.statusFile ? { statusFile: req.statusFile } : {}),
      buildJob: (words) => configFromRaw(withOverrides({ ...defaults, ...parseJobArgs(words) }, req.overrides)),
    });
    if (req.once) return await d.once(file.specs);
    reload = () => {
      reloading = reloading.then(async () => {
        if (stop.graceful.aborted) return;
        try {
          const next = await loadJobsFile(req);
          defaults = next.defaults;
          d.reload(next.specs);
          log.info({ path: req.file }, `config reloaded from ${req.file}`);
        } catch (err) {
          const lines = err instanceof ConfigFileError ? err.lines : [describe(err)];
          for (const l of lines) log.error({ path: req.file, err: l }, `config reload refused, the jobs run on as before: ${l}`);
        }
        loggings.flush();
      });
    };
    for (const spec of file.specs) d.start(spec, 'file');
    log.info({ path: req.file, jobs: file.specs.map((s) => s.name) }, `running ${file.specs.length} job${file.specs.length === 1 ? '' : 's'} from ${req.file}: ${file.specs.map((s) => s.name).join(', ')}`);
    if (process.stdin.isTTY) process.stderr.write('foldersync is running; type help for commands, quit to stop\n');
    const code = await serveDaemon(d, socketPath({ configFile: req.file }), log, process.stdin);
    await reloading;
    if (code === EXIT.ok) log.info(`stopped (${stop.reason() ?? 'quit'})`);
    return code;
  } finally {
    stop.dispose();
    await pool.close();
    loggings.flush();
  }
}
