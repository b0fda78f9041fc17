import { isWithin, parentOf } from './paths.js';
import type { Entry } from './types.js';

/** A replica entry as the planner imagines it: where it is now and where the scan saw it. */
export interface VEntry {
  readonly e: Entry;
  /** The path the replica scan found it at: its identity across simulated moves. */
  readonly orig: string;
  /** Put there by the plan (new content), not found by the scan: it has no identity to look up. */
  readonly placed?: boolean;
}

/**
 * An in-memory model of the replica that the planner edits while it decides, so every later
 * decision sees the effect of earlier ones (a renamed folder carries its children along).
 */
export class VTree {
  private readonly byPath = new Map<string, VEntry>();
  /**
   * Where each scanned entry is now, and each folder's children. Built on first need: a pass
   * that only adds entries (a first copy) or changes nothing never pays for them.
   */
  private index: { readonly pathOf: Map<string, string>; readonly kids: Map<string, Set<string>> } | undefined;

  constructor(entries: Iterable<Entry>) {
    for (const e of entries) this.byPath.set(e.path, { e, orig: e.path });
  }

  /** The entry currently at a path. */
  get(path: string): VEntry | undefined {
    return this.byPath.get(path);
  }

  /** Where the entry the scan found at `orig` is now (undefined once removed). */
  whereIs(orig: string): string | undefined {
    return this.indexed().pathOf.get(orig);
  }

  /** Every current path, in no particular order. */
  paths(): IterableIterator<string> {
    return this.byPath.keys();
  }

  /** Number of entries. */
  get size(): number {
    return this.byPath.size;
  }

  /** Places an entry at a path (replacing nothing: the caller removes occupants first). */
  put(path: string, v: VEntry): void {
    this.byPath.set(path, v);
    if (this.index) link(this.index, path, v);
  }

  /** Removes the entry at a path and everything below it; returns what was removed, deepest last. */
  removeTree(path: string): { path: string; v: VEntry }[] {
    const out: { path: string; v: VEntry }[] = [];
    const top = this.byPath.get(path);
    if (!top) return out;
    if (!this.index && top.e.kind !== 'dir') {
      // A file has nothing below it, and the index, once built, is built from what is left.
      this.byPath.delete(path);
      out.push({ path, v: top });
      return out;
    }
    const { pathOf, kids } = this.indexed();
    this.collect(path, out);
    for (const { path: p, v } of out) {
      this.byPath.delete(p);
      if (!v.placed && pathOf.get(v.orig) === p) pathOf.delete(v.orig);
      kids.get(parentOf(p))?.delete(p);
      kids.delete(p);
    }
    return out;
  }

  /** Moves the entry at `from` (with its subtree) to `to`; `to` must be free. */
  move(from: string, to: string): void {
    const removed = this.removeTree(from);
    for (const { path, v } of removed) this.put(to + path.slice(from.length), v);
  }

  /** Paths below a folder (not the folder itself), parents before children. */
  descendants(path: string): string[] {
    const out: { path: string; v: VEntry }[] = [];
    this.collect(path, out);
    return out.slice(1).map((x) => x.path);
  }

  /** True when an entry lies at or below `dir`. */
  hasWithin(dir: string, pred: (v: VEntry, path: string) => boolean): boolean {
    const v = this.byPath.get(dir);
    if (v && pred(v, dir)) return true;
    if (v && v.e.kind !== 'dir') return false; // nothing lies below a file or link
    for (const k of this.indexed().kids.get(dir) ?? []) if (isWithin(k, dir) && this.hasWithin(k, pred)) return true;
    return false;
  }

  private collect(path: string, out: { path: string; v: VEntry }[]): void {
    const v = this.byPath.get(path);
    if (!v) return;
    out.push({ path, v });
    for (const k of this.indexed().kids.get(path) ?? []) this.collect(k, out);
  }

  private indexed(): NonNullable<VTree['index']> {
    if (!this.index) {
      const index = { pathOf: new Map<string, string>(), kids: new Map<string, Set<string>>() };
      for (const [path, v] of this.byPath) link(index, path, v);
      this.index = index;
    }
    return this.index;
  }
}

function link(index: NonNullable<VTree['index']>, path: string, v: VEntry): void {
  if (!v.placed) index.pathOf.set(v.orig, path);
  const parent = parentOf(path);
  let set = index.kids.get(parent);
  if (!set) {
    set = new Set();
    index.kids.set(parent, set);
  }
  set.add(path);
}
