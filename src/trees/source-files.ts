import { closeSync, createReadStream, readSync } from 'node:fs';
import { FsOpError } from '../errors.js';
import { openSourceFile } from '../sync/source-file.js';
import type { Entry } from '../sync/types.js';
import { statEntry, toEntry } from './local.js';

/** A source file open for copying: the version being read, and its bytes in order. */
export interface OpenedSource {
  /** The file as it was when opened: compared with a stat after the copy. */
  readonly st: Entry;
  /** The bytes, in order, from the start. */
  chunks(signal?: AbortSignal): AsyncIterable<Buffer>;
  close(): Promise<void>;
}

/**
 * Where a copy into another machine's replica (or from another machine's source) reads from:
 * the source tree's files, opened without following a symlink, and stat'ed again afterwards
 * (a file that changed while it was read is not placed).
 */
export interface SourceFiles {
  /** Opens a regular file of the source; why not, when it is gone or no longer a regular file. */
  open(rel: string): Promise<OpenedSource | 'vanished' | 'not-regular'>;
  /** lstats a source path; null when it is gone. */
  stat(rel: string): Promise<Entry | null>;
}

/** Bytes per read of a local source file streamed to a remote replica. */
const LOCAL_CHUNK = 256 * 1024;

/** A local source folder's files, opened as copyAtomic opens them (no link followed on the way). */
export class LocalSourceFiles implements SourceFiles {
  constructor(private readonly root: string) {}

  /** Opens through a descriptor proven to be the file at `rel`. */
  async open(rel: string): Promise<OpenedSource | 'vanished' | 'not-regular'> {
    const f = openSourceFile(this.root, rel);
    if (f === 'vanished') return 'vanished';
    if (typeof f === 'string') return 'not-regular';
    let closed = false;
    return {
      st: toEntry(rel, f.st)!,
      chunks: (signal?: AbortSignal) =>
        f.st.size <= LOCAL_CHUNK
          ? smallFile(f.fd, f.st.size)
          : createReadStream('', { fd: f.fd, autoClose: false, start: 0, highWaterMark: LOCAL_CHUNK, ...(signal ? { signal } : {}) }),
      close: async () => {
        if (closed) return;
        closed = true;
        try {
          closeSync(f.fd);
        } catch (err) {
          throw new FsOpError('close', rel, err);
        }
      },
    };
  }

  /** lstats a source path. */
  stat(rel: string): Promise<Entry | null> {
    return statEntry(this.root, rel);
  }
}

/**
 * A small file's bytes in one buffer of its size, read synchronously: a stream would allocate
 * its whole chunk for each file (a first copy of many small files spent a sixth of its time
 * collecting those), and a read of a file the listing just touched takes microseconds.
 */
async function* smallFile(fd: number, size: number): AsyncGenerator<Buffer> {
  // One byte more than lstat said: a file that grew since shows as changed, not cut short.
  const buf = Buffer.allocUnsafe(size + 1);
  let got = 0;
  for (;;) {
    const n = readSync(fd, buf, got, buf.length - got, got);
    if (n === 0) break;
    got += n;
    if (got === buf.length) break;
  }
  if (got > 0) yield buf.subarray(0, got);
}
