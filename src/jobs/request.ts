import type { Command } from 'commander';
import type { RawOptions } from '../config.js';
import { UsageError } from '../errors.js';

/** Options that steer the daemon as a whole: never a job's option, in a config file or in `add`. */
export const DAEMON_ONLY: ReadonlySet<string> = new Set(['config', 'job', 'status-file', 'once', 'help', 'version']);

/** A run of a config file's jobs, as the command line asked for it. */
export interface JobsRequest {
  /** The config file, as given. */
  readonly file: string;
  /** `--job` names: only these jobs (empty: every job). */
  readonly only: readonly string[];
  readonly once: boolean;
  readonly statusFile?: string;
  /** Job options typed on the command line next to --config: they apply to every job, over the file. */
  readonly overrides: RawOptions;
}

/** The attribute names of the options given on this command line (not defaults). */
export function givenOptions(cmd: Command): RawOptions {
  const out: Record<string, unknown> = {};
  for (const o of cmd.options) {
    const key = o.attributeName();
    if (cmd.getOptionValueSource(key) === 'cli') out[key] = cmd.getOptionValue(key);
  }
  return out as RawOptions;
}

/**
 * The jobs run a parsed command line asks for, or null for a plain -s/-r run. `--config` with
 * `-s`/`-r`, and `--job` without `--config`, are usage errors.
 */
export function jobsRequest(cmd: Command): JobsRequest | null {
  const file = cmd.getOptionValue('config') as string | undefined;
  const only = (cmd.getOptionValue('job') as string[] | undefined) ?? [];
  if (file === undefined) {
    if (only.length) throw new UsageError('--job needs --config');
    return null;
  }
  const given = givenOptions(cmd) as Record<string, unknown>;
  if (given.source !== undefined || given.replica !== undefined) throw new UsageError('--config cannot be combined with --source or --replica: a config file names them per job');
  const overrides: Record<string, unknown> = {};
  for (const o of cmd.options) {
    const key = o.attributeName();
    if (key in given && !DAEMON_ONLY.has(o.long?.slice(2) ?? '')) overrides[key] = given[key];
  }
  const statusFile = cmd.getOptionValue('statusFile') as string | undefined;
  return { file, only, once: given.once === true, ...(statusFile ? { statusFile } : {}), overrides: overrides as RawOptions };
}
