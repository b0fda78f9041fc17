import { closeSync, readSync } from 'node:fs';

/** Bytes read at a time: a read costs little next to parsing 64 KiB of lines, and a daemon keeps no big buffers. */
const CHUNK = 1 << 16;

/** Longer than any line foldersync writes (a 4096-byte path with every character escaped): a line that long is damage. */
const MAX_LINE = 1 << 20;

/**
 * The lines of an open file, read forward synchronously (the walk that reads the record is
 * synchronous) in 64 KiB chunks and split here on newline bytes: readline's events cost more
 * than the parsing, and splitting bytes keeps exact byte offsets and never cuts a UTF-8
 * sequence. Memory is two buffers used in turn, allocated at the first read (reading a header
 * line costs 128 KiB, not megabytes) and grown only for a line longer than a chunk. Owns the
 * descriptor: close() closes it.
 */
export class LineReader {
  private bufs: Buffer[] = [];
  private cur = 0;
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private eof = false;
  private closed = false;
  /** The number of the line last returned (1 for the first). */
  line = 0;
  /** False when the line last returned was cut off by the end of the file (no newline after it). */
  terminated = true;
  /** Bytes up to and including the newline of the last whole line returned. */
  offset = 0;

  constructor(private readonly fd: number) {}

  /** The next line without its newline; undefined at the end. Read errors are thrown. */
  next(): string | undefined {
    for (;;) {
      const nl = this.buf.indexOf(10, this.pos);
      if (nl >= 0) {
        const s = this.buf.toString('utf8', this.pos, nl);
        this.offset += nl + 1 - this.pos;
        this.pos = nl + 1;
        this.line++;
        return s;
      }
      const rest = this.buf.length - this.pos;
      if (this.eof || rest > MAX_LINE) {
        if (rest === 0) return undefined;
        // The end of the file without a newline, or a runaway line (returned unparseable): the last line.
        const s = rest > MAX_LINE ? '' : this.buf.toString('utf8', this.pos);
        this.pos = this.buf.length;
        this.eof = true;
        this.line++;
        this.terminated = false;
        return s;
      }
      this.fill(rest);
    }
  }

  /** Closes the file; later calls to next() see its end. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.eof = true;
    this.buf = Buffer.alloc(0);
    this.pos = 0;
    this.bufs = [];
    closeSync(this.fd);
  }

  /** Moves the `rest` unsplit bytes to the front of the other buffer and reads a chunk after them. */
  private fill(rest: number): void {
    const need = rest + CHUNK;
    let next = this.bufs[1 - this.cur];
    if (next === undefined || next.length < need) {
      next = Buffer.allocUnsafe(need);
      this.bufs[1 - this.cur] = next;
    }
    this.buf.copy(next, 0, this.pos);
    const n = readSync(this.fd, next, rest, CHUNK, null);
    this.cur = 1 - this.cur;
    this.buf = next.subarray(0, rest + n);
    this.pos = 0;
    if (n === 0) this.eof = true;
  }
}
