import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError, describe, errCode } from './errors.js';
import { parseDuration, parseWindow } from './duration.js';
import { type NotifyRawOptions, type NotifySettings, parseNotify } from './notify/options.js';
import { remoteOptions } from './remote/remote-options.js';
import { checkBackup } from './backup-option.js';
import type { BackupSettings } from './sync/versions.js';
import { defaultHashThreads } from './sync/hash-pool.js';
import { defaultRecordPath } from './sync/record.js';
import type { HashAlgo } from './sync/types.js';

/** Log levels accepted by --log-level. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
/** One of LOG_LEVELS. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Defaults, explained in one place:
 * - jobs 8: copies are I/O-bound and the kernel does the copying (copy_file_range), so a few
 *   in flight keep a disk or a network share busy without thrashing a 2-core machine;
 * - hash threads = cores: hashing is CPU-bound;
 * - watch debounce 200 ms quiet, at most 2 s: a burst of writes becomes one pass, and a tree
 *   that never goes quiet still syncs.
 */
export const DEFAULTS = Object.freeze({
  jobs: 8,
  hashThreads: defaultHashThreads(),
  hash: 'sha256' as HashAlgo,
  logLevel: 'info' as LogLevel,
  watchQuietMs: 200,
  watchMaxWaitMs: 2_000,
});

/** Everything a run needs, validated once, then frozen. Paths are absolute and real. */
export interface Config {
  readonly source: string;
  readonly replica: string;
  readonly intervalMs: number | null;
  readonly logDir: string | null;
  readonly once: boolean;
  readonly dryRun: boolean;
  readonly watch: boolean;
  readonly excludes: readonly string[];
  /** `--include` patterns; empty: everything not excluded is mirrored. */
  readonly includes: readonly string[];
  readonly deleteExcluded: boolean;
  readonly checksum: boolean;
  readonly hash: HashAlgo;
  readonly statePath: string;
  readonly maxDelete: { readonly count: number; readonly percent: boolean } | null;
  readonly allowEmptySource: boolean;
  readonly jobs: number;
  readonly logLevel: LogLevel;
  /** `--modify-window` in ms; null = auto (the coarser step of what the two filesystems keep). */
  readonly modifyWindowMs: number | null;
  /** Where pass reports go (`--notify-cmd`, `--mail-to`…); null when nowhere. */
  readonly notify: NotifySettings | null;
  /** `--ssh-config`: the OpenSSH client config for remote trees; null = `~/.ssh/config`. */
  readonly sshConfig: string | null;
  /** `--bwlimit` in bytes per second; null = unlimited. */
  readonly bwlimit: number | null;
  /** `--backup-dir` (absolute) and `--backup-keep`; null: old versions are not kept. */
  readonly backup: BackupSettings | null;
  /** False with --no-progress: no progress line even on a terminal. */
  readonly progress: boolean;
  /** `-H`: hard-link groups of the source are kept in the replica. */
  readonly hardLinks: boolean;
}

/** Raw option values as commander hands them over. */
export interface RawOptions extends NotifyRawOptions {
  source?: string;
  replica?: string;
  interval?: string;
  logDir?: string;
  once?: boolean;
  dryRun?: boolean;
  watch?: boolean;
  exclude?: string[];
  excludeFrom?: string[];
  include?: string[];
  deleteExcluded?: boolean;
  checksum?: boolean;
  hash?: string;
  state?: string;
  maxDelete?: string;
  allowEmptySource?: boolean;
  jobs?: string;
  logLevel?: string;
  modifyWindow?: string;
  sshConfig?: string;
  bwlimit?: string;
  backupDir?: string;
  backupKeep?: string;
  progress?: boolean;
  hardLinks?: boolean;
}

/**
 * Validates raw options against the filesystem without changing anything, and returns a frozen
 * Config. Every problem is a UsageError naming the option or path.
 */
export function buildConfig(raw: RawOptions, extraExcludes: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): Config {
  if (!raw.source) throw new UsageError('--source is required');
  if (!raw.replica) throw new UsageError('--replica is required');
  // A folder on another machine is checked when it is connected to (see openTrees).
  const remote = remoteOptions(raw);
  const source = remote.source ?? checkSource(raw.source);
  const replica = remote.replica ?? resolveMaybeMissing(path.resolve(raw.replica));
  if (!remote.replica && existsNonDir(replica)) throw new UsageError(`--replica ${JSON.stringify(raw.replica)}: exists and is not a folder`);
  refuseNested(raw.source, raw.replica, source, replica, remote);
  if (!raw.dryRun && !remote.replica) checkCreatable(replica, '--replica', raw.replica);

  const once = raw.once === true;
  let intervalMs: number | null = null;
  if (raw.interval !== undefined) intervalMs = parseDuration(raw.interval);
  else if (!once) throw new UsageError('--interval is required unless --once is given');

  let logDir: string | null = null;
  if (raw.logDir !== undefined) {
    logDir = resolveMaybeMissing(path.resolve(raw.logDir));
    if (existsNonDir(logDir)) throw new UsageError(`--log-dir ${JSON.stringify(raw.logDir)}: exists and is not a folder`);
    if ((!remote.replica && isInside(logDir, replica)) || (!remote.source && isInside(logDir, source))) {
      throw new UsageError(`--log-dir ${JSON.stringify(raw.logDir)}: must not be inside the source or the replica`);
    }
    checkCreatable(logDir, '--log-dir', raw.logDir);
  }

  const hash = parseHash(raw.hash);

  const statePath = resolveMaybeMissing(path.resolve(raw.state ?? defaultRecordPath(source, replica, env)));
  if ((!remote.replica && isInside(statePath, replica)) || (!remote.source && isInside(statePath, source))) {
    throw new UsageError(`--state ${JSON.stringify(statePath)}: must not be inside the source or the replica`);
  }
  if (existsDir(statePath)) throw new UsageError(`--state ${JSON.stringify(statePath)}: is a folder; give a file path`);
  if (!raw.dryRun) checkCreatable(path.dirname(statePath), '--state', statePath);

  const levelText = raw.logLevel ?? DEFAULTS.logLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(levelText)) {
    throw new UsageError(`--log-level ${JSON.stringify(levelText)}: expected one of ${LOG_LEVELS.join(', ')}`);
  }

  let jobs: number = DEFAULTS.jobs;
  if (raw.jobs !== undefined) {
    if (!/^\d+$/.test(raw.jobs.trim()) || Number(raw.jobs) < 1 || Number(raw.jobs) > 256) {
      throw new UsageError(`--jobs ${JSON.stringify(raw.jobs)}: expected a whole number from 1 to 256`);
    }
    jobs = Number(raw.jobs);
  }

  let maxDelete: Config['maxDelete'] = null;
  if (raw.maxDelete !== undefined) {
    const m = /^(\d+)(%?)$/.exec(raw.maxDelete.trim());
    if (!m || (m[2] === '%' && Number(m[1]) > 100)) {
      throw new UsageError(`--max-delete ${JSON.stringify(raw.maxDelete)}: expected a whole number or a percentage (e.g. 100 or 10%)`);
    }
    maxDelete = Object.freeze({ count: Number(m[1]), percent: m[2] === '%' });
  }

  if (raw.watch && once) throw new UsageError('--watch cannot be combined with --once');
  if (raw.watch && remote.source) throw new UsageError('--watch needs a source on this machine (changes on another machine cannot be watched); use --interval');
  const modifyWindowMs = parseWindow(raw.modifyWindow ?? 'auto');
  const backup = checkBackup(raw, source, replica, isInside, remote.replica !== null);

  return Object.freeze({
    source,
    replica,
    intervalMs,
    logDir,
    once,
    dryRun: raw.dryRun === true,
    watch: raw.watch === true,
    excludes: Object.freeze([...(raw.exclude ?? []), ...extraExcludes]),
    includes: Object.freeze([...(raw.include ?? [])]),
    deleteExcluded: raw.deleteExcluded === true,
    checksum: raw.checksum === true,
    hash,
    statePath,
    maxDelete,
    allowEmptySource: raw.allowEmptySource === true,
    jobs,
    logLevel: levelText as LogLevel,
    modifyWindowMs,
    notify: parseNotify(raw),
    sshConfig: remote.sshConfig,
    bwlimit: remote.bwlimit,
    backup,
    progress: raw.progress !== false,
    hardLinks: raw.hardLinks === true,
  });
}

/** Refuses two local folders nested in one another (a pass, or a check, would see itself); remote sides are checked by remoteOptions. */
export function refuseNested(givenSource: string, givenReplica: string, source: string, replica: string, remote: { readonly source: string | null; readonly replica: string | null }): void {
  if (!remote.source && !remote.replica && (isInside(replica, source) || isInside(source, replica))) {
    throw new UsageError(`--source ${JSON.stringify(givenSource)} and --replica ${JSON.stringify(givenReplica)} are nested in one another`);
  }
}

/** `--hash`: sha256 (the default) or md5. */
export function parseHash(given: string | undefined): HashAlgo {
  const hash = given ?? DEFAULTS.hash;
  if (hash !== 'sha256' && hash !== 'md5') throw new UsageError(`--hash ${JSON.stringify(hash)}: expected sha256 or md5`);
  return hash;
}

function checkSource(given: string): string {
  let real: string;
  try {
    real = realpathSync(path.resolve(given));
  } catch (err) {
    throw new UsageError(`--source ${JSON.stringify(given)}: ${describe(err)}`);
  }
  if (!statSync(real).isDirectory()) throw new UsageError(`--source ${JSON.stringify(given)}: not a folder`);
  try {
    accessSync(real, constants.R_OK | constants.X_OK);
  } catch (err) {
    throw new UsageError(`--source ${JSON.stringify(given)}: not readable (${describe(err)})`);
  }
  return real;
}

/** Real path of the deepest existing ancestor, with the missing rest appended. */
function resolveMaybeMissing(p: string): string {
  const missing: string[] = [];
  let cur = p;
  for (;;) {
    try {
      const real = realpathSync(cur);
      return missing.length ? path.join(real, ...missing.reverse()) : real;
    } catch (err) {
      const code = errCode(err);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return p;
      const parent = path.dirname(cur);
      if (parent === cur) return p;
      missing.push(path.basename(cur));
      cur = parent;
    }
  }
}

/** The folder exists and is writable, or its deepest existing ancestor is a writable folder. */
function checkCreatable(dir: string, option: string, given: string): void {
  let cur = dir;
  for (;;) {
    try {
      const st = statSync(cur);
      if (!st.isDirectory()) throw new UsageError(`${option} ${JSON.stringify(given)}: ${cur} is not a folder`);
      accessSync(cur, constants.W_OK | constants.X_OK);
      return;
    } catch (err) {
      if (err instanceof UsageError) throw err;
      if (errCode(err) !== 'ENOENT') throw new UsageError(`${option} ${JSON.stringify(given)}: not writable (${describe(err)})`);
      const parent = path.dirname(cur);
      if (parent === cur) throw new UsageError(`${option} ${JSON.stringify(given)}: cannot be created`);
      cur = parent;
    }
  }
}

function existsNonDir(p: string): boolean {
  try {
    return !statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function existsDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** True when `inner` is `outer` or lies below it. */
export function isInside(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}
