import { homedir } from 'node:os';
import path from 'node:path';
import { CommanderError, type Option } from 'commander';
import { program } from '../cli.js';
import type { RawOptions } from '../config.js';
import { UsageError } from '../errors.js';
import { DAEMON_ONLY, givenOptions } from './request.js';

/**
 * The options a job may set, by their long name without the dashes, taken from the one commander
 * program: an option added to the command line is a valid config-file key and `add` option too.
 */
export function jobKeys(): ReadonlyMap<string, Option> {
  const keys = new Map<string, Option>();
  for (const o of program(() => undefined).options) {
    const key = o.long?.slice(2);
    if (key && !DAEMON_ONLY.has(key)) keys.set(key, o);
  }
  return keys;
}

/**
 * A path value of a config file (options whose value is a `<dir>` or `<file>`): a relative path
 * is relative to the file's folder (a daemon's working folder is `/` under systemd). A remote
 * tree (`host:path`, `sftp://…`) is left as it is.
 */
function filePath(opt: Option, text: string, base: string): string {
  if (!/<(dir|file)>/.test(opt.flags)) return text;
  if (text === '~' || text.startsWith('~/')) return text; // parseJobArgs expands it
  if (/^[^/]*:/.test(text) || path.isAbsolute(text)) return text;
  return path.resolve(base, text);
}

/**
 * A config-file value as command-line words (`true` → `--watch`), or the reason it cannot be
 * one; relative paths are taken from `base`, the config file's folder.
 */
export function tokensFor(opt: Option, value: unknown, base: string): string[] | { readonly problem: string } {
  const flag = opt.long!;
  if (!opt.required && !opt.optional) {
    if (typeof value !== 'boolean') return { problem: 'expected true or false' };
    return value ? [flag] : [];
  }
  const one = (v: unknown): string | null => (typeof v === 'string' || typeof v === 'number' ? filePath(opt, String(v), base) : null);
  const list = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const v of list) {
    const text = one(v);
    if (text === null) return { problem: `expected ${Array.isArray(value) ? 'a list of ' : ''}a text or a number, not ${value === null ? 'nothing' : typeof v === 'object' ? 'a map' : typeof v}` };
    out.push(flag, text);
  }
  return out;
}

/**
 * Parses a job's command-line words with the program's own parser and returns only the options
 * given. An unknown option, a bad choice or a daemon-wide option is a UsageError naming it.
 */
export function parseJobArgs(words: readonly string[]): RawOptions {
  const cmd = program(() => undefined);
  try {
    cmd.parse([...words], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) throw new UsageError(err.message.replace(/^error: /, '').split('\n')[0] ?? err.message);
    throw err;
  }
  for (const o of cmd.options) {
    const key = o.long?.slice(2) ?? '';
    if (DAEMON_ONLY.has(key) && cmd.getOptionValueSource(o.attributeName()) === 'cli') throw new UsageError(`--${key} is not an option of a job`);
  }
  const given = givenOptions(cmd) as Record<string, unknown>;
  // No shell expands `~` in a config file or a console line: do it as one would.
  for (const o of cmd.options) {
    const v = given[o.attributeName()];
    if (!/<(dir|file)>/.test(o.flags) || v === undefined) continue;
    given[o.attributeName()] = Array.isArray(v) ? v.map((x: unknown) => (typeof x === 'string' ? expandHome(x) : x)) : typeof v === 'string' ? expandHome(v) : v;
  }
  return given as RawOptions;
}

/** `~` and `~/…` as the home folder. */
function expandHome(text: string): string {
  if (text === '~') return homedir();
  return text.startsWith('~/') ? `${homedir()}${text.slice(1)}` : text;
}
