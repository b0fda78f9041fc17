import path from 'node:path';
import { Command, Option } from 'commander';
import { checkBackup } from '../backup-option.js';
import { isInside, parseHash, refuseNested } from '../config.js';
import { parseWindow } from '../duration.js';
import { UsageError } from '../errors.js';
import { remoteOptions } from '../remote/remote-options.js';
import { type FilterSpec, passFilterSpec, readPatternFile } from '../sync/filter.js';
import type { HashAlgo } from '../sync/types.js';

/** Raw `check` option values as commander hands them over. */
export interface CheckRawOptions {
  source?: string;
  replica?: string;
  exclude?: string[];
  excludeFrom?: string[];
  include?: string[];
  backupDir?: string;
  sshConfig?: string;
  checksum?: boolean;
  hash?: string;
  json?: boolean;
  modifyWindow?: string;
}

/** What `check` needs, validated once, then frozen. Local paths are absolute; a remote side is its location as given. */
export interface CheckConfig {
  readonly source: string;
  readonly replica: string;
  /** What is left out on both sides: the excludes, the includes and a backup folder inside the replica, as a pass has them. */
  readonly filter: FilterSpec;
  /** `--ssh-config`; null = `~/.ssh/config`. */
  readonly sshConfig: string | null;
  readonly checksum: boolean;
  readonly hash: HashAlgo;
  readonly json: boolean;
  /** `--modify-window` in ms; null = auto (the coarser step of what the two filesystems keep). */
  readonly modifyWindowMs: number | null;
}

/** The `check` subcommand (no parsing, no side effects); `onRun` receives its options when it is the command given. */
export function checkCommand(out: (s: string) => void, onRun: (raw: CheckRawOptions) => void): Command {
  const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
  return new Command('check')
    .description('report the differences between the source and the replica; change nothing (exit 0 identical, 1 differences, 2 incomplete)')
    .option('-s, --source <dir>', 'the source folder: local, [user@]host:path or sftp://… (required)')
    .option('-r, --replica <dir>', 'the replica folder: local, [user@]host:path or sftp://… (required)')
    .option('--exclude <pattern>', 'gitignore-syntax pattern relative to the source root (repeatable)', collect)
    .option('--exclude-from <file>', 'read exclude patterns from a file, one a line (repeatable)', collect)
    .option('--include <pattern>', 'compare only what gitignore-syntax patterns match, and the folders on the way (repeatable)', collect)
    .option('--backup-dir <dir>', "the pass's backup folder: one inside the replica is not reported as extra")
    .option('--ssh-config <file>', 'OpenSSH client config for remote trees (default: ~/.ssh/config)')
    .option('--checksum', 'also compare the content of every file present on both sides')
    .addOption(new Option('--hash <algo>', 'content hash').choices(['sha256', 'md5']).default('sha256'))
    .option('--json', 'one JSON object a line instead of +/-/~ lines')
    .option('--modify-window <duration>', 'mtimes closer than this are equal: auto (what the filesystems keep), 0, 1s, 500ms', 'auto')
    .helpOption('-h, --help', 'show this help')
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: () => undefined, outputError: () => undefined })
    .allowExcessArguments(false)
    .action(function (this: Command) {
      onRun(this.opts<CheckRawOptions>());
    });
}

/**
 * Validates `check`'s options (reading --exclude-from files) as a pass validates the same ones;
 * every problem is a UsageError naming the option. Nothing is connected to here.
 */
export async function buildCheckConfig(raw: CheckRawOptions): Promise<CheckConfig> {
  if (!raw.source) throw new UsageError('--source is required');
  if (!raw.replica) throw new UsageError('--replica is required');
  // The same reading of locations as a pass: scp's and sftp:// forms are remote, the rest local.
  const remote = remoteOptions({ source: raw.source, replica: raw.replica, ...(raw.sshConfig === undefined ? {} : { sshConfig: raw.sshConfig }) });
  const source = remote.source ?? path.resolve(raw.source);
  const replica = remote.replica ?? path.resolve(raw.replica);
  refuseNested(raw.source, raw.replica, source, replica, remote);
  const hash = parseHash(raw.hash);
  const extra: string[] = [];
  for (const f of raw.excludeFrom ?? []) extra.push(...(await readPatternFile(f)));
  const backup = checkBackup(raw.backupDir === undefined ? {} : { backupDir: raw.backupDir }, source, replica, isInside, remote.replica !== null);
  const filter = passFilterSpec({ replica, excludes: [...(raw.exclude ?? []), ...extra], includes: raw.include ?? [], backup });
  return Object.freeze({
    source,
    replica,
    filter: Object.freeze(filter),
    sshConfig: remote.sshConfig,
    checksum: raw.checksum === true,
    hash,
    json: raw.json === true,
    modifyWindowMs: parseWindow(raw.modifyWindow ?? 'auto'),
  });
}
