import { isGone } from '../errors.js';
import type { RemoteEnd } from '../remote/remote-end.js';
import type { Entry } from '../sync/types.js';
import { sftpStat } from './sftp.js';
import { sftpEntry } from './sftp-entry.js';
import type { OpenedSource, SourceFiles } from './source-files.js';

/** Bytes per SFTP read request: OpenSSH's sftp-server answers at most 256 KiB; 64 KiB keeps latency per request low. */
const READ_CHUNK = 64 * 1024;
/** Read requests in flight per file: enough to fill a LAN's pipe without waiting a round trip per chunk. */
const READ_AHEAD = 16;

/**
 * The files of a source on another machine. SFTP has no O_NOFOLLOW: the path is lstat'ed as a
 * regular file, then opened, and the open file's size and mtime must match that lstat (a link
 * swapped in between would show other attributes); after the copy it is lstat'ed again.
 */
export class SftpSourceFiles implements SourceFiles {
  constructor(private readonly end: RemoteEnd) {}

  /** Opens a remote regular file for a pipelined, rate-limited read. */
  async open(rel: string): Promise<OpenedSource | 'vanished' | 'not-regular'> {
    const io = this.end.sftp;
    const p = this.end.abs(rel);
    let handle: Buffer;
    let st: Entry;
    try {
      const before = await io.lstat(p);
      if (!before.isFile()) return 'not-regular';
      handle = await io.open(p, 'r');
      const opened = await io.fstat(handle, p);
      const e = sftpEntry(rel, opened);
      if (!opened.isFile() || e === null || opened.size !== before.size || opened.mtime !== before.mtime) {
        await io.close(handle, p).catch(() => undefined);
        return 'not-regular';
      }
      st = e;
    } catch (err) {
      if (isGone(err)) return 'vanished';
      throw err;
    }
    const end = this.end;
    let closed = false;
    return {
      st,
      chunks: (signal?: AbortSignal) => readAll(end, handle, p, signal),
      close: async () => {
        if (closed) return;
        closed = true;
        await io.close(handle, p).catch(() => undefined);
      },
    };
  }

  /** lstats a remote source path. */
  stat(rel: string): Promise<Entry | null> {
    return sftpStat(this.end, rel);
  }
}

/** Reads a whole remote file in order, READ_AHEAD requests in flight. */
async function* readAll(end: RemoteEnd, h: Buffer, p: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const io = end.sftp;
  const pending: Promise<Buffer>[] = [];
  let pos = 0;
  let eof = false;
  const request = (): void => {
    const at = pos;
    pos += READ_CHUNK;
    pending.push(
      (async () => {
        await end.throttle?.take(READ_CHUNK, signal);
        const buf = Buffer.allocUnsafe(READ_CHUNK);
        let got = 0;
        // A server may answer with fewer bytes than asked mid-file: read on until the chunk is full or the file ends.
        while (got < READ_CHUNK) {
          const n = await io.read(h, p, buf.subarray(got), READ_CHUNK - got, at + got);
          if (n === 0) break;
          got += n;
        }
        return buf.subarray(0, got);
      })(),
    );
  };
  try {
    for (let i = 0; i < READ_AHEAD; i++) request();
    while (pending.length > 0) {
      signal?.throwIfAborted();
      const buf = await pending.shift()!;
      if (buf.length < READ_CHUNK) eof = true;
      if (buf.length > 0) yield buf;
      if (eof) break;
      request();
    }
  } finally {
    // Requests still in flight are answered and dropped; their errors are not this copy's.
    for (const q of pending) q.catch(() => undefined);
  }
}
