import type { Dirent, Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { describe, errCode, isGone } from '../errors.js';
import type { Filter } from './filter.js';
import { TMP_RE, abs, ancestors, joinRel } from './paths.js';
import type { Entry, EntryKind, PathIssue, Snapshot } from './types.js';

/** Which part of a tree to list: whole subtrees (`deep`) and single folder listings (`shallow`). */
export interface ScanScope {
  readonly deep: readonly string[];
  readonly shallow: readonly string[];
}

/** Options for one scan. */
export interface ScanOptions {
  readonly filter?: Filter;
  readonly signal?: AbortSignal;
  /** How many folders are listed at once. */
  readonly concurrency?: number;
  /** Default: the whole tree. */
  readonly scope?: ScanScope;
  /**
   * What to do with fifos, sockets and devices: 'skip' them (the source: they are not
   * mirrored) or list them as 'replace'-able files of impossible size (the replica: they do
   * not belong there, so the planner replaces or deletes them).
   */
  readonly specials?: 'skip' | 'replace';
}

/** The whole tree. */
export const FULL_SCOPE: ScanScope = { deep: [''], shallow: [] };

const STAT_BATCH = 64;

/** Converts an lstat result to an Entry; null for fifos, sockets and devices. */
export function toEntry(rel: string, st: Stats, target?: string): Entry | null {
  const kind: EntryKind | null = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : null;
  if (kind === null) return null;
  const e: Entry = {
    path: rel,
    kind,
    size: kind === 'dir' ? 0 : st.size,
    mtimeMs: st.mtimeMs,
    ctimeMs: st.ctimeMs,
    mode: st.mode & 0o7777,
    ino: st.ino,
    dev: st.dev,
  };
  return target === undefined ? e : { ...e, target };
}

/** lstats one path (never following a link) into an Entry; null if it is gone or special. */
export async function statEntry(root: string, rel: string): Promise<Entry | null> {
  const p = abs(root, rel);
  let st: Stats;
  try {
    st = await lstat(p);
  } catch (err) {
    if (isGone(err)) return null;
    throw err;
  }
  return toEntry(rel, st, st.isSymbolicLink() ? await readlink(p) : undefined);
}

/**
 * Lists a tree with lstat, never following links. Per-path failures become issues; only a
 * root that cannot be listed throws. Excluded folders are not descended into.
 */
export async function scan(root: string, opts: ScanOptions = {}): Promise<Snapshot> {
  const snap: Snapshot = { root, entries: new Map(), issues: [], excluded: new Map(), stale: [], skipped: [] };
  const filter = opts.filter && !opts.filter.empty ? opts.filter : undefined;
  const scope = opts.scope ?? FULL_SCOPE;
  const queue: { dir: string; deep: boolean }[] = [];

  for (const d of scope.deep) {
    if (d !== '' && !(await addTop(d, snap, root, filter))) continue;
    queue.push({ dir: d, deep: true });
  }
  for (const d of scope.shallow) {
    if (scope.deep.some((x) => x === '' || d === x || d.startsWith(`${x}/`))) continue;
    if (d !== '' && !(await addTop(d, snap, root, filter))) continue;
    queue.push({ dir: d, deep: false });
  }
  // The root itself must list, or nothing below can be trusted.
  if (scope.deep.includes('')) await readdir(root);
  else await addAncestors([...scope.deep, ...scope.shallow], snap, root);

  const workers = Math.max(1, opts.concurrency ?? 8);
  let active = 0;
  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      if (opts.signal?.aborted) {
        if (active === 0) reject(opts.signal.reason);
        return;
      }
      while (active < workers && queue.length > 0) {
        const job = queue.pop()!;
        active++;
        listDir(root, job.dir, job.deep, snap, filter, queue, opts.specials ?? 'skip').then(
          () => {
            active--;
            pump();
          },
          (err: unknown) => {
            active = -Infinity;
            reject(err);
          },
        );
      }
      if (active === 0 && queue.length === 0) resolve();
    };
    pump();
  });
  return snap;
}

/** A partial scan still knows the folders above what it lists (the planner creates missing ones). */
async function addAncestors(paths: readonly string[], snap: Snapshot, root: string): Promise<void> {
  for (const p of paths) {
    for (const a of ancestors(p)) {
      if (snap.entries.has(a)) continue;
      const e = await statEntry(root, a).catch(() => null);
      if (e?.kind === 'dir') snap.entries.set(a, e);
    }
  }
}

/** Adds a scoped top entry itself; false if it is not a listable folder. */
async function addTop(rel: string, snap: Snapshot, root: string, filter: Filter | undefined): Promise<boolean> {
  try {
    const e = await statEntry(root, rel);
    if (!e) return false;
    if (filter?.excluded(rel, e.kind === 'dir')) {
      snap.excluded.set(rel, e);
      return false;
    }
    snap.entries.set(rel, e);
    return e.kind === 'dir';
  } catch (err) {
    snap.issues.push(issue(rel, 'lstat', err));
    return false;
  }
}

async function listDir(
  root: string,
  dir: string,
  deep: boolean,
  snap: Snapshot,
  filter: Filter | undefined,
  queue: { dir: string; deep: boolean }[],
  specials: 'skip' | 'replace',
): Promise<void> {
  let dirents: Dirent[];
  try {
    dirents = await readdir(abs(root, dir), { withFileTypes: true });
  } catch (err) {
    if (dir === '') throw err;
    // A folder that vanished after it was listed is not an error; an unreadable one is.
    if (!isGone(err)) snap.issues.push(issue(dir, 'readdir', err));
    return;
  }
  for (let i = 0; i < dirents.length; i += STAT_BATCH) {
    const batch = dirents.slice(i, i + STAT_BATCH);
    await Promise.all(batch.map((d) => statChild(root, dir, d, deep, snap, filter, queue, specials)));
  }
}

async function statChild(
  root: string,
  dir: string,
  d: Dirent,
  deep: boolean,
  snap: Snapshot,
  filter: Filter | undefined,
  queue: { dir: string; deep: boolean }[],
  specials: 'skip' | 'replace',
): Promise<void> {
  const rel = joinRel(dir, d.name);
  if (TMP_RE.test(d.name)) {
    snap.stale.push(rel);
    return;
  }
  let e: Entry | null;
  try {
    const st = await lstat(abs(root, rel));
    e = toEntry(rel, st, st.isSymbolicLink() ? await readlink(abs(root, rel)) : undefined);
    if (e === null) {
      if (filter?.excluded(rel, false)) return;
      if (specials === 'skip') {
        snap.skipped.push(rel);
        return;
      }
      // Size -1 never equals a source file's: the planner replaces or deletes it, never hashes it.
      e = { path: rel, kind: 'file', size: -1, mtimeMs: 0, ctimeMs: st.ctimeMs, mode: st.mode & 0o7777, ino: st.ino, dev: st.dev };
    }
  } catch (err) {
    // A name that is not valid UTF-8 comes back from readdir with U+FFFD and cannot be found by
    // that string again: report it, rather than silently leave it out of the mirror.
    if (isGone(err) && d.name.includes('\uFFFD')) {
      snap.issues.push({ path: rel, op: 'read the name of', message: 'it is not valid UTF-8; rename it', code: 'EILSEQ' });
    } else if (!isGone(err)) snap.issues.push(issue(rel, 'lstat', err));
    return;
  }
  if (filter?.excluded(rel, e.kind === 'dir')) {
    snap.excluded.set(rel, e);
    return;
  }
  snap.entries.set(rel, e);
  if (e.kind === 'dir' && deep) queue.push({ dir: rel, deep: true });
}

function issue(path: string, op: string, err: unknown): PathIssue {
  const code = errCode(err);
  return code === undefined ? { path, op, message: describe(err) } : { path, op, message: describe(err), code };
}
