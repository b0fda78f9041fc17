import { createInterface } from 'node:readline';
import { parseArgsStringToArgv } from 'string-argv';
import { unreachable } from './errors.js';
import type { JobStatus } from './jobs/job.js';
import { statusTable } from './status-view.js';

/** A console command, parsed. */
export type Command =
  | { readonly kind: 'status' }
  | { readonly kind: 'sync' | 'pause' | 'resume'; readonly jobs: readonly string[] }
  | { readonly kind: 'add'; readonly name: string; readonly words: readonly string[] }
  | { readonly kind: 'remove'; readonly name: string }
  | { readonly kind: 'help' }
  | { readonly kind: 'quit'; readonly word: string };

/** A reply: what to print, and whether the command did what it said. */
export interface Reply {
  readonly ok: boolean;
  readonly text: string;
}

/** What the console steers: the daemon. Each method changes nothing when it answers !ok. */
export interface Steering {
  status(): readonly JobStatus[];
  sync(names: readonly string[]): Reply;
  pause(names: readonly string[]): Reply;
  resume(names: readonly string[]): Reply;
  add(name: string, words: readonly string[]): Promise<Reply>;
  remove(name: string): Reply;
  quit(word: string): Reply;
}

/** The `help` reply. */
export const HELP = [
  'status                       one line per job: state, last pass, next pass',
  'sync [JOB...]                start a pass now (every job if none is named)',
  'pause [JOB...]               stop a job\'s schedule (a running pass finishes)',
  'resume [JOB...]              restart it',
  'add NAME -s SRC -r DST [-i DURATION] [options]',
  '                             start a new job, validated like the command line',
  'remove NAME                  stop a job after its current pass and forget it',
  'help                         this list',
  'quit, exit, q                stop after the current passes',
].join('\n');

/** Pure: one line of input → a command, a reason it is not one, or null for an empty line. */
export function parseCommand(line: string): Command | { readonly kind: 'bad'; readonly why: string } | null {
  let words: string[];
  try {
    words = parseArgsStringToArgv(line.trim());
  } catch {
    return { kind: 'bad', why: 'cannot split the line into words' };
  }
  const [first, ...rest] = words;
  if (first === undefined) return null;
  const verb = first.toLowerCase();
  switch (verb) {
    case 'status':
    case 'help':
      return rest.length ? { kind: 'bad', why: `${verb} takes no arguments` } : { kind: verb };
    case 'quit':
    case 'exit':
    case 'q':
      return rest.length ? { kind: 'bad', why: `${verb} takes no arguments` } : { kind: 'quit', word: verb };
    case 'sync':
    case 'pause':
    case 'resume':
      return { kind: verb, jobs: rest };
    case 'add': {
      const [name, ...options] = rest;
      if (name === undefined || name.startsWith('-')) return { kind: 'bad', why: 'usage: add NAME -s SRC -r DST [-i DURATION] [options]' };
      return { kind: 'add', name, words: options };
    }
    case 'remove':
      return rest.length === 1 ? { kind: 'remove', name: rest[0]! } : { kind: 'bad', why: 'usage: remove NAME' };
    default:
      return { kind: 'bad', why: `unknown command ${JSON.stringify(first)} (type help for the list)` };
  }
}

/** Runs one line against the daemon and returns the reply (a bad line changes nothing). */
export async function runLine(line: string, s: Steering, now = Date.now()): Promise<Reply | null> {
  const cmd = parseCommand(line);
  if (cmd === null) return null;
  switch (cmd.kind) {
    case 'bad':
      return { ok: false, text: cmd.why };
    case 'status':
      return { ok: true, text: statusTable(s.status(), now) };
    case 'help':
      return { ok: true, text: HELP };
    case 'sync':
      return s.sync(cmd.jobs);
    case 'pause':
      return s.pause(cmd.jobs);
    case 'resume':
      return s.resume(cmd.jobs);
    case 'add':
      return s.add(cmd.name, cmd.words);
    case 'remove':
      return s.remove(cmd.name);
    case 'quit':
      return s.quit(cmd.word);
    default:
      return unreachable(cmd);
  }
}

/**
 * Reads commands from stdin, one a line, and prints each reply on `out`. Lines are handled one
 * after the other. End of input stops nothing (systemd and cron give an empty stdin).
 * Returns a function that lets stdin go.
 */
export function attachConsole(stdin: NodeJS.ReadableStream, s: Steering, out: (text: string) => void): () => void {
  const rl = createInterface({ input: stdin, terminal: false });
  let chain = Promise.resolve();
  rl.on('line', (line) => {
    chain = chain.then(async () => {
      const reply = await runLine(line, s);
      if (reply && reply.text !== '') out(`${reply.text}\n`);
    });
  });
  // A closed or broken stdin is not a request to stop.
  rl.on('error', () => undefined);
  stdin.on('error', () => undefined);
  return () => rl.close();
}
