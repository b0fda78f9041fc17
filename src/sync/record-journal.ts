import { deleteLine, putLine } from './record-codec.js';
import { baseOf, cmpWalk, parentOf } from './paths.js';

/** One change the journal holds for a path: its new entry's fields (record-codec fieldsOf), or null when it is forgotten. */
export interface Change {
  readonly fields: string | null;
  /**
   * Whether the base holds the path (undefined: not known yet). Learnt by readers as they pass
   * the path's folder and used only to keep `size` near the truth; the base never changes under
   * a Change (a compaction makes new ones), so writing it from a reader is safe.
   */
  inBase: boolean | undefined;
  /** Order of the change: a compaction merges those up to a mark and keeps the later ones. */
  readonly seq: number;
}

/** The journal as it was at one moment: what a reader or a compaction merges with the base. */
export interface JournalView {
  /** Folders with changes, in walk order (cmpWalk). */
  readonly dirs: readonly string[];
  readonly groups: ReadonlyMap<string, ReadonlyMap<string, Change>>;
}

/**
 * The changes since the base was written, held in memory by folder and name so a reader can lay
 * them over the base's folder groups. Views are copy-on-write: taking one is O(1), and the first
 * change after it copies the folder map and the one folder it touches, so a reader or a
 * compaction sees the journal as it was while the pass goes on recording.
 */
export class Journal {
  private groups = new Map<string, Map<string, Change>>();
  /** True while a view holds `groups` and every folder map in it. */
  private shared = false;
  /** Folder maps made since the last view: this journal's own, safe to change in place. */
  private owned = new Set<string>();
  private sorted: string[] | undefined;
  private seqNow = 0;
  private count = 0;
  private puts = 0;
  /** Entries the journal adds to the base's count, as far as is known. */
  private delta = 0;

  /** Number of paths with a change. */
  get entries(): number {
    return this.count;
  }

  /** The sequence number of the latest change (a mark for rebase). */
  get mark(): number {
    return this.seqNow;
  }

  /** The change held for a path, if any. */
  get(path: string): Change | undefined {
    return this.groups.get(parentOf(path))?.get(baseOf(path));
  }

  /** Records a put (fields) or a delete (null); `baseEmpty` says the base holds nothing, so the path is surely new. */
  put(path: string, fields: string | null, baseEmpty: boolean): Change {
    const dir = parentOf(path);
    const name = baseOf(path);
    const g = this.writable(dir);
    const old = g.get(name);
    const c: Change = { fields, inBase: old?.inBase ?? (baseEmpty ? false : undefined), seq: ++this.seqNow };
    if (old) this.uncount(old);
    else this.count++;
    g.set(name, c);
    this.countIn(c);
    return c;
  }

  /** The journal as it is now; later changes do not show in it. */
  view(): JournalView {
    this.sorted ??= [...this.groups.keys()].sort(cmpWalk);
    this.shared = true;
    return { dirs: this.sorted, groups: this.groups };
  }

  /** A reader found whether the base holds a changed path: keeps `size` close. */
  learn(dir: string, name: string, c: Change, inBase: boolean): void {
    if (c.inBase !== undefined) return;
    const live = this.groups.get(dir)?.get(name) === c;
    if (live) this.uncount(c);
    c.inBase = inBase;
    if (live) this.countIn(c);
  }

  /** Entries in base + journal: exact once known, otherwise an estimate that is 0 only for an empty record. */
  size(baseCount: number): number {
    return Math.max(0, baseCount + this.delta, this.puts);
  }

  /**
   * After a compaction wrote the base from `merged` (taken at `mark`): keeps only the later
   * changes, each knowing whether the new base holds its path (unknown when the old base was
   * found damaged, as what it held past the damage is gone).
   */
  rebase(mark: number, merged: JournalView, baseTrusted: boolean): void {
    const old = this.groups;
    this.groups = new Map();
    this.owned = new Set();
    this.shared = false;
    this.sorted = undefined;
    this.count = 0;
    this.puts = 0;
    this.delta = 0;
    for (const [dir, g] of old) {
      let mine: Map<string, Change> | undefined;
      for (const [name, c] of g) {
        if (c.seq <= mark) continue;
        const m = merged.groups.get(dir)?.get(name);
        const inBase = m ? m.fields !== null : baseTrusted ? c.inBase : undefined;
        const n: Change = { fields: c.fields, inBase, seq: c.seq };
        if (!mine) {
          mine = new Map();
          this.groups.set(dir, mine);
          this.owned.add(dir);
        }
        mine.set(name, n);
        this.count++;
        this.countIn(n);
      }
    }
  }

  private writable(dir: string): Map<string, Change> {
    if (this.shared) {
      this.groups = new Map(this.groups);
      this.owned = new Set();
      this.shared = false;
    }
    let g = this.groups.get(dir);
    if (!g) {
      g = new Map();
      this.groups.set(dir, g);
      this.owned.add(dir);
      this.sorted = undefined;
    } else if (!this.owned.has(dir)) {
      g = new Map(g);
      this.groups.set(dir, g);
      this.owned.add(dir);
    }
    return g;
  }

  private countIn(c: Change): void {
    if (c.fields !== null) {
      this.puts++;
      if (c.inBase === false) this.delta++;
    } else if (c.inBase === true) this.delta--;
  }

  private uncount(c: Change): void {
    if (c.fields !== null) {
      this.puts--;
      if (c.inBase === false) this.delta--;
    } else if (c.inBase === true) this.delta++;
  }
}

/** The journal line for one change. */
export function lineOf(path: string, c: Change): string {
  return c.fields === null ? deleteLine(path) : putLine(path, c.fields);
}
