import { createHash } from 'node:crypto';
import { createReadStream, appendFileSync, openSync, fsyncSync, closeSync, mkdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { FsOpError, describe, errCode } from '../errors.js';
import type { EntryKind, FileRecord, HashAlgo, RecordEntry } from './types.js';

/**
 * The file record on disk: a header line, then one JSON array a line. `["+", path, …]` puts an
 * entry, `["-", path]` removes one. A pass appends only what changed (and fsyncs it at
 * checkpoints), so a pass over a million unchanged files writes nothing; the file is rewritten
 * (temp file, fsync, rename) only when the appended lines outgrow the live entries.
 */
export class RecordStore {
  private pending: string[] = [];
  private journal = 0;
  private rewrite: boolean;

  private constructor(
    readonly file: string,
    private readonly header: string,
    readonly record: FileRecord,
    journal: number,
    rewrite: boolean,
  ) {
    this.journal = journal;
    this.rewrite = rewrite;
  }

  /** Loads the record; a missing, foreign, truncated or corrupt one is a warning, not a failure. */
  static async load(file: string, source: string, replica: string): Promise<{ store: RecordStore; warning?: string }> {
    const header = JSON.stringify({ foldersync: 1, source, replica });
    const record: FileRecord = new Map();
    let lines = 0;
    let warning: string | undefined;
    let rewrite = false;
    try {
      let first = true;
      await eachLine(file, (line) => {
        if (first) {
          first = false;
          if (line !== header) {
            warning = `record ${file} belongs to another source/replica pair or version; starting a new one`;
            rewrite = true;
            return false;
          }
          return true;
        }
        if (!applyLine(record, line)) {
          warning = `record ${file} is damaged at line ${lines + 2}; keeping the ${record.size} entries before it and rebuilding the rest`;
          rewrite = true;
          return false;
        }
        lines++;
        return true;
      });
      if (first) {
        warning = `record ${file} is empty; rebuilding it`;
        rewrite = true;
      } else if (!rewrite && !(await endsWithNewline(file))) {
        // A torn append: the next line must not be glued onto this one, so start afresh.
        rewrite = true;
      }
    } catch (err) {
      if (errCode(err) !== 'ENOENT') warning = `record ${file} could not be read (${describe(err)}); rebuilding it`;
      record.clear();
      rewrite = true;
    }
    return { store: new RecordStore(file, header, record, lines, rewrite), ...(warning ? { warning } : {}) };
  }

  /** Records what is now true at a replica path. */
  set(p: string, e: RecordEntry): void {
    this.record.set(p, e);
    this.pending.push(encode(p, e));
  }

  /** Forgets a replica path. */
  delete(p: string): void {
    if (this.record.delete(p)) this.pending.push(JSON.stringify(['-', p]));
  }

  /** Number of changes not yet on disk. */
  get unsaved(): number {
    return this.pending.length;
  }

  /** Makes every change so far durable (append + fsync, or a full rewrite when due). */
  async checkpoint(): Promise<void> {
    if (this.rewrite) return this.compact();
    if (this.pending.length === 0) return;
    const text = `${this.pending.join('\n')}\n`;
    const n = this.pending.length;
    this.pending = [];
    try {
      const fh = await open(this.file, 'a');
      try {
        await fh.write(text);
        await fh.datasync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      // Part of the text may be on disk: only a full rewrite from memory is sure to be whole.
      this.rewrite = true;
      throw new FsOpError('append to the record', this.file, err);
    }
    this.journal += n;
  }

  /** Ends a pass: saves, and rewrites the file when the journal has grown past the live entries. */
  async commit(): Promise<void> {
    await this.checkpoint();
    if (this.journal > Math.max(1000, 2 * this.record.size)) await this.compact();
  }

  /** Saves pending changes synchronously: for a hard stop that cannot wait. */
  flushSync(): void {
    // No valid file yet (first pass, or a damaged one): only a whole new file can hold the entries.
    if (this.rewrite) {
      this.compactSync();
      return;
    }
    if (this.pending.length === 0) return;
    const text = `${this.pending.join('\n')}\n`;
    this.pending = [];
    appendFileSync(this.file, text);
    const fd = openSync(this.file, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * compact(), synchronously, for a hard stop. Its own temp name: an async compaction may be
   * writing `.tmp` right now; whichever renames last leaves a complete record either way.
   */
  private compactSync(): void {
    const tmp = `${this.file}.abort.tmp`;
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      const fd = openSync(tmp, 'w', 0o600);
      try {
        let buf = `${this.header}\n`;
        for (const [p, e] of this.record) {
          buf += `${encode(p, e)}\n`;
          if (buf.length > 1 << 20) {
            writeSync(fd, buf);
            buf = '';
          }
        }
        writeSync(fd, buf);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.file);
    } catch (err) {
      try {
        unlinkSync(tmp);
      } catch {
        // never created
      }
      throw new FsOpError('write the record', this.file, err);
    }
    this.pending = [];
    this.journal = this.record.size;
    this.rewrite = false;
  }

  /** Writes the whole record to a temp file, fsyncs it and renames it over the old one. */
  private async compact(): Promise<void> {
    // One fixed temp name: a write killed half-way leaves one stale file that the next
    // compaction overwrites, never a growing pile.
    const tmp = `${this.file}.tmp`;
    // The pass goes on recording while the file is written: changes queued before now are in
    // the Map and so in the new file; later ones may have been missed, so they stay queued.
    const settled = this.pending.length;
    let written = 0;
    try {
      await mkdir(path.dirname(this.file), { recursive: true });
      const fh = await open(tmp, 'w', 0o600);
      try {
        let buf = `${this.header}\n`;
        for (const [p, e] of this.record) {
          buf += `${encode(p, e)}\n`;
          written++;
          if (buf.length > 1 << 20) {
            await fh.write(buf);
            buf = '';
          }
        }
        await fh.write(buf);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.file);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw new FsOpError('write the record', this.file, err);
    }
    const dir = await open(path.dirname(this.file), 'r');
    await dir.sync().catch(() => undefined);
    await dir.close();
    this.pending = this.pending.slice(settled);
    this.journal = written;
    this.rewrite = false;
  }
}

/**
 * Calls `take` with each line of a file (without its newline) until it returns false. Reads
 * 1 MiB chunks and splits them itself: readline's per-line events cost more than the parsing.
 */
async function eachLine(file: string, take: (line: string) => boolean): Promise<void> {
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  let rest = '';
  try {
    for await (const chunk of stream) {
      const text = rest + (chunk as string);
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        if (!take(text.slice(start, nl))) return;
        start = nl + 1;
      }
      rest = text.slice(start);
    }
    if (rest !== '') take(rest);
  } finally {
    stream.destroy();
  }
}

/** True when the file's last byte is a newline (an append finished its line). */
async function endsWithNewline(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    if (size === 0) return true;
    const { bytesRead, buffer } = await fh.read(Buffer.alloc(1), 0, 1, size - 1);
    return bytesRead === 1 && buffer[0] === 0x0a;
  } finally {
    await fh.close();
  }
}

/** One record line for a put. */
function encode(p: string, e: RecordEntry): string {
  return JSON.stringify(['+', p, e.kind[0], e.size, e.mtimeMs, e.mode, e.rIno, e.rCtimeMs, e.sIno, e.sDev, e.sCtimeMs, e.hash ?? 0, e.algo ?? 0, e.target ?? 0]);
}

const KINDS: Record<string, EntryKind> = { f: 'file', d: 'dir', s: 'symlink' };

function applyLine(record: FileRecord, line: string): boolean {
  let a: unknown;
  try {
    a = JSON.parse(line);
  } catch {
    return false;
  }
  if (!Array.isArray(a) || typeof a[1] !== 'string') return false;
  if (a[0] === '-') {
    record.delete(a[1]);
    return true;
  }
  const kind = KINDS[a[2] as string];
  if (a[0] !== '+' || a.length !== 14 || !kind) return false;
  // Checked one by one: this runs once per record line, a million times for a million files.
  for (let i = 3; i < 11; i++) if (typeof a[i] !== 'number') return false;
  const e: { -readonly [K in keyof RecordEntry]: RecordEntry[K] } = {
    kind,
    size: a[3] as number,
    mtimeMs: a[4] as number,
    mode: a[5] as number,
    rIno: a[6] as number,
    rCtimeMs: a[7] as number,
    sIno: a[8] as number,
    sDev: a[9] as number,
    sCtimeMs: a[10] as number,
  };
  if (typeof a[11] === 'string') e.hash = a[11];
  if (a[12] === 'sha256' || a[12] === 'md5') e.algo = a[12] as HashAlgo;
  if (typeof a[13] === 'string') e.target = a[13];
  record.set(a[1], e);
  return true;
}

/** The record's default path: one file per source/replica pair under the XDG state folder. */
export function defaultRecordPath(source: string, replica: string, env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(homedir(), '.local', 'state');
  const id = createHash('sha256').update(`${source}\0${replica}`).digest('hex').slice(0, 16);
  const name = path.basename(source).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'root';
  return path.join(base, 'foldersync', `${name}-${id}.record`);
}
