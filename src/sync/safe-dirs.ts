import { lstat } from 'node:fs/promises';
import { FsOpError, errCode } from '../errors.js';
import { abs, isWithin, parentOf } from './paths.js';

/**
 * Guards every write under the replica: each folder on the way must be a real folder, never a
 * symlink, so nothing is ever written, moved or deleted outside the replica root. Folders are
 * checked once per pass and remembered until a rename or removal could have changed them.
 */
export class SafeDirs {
  private readonly ok = new Set<string>(['']);

  constructor(private readonly root: string) {}

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
    if (!isDir) {
      const why = Object.assign(new Error('not a real folder (a symlink or a file); refusing to write through it'), { code: 'ENOTDIR' });
      throw new FsOpError('write under', rel, why);
    }
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
