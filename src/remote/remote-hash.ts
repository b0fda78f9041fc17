import { createHash } from 'node:crypto';
import { isGone } from '../errors.js';
import type { HashResult } from '../sync/hash-pool.js';
import { sameVersion } from '../sync/copy.js';
import type { HashAlgo } from '../sync/types.js';
import { SftpSourceFiles } from '../trees/sftp-source.js';
import { sftpStat } from '../trees/sftp.js';
import type { RemoteEnd } from './remote-end.js';

/** The hex digest at the start of a `sha256sum`/`md5sum` line. */
const DIGEST_RE: Record<HashAlgo, RegExp> = { sha256: /^\\?([0-9a-f]{64}) /, md5: /^\\?([0-9a-f]{32}) / };

/**
 * Hashes files of a remote tree: on the server with `sha256sum`/`md5sum` over an exec channel
 * (no bytes cross the network), or, where the server allows no commands (an SFTP-only
 * account), by reading the file over SFTP. Either way the file is lstat'ed before and after:
 * a file that changed meanwhile has no hash.
 */
export class RemoteHasher {
  /** False once the server refused a command: every later file is read instead. */
  private canExec = true;

  constructor(private readonly end: RemoteEnd) {}

  /** Hashes one file of the tree. */
  async hash(rel: string, algo: HashAlgo, signal?: AbortSignal): Promise<HashResult> {
    const pre = await sftpStat(this.end, rel);
    if (pre === null || pre.kind !== 'file') return { status: 'gone' };
    let hash = this.canExec ? await this.onServer(rel, algo, signal) : null;
    hash ??= await this.byReading(rel, algo, signal);
    if (hash === null) return { status: 'gone' };
    const post = await sftpStat(this.end, rel);
    if (post === null) return { status: 'gone' };
    if (!sameVersion(pre, post)) return { status: 'changed' };
    return { status: 'ok', hash, bytes: pre.size, size: pre.size, mtimeMs: pre.mtimeMs, ctimeMs: pre.ctimeMs, ino: 0 };
  }

  private async onServer(rel: string, algo: HashAlgo, signal?: AbortSignal): Promise<string | null> {
    try {
      const r = await this.end.exec(`${algo}sum -b -- ${shellQuote(this.end.abs(rel))}`, signal);
      const m = DIGEST_RE[algo].exec(r.stdout);
      if (r.code === 0 && m) return m[1]!;
      // 1 is the command's own "cannot read that file"; anything else (126/127: no such
      // command, a forced SFTP-only account, a shell that prints other things) asks no more.
      if (r.code !== 1) this.canExec = false;
      return null;
    } catch (err) {
      signal?.throwIfAborted();
      if (this.end.lost()) throw err;
      this.canExec = false;
      return null;
    }
  }

  private async byReading(rel: string, algo: HashAlgo, signal?: AbortSignal): Promise<string | null> {
    const opened = await new SftpSourceFiles(this.end).open(rel);
    if (typeof opened === 'string') return null;
    try {
      const h = createHash(algo);
      for await (const chunk of opened.chunks(signal)) h.update(chunk);
      return h.digest('hex');
    } catch (err) {
      if (isGone(err)) return null;
      throw err;
    } finally {
      await opened.close();
    }
  }
}

/** A string as one POSIX shell word. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
