import { setMaxListeners } from 'node:events';
import { constants } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { FsOpError, errCode, isGone, unreachable } from '../errors.js';
import { copyAtomic, setAttrs, symlinkAtomic } from './copy.js';
import type { FsRules } from './fs-rules.js';
import type { InFlight } from './in-flight.js';
import { baseOf, depth, joinRel, parentOf, sameMtime } from './paths.js';
import { SafeDirs } from './safe-dirs.js';
import { toEntry } from '../trees/local.js';
import type { Action, Entry } from './types.js';
import { WritableDirs } from './writable-dirs.js';

/** How one action ended; `rep` is the replica entry afterwards, `src` the source version used. */
export type ActionResult =
  | { readonly action: Action; readonly status: 'ok'; readonly rep?: Entry; readonly src?: Entry; readonly bytes: number }
  | { readonly action: Action; readonly status: 'skipped'; readonly why: 'vanished' | 'changing' }
  | { readonly action: Action; readonly status: 'error'; readonly error: Error };

/** What the executor needs to know. */
export interface ExecuteOptions {
  readonly source: string;
  readonly replica: string;
  /** Source folders by path: their mode and mtime are restored after their content changed. */
  readonly sourceDirs: ReadonlyMap<string, Entry>;
  readonly jobs: number;
  /** What the replica keeps: permission bits are only set where it keeps them; the window tells a copy whether a rename restamped its mtime. */
  readonly rules: Pick<FsRules, 'windowMs' | 'modes'>;
  /** Temp files being written, for a hard stop to remove. */
  readonly inFlight: InFlight;
  readonly signal?: AbortSignal;
  readonly onResult: (r: ActionResult) => void;
}

/** Which concurrent group an action may join; phases never mix (writes finish before deletes start). */
const GROUP: Partial<Record<Action['type'], string>> = { copy: 'write', update: 'write', symlink: 'write', delete: 'delete', attrs: 'attrs' };

/**
 * Applies a plan to the replica: the only code in foldersync that writes. Actions run in the
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
    await runConcurrently(actions, i, j, Math.max(1, opts.jobs), (x) => ex.run(x));
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

/** Removes leftover temp files of an interrupted pass. */
export async function removeStale(replica: string, stale: readonly string[]): Promise<void> {
  const safe = new SafeDirs(replica);
  for (const rel of stale) {
    await safe.within(parentOf(rel), (dir) => rm(joinRel(dir, baseOf(rel)), { recursive: true, force: true })).catch(() => undefined);
  }
}

function groupOf(a: Action): string | null {
  if ((a.type === 'delete' || a.type === 'attrs') && a.kind === 'dir') return null;
  return GROUP[a.type] ?? null;
}

class Executor {
  private readonly safe: SafeDirs;
  private readonly writable: WritableDirs;
  /** Folders whose mode and mtime must be (re)applied at the end, deepest first. */
  private readonly touched = new Set<string>();

  constructor(private readonly o: ExecuteOptions) {
    this.safe = new SafeDirs(o.replica);
    this.writable = new WritableDirs(this.safe);
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
    const parent = parentOf(a.path);
    const name = baseOf(a.path);
    if (a.type !== 'attrs') await this.openDir(parent);
    // Every write goes through the held parent folder (SafeDirs.within), never through a name a
    // link swapped in mid-pass could redirect outside the replica.
    switch (a.type) {
      case 'mkdir':
        return this.safe.within(parent, async (dir) => {
          const target = joinRel(dir, name);
          try {
            await mkdir(target, { mode: 0o700 });
          } catch (err) {
            if (errCode(err) !== 'EEXIST' || !(await lstat(target)).isDirectory()) throw new FsOpError('mkdir', a.path, err);
          }
          this.touched.add(a.path);
          return { action: a, status: 'ok', rep: await statAt(target, a.path), bytes: 0 };
        });
      case 'move': {
        await this.openDir(parentOf(a.from));
        // A folder moved to another parent gets its '..' entry rewritten: that needs write permission on the folder itself.
        if (a.kind === 'dir' && parentOf(a.from) !== parentOf(a.path)) await this.openDir(a.from);
        const target = await this.safe.within(parentOf(a.from), (fromDir) =>
          this.safe.within(parent, async (dir) => {
            const to = joinRel(dir, name);
            try {
              await rename(joinRel(fromDir, baseOf(a.from)), to);
            } catch (err) {
              throw new FsOpError('rename', `${a.from} -> ${a.path}`, err);
            }
            return a.kind === 'dir' && !a.stage ? statAt(to, a.path) : undefined;
          }),
        );
        if (a.kind === 'dir') {
          this.safe.forget(a.from);
          this.safe.forget(a.path);
          this.writable.forget(a.from);
          this.writable.forget(a.path);
        }
        if (a.stage || a.nameOnly) return { action: a, status: 'ok', bytes: 0 };
        if (a.kind === 'dir') {
          this.touched.add(a.path);
          return { action: a, status: 'ok', rep: target!, bytes: 0 };
        }
        return { action: a, status: 'ok', rep: await this.fixFile(a.path, a.src), bytes: 0 };
      }
      case 'copy':
      case 'update':
        return this.safe.within(parent, async (dir) => {
          const out = await copyAtomic(a.path, {
            srcRoot: this.o.source,
            repRoot: this.o.replica,
            repDir: dir,
            kept: this.o.rules,
            inFlight: this.o.inFlight,
            ...(this.o.signal ? { signal: this.o.signal } : {}),
          });
          if (out.kind !== 'done') return { action: a, status: 'skipped', why: out.kind };
          return { action: a, status: 'ok', rep: out.rep, src: out.src, bytes: out.src.size };
        });
      case 'symlink':
        return this.safe.within(parent, async (dir) => {
          const rep = await symlinkAtomic(this.o.replica, a.path, a.src.target ?? '', dir);
          return { action: a, status: 'ok', rep, bytes: 0 };
        });
      case 'attrs': {
        if (a.kind === 'dir') {
          this.touched.add(a.path);
          // The record needs the folder's replica identity; the scan knew it under its old path if it moved.
          return { action: a, status: 'ok', rep: await this.safe.within(parent, (dir) => statAt(joinRel(dir, name), a.path)), bytes: 0 };
        }
        return { action: a, status: 'ok', rep: await this.fixFile(a.path, a.src), bytes: 0 };
      }
      case 'delete':
        return this.safe.within(parent, async (dir) => {
          const target = joinRel(dir, name);
          try {
            if (a.recursive) await rm(target, { recursive: true, force: true });
            else await unlink(target);
          } catch (err) {
            if (!isGone(err)) throw new FsOpError('delete', a.path, err);
          }
          return { action: a, status: 'ok', bytes: 0 };
        });
      case 'rmdir':
        return this.safe.within(parent, async (dir) => {
          try {
            await rmdir(joinRel(dir, name));
          } catch (err) {
            if (!isGone(err)) throw new FsOpError('rmdir', a.path, err);
          }
          this.safe.forget(a.path);
          this.writable.forget(a.path);
          this.touched.delete(a.path);
          return { action: a, status: 'ok', bytes: 0 };
        });
      default:
        return unreachable(a);
    }
  }

  /** Lets us write in a read-only replica folder; its mode is restored with the other folders at the end. */
  private async openDir(rel: string): Promise<void> {
    if (await this.writable.open(rel)) this.touched.add(rel);
  }

  /** Gives a replica file the source's mode and mtime without following a symlink. */
  private fixFile(rel: string, src: Entry): Promise<Entry> {
    return this.safe.within(parentOf(rel), async (dir) => {
      const p = joinRel(dir, baseOf(rel));
      let fh: FileHandle | undefined;
      try {
        fh = await open(p, constants.O_RDONLY | constants.O_NOFOLLOW);
        const st = await fh.stat();
        if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EINVAL' });
        if (this.o.rules.modes && (st.mode & 0o7777) !== src.mode) await fh.chmod(src.mode);
        // Exact, not within the window: the window decides whether a pass acts, but what it
        // writes is the source's value (the filesystem keeps what it can of it).
        if (!sameMtime(st.mtimeMs, src.mtimeMs)) await fh.utimes(st.atimeMs / 1000, src.mtimeMs / 1000);
      } catch (err) {
        // Without read permission (an unprivileged run), fall back to the path, checked just before.
        if (errCode(err) !== 'EACCES' || !(await lstat(p)).isFile()) throw new FsOpError('set attributes of', rel, err);
        await setAttrs(p, rel, this.o.rules.modes ? src.mode : null, Date.now(), src.mtimeMs);
      } finally {
        await fh?.close();
      }
      return statAt(p, rel);
    });
  }

  /** Restores mode and mtime of every folder whose content or attributes changed, deepest first. */
  async fixFolders(): Promise<void> {
    const dirs = [...this.touched].filter((d) => d !== '' && this.o.sourceDirs.has(d));
    dirs.sort((a, b) => depth(b) - depth(a));
    for (const d of dirs) {
      const s = this.o.sourceDirs.get(d)!;
      try {
        // The held folder itself: chmod and utimes cannot land on a link's target.
        await this.safe.within(d, async (dir) => {
          const st = await stat(dir);
          const modeOk = !this.o.rules.modes || (st.mode & 0o7777) === s.mode;
          if (modeOk && sameMtime(st.mtimeMs, s.mtimeMs)) return;
          await setAttrs(dir, d, this.o.rules.modes ? s.mode : null, st.atimeMs, s.mtimeMs);
        });
      } catch (err) {
        if (isGone(err) || SafeDirs.isMissing(err)) continue;
        this.o.onResult({ action: { type: 'attrs', path: d, src: s, kind: 'dir' }, status: 'error', error: err as Error });
      }
    }
  }
}

/** The replica entry at an OS path (a held folder's path), for the record. */
async function statAt(p: string, rel: string): Promise<Entry> {
  try {
    return toEntry(rel, await lstat(p))!;
  } catch (err) {
    throw new FsOpError('lstat', rel, err);
  }
}
