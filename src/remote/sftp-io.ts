import type { Attributes, FileEntryWithStats, InputAttributes, SFTPWrapper, Stats } from 'ssh2';
import type { SshSession } from './connect.js';

/** SFTP status codes (draft-ietf-secsh-filexfer-02) as the errno names the rest of foldersync knows. */
const STATUS: Record<number, [string, string]> = {
  1: ['EOF', 'end of file'],
  2: ['ENOENT', 'no such file or directory'],
  3: ['EACCES', 'permission denied'],
  4: ['EIO', 'the server refused the operation'],
  5: ['EINVAL', 'bad message'],
  6: ['ECONNRESET', 'no connection'],
  7: ['ECONNRESET', 'connection lost'],
  8: ['ENOTSUP', 'operation not supported by the server'],
};

/**
 * The SFTP requests foldersync makes, as promises with errno-style errors (`ENOENT: no such
 * file or directory`), over one session: once the connection dropped, every request fails at
 * once with the session's reason instead of waiting for a reply that cannot come.
 */
export class Sftp {
  constructor(readonly session: SshSession) {}

  private get s(): SFTPWrapper {
    return this.session.sftp;
  }

  private call<T>(op: string, p: string, f: (cb: (err: Error | undefined | null, v?: T) => void) => void): Promise<T> {
    const lost = this.session.lost;
    if (lost) return Promise.reject(lost);
    return new Promise<T>((resolve, reject) => {
      const untrack = this.session.track(reject);
      try {
        f((err, v) => {
          untrack();
          if (err) reject(this.mapError(err, op, p));
          else resolve(v as T);
        });
      } catch (err) {
        untrack();
        reject(this.mapError(err as Error, op, p));
      }
    });
  }

  /** A protocol error as an errno-style one; any error after a drop is the drop. */
  private mapError(err: Error, op: string, p: string): Error {
    if (this.session.lost) return this.session.lost;
    const code = (err as Error & { code?: unknown }).code;
    const known = typeof code === 'number' ? STATUS[code] : undefined;
    const [name, text] = known ?? ['EIO', err.message];
    const detail = err.message && known && err.message.toLowerCase() !== text && err.message !== 'Failure' ? `${text}: ${err.message}` : text;
    return Object.assign(new Error(`${name}: ${detail}, ${op} '${p}'`, { cause: err }), { code: name });
  }

  /** lstat: never follows a final symlink. */
  lstat(p: string): Promise<Stats> {
    return this.call('lstat', p, (cb) => this.s.lstat(p, cb));
  }

  /** stat of an open file. */
  fstat(h: Buffer, p: string): Promise<Stats> {
    return this.call('fstat', p, (cb) => this.s.fstat(h, cb));
  }

  /** A folder's names with their lstat attributes, in one round trip per batch (`.` and `..` dropped). */
  async readdir(p: string): Promise<FileEntryWithStats[]> {
    const list = await this.call<FileEntryWithStats[]>('readdir', p, (cb) => this.s.readdir(p, cb));
    return list.filter((e) => e.filename !== '.' && e.filename !== '..');
  }

  /** A symlink's target text. */
  readlink(p: string): Promise<string> {
    return this.call('readlink', p, (cb) => this.s.readlink(p, cb));
  }

  /** The path the server resolves `p` to (links followed, `..` removed). */
  realpath(p: string): Promise<string> {
    return this.call('realpath', p, (cb) => this.s.realpath(p, cb));
  }

  mkdir(p: string, mode: number): Promise<void> {
    return this.call('mkdir', p, (cb) => this.s.mkdir(p, { mode }, cb));
  }

  rmdir(p: string): Promise<void> {
    return this.call('rmdir', p, (cb) => this.s.rmdir(p, cb));
  }

  unlink(p: string): Promise<void> {
    return this.call('unlink', p, (cb) => this.s.unlink(p, cb));
  }

  /** rename(2) on the server: replaces the destination, never follows a link there (posix-rename@openssh.com). */
  rename(from: string, to: string): Promise<void> {
    return this.call('rename', `${from} -> ${to}`, (cb) => this.s.ext_openssh_rename(from, to, cb));
  }

  /** Makes `to` another name of the file `from` (hardlink@openssh.com; link(2) on the server: fails if `to` exists). */
  hardlink(from: string, to: string): Promise<void> {
    return this.call('hard-link', `${to} -> ${from}`, (cb) => this.s.ext_openssh_hardlink(from, to, cb));
  }

  /** Creates a symlink holding `target` at `p`. */
  symlink(target: string, p: string): Promise<void> {
    return this.call('symlink', p, (cb) => this.s.symlink(target, p, cb));
  }

  /** Sets mode and/or times of a path (the server follows a final link: lstat it first). */
  setstat(p: string, attrs: InputAttributes): Promise<void> {
    return this.call('setstat', p, (cb) => this.s.setstat(p, attrs, cb));
  }

  /** Sets mode and/or times of an open file. */
  fsetstat(h: Buffer, p: string, attrs: InputAttributes): Promise<void> {
    return this.call('fsetstat', p, (cb) => this.s.fsetstat(h, attrs, cb));
  }

  /** Opens a file: `r` to read, `wx` to create a new one (never an existing name, never through a link there). */
  open(p: string, flags: 'r' | 'wx', mode = 0o600): Promise<Buffer> {
    return this.call('open', p, (cb) => this.s.open(p, flags, { mode }, cb));
  }

  close(h: Buffer, p: string): Promise<void> {
    return this.call('close', p, (cb) => this.s.close(h, cb));
  }

  /** Writes `len` bytes of `buf` at `pos` (split by ssh2 into the server's packet size). */
  write(h: Buffer, p: string, buf: Buffer, len: number, pos: number): Promise<void> {
    return this.call('write', p, (cb) => this.s.write(h, buf, 0, len, pos, cb));
  }

  /** Reads up to `len` bytes at `pos`; 0 at the end of the file. */
  async read(h: Buffer, p: string, buf: Buffer, len: number, pos: number): Promise<number> {
    try {
      return await this.call<number>('read', p, (cb) => this.s.read(h, buf, 0, len, pos, (err, n) => cb(err, n)));
    } catch (err) {
      if ((err as { code?: string }).code === 'EOF') return 0;
      throw err;
    }
  }
}

/** SFTP attributes carry whole seconds: the mtime in ms foldersync compares. */
export function mtimeMsOf(a: Attributes): number {
  return a.mtime * 1000;
}
