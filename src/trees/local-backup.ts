import { lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { FsOpError, errCode, isGone } from '../errors.js';
import { ancestors, baseOf, joinRel, parentOf } from '../sync/paths.js';
import { SafeDirs } from '../sync/safe-dirs.js';

/** Where a local replica keeps old versions: `<dir>/<stamp>/<path>`. */
export interface LocalBackupOptions {
  /** The backup folder (absolute), on the replica's filesystem. */
  readonly dir: string;
  /** This pass's stamp folder name (YYYY-MM-DD_HHMMSS). */
  readonly stamp: string;
}

/**
 * The backup folder of a local replica. Every folder on the way into it is proven a real
 * folder (SafeDirs, as for the replica itself), so a link planted in the backup folder cannot
 * send an old version anywhere else.
 */
export class LocalBackupArea {
  private readonly safe: SafeDirs;
  /** Folders made (or found) this pass, relative to the backup folder. */
  private readonly made = new Set<string>();

  constructor(private readonly o: LocalBackupOptions) {
    this.safe = new SafeDirs(o.dir);
  }

  /** This pass's stamp folder name. */
  get stamp(): string {
    return this.o.stamp;
  }

  /**
   * Runs `fn` with a free OS path for the old version of `as` (its folders created, held by
   * SafeDirs): `<stamp>/<as>`, or `<as>~N` when an earlier pass of the same second kept one.
   */
  async place<T>(as: string, fn: (target: string) => Promise<T>): Promise<T> {
    const rel = joinRel(this.o.stamp, as);
    await this.folders(parentOf(rel));
    return this.safe.within(parentOf(rel), async (dir) => {
      for (let n = 0; ; n++) {
        const target = joinRel(dir, n === 0 ? baseOf(rel) : `${baseOf(rel)}~${n}`);
        if (!(await exists(target, rel))) return fn(target);
      }
    });
  }

  /** The stamp folders' names (the backup folder missing: none). */
  async stamps(): Promise<string[]> {
    try {
      return await readdir(this.o.dir);
    } catch (err) {
      if (isGone(err)) return [];
      throw new FsOpError('list', this.o.dir, err);
    }
  }

  /** Removes a stamp folder and everything in it. */
  async remove(stamp: string): Promise<void> {
    await this.safe.within('', async (dir) => {
      try {
        await rm(joinRel(dir, stamp), { recursive: true, force: true });
      } catch (err) {
        throw new FsOpError('remove old versions', joinRel(this.o.dir, stamp), err);
      }
    });
  }

  /** Creates the backup folder and the folders of `rel` in it, each through its held parent. */
  private async folders(rel: string): Promise<void> {
    if (this.made.has(rel)) return;
    try {
      await mkdir(this.o.dir, { recursive: true });
    } catch (err) {
      throw new FsOpError('mkdir', this.o.dir, err);
    }
    for (const d of [...ancestors(rel), rel]) {
      if (d === '' || this.made.has(d)) continue;
      await this.safe.within(parentOf(d), async (dir) => {
        try {
          await mkdir(joinRel(dir, baseOf(d)), { mode: 0o700 });
        } catch (err) {
          if (errCode(err) !== 'EEXIST') throw new FsOpError('mkdir', joinRel(this.o.dir, d), err);
        }
      });
      this.made.add(d);
    }
  }
}

async function exists(p: string, rel: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch (err) {
    if (isGone(err)) return false;
    throw new FsOpError('lstat', rel, err);
  }
}
