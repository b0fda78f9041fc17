import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { type CheckConfig, type CheckRawOptions, buildCheckConfig, checkCommand } from './check/command.js';
import { type Config, LOG_LEVELS, type RawOptions, buildConfig } from './config.js';
import { UsageError } from './errors.js';
import { HELP_EXAMPLES } from './help-examples.js';
import { type JobsRequest, jobsRequest } from './jobs/request.js';
import { NOTIFY_ON } from './notify/options.js';
import { readPatternFile } from './sync/filter.js';

/** What the command line asks for: a run with a Config, a run of a config file's jobs, a check, or an exit (help, version). */
export type CliOutcome =
  | { readonly kind: 'run'; readonly config: Config; readonly statusFile?: string }
  | ({ readonly kind: 'jobs' } & JobsRequest)
  | { readonly kind: 'check'; readonly config: CheckConfig }
  | { readonly kind: 'exit'; readonly code: number };

/** The package version, read once from package.json. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Builds the commander program (no parsing, no side effects); `onCheck` receives the `check` subcommand's options when it is given. */
export function program(out: (s: string) => void, onCheck: (raw: CheckRawOptions) => void = () => undefined): Command {
  const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
  return new Command()
    .name('foldersync')
    .description('Keep a one-way, exact mirror of a folder. Type "quit" to stop a running daemon.')
    .version(version(), '-V, --version')
    .option('-s, --source <dir>', 'the folder to mirror (required)')
    .option('-r, --replica <dir>', 'the mirror (required; created with its parents if missing)')
    .option('-i, --interval <duration>', 'time between pass starts: 1h30m, 45s, 2d, 1d2h3m4s or seconds (required unless --once)')
    .option('-l, --log-dir <dir>', 'folder for foldersync.log (default: console only)')
    .option('--once', 'run one pass and exit with its status')
    .option('-n, --dry-run', 'report what a pass would do; change nothing')
    .option('--watch', 'also start a pass shortly after changes in the source')
    .option('--exclude <pattern>', 'gitignore-syntax pattern relative to the source root (repeatable)', collect)
    .option('--exclude-from <file>', 'read exclude patterns from a file, one a line (repeatable)', collect)
    .option('--include <pattern>', 'mirror only what gitignore-syntax patterns match, and the folders on the way (repeatable)', collect)
    .option('--backup-dir <dir>', 'move old versions of replaced or deleted files to <dir>/<YYYY-MM-DD_HHMMSS>/ (relative: inside the replica)')
    .option('--backup-keep <duration>', 'remove backup folders older than this at the end of a pass (e.g. 30d)')
    .option('--delete-excluded', 'also delete excluded paths from the replica')
    .option('--checksum', 'compare every file by content hash, not only size and mtime')
    .addOption(new Option('--hash <algo>', 'content hash').choices(['sha256', 'md5']).default('sha256'))
    .option('--state <file>', 'where the file record lives (default: $XDG_STATE_HOME/foldersync/)')
    .option('--max-delete <n>', 'refuse a pass that would delete more than n entries (or n%)')
    .option('--allow-empty-source', 'allow mirroring an empty source over a non-empty replica')
    .option('--jobs <n>', 'parallel file operations (default: 8)')
    .option('--modify-window <duration>', 'mtimes closer than this are equal: auto (what the filesystems keep, e.g. 2s on FAT), 0, 1s, 500ms', 'auto')
    .option('--ssh-config <file>', 'OpenSSH client config for remote trees (default: ~/.ssh/config)')
    .option('--bwlimit <rate>', 'cap the transfer rate to and from a remote tree: 10M = 10 MB/s, 500K')
    .option('-H, --hard-links', 'hard-link files in the replica that are hard-linked in the source (copied once)')
    .option('--no-progress', 'no progress line on a terminal')
    .addOption(new Option('--log-level <level>', 'log level').choices([...LOG_LEVELS]).default('info'))
    .option('--notify-cmd <command>', 'run this shell command (/bin/sh -c) after a pass that matches --notify-on; the pass summary on its stdin')
    .option('--mail-to <addresses>', 'mail a pass report to these comma-separated addresses after a pass that matches --notify-on')
    .option('--mail-from <address>', 'the sender of those mails (default: foldersync@<hostname>)')
    .option('--smtp <url>', 'the mail server: smtp://host[:port] (STARTTLS when offered) or smtps://host[:port] (default: smtp://localhost:25)')
    .addOption(new Option('--notify-on <when>', 'which passes to report: errors (errors or a refusal), changes, always').choices([...NOTIFY_ON]).default('errors'))
    .option('--config <file>', 'run the jobs of a YAML config file instead of one -s/-r pair')
    .option('--job <name>', 'with --config: only this job (repeatable)', collect)
    .option('--status-file <file>', 'after every pass, write the status of every job (JSON; Prometheus text if it ends in .prom)')
    .helpOption('-h, --help', 'show this help')
    .addHelpText('after', HELP_EXAMPLES)
    .exitOverride()
    .configureOutput({
      writeOut: out,
      writeErr: () => undefined,
      outputError: () => undefined,
    })
    .allowExcessArguments(false)
    // Options before a subcommand's name are the program's, after it the subcommand's: `check -s` is check's.
    .enablePositionalOptions()
    .helpCommand(false)
    .addCommand(checkCommand(out, onCheck))
    // A bare `foldersync -s … -r …` is the sync command itself (without an action commander wants a subcommand).
    .action(() => undefined);
}

/** Parses argv into a validated Config; usage problems throw a UsageError with one line. */
export async function parseCli(argv: readonly string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<CliOutcome> {
  let check: CheckRawOptions | undefined;
  const cmd = program(out, (raw) => {
    check = raw;
  });
  try {
    cmd.parse([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        return { kind: 'exit', code: 0 };
      }
      throw new UsageError(err.message.replace(/^error: /, '').split('\n')[0] ?? err.message);
    }
    throw err;
  }
  if (check) return { kind: 'check', config: await buildCheckConfig(check) };
  const raw = cmd.opts<RawOptions>();
  const jobs = jobsRequest(cmd);
  if (jobs) return { kind: 'jobs', ...jobs };
  const statusFile = cmd.getOptionValue('statusFile') as string | undefined;
  return { kind: 'run', config: await configFromRaw(raw), ...(statusFile ? { statusFile } : {}) };
}

/** Reads the --exclude-from files and validates raw options into a Config (the command line's and every job's one path). */
export async function configFromRaw(raw: RawOptions): Promise<Config> {
  const extra: string[] = [];
  for (const f of raw.excludeFrom ?? []) extra.push(...(await readPatternFile(f)));
  return buildConfig(raw, extra);
}
