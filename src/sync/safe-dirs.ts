import { closeSync, constants, existsSync, openSync, readlinkSync, realpathSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { FsOpError, errCode } from '../errors.js';
import { abs, isWithin, parentOf } from './paths.js';

/** Linux names every open folder by the path the kernel resolved, and reopens it by fd. */
const PROC_FD = existsSync('/proc/self/fd') ? '/proc/self/fd' : null;
/** O_PATH (Linux; Node does not export it): a handle on the folder that needs no read permission. */
const O_PATH = (constants as Record<string, number>).O_PATH ?? 0o10000000;

const notRealFolder = (): Error =>
  Object.assign(new Error('not a real folder (a symlink or a file); refusing to write through it'), { code: 'ENOTDIR' });

/**
 * Guards every write under the replica: each folder on the way must be a real folder, never a
 * symlink, so nothing is ever written, moved or deleted outside the replica root. `within`
 * holds the folder open while the write happens, so a folder swapped for a link in between
 * cannot redirect it; `check` (lstat of each folder, remembered for the pass) is the fallback
 * where there is no /proc.
 */
export class SafeDirs {
  private readonly ok = new Set<string>(['']);
  private real: string | undefined;

  constructor(private readonly root: string) {}

  /**
   * Runs `fn` with a path that names the replica folder `rel` itself rather than its name: the
   * /proc link of an open descriptor of it, proven by the path the kernel resolved to be
   * `<replica>/<rel>` with no link on the way. Whatever happens to the names meanwhile, what
   * `fn` creates, renames or removes under that path stays in that folder.
   */
  async within<T>(rel: string, fn: (dir: string) => Promise<T>): Promise<T> {
    if (PROC_FD === null) {
      await this.check(rel);
      return fn(abs(this.root, rel));
    }
    let fd: number;
    try {
      // The root may be a link the user chose; every folder below it must not be.
      fd = openSync(abs(this.root, rel), O_PATH | constants.O_DIRECTORY | (rel === '' ? 0 : constants.O_NOFOLLOW));
    } catch (err) {
      const code = errCode(err);
      if (code === 'ELOOP' || code === 'ENOTDIR') throw new FsOpError('write under', rel, notRealFolder());
      throw new FsOpError('open folder', rel, err);
    }
    try {
      const dir = `${PROC_FD}/${fd}`;
      this.real ??= realpathSync(this.root);
      if (readlinkSync(dir) !== (rel === '' ? this.real : path.join(this.real, rel))) throw new FsOpError('write under', rel, notRealFolder());
      return await fn(dir);
    } finally {
      closeSync(fd);
    }
  }

  /** Throws unless `rel` and all its ancestors are real folders inside the replica. */
  async check(rel: string): Promise<void> {
    if (this.ok.has(rel)) return;
    await this.check(parentOf(rel));
    let isDir: boolean;
    try {
      isDir = (await lstat(abs(this.root, rel))).isDirectory();
    } catch (err) {
      throw new FsOpError('lstat', rel, err);
    }
    if (!isDir) throw new FsOpError('write under', rel, notRealFolder());
    this.ok.add(rel);
  }

  /** Remembers a folder this pass just created. */
  add(rel: string): void {
    this.ok.add(rel);
  }

  /** Forgets a folder and everything below it (it was renamed or removed). */
  forget(rel: string): void {
    for (const p of this.ok) if (p !== '' && isWithin(p, rel)) this.ok.delete(p);
  }

  /** True for errors that mean "a folder on the way is not there (any more)". */
  static isMissing(err: unknown): boolean {
    const code = err instanceof FsOpError ? err.code : errCode(err);
    return code === 'ENOENT';
  }
}
