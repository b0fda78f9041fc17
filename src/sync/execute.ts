import { setMaxListeners } from 'node:events';
import { unreachable } from '../errors.js';
import { isMissingFolder } from '../trees/local-replica.js';
import type { ReplicaWriter } from '../trees/tree.js';
import { depth, parentOf } from './paths.js';
import type { LinkGroups, PlacedCopy } from './link-groups.js';
import { shownPaths } from './report.js';
import type { Action, Entry } from './types.js';

/** How one action ended; `rep` is the replica entry afterwards, `src` the source version used. */
export type ActionResult =
  | {
      readonly action: Action;
      readonly status: 'ok';
      readonly rep?: Entry;
      readonly src?: Entry;
      readonly bytes: number;
      readonly backedUp?: boolean;
      /** -H: made as a hard link to this replica file (a name of the same source file), no data copied. */
      readonly linkedTo?: string;
    }
  | { readonly action: Action; readonly status: 'skipped'; readonly why: 'vanished' | 'changing' }
  | { readonly action: Action; readonly status: 'error'; readonly error: Error };

/** What the executor needs to know. */
export interface ExecuteOptions {
  /** Where every change goes. */
  readonly writer: ReplicaWriter;
  /** Source folders by path: their mode and mtime are restored after their content changed. */
  readonly sourceDirs: ReadonlyMap<string, Entry>;
  readonly jobs: number;
  /** A bound shared with other jobs of the daemon: every action waits for a slot of it too. */
  readonly gate?: Gate;
  readonly signal?: AbortSignal;
  readonly onResult: (r: ActionResult) => void;
  /** --backup-dir: what an action deletes or replaces is first moved into the backup folder (see forBackup). */
  readonly backups?: boolean;
  /** -H: copies of hard-linked source files become links to one copy. */
  readonly links?: LinkGroups;
}

/** Runs `fn` when a slot is free (p-limit's limiter): the daemon-wide bound on file operations. */
export type Gate = <T>(fn: () => Promise<T>) => Promise<T>;

/** Which concurrent group an action may join; phases never mix (writes finish before deletes start). */
const GROUP: Partial<Record<Action['type'], string>> = { copy: 'write', update: 'write', symlink: 'write', delete: 'delete', attrs: 'attrs' };

/**
 * Applies a plan to the replica through its writer: the only code in foldersync that decides
 * when to write. Actions run in the
 * planned order; runs of independent ones (copies, links, file deletes, file attributes) run
 * concurrently, bounded by `jobs`. A failed action is reported and the rest goes on.
 */
export async function execute(actions: readonly Action[], opts: ExecuteOptions): Promise<void> {
  // Every copy in flight listens for a hard stop: --jobs above 10 is not a listener leak.
  if (opts.signal) setMaxListeners(0, opts.signal);
  const ex = new Executor(opts);
  let i = 0;
  while (i < actions.length) {
    opts.signal?.throwIfAborted();
    const a = actions[i]!;
    const group = groupOf(a);
    if (group === null) {
      await ex.run(a);
      i++;
      continue;
    }
    let j = i;
    while (j < actions.length && groupOf(actions[j]!) === group) j++;
    const gate = opts.gate;
    await runConcurrently(actions, i, j, Math.max(1, opts.jobs), gate ? (x) => gate(() => ex.run(x)) : (x) => ex.run(x));
    i = j;
  }
  opts.signal?.throwIfAborted();
  await ex.fixFolders();
}

/**
 * Runs fn over actions[from, to) with at most `jobs` in flight: `jobs` loops pulling the next
 * index, rather than a queued promise per action (100k of them held ~100 MB on a first copy).
 */
async function runConcurrently(actions: readonly Action[], from: number, to: number, jobs: number, fn: (a: Action) => Promise<void>): Promise<void> {
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) await fn(actions[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(jobs, to - from) }, worker));
}

function groupOf(a: Action): string | null {
  if ((a.type === 'delete' || a.type === 'attrs') && a.kind === 'dir') return null;
  return GROUP[a.type] ?? null;
}

class Executor {
  private readonly w: ReplicaWriter;
  /** Folders whose mode and mtime must be (re)applied at the end, deepest first. */
  private readonly touched = new Set<string>();
  /** Actions in flight that moved an old version into the backup folder. */
  private readonly backedUp = new Set<Action>();

  constructor(private readonly o: ExecuteOptions) {
    this.w = o.writer;
  }

  async run(a: Action): Promise<void> {
    if (this.o.signal?.aborted) return;
    let r: ActionResult;
    try {
      r = await this.apply(a);
    } catch (err) {
      // A hard stop ends the whole run now, not action by action: it is not this action's failure.
      if (this.o.signal?.aborted) throw err;
      r = { action: a, status: 'error', error: err instanceof Error ? err : new Error(String(err)) };
    }
    if (r.status === 'ok') {
      this.touched.add(parentOf(a.path));
      if (a.type === 'move') this.touched.add(parentOf(a.from));
    }
    this.o.onResult(r);
  }

  private async apply(a: Action): Promise<ActionResult> {
    try {
      const r = await this.change(a);
      return r.status === 'ok' && this.backedUp.has(a) ? { ...r, backedUp: true } : r;
    } finally {
      this.backedUp.delete(a);
    }
  }

  /** With --backup-dir, moves what stands at an action's path into the backup folder (under the path the user knows). */
  private async backUp(a: Action): Promise<void> {
    if (this.o.backups && (await this.w.backup(a.path, shownPaths(a).path))) this.backedUp.add(a);
  }

  private async change(a: Action): Promise<ActionResult> {
    const { w } = this;
    const ok = (rep?: Entry, bytes = 0): ActionResult => (rep ? { action: a, status: 'ok', rep, bytes } : { action: a, status: 'ok', bytes });
    if (a.type !== 'attrs') await this.openDir(parentOf(a.path));
    switch (a.type) {
      case 'mkdir': {
        const rep = await w.mkdir(a.path);
        this.touched.add(a.path);
        return ok(rep);
      }
      case 'move': {
        await this.openDir(parentOf(a.from));
        // A folder moved to another parent gets its '..' entry rewritten: that needs write permission on the folder itself.
        if (a.kind === 'dir' && parentOf(a.from) !== parentOf(a.path)) await this.openDir(a.from);
        // A file moved onto another replaces it: that one is an old version too.
        if (!a.stage && !a.nameOnly && a.kind !== 'dir') await this.backUp(a);
        await w.rename(a.from, a.path);
        if (a.kind === 'dir') {
          w.forget(a.from);
          w.forget(a.path);
        }
        if (a.stage || a.nameOnly) return ok();
        if (a.kind === 'dir') {
          this.touched.add(a.path);
          return ok(await w.stat(a.path));
        }
        return ok(await w.fixFile(a.path, a.src));
      }
      case 'copy':
      case 'update': {
        const keep = this.o.backups && a.type === 'update' && !this.o.links?.unchanged(a.path);
        const copy = () => w.copyIn(a.path, keep ? a.path : undefined);
        const link = async (leader: string): Promise<Entry> => {
          if (keep) await this.backUp(a);
          return w.link(leader, a.path);
        };
        const out: PlacedCopy = this.o.links ? await this.o.links.place(a.path, copy, link) : await copy();
        if (out.kind !== 'done') return { action: a, status: 'skipped', why: out.kind };
        if (out.backedUp) this.backedUp.add(a);
        if (out.linkedTo !== undefined) return { action: a, status: 'ok', rep: out.rep, src: out.src, bytes: 0, linkedTo: out.linkedTo };
        return { action: a, status: 'ok', rep: out.rep, src: out.src, bytes: out.src.size };
      }
      case 'symlink':
        await this.backUp(a);
        return ok(await w.symlink(a.path, a.src.target ?? ''));
      case 'attrs':
        if (a.kind === 'dir') {
          this.touched.add(a.path);
          // The record needs the folder's replica identity; the scan knew it under its old path if it moved.
          return ok(await w.stat(a.path));
        }
        return ok(await w.fixFile(a.path, a.src));
      case 'delete':
        if (this.o.backups) await this.backUp(a);
        else await w.remove(a.path, a.recursive === true);
        return ok();
      case 'rmdir':
        await w.rmdir(a.path);
        this.touched.delete(a.path);
        return ok();
      default:
        return unreachable(a);
    }
  }

  /** Lets us write in a read-only replica folder; its mode is restored with the other folders at the end. */
  private async openDir(rel: string): Promise<void> {
    if (await this.w.openForWriting(rel)) this.touched.add(rel);
  }

  /** Restores mode and mtime of every folder whose content or attributes changed, deepest first. */
  async fixFolders(): Promise<void> {
    const dirs = [...this.touched].filter((d) => d !== '' && this.o.sourceDirs.has(d));
    dirs.sort((a, b) => depth(b) - depth(a));
    for (const d of dirs) {
      const s = this.o.sourceDirs.get(d)!;
      try {
        await this.w.fixFolder(d, s);
      } catch (err) {
        if (isMissingFolder(err)) continue;
        this.o.onResult({ action: { type: 'attrs', path: d, src: s, kind: 'dir' }, status: 'error', error: err as Error });
      }
    }
  }
}
