import { readdir } from 'node:fs/promises';
import { describe, errCode } from '../errors.js';
import { LocalTree, statEntry } from '../trees/local.js';
import type { Listed } from '../trees/tree.js';
import type { Filter } from './filter.js';
import { ancestors } from './paths.js';
import { FULL_SCOPE, type ScanScope, isFull } from './scope.js';
import { type Entry, type PathIssue, type Snapshot, emptySnapshot } from './types.js';

/** Options for one scan. */
export interface ScanOptions {
  readonly filter?: Filter;
  readonly signal?: AbortSignal;
  /** Default: the whole tree. */
  readonly scope?: ScanScope;
  /**
   * What to do with fifos, sockets and devices: 'skip' them (the source: they are not
   * mirrored) or list them as 'replace'-able files of impossible size (the replica: they do
   * not belong there, so the planner replaces or deletes them).
   */
  readonly specials?: 'skip' | 'replace';
}


/**
 * Lists a tree (or the scoped part of it) whole, with lstat, never following links: the listing
 * of a partial (watch) pass, and of tools that want a whole tree. Per-path failures become issues; only a
 * root that cannot be listed throws. Excluded folders are not descended into.
 */
export async function scan(root: string, opts: ScanOptions = {}): Promise<Snapshot> {
  const snap = emptySnapshot(root);
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
  if (isFull(scope)) await readdir(root);
  else await addAncestors([...scope.deep, ...scope.shallow], snap, root);

  await new Walker(root, snap, filter, opts.specials ?? 'skip', opts.signal).run(queue);
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
    if (!e || filter?.reserved(rel)) return false;
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

/** Lists the queued folders through the trees interface, deepest-first like a stack. */
class Walker {
  private readonly tree: LocalTree;

  constructor(
    root: string,
    private readonly snap: Snapshot,
    private readonly filter: Filter | undefined,
    private readonly specials: 'skip' | 'replace',
    private readonly signal: AbortSignal | undefined,
  ) {
    this.tree = new LocalTree(root);
  }

  async run(dirs: { dir: string; deep: boolean }[]): Promise<void> {
    for (let next = dirs.pop(); next !== undefined; next = dirs.pop()) {
      this.signal?.throwIfAborted();
      const l = await this.tree.list(next.dir);
      for (const t of l.stale) this.snap.stale.push(t);
      for (const i of l.issues) this.snap.issues.push(i);
      for (const item of l.items) {
        const e = this.entryOf(item);
        if (e !== null && e.kind === 'dir' && next.deep) dirs.push({ dir: e.path, deep: true });
      }
    }
  }

  /** Files one listed item where it belongs; the entry when it is to be listed below. */
  private entryOf(item: Listed): Entry | null {
    const { snap, filter } = this;
    const e = item.e;
    if (filter?.reserved(e.path)) return null;
    if (item.special) {
      if (filter?.excluded(e.path, false)) return null;
      if (this.specials === 'skip') {
        snap.skipped.push(e.path);
        return null;
      }
    } else if (item.linkError && this.specials !== 'replace') {
      // A replica link whose target cannot be read (sshfs refuses absolute ones) is still
      // there: listed without a target, it is replaced or deleted like any other misfit.
      snap.issues.push(item.linkError);
      return null;
    }
    if (filter?.excluded(e.path, e.kind === 'dir' && !item.special)) {
      snap.excluded.set(e.path, e);
      return null;
    }
    snap.entries.set(e.path, e);
    return e;
  }
}

function issue(path: string, op: string, err: unknown): PathIssue {
  const code = errCode(err);
  return code === undefined ? { path, op, message: describe(err) } : { path, op, message: describe(err), code };
}
