import { describe } from '../errors.js';
import { GROUP_PREFIX, entryLine, entryOfFields, parseBaseLine } from './record-codec.js';
import type { Change, JournalView } from './record-journal.js';
import type { LineReader } from './record-lines.js';
import { cmpWalk, isWithin, joinRel } from './paths.js';
import type { RecordEntry } from './types.js';

/** Where reading the base stopped early, and why. */
export interface Damage {
  /** The first line not used (1 is the header). */
  readonly line: number;
  /** Entries read before it. */
  readonly kept: number;
  /** Why, when it is not a malformed or misplaced line (a read error). */
  readonly reason?: string;
}

/** One folder's entries, by name in code-unit order. */
export interface Group {
  readonly dir: string;
  readonly entries: [string, RecordEntry][];
}

/** One folder's entries as base lines, for a new base. */
export interface GroupLines {
  readonly dir: string;
  readonly lines: string[];
}

/**
 * The base file's folder groups, read forward one at a time. Checks as it goes that folders
 * come in walk order and names in code-unit order; at the first line that is malformed or out
 * of place it stops, as if the file ended there, and reports the damage once.
 */
export class BaseCursor {
  private nextDir: string | undefined;
  private prevDir: string | undefined;
  private started = false;
  private done: boolean;
  private count = 0;

  /**
   * `lines` is positioned after the header; `limit` is a line known to be damaged (reading
   * stops before it); `expected` is the header's count, checked at a clean end.
   */
  constructor(
    private readonly lines: LineReader | undefined,
    private readonly limit: number,
    private readonly expected: number,
    private readonly onDamage: (d: Damage) => void,
  ) {
    this.done = lines === undefined;
  }

  /** The folder of the next group, or undefined at the end. */
  peek(): string | undefined {
    if (!this.started) {
      this.started = true;
      const line = this.read();
      if (line !== undefined) this.groupStart(line);
    }
    return this.nextDir;
  }

  /** The next group's entries, parsed and checked (and their lines pushed to `raw`, if given). */
  take(raw?: string[]): [string, RecordEntry][] {
    this.peek();
    const entries: [string, RecordEntry][] = [];
    this.nextDir = undefined;
    let prev: string | undefined;
    for (let line = this.read(); line !== undefined; line = this.read()) {
      if (line.startsWith(GROUP_PREFIX)) {
        this.groupStart(line);
        break;
      }
      const p = parseBaseLine(line);
      if (p === undefined || p.name === undefined || (prev !== undefined && !(prev < p.name))) {
        this.damaged();
        break;
      }
      prev = p.name;
      entries.push([p.name, p.e]);
      raw?.push(line);
      this.count++;
    }
    return entries;
  }

  /**
   * The next group's lines, unparsed (a compaction copies them: parsing is most of its cost, and
   * damage in them was found by the pass's own reading, or will be by the next one). `into`
   * collects them; skipping a group passes none.
   */
  rawLines(into?: string[]): void {
    this.peek();
    this.nextDir = undefined;
    for (let line = this.read(); line !== undefined; line = this.read()) {
      if (line.startsWith(GROUP_PREFIX)) {
        this.groupStart(line);
        break;
      }
      into?.push(line);
      this.count++;
    }
  }

  /** Closes the file. */
  close(): void {
    this.done = true;
    this.lines?.close();
  }

  private groupStart(line: string): void {
    const p = parseBaseLine(line);
    if (p === undefined || p.name !== undefined || (this.prevDir !== undefined && cmpWalk(p.dir, this.prevDir) <= 0)) {
      this.damaged();
      return;
    }
    this.prevDir = p.dir;
    this.nextDir = p.dir;
  }

  private read(): string | undefined {
    if (this.done || this.lines === undefined) return undefined;
    if (this.lines.line + 1 >= this.limit) {
      this.close();
      return undefined;
    }
    let line: string | undefined;
    try {
      line = this.lines.next();
    } catch (err) {
      this.damaged(`it could not be read: ${describe(err)}`);
      return undefined;
    }
    if (line === undefined) {
      // A clean end must hold the count the header promised: lines lost from the end show here.
      if (this.count !== this.expected && this.limit === Number.POSITIVE_INFINITY) this.report(this.lines.line + 1);
      this.close();
    }
    return line;
  }

  private damaged(reason?: string): void {
    this.report(this.lines ? this.lines.line + (reason ? 1 : 0) : 1, reason);
    this.nextDir = undefined;
  }

  private report(line: number, reason?: string): void {
    this.close();
    this.onDamage({ line, kept: this.count, ...(reason ? { reason } : {}) });
  }
}

/** Tells the journal whether the base holds a changed path. */
export type Learn = (dir: string, name: string, c: Change, inBase: boolean) => void;

/** The base's groups with a journal view laid over them: every folder with entries, in walk order. */
export class GroupCursor {
  private ji = 0;

  constructor(
    private readonly base: BaseCursor,
    private readonly journal: JournalView,
    private readonly learn: Learn,
  ) {}

  /** The folder of the next group, or undefined at the end. */
  peek(): string | undefined {
    const b = this.base.peek();
    const j = this.journal.dirs[this.ji];
    if (b === undefined) return j;
    if (j === undefined) return b;
    return cmpWalk(b, j) <= 0 ? b : j;
  }

  /** The next group, base and journal merged. */
  take(): Group | undefined {
    const dir = this.peek();
    if (dir === undefined) return undefined;
    const base = this.base.peek() === dir ? this.base.take() : [];
    const changes = this.changes(dir);
    if (changes === undefined) return { dir, entries: base };
    const out: [string, RecordEntry][] = [];
    this.merge(dir, base, changes, (i) => out.push(base[i]!), (name, fields) => out.push([name, entryOfFields(fields)]));
    return { dir, entries: out };
  }

  /**
   * The next group as lines of a new base: the base's own lines, copied (a folder the journal
   * left alone is not even parsed: parsing is most of a compaction's cost, and damage in it was
   * found by the pass's reading or will be by the next), and lines for the journal's puts.
   */
  takeLines(): GroupLines | undefined {
    const dir = this.peek();
    if (dir === undefined) return undefined;
    const inBase = this.base.peek() === dir;
    const changes = this.changes(dir);
    const raw: string[] = [];
    if (changes === undefined) {
      this.base.rawLines(raw);
      return { dir, lines: raw };
    }
    const base = inBase ? this.base.take(raw) : [];
    const lines: string[] = [];
    this.merge(dir, base, changes, (i) => lines.push(raw[i]!), (name, fields) => lines.push(entryLine(name, fields)));
    return { dir, lines };
  }

  /** The journal's changes for `dir` if it is the journal's next folder (moving past it), by name in code-unit order. */
  private changes(dir: string): [string, Change][] | undefined {
    if (this.journal.dirs[this.ji] !== dir) return undefined;
    this.ji++;
    return [...this.journal.groups.get(dir)!].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  }

  /** Merges a base group with the journal's changes to it: `keep(i)` for base entries that stay, `put` for the journal's entries. */
  private merge(dir: string, base: [string, RecordEntry][], changes: [string, Change][], keep: (i: number) => void, put: (name: string, fields: string) => void): void {
    let i = 0;
    for (const [name, c] of changes) {
      while (i < base.length && base[i]![0] < name) keep(i++);
      const here = i < base.length && base[i]![0] === name;
      if (here) i++;
      this.learn(dir, name, c, here);
      if (c.fields !== null) put(name, c.fields);
    }
    while (i < base.length) keep(i++);
  }

  /** Passes over the next group without parsing it. */
  skip(): void {
    const dir = this.peek();
    if (dir === undefined) return;
    if (this.base.peek() === dir) this.base.rawLines();
    if (this.journal.dirs[this.ji] === dir) this.ji++;
  }

  /** Closes the base file. */
  close(): void {
    this.base.close();
  }
}

/** A forward reader over the record; see RecordReader in record.ts. */
export class CursorReader {
  private last: string | undefined;
  private mode: 'folder' | 'subtree' | undefined;

  constructor(private readonly cur: GroupCursor) {}

  /** The entries whose parent is `dir`, handing those of folders passed over to `passed`. */
  folder(dir: string, passed: (path: string, e: RecordEntry) => void): Map<string, RecordEntry> {
    this.order('folder', dir);
    for (let d = this.cur.peek(); d !== undefined && cmpWalk(d, dir) < 0; d = this.cur.peek()) hand(this.cur.take()!, passed);
    if (this.cur.peek() !== dir) return new Map();
    return new Map(this.cur.take()!.entries);
  }

  /** Hands every remaining entry to `passed`, and closes. */
  finish(passed: (path: string, e: RecordEntry) => void): void {
    try {
      for (let g = this.cur.take(); g !== undefined; g = this.cur.take()) hand(g, passed);
    } finally {
      this.close();
    }
  }

  /** The entries of `dir` and every folder below it, as [path, entry]; other folders' entries are skipped. */
  subtree(dir: string): Iterable<[string, RecordEntry]> {
    this.order('subtree', dir);
    return this.below(dir);
  }

  /** Closes the file; idempotent. */
  close(): void {
    this.cur.close();
  }

  private *below(dir: string): Generator<[string, RecordEntry]> {
    for (let d = this.cur.peek(); d !== undefined; d = this.cur.peek()) {
      if (isWithin(d, dir)) {
        const g = this.cur.take()!;
        for (const [name, e] of g.entries) yield [joinRel(g.dir, name), e];
      } else if (cmpWalk(d, dir) < 0) this.cur.skip();
      else return;
    }
  }

  private order(mode: 'folder' | 'subtree', dir: string): void {
    if (this.mode !== undefined && this.mode !== mode) throw new Error('a record reader cannot mix folder() and subtree()');
    if (this.last !== undefined && cmpWalk(dir, this.last) <= 0) {
      throw new Error(`record folders must be asked in walk order: ${JSON.stringify(dir)} after ${JSON.stringify(this.last)}`);
    }
    this.mode = mode;
    this.last = dir;
  }
}

function hand(g: Group, passed: (path: string, e: RecordEntry) => void): void {
  for (const [name, e] of g.entries) passed(joinRel(g.dir, name), e);
}
