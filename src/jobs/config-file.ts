import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Document, LineCounter, type Node, type Pair, isMap, isScalar, parseDocument } from 'yaml';
import { configFromRaw } from '../cli.js';
import type { Config, RawOptions } from '../config.js';
import { UsageError, describe } from '../errors.js';
import { conflicts } from './conflicts.js';
import { jobKeys, parseJobArgs, tokensFor } from './options.js';
import { DAEMON_ONLY, type JobsRequest } from './request.js';

/** Job names: safe in a log line, a file name and a console command. */
export const JOB_NAME = /^[A-Za-z0-9._-]+$/;

/** One job of a config file (or typed with `add`), validated. */
export interface JobSpec {
  readonly name: string;
  readonly config: Config;
}

/** A config file's jobs (the selected ones) and its defaults, for `add`. */
export interface JobsFile {
  readonly specs: readonly JobSpec[];
  readonly defaults: RawOptions;
}

/** A config file that does not validate: one line per problem, each naming the file, the line, the job and the key. */
export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';
  constructor(readonly lines: readonly string[]) {
    super(lines.join('\n'));
  }
}

/** The job options of a map node, key by key, with the line each key is on. */
interface Keyed {
  readonly raw: RawOptions;
  readonly lines: ReadonlyMap<string, number>;
}

/**
 * Reads, parses and validates a config file completely before anything runs: every problem is
 * collected, then all are thrown together as a ConfigFileError. The command line's job options
 * (`overrides`) apply to every job, over the file.
 */
export async function loadJobsFile(req: JobsRequest): Promise<JobsFile> {
  const file = req.file;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigFileError([`${file}: cannot read the config file: ${describe(err)}`]);
  }
  const counter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter: counter, prettyErrors: false });
  const lineOf = (n: Node | Pair['key'] | null | undefined): number => {
    const range = (n as { range?: readonly number[] } | null | undefined)?.range;
    return range?.[0] !== undefined ? counter.linePos(range[0]).line : 1;
  };
  if (doc.errors.length) throw new ConfigFileError(doc.errors.map((e) => `${file}:${e.linePos?.[0].line ?? 1}: ${e.message.split('\n')[0]}`));

  const problems: string[] = [];
  const at = (line: number, where: string, msg: string): void => {
    problems.push(`${file}:${line}: ${where}${msg}`);
  };
  const root = doc.contents;
  if (!isMap(root)) throw new ConfigFileError([`${file}:1: expected a map with "defaults" and "jobs"`]);
  const keys = jobKeys();
  /** The job options of one map; problems are charged to `where`. */
  const options = (node: unknown, where: string): Keyed => {
    const raw: Record<string, unknown> = {};
    const lines = new Map<string, number>();
    if (!isMap(node)) {
      at(lineOf(node as Node), where, 'expected a map of options');
      return { raw: {}, lines };
    }
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      const line = lineOf(pair.key);
      const opt = keys.get(key);
      if (!opt) {
        at(line, `${where}key "${key}": `, DAEMON_ONLY.has(key) ? 'not an option of a job (give it on the command line)' : 'unknown option');
        continue;
      }
      lines.set(key, line);
      const value: unknown = (pair.value as Node | null)?.toJSON?.() ?? null;
      const words = tokensFor(opt, value, path.dirname(path.resolve(file)));
      if ('problem' in words) {
        at(line, `${where}key "${key}": `, words.problem);
        continue;
      }
      const attr = opt.attributeName();
      if (Array.isArray(value) && value.length === 0 && (opt.required || opt.optional)) {
        // An empty list clears what `defaults` gave.
        raw[attr] = [];
        continue;
      }
      try {
        const one = parseJobArgs(words) as Record<string, unknown>;
        if (Array.isArray(value) && value.length > 1 && !Array.isArray(one[attr])) {
          at(line, `${where}key "${key}": `, 'takes one value, not a list');
          continue;
        }
        if (attr in one) raw[attr] = one[attr];
      } catch (err) {
        at(line, `${where}key "${key}": `, err instanceof UsageError ? err.message : describe(err));
      }
    }
    return { raw: raw as RawOptions, lines };
  };

  let defaults: Keyed = { raw: {}, lines: new Map() };
  let jobsNode: unknown;
  let jobsLine = 1;
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (key === 'defaults') defaults = options(pair.value, 'defaults, ');
    else if (key === 'jobs') {
      jobsNode = pair.value;
      jobsLine = lineOf(pair.key);
    } else at(lineOf(pair.key), '', `unknown key "${key}" (expected "defaults" and "jobs")`);
  }
  if (!isMap(jobsNode) || jobsNode.items.length === 0) {
    at(jobsLine, '', '"jobs" must name at least one job');
    throw new ConfigFileError(problems);
  }

  // `line`: where the job's replica is given, for the problems between jobs.
  const specs: (JobSpec & { readonly line: number })[] = [];
  for (const pair of jobsNode.items) {
    const name = isScalar(pair.key) ? String(pair.key.value) : '';
    const line = lineOf(pair.key);
    if (!JOB_NAME.test(name)) {
      at(line, `job ${JSON.stringify(name)}: `, 'a job name is letters, digits, ".", "_" and "-"');
      continue;
    }
    const job = options(pair.value, `job "${name}", `);
    const merged = withOverrides({ ...defaults.raw, ...job.raw }, req.overrides);
    if (req.once) {
      // A one-off run of a daemon's file: one pass each, watching means nothing here.
      merged.once = true;
      delete merged.watch;
    }
    try {
      specs.push({ name, line: job.lines.get('replica') ?? line, config: await configFromRaw(merged as RawOptions) });
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      const key = /--([a-z][a-z0-9-]*)/.exec(err.message)?.[1] ?? '';
      at(job.lines.get(key) ?? defaults.lines.get(key) ?? line, `job "${name}", key "${key}": `, err.message);
    }
  }
  const byName = new Map(specs.map((s) => [s.name, s]));
  for (const c of conflicts(specs)) at(specs.find((s) => s.name === c.name)?.line ?? 1, `job "${c.name}", key "replica": `, c.message);
  const names = jobsNode.items.map((p) => (isScalar(p.key) ? String(p.key.value) : ''));
  for (const want of req.only) if (!names.includes(want)) problems.push(`${file}: --job ${JSON.stringify(want)}: no such job (the file has ${names.join(', ')})`);
  if (problems.length) throw new ConfigFileError(problems);
  const chosen = req.only.length ? req.only.map((n) => byName.get(n)!) : specs;
  return { specs: chosen.map(({ name, config }) => ({ name, config })), defaults: defaults.raw };
}

/**
 * A job's options with the command line's over them: a single value replaces the file's, a list
 * (`--exclude`) adds to it.
 */
export function withOverrides(raw: RawOptions, overrides: RawOptions): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  for (const [k, v] of Object.entries(overrides)) {
    const had = out[k];
    out[k] = Array.isArray(v) && Array.isArray(had) ? [...had, ...v] : v;
  }
  return out;
}
