import { createHash } from 'node:crypto';
import { openSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { FsOpError, describe, errCode, unreachable } from '../errors.js';
import { fieldsOf, groupLine, headerLine, parseHeader, parseJournalLine } from './record-codec.js';
import { BaseCursor, CursorReader, type Damage, GroupCursor } from './record-cursor.js';
import * as io from './record-io.js';
import { type Change, Journal, type JournalView, lineOf } from './record-journal.js';
import { LineReader } from './record-lines.js';
import { readV1 } from './record-v1.js';
import type { RecordEntry } from './types.js';

/**
 * The file record, format 2: a base file sorted in walk order, read forward in lockstep with
 * the folder-by-folder walk, and a small journal of changes since the base was written, held
 * in memory. Memory follows the journal and the biggest folder, never the record's size.
 *
 * Base file `<file>`, one JSON value a line:
 *   {"foldersync":2,"source":…,"replica":…,"entries":N}   header (space-padded: the count is
 *                                                          written in place once known)
 *   ["/",dir]                                              a folder group: entries whose parent
 *                                                          is `dir` ('' = the root) follow
 *   [name,kind,size,mtimeMs,mode,rIno,rCtimeMs,sIno,sDev,sCtimeMs,hash|0,algo|0,target|0]
 * Groups come in increasing cmpWalk order of `dir` (the order the walk visits folders), names
 * within a group in code-unit order; only folders with entries have a group. A line that does
 * not parse or is out of order is damage: the entries before it are kept, a warning is queued
 * (takeWarning) and the next commit rewrites the base. The header's count is checked at a clean
 * end, so lines lost from the end are damage too.
 *
 * Journal `<file>.journal`: format-1 lines, `["+",path,kind,…]` puts and `["-",path]` deletes,
 * appended and fdatasync'ed at checkpoints; loaded whole (it is small) and held in memory by
 * folder, so readers lay it over the base's groups (a put in a folder the base lacks comes out
 * in its place, a delete hides a base entry). Replaying is idempotent (the last line for a path
 * wins), so a crash between a compaction's rename and the journal's removal leaves a record
 * with the same content. A torn last line (an append cut short) is dropped, and cut off the
 * file before the next append. A journal next to a base that is missing, foreign or unreadable
 * belongs to a record that is gone: it is ignored, and removed before a new base is written.
 *
 * Compaction streams: the base read forward merged with the sorted journal into `<file>.tmp`
 * (lines of folders the journal left alone copied unparsed), fsync, rename, fsync the folder,
 * remove the journal; memory O(journal + one group). It runs when a commit finds the journal
 * longer than max(10,000, entries / 4) lines, when the base was found damaged, and at a
 * checkpoint when the journal holds more changes in memory than JOURNAL_MEMORY_MAX. The first
 * save of a new record writes a whole base the same way (so a journal never exists without one).
 *
 * Format 1 (header `{"foldersync":1,…}`, put/delete lines, held whole in memory) is read once at
 * load and rewritten as a format-2 base.
 */

/** Journal lines a commit tolerates before it compacts, however small the record… */
const JOURNAL_MIN = 10_000;
/** …or this fraction of the record's entries, for a big one. */
const JOURNAL_SHARE = 4;
/**
 * Changes held in memory past which a checkpoint compacts: what bounds memory in a long first
 * pass (a change holds about 410 bytes of heap with its path and entry, so about 20 MiB).
 */
const JOURNAL_MEMORY_MAX = 50_000;
/** Characters handed to one write. */
const WRITE_CHUNK = 1 << 20;

/**
 * Who saves: a pass, in the background of its work (checkpoint, commit, a migration), or a hard
 * stop, blocking, as it cannot wait (flushSync). Both run the same steps.
 */
type Saver = 'pass' | 'hard stop';

/** A forward reader over the record (base + journal, as they were when it was made). */
export interface RecordReader {
  /**
   * The entries whose parent folder is `dir` ('' = the root), keyed by name. Folders must be
   * asked in increasing cmpWalk order; entries of folders passed over (not asked) are handed to
   * `passed(path, entry)` (full relative path).
   */
  folder(dir: string, passed: (path: string, e: RecordEntry) => void): Map<string, RecordEntry>;
  /** Hands every entry of folders after the last one asked to `passed`, and closes. */
  finish(passed: (path: string, e: RecordEntry) => void): void;
  /**
   * The entries of folder `dir` and of every folder below it (not `dir`'s own entry), as
   * [full path, entry], for a partial pass. May be called for several dirs in increasing cmpWalk
   * order, none inside another and each consumed before the next is asked; entries of other
   * folders are skipped, not passed. A reader must not mix folder() and subtree().
   */
  subtree(dir: string): Iterable<[string, RecordEntry]>;
  /** Closes the file; idempotent. */
  close(): void;
}

/** Thresholds of compaction, for tests and benchmarks that need small records to compact. */
export interface RecordTuning {
  /** Journal lines a commit tolerates before compacting, however small the record. */
  readonly journalMin?: number;
  /** Changes held in memory past which a checkpoint compacts. */
  readonly journalMemoryMax?: number;
}

/** What load() found besides the store. */
export interface Loaded {
  readonly store: RecordStore;
  /** Something was wrong with the record on disk (it is rebuilt); one line, for the log. */
  readonly warning?: string;
  /** Something worth saying that is not a problem (a migration). */
  readonly info?: string;
}

/** The record of one source/replica pair; see the format above. */
export class RecordStore {
  private readonly journalFile: string;
  private readonly journal = new Journal();
  /** Changes not yet appended to the journal file, by path. */
  private pending = new Map<string, Change>();
  /** Journal text an append is writing right now (a hard stop writes it too). */
  private inflight = '';
  /** False while no usable base is on disk: the next save writes a whole one. */
  private hasBase = false;
  /** Entries in the base (the readable part, once damage is found). */
  private baseCount = 0;
  /** The first damaged line of the base, where every reading stops. */
  private limit = Number.POSITIVE_INFINITY;
  /** The base must be rewritten at the next commit. */
  private rewrite = false;
  /** Bumped each time the base file is replaced: readers of an older one learn nothing for this one. */
  private gen = 0;
  /** Lines in the journal file. */
  private journalLines = 0;
  /** Bytes of whole lines at the start of the journal file: anything past them is a torn tail. */
  private journalBytes = 0;
  /** The journal file exists (so an append does not create it, and its folder needs no fsync). */
  private journalOnDisk = false;
  /** The journal file may run past journalBytes (a torn or failed append): cut it back before appending. */
  private journalTorn = false;
  /** A journal file may be on disk that belongs to no usable base: removed before a base is written. */
  private staleJournal = false;
  private warnings: string[] = [];
  private queue: Promise<void> = Promise.resolve();
  /** Bumped by flushSync: an async save in flight when a hard stop saved gives way to it. */
  private flushes = 0;

  private constructor(
    readonly file: string,
    private readonly source: string,
    private readonly replica: string,
    private readonly journalMin: number,
    private readonly journalMemoryMax: number,
  ) {
    this.journalFile = `${file}.journal`;
  }

  /** Loads the record's header and journal; a missing, foreign or damaged one is a warning, not a failure. */
  static async load(file: string, source: string, replica: string, tuning: RecordTuning = {}): Promise<Loaded> {
    const store = new RecordStore(file, source, replica, tuning.journalMin ?? JOURNAL_MIN, tuning.journalMemoryMax ?? JOURNAL_MEMORY_MAX);
    const said = await store.open();
    return { store, ...said };
  }

  /** Number of entries: exact after a compaction or a full read, an estimate in between that is 0 only for an empty record. */
  get size(): number {
    return this.journal.size(this.hasBase ? this.baseCount : 0);
  }

  /** A forward reader over base + journal as they are now; later changes do not show in it. */
  reader(): RecordReader {
    return new CursorReader(this.cursor(this.journal.view()));
  }

  /** Records what is now true at a replica path. */
  set(p: string, e: RecordEntry): void {
    this.pending.set(p, this.journal.put(p, fieldsOf(e), this.baseEmpty()));
  }

  /** Forgets a replica path; harmless for a path the record does not hold. */
  delete(p: string): void {
    if (this.baseEmpty() && this.journal.get(p) === undefined) return;
    this.pending.set(p, this.journal.put(p, null, this.baseEmpty()));
  }

  /** Number of changes not yet on disk. */
  get unsaved(): number {
    return this.pending.size;
  }

  /** Makes every change so far durable: appends them to the journal and fdatasyncs it (or writes a whole base when due). */
  checkpoint(): Promise<void> {
    return this.serial(() => this.save(false));
  }

  /** Ends a pass: a checkpoint, then a compaction if the journal has grown big or the base must be rewritten. */
  commit(): Promise<void> {
    return this.serial(() => this.save(true));
  }

  /** Saves pending changes synchronously: for a hard stop that cannot wait. */
  flushSync(): void {
    this.flushes++;
    try {
      io.runSync(this.hasBase ? this.appending('hard stop') : this.compaction('hard stop'));
    } catch (err) {
      throw err instanceof FsOpError ? err : new FsOpError('write the record', this.file, err);
    }
  }

  /** The warnings found while reading since the last call (damage in the base), as one line. */
  takeWarning(): string | undefined {
    if (this.warnings.length === 0) return undefined;
    const w = this.warnings.join('; ');
    this.warnings = [];
    return w;
  }

  /** Every entry, reading the whole file: for tests and tools only. */
  readAll(): Map<string, RecordEntry> {
    const all = new Map<string, RecordEntry>();
    this.reader().finish((p, e) => all.set(p, e));
    return all;
  }

  /** Reads the header, then the journal or a format-1 record; says what was wrong, never throws. */
  private async open(): Promise<{ warning?: string; info?: string }> {
    const file = this.file;
    // Until a valid base is found, any journal file is someone else's.
    this.staleJournal = true;
    let first: string | undefined;
    try {
      const lines = new LineReader(openSync(file, 'r'));
      try {
        first = lines.next();
      } finally {
        lines.close();
      }
    } catch (err) {
      if (errCode(err) === 'ENOENT') return {};
      return { warning: `record ${file} could not be read (${describe(err)}); rebuilding it` };
    }
    if (first === undefined) return { warning: `record ${file} is empty; rebuilding it` };
    const h = parseHeader(first, this.source, this.replica);
    switch (h.kind) {
      case 'v2':
        this.hasBase = true;
        this.staleJournal = false;
        this.baseCount = h.entries;
        return this.loadJournal();
      case 'v1':
        return this.migrate();
      case 'foreign':
        return { warning: `record ${file} belongs to another source/replica pair; starting a new one` };
      case 'unknown-version':
        return { warning: `record ${file} is in format ${JSON.stringify(h.version)}, which this foldersync does not read; starting a new one` };
      case 'garbage':
        return { warning: `record ${file} is damaged at line 1 (no valid header); rebuilding it` };
      default:
        return unreachable(h);
    }
  }

  /** Replays the journal file into memory. */
  private loadJournal(): { warning?: string } {
    const jf = this.journalFile;
    let lines: LineReader;
    try {
      lines = new LineReader(openSync(jf, 'r'));
    } catch (err) {
      if (errCode(err) === 'ENOENT') return {};
      this.journalTorn = true;
      return { warning: `record journal ${jf} could not be read (${describe(err)}); its changes will be learnt again` };
    }
    this.journalOnDisk = true;
    const empty = this.baseCount === 0;
    let whole = 0;
    try {
      for (let line = lines.next(); line !== undefined; line = lines.next()) {
        const change = parseJournalLine(line);
        if (change === undefined) {
          this.journalTorn = true;
          // A torn last line is what a killed append leaves: its changes are learnt again, no warning.
          if (lines.terminated) return { warning: `record journal ${jf} is damaged at line ${lines.line}; keeping the changes before it` };
          break;
        }
        const c = this.journal.put(change[0], change[1] && fieldsOf(change[1]), empty);
        if (lines.terminated) {
          this.journalLines++;
          whole = lines.offset;
        } else {
          // Whole but without its newline: cut off and appended again, so nothing is glued onto it.
          this.journalTorn = true;
          this.pending.set(change[0], c);
        }
      }
    } catch (err) {
      this.journalTorn = true;
      return { warning: `record journal ${jf} could not be read past line ${lines.line} (${describe(err)}); keeping the changes before it` };
    } finally {
      this.journalBytes = whole;
      lines.close();
    }
    return {};
  }

  /** Reads a format-1 record whole, once, and writes it as a format-2 base. */
  private async migrate(): Promise<{ warning?: string; info?: string }> {
    let v1: Awaited<ReturnType<typeof readV1>>;
    try {
      v1 = await readV1(this.file);
    } catch (err) {
      return { warning: `record ${this.file} could not be read (${describe(err)}); rebuilding it` };
    }
    const n = v1.record.size;
    for (const [p, e] of v1.record) {
      this.journal.put(p, fieldsOf(e), true);
      v1.record.delete(p); // one copy at a time
    }
    try {
      await this.serial(() => io.runAsync(this.compaction('pass')));
    } catch (err) {
      // Nothing lost: the entries wait in memory and the next save writes them as a base.
      const why = `record ${this.file} could not be rewritten in format 2 (${describe(err)}); it will be at the next save`;
      return { warning: v1.warning ? `${v1.warning}; ${why}` : why };
    }
    return { ...(v1.warning ? { warning: v1.warning } : {}), info: `record ${this.file} migrated to format 2 (${n} entries)` };
  }

  /** The base holds nothing: every path the journal changes is new to it. */
  private baseEmpty(): boolean {
    return !this.hasBase || this.baseCount === 0;
  }

  /** Journal lines a commit tolerates before compacting. */
  private journalLimit(): number {
    return Math.max(this.journalMin, this.size / JOURNAL_SHARE);
  }

  /** Runs saves one at a time, in call order; a failed one does not stop the next. */
  private serial(op: () => Promise<void>): Promise<void> {
    const run = this.queue.then(op);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** One save, in the queue: a whole base when due (none yet, too much journal in memory, or a commit that finds it big or damaged), else an append. */
  private save(ending: boolean): Promise<void> {
    const big = this.journalLines + this.pending.size > this.journalLimit();
    if (!this.hasBase || this.journal.entries > this.journalMemoryMax || (ending && (this.rewrite || big))) return io.runAsync(this.compaction('pass'));
    return io.runAsync(this.appending('pass'));
  }

  /** A cursor over the base (as far as it is readable) with `view` laid over it. */
  private cursor(view: JournalView, onDamage?: () => void): GroupCursor {
    const gen = this.gen;
    const damaged = (d: Damage): void => {
      onDamage?.();
      if (gen === this.gen) this.damaged(d);
    };
    const learn = (dir: string, name: string, c: Change, inBase: boolean): void => {
      if (gen === this.gen) this.journal.learn(dir, name, c, inBase);
    };
    return new GroupCursor(this.openBase(damaged), view, learn);
  }

  /** The base's groups, positioned after a checked header. */
  private openBase(damaged: (d: Damage) => void): BaseCursor {
    const none = new BaseCursor(undefined, 0, 0, damaged);
    if (!this.hasBase || this.limit <= 2) return none;
    let lines: LineReader | undefined;
    let first: string | undefined;
    try {
      lines = new LineReader(openSync(this.file, 'r'));
      first = lines.next();
    } catch (err) {
      lines?.close();
      damaged({ line: 1, kept: 0, reason: describe(err) });
      return none;
    }
    const h = first === undefined ? undefined : parseHeader(first, this.source, this.replica);
    if (h?.kind !== 'v2') {
      lines.close();
      damaged({ line: 1, kept: 0 });
      return none;
    }
    return new BaseCursor(lines, this.limit, h.entries, damaged);
  }

  /** Damage found while reading the base: keep what came before it, say so once, rewrite at the next commit. */
  private damaged(d: Damage): void {
    if (d.line >= this.limit) return;
    this.limit = d.line;
    this.rewrite = true;
    this.baseCount = d.kept;
    // Nothing of it is usable: a journal appended to it would be lost with it, so the next save writes a base.
    if (d.line <= 1) this.hasBase = false;
    const where = d.reason ? `could not be read at line ${d.line} (${d.reason})` : `is damaged at line ${d.line}`;
    this.warnings.push(`record ${this.file} ${where}; keeping the entries before it and rebuilding the rest`);
  }

  /** The new base is in place: the journal keeps only what came after `mark`. */
  private based(written: number, mark: number, merged: JournalView, trusted: boolean): void {
    this.gen++;
    this.hasBase = true;
    this.baseCount = written;
    this.limit = Number.POSITIVE_INFINITY;
    this.rewrite = false;
    this.journal.rebase(mark, merged, trusted);
    for (const [p, c] of this.pending) if (c.seq <= mark) this.pending.delete(p);
  }

  /**
   * Merges base + journal into a new base (temp file, fsync, rename, fsync the folder), then drops the journal.
   * A pass's compaction gives way to a hard stop that saves while it runs; a hard stop's own runs
   * through without a pause, so the epoch and generation checks always pass for it.
   */
  private *compaction(by: Saver): io.Steps<void> {
    const epoch = this.flushes;
    const gen = this.gen;
    const mark = this.journal.mark;
    const view = this.journal.view();
    const dir = path.dirname(this.file);
    // One fixed temp name: a compaction killed half-way leaves one stale file that the next overwrites.
    // A hard stop has its own, as it may cut into a pass's compaction that is writing `.tmp`.
    const tmp = by === 'hard stop' ? `${this.file}.abort.tmp` : `${this.file}.tmp`;
    let written = 0;
    let trusted = true;
    try {
      yield* io.mkdirp(dir);
      if (this.staleJournal) {
        // Before the base: a crash in between must not pair someone else's journal with it.
        yield* io.unlinkIfThere(this.journalFile);
        this.staleJournal = false;
        this.journalOnDisk = false;
      }
      const cur = this.cursor(view, () => {
        trusted = false;
      });
      try {
        const fd = yield* io.open(tmp, 'w', 0o600);
        try {
          yield* io.write(fd, `${headerLine(this.source, this.replica, 0)}\n`);
          for (const chunk of mergedText(cur, (n) => (written += n))) yield* io.write(fd, chunk);
          yield* io.write(fd, headerLine(this.source, this.replica, written), 0);
          yield* io.fsync(fd);
        } finally {
          yield* io.close(fd);
        }
      } finally {
        cur.close();
      }
      // A hard stop saved while this was written: its save holds more, and stands.
      if (this.flushes !== epoch) {
        yield* io.unlink(tmp);
        return;
      }
      yield* io.rename(tmp, this.file);
    } catch (err) {
      try {
        yield* io.unlink(tmp);
      } catch {
        // never created
      }
      throw new FsOpError('write the record', this.file, err);
    }
    if (this.gen === gen) this.based(written, mark, view, trusted);
    yield* io.syncDir(dir);
    // Every journal line is in the new base now; unless a hard stop appended meanwhile, drop them.
    if (this.flushes === epoch) yield* this.dropJournal();
  }

  /** Removes the journal after a compaction put its lines in the base. */
  private *dropJournal(): io.Steps<void> {
    try {
      yield* io.unlinkIfThere(this.journalFile);
      this.journalOnDisk = false;
    } catch {
      // Its lines are all in the base: cut it to nothing before the next append instead.
      this.journalTorn = true;
    }
    this.journalBytes = 0;
    this.journalLines = 0;
  }

  /**
   * Appends the pending changes to the journal (cutting a torn tail off first) and fdatasyncs it.
   * A pass's append takes them out of `pending` while it writes, so changes made meanwhile wait for
   * the next one, and shows their text as `inflight`, so a hard stop cutting in writes it too.
   */
  private *appending(by: Saver): io.Steps<void> {
    const hard = by === 'hard stop';
    const taken = this.pending;
    // A hard stop may cut into a pass's append: what that one is writing might never reach the disk.
    let text = hard ? this.inflight : '';
    for (const [p, c] of taken) text += `${lineOf(p, c)}\n`;
    if (text === '') return;
    const counted = (): void => {
      this.journalTorn = false;
      this.journalBytes += Buffer.byteLength(text);
    };
    if (!hard) {
      this.pending = new Map();
      this.inflight = text;
    }
    try {
      const fd = yield* io.open(this.journalFile, 'a', 0o600);
      try {
        if (this.journalTorn) yield* io.truncate(fd, this.journalBytes);
        yield* io.write(fd, text);
        // Nothing cuts into a hard stop and its write loops to the end, so its text is whole lines in the
        // file even if the fdatasync fails; a pass's is one call that may come up short, so it counts at the end.
        if (hard) counted();
        yield* io.fdatasync(fd);
      } finally {
        yield* io.close(fd);
      }
      if (!this.journalOnDisk) {
        yield* io.syncDir(path.dirname(this.file));
        this.journalOnDisk = true;
      }
    } catch (err) {
      // A hard stop's changes are still pending, and flushSync reports its failure; a write cut
      // short is cut back off before any later append.
      if (hard) {
        this.journalTorn = true;
        throw err;
      }
      // Part of the text may be on disk: it is cut off before the next append, which writes it all again.
      for (const [p, c] of taken) if (!this.pending.has(p)) this.pending.set(p, c);
      this.journalTorn = true;
      throw new FsOpError('append to the record', this.journalFile, err);
    } finally {
      if (!hard) this.inflight = '';
    }
    if (!hard) counted();
    this.journalLines += taken.size;
    if (hard) taken.clear();
  }
}

/** The text of a new base, in chunks: every group of the cursor. */
function* mergedText(cur: GroupCursor, counted: (n: number) => void): Generator<string> {
  let buf = '';
  for (let g = cur.takeLines(); g !== undefined; g = cur.takeLines()) {
    if (g.lines.length === 0) continue;
    counted(g.lines.length);
    buf += `${groupLine(g.dir)}\n`;
    for (const line of g.lines) {
      buf += `${line}\n`;
      if (buf.length >= WRITE_CHUNK) {
        yield buf;
        buf = '';
      }
    }
  }
  if (buf !== '') yield buf;
}

/** The record's default path: one file per source/replica pair under the XDG state folder. */
export function defaultRecordPath(source: string, replica: string, env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(homedir(), '.local', 'state');
  const id = createHash('sha256').update(`${source}\0${replica}`).digest('hex').slice(0, 16);
  const name = path.basename(source).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'root';
  return path.join(base, 'foldersync', `${name}-${id}.record`);
}
