import { errCode } from '../errors.js';
import { StepGauge } from '../trees/probe.js';
import type { FolderListing, Listed, TreeReader } from '../trees/tree.js';
import type { Filter } from './filter.js';
import { type FsRules, devKey, mtimeEq } from './fs-rules.js';
import { cmp, joinRel, sameMtime } from './paths.js';
import type { RecordReader } from './record.js';
import { type Entry, type FileRecord, type HashAlgo, type PathIssue, type RecordEntry, type Snapshot, emptySnapshot } from './types.js';

/**
 * What is known before the walk that lets it drop an entry at once: the replica's traits and
 * a lower bound of the modify window (the replica's own step; the final window, settled once
 * the source's step is read off the walk, is never smaller, so what matches here matches then).
 */
export interface SettleRules extends Pick<FsRules, 'windowMs' | 'modes' | 'srcRootDev' | 'fold'> {
  /** --checksum: a file settles only when the record holds its hash in this algorithm (the planner compares recorded hashes). */
  readonly hashed?: HashAlgo;
}

/** What the walk reads and how it may drop entries. */
export interface MarchInput {
  readonly source: TreeReader;
  readonly replica: TreeReader;
  /** The record in walk order; null when no record is kept. */
  readonly record: RecordReader | null;
  readonly filter: Filter | undefined;
  /** Excluded replica entries will be deleted: their folders are part of the plan. */
  readonly deleteExcluded: boolean;
  /** null: nothing is dropped during the walk. */
  readonly settle: SettleRules | null;
  /** A dry run may meet a replica that does not exist yet: then it is empty. */
  readonly replicaMayBeMissing: boolean;
  readonly signal?: AbortSignal;
}

/** The differences the walk found, and what it counted of the rest. */
export interface Marched {
  /** Source entries that are not settled, with the folders above them. */
  readonly source: Snapshot;
  /** Likewise for the replica; `excluded`, `stale` and `issues` in full. */
  readonly replica: Snapshot;
  /** Record lines of unsettled paths (with their folders) and of paths on neither side. */
  readonly record: FileRecord;
  /** Entries listed in each tree, settled ones included (excluded ones not). */
  readonly count: { source: number; replica: number };
  /** Entries settled on both sides and in the record: each also vouches for its inode numbers. */
  readonly settled: number;
  /** The source's mtime step as its entries show it (see observedResolutionMs). */
  readonly sourceStep: number | undefined;
}

/** The replica's root could not be listed: the pass fails on the replica, not the source. */
export class ReplicaUnlistable extends Error {
  constructor(override readonly cause: unknown) {
    super('the replica cannot be listed', { cause });
  }
}

/** A folder waiting to be listed, with its own entry on each side and in the record. */
interface Frame {
  readonly dir: string;
  readonly parent: Frame | undefined;
  readonly s: Entry | undefined;
  readonly r: Entry | undefined;
  readonly c: RecordEntry | undefined;
  /** Its entries are in the snapshots (something below it, or itself, needs work). */
  included: boolean;
}

const NOTHING: FolderListing = Object.freeze({ items: [], stale: [], issues: [] });

/**
 * Walks both trees folder by folder, in the record's order (rclone's march): each folder's
 * source listing, replica listing and record lines are merged by name, and what needs nothing
 * (same on both sides and as recorded) is dropped at once. Only differences, the folders above
 * them and what neither side has any more go on to the planner, so memory follows the changes
 * and the depth of the tree, not its size. Pure deciding: it reads, never writes.
 */
export async function march(inp: MarchInput): Promise<Marched> {
  return new Marcher(inp).run();
}

class Marcher {
  private readonly source: Snapshot;
  private readonly replica: Snapshot;
  private readonly record: FileRecord = new Map();
  private readonly count = { source: 0, replica: 0 };
  private settled = 0;
  private readonly gauge = new StepGauge();
  private gauging = true;
  private readonly orphan = (p: string, c: RecordEntry): void => {
    this.record.set(p, c);
  };

  constructor(private readonly inp: MarchInput) {
    this.source = emptySnapshot(inp.source.root);
    this.replica = emptySnapshot(inp.replica.root);
  }

  async run(): Promise<Marched> {
    const root: Frame = { dir: '', parent: undefined, s: undefined, r: undefined, c: undefined, included: true };
    const stack: Frame[] = [root];
    for (let f = stack.pop(); f !== undefined; f = stack.pop()) {
      this.inp.signal?.throwIfAborted();
      const children = await this.folder(f);
      // Reversed: the first child is listed next, and its whole subtree before its next sibling.
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
    }
    this.inp.record?.finish(this.orphan);
    return { source: this.source, replica: this.replica, record: this.record, count: this.count, settled: this.settled, sourceStep: this.gauge.step };
  }

  /** Merges one folder's three views; returns its subfolders to walk, in name order. */
  private async folder(f: Frame): Promise<Frame[]> {
    const top = f.dir === '';
    const src = this.sourceItems(top || f.s?.kind === 'dir' ? await this.inp.source.list(f.dir) : NOTHING);
    const rep = this.replicaItems(top || f.r?.kind === 'dir' ? await this.listReplica(f.dir) : NOTHING, f);
    const recs = this.inp.record?.folder(f.dir, this.orphan);
    const settling = this.inp.settle !== null && !(this.inp.settle.fold && foldTwins(src, rep, this.inp.settle.fold));
    const children: Frame[] = [];
    let i = 0;
    let j = 0;
    while (i < src.length || j < rep.length) {
      const a = src[i];
      const b = rep[j];
      const order = a === undefined ? 1 : b === undefined ? -1 : byName(a, b);
      const s = order <= 0 ? a!.e : undefined;
      const r = order >= 0 ? b!.e : undefined;
      if (order <= 0) i++;
      if (order >= 0) j++;
      const name = (order <= 0 ? a : b)!.name;
      const c = recs?.get(name);
      if (c !== undefined) recs!.delete(name);
      const p = (s ?? r)!.path;
      const dir = s?.kind === 'dir' || r?.kind === 'dir';
      if (settling && this.isSettled(s, r, c)) {
        this.settled++;
        if (dir) children.push({ dir: p, parent: f, s, r, c, included: false });
        continue;
      }
      this.include(f);
      if (s) this.source.entries.set(p, s);
      if (r) this.replica.entries.set(p, r);
      if (c) this.record.set(p, c);
      if (dir) children.push({ dir: p, parent: f, s, r, c, included: true });
    }
    // Recorded names neither side has any more: the planner forgets them (and may find them renamed).
    if (recs) for (const [name, c] of recs) this.record.set(joinRel(f.dir, name), c);
    return children;
  }

  /** Puts a folder, and every folder above it, into the snapshots: something below needs work. */
  private include(f: Frame | undefined): void {
    for (let x = f; x !== undefined && !x.included; x = x.parent) {
      // Only a settled folder waits unincluded: it goes to the planner after all.
      x.included = true;
      this.settled--;
      if (x.s) this.source.entries.set(x.dir, x.s);
      if (x.r) this.replica.entries.set(x.dir, x.r);
      if (x.c) this.record.set(x.dir, x.c);
    }
  }

  /**
   * Same kind, content and attributes on both sides, and the record line says exactly that: the
   * planner would neither act on it nor teach the record anything (its own tests, made stricter
   * where a rule is not final yet).
   */
  private isSettled(s: Entry | undefined, r: Entry | undefined, c: RecordEntry | undefined): boolean {
    const rules = this.inp.settle!;
    if (s === undefined || r === undefined || c === undefined) return false;
    if (s.kind !== r.kind || c.kind !== s.kind || c.mode !== s.mode || c.rIno !== r.ino) return false;
    if (c.sIno !== s.ino || c.sDev !== devKey(rules, s.dev)) return false;
    if (rules.modes && r.mode !== s.mode) return false;
    switch (s.kind) {
      case 'file':
        return (
          s.size === r.size &&
          c.size === s.size &&
          c.sCtimeMs === s.ctimeMs &&
          c.rCtimeMs === r.ctimeMs &&
          (rules.hashed === undefined || (c.hash !== undefined && c.algo === rules.hashed)) &&
          sameMtime(c.mtimeMs, s.mtimeMs) &&
          mtimeEq(rules, s.mtimeMs, r.mtimeMs)
        );
      case 'dir':
        return sameMtime(c.mtimeMs, s.mtimeMs) && mtimeEq(rules, r.mtimeMs, s.mtimeMs);
      case 'symlink':
        return r.target !== undefined && r.target === s.target && c.target === s.target;
    }
  }

  /** The source's entries in name order: excluded and special ones left out, unreadable ones reported. */
  private sourceItems(l: FolderListing): Listed[] {
    const taken = takeSource(l, this.inp.filter);
    for (const i of taken.issues) this.source.issues.push(i);
    for (const p of taken.skipped) this.source.skipped.push(p);
    for (const it of taken.items) {
      if (!this.gauging) break;
      if (it.e.kind !== 'symlink') this.gauging = this.gauge.add(it.e.mtimeMs);
    }
    this.count.source += taken.items.length;
    return taken.items;
  }

  /** The replica's entries in name order: excluded ones set apart, leftover temp files noted. */
  private replicaItems(l: FolderListing, f: Frame): Listed[] {
    const { filter } = this.inp;
    for (const i of l.issues) this.replica.issues.push(i);
    for (const t of l.stale) this.replica.stale.push(t);
    const out: Listed[] = [];
    for (const item of l.items) {
      const e = item.e;
      // The backup folder is foldersync's own: not part of the mirror, not even as excluded.
      if (filter?.reserved(e.path)) continue;
      if (filter?.excluded(e.path, e.kind === 'dir' && !item.special)) {
        this.replica.excluded.set(e.path, e);
        if (this.inp.deleteExcluded) this.include(f);
        continue;
      }
      out.push(item);
    }
    this.count.replica += out.length;
    return out.sort(byName);
  }

  private async listReplica(dir: string): Promise<FolderListing> {
    try {
      return await this.inp.replica.list(dir);
    } catch (err) {
      if (dir === '' && this.inp.replicaMayBeMissing && errCode(err) === 'ENOENT') return NOTHING;
      throw new ReplicaUnlistable(err);
    }
  }
}

function byName(a: Listed, b: Listed): number {
  return cmp(a.name, b.name);
}

/**
 * A source folder's listing as a pass takes it (the march and a first copy alike): excluded
 * entries left out, fifos, sockets and devices set apart as skipped, links whose target cannot
 * be read set apart as issues, the rest in name order.
 */
export function takeSource(l: FolderListing, filter: Filter | undefined): { items: Listed[]; issues: PathIssue[]; skipped: string[] } {
  const items: Listed[] = [];
  const issues: PathIssue[] = [...l.issues];
  const skipped: string[] = [];
  for (const it of l.items) {
    const e = it.e;
    if (filter?.excluded(e.path, e.kind === 'dir')) continue;
    if (it.special) skipped.push(e.path);
    else if (it.linkError) issues.push(it.linkError);
    else items.push(it);
  }
  return { items: items.sort(byName), issues, skipped };
}

/**
 * Two names in one folder that a folding replica holds as one (on either side, or spelt
 * differently across them): that folder's entries all go to the planner, which settles who
 * gets the name and which spelling is renamed.
 */
function foldTwins(src: readonly Listed[], rep: readonly Listed[], fold: (name: string) => string): boolean {
  const seen = new Map<string, string>();
  for (const list of [src, rep]) {
    for (const { name } of list) {
      const k = fold(name);
      const other = seen.get(k);
      if (other !== undefined && other !== name) return true;
      seen.set(k, name);
    }
  }
  return false;
}
