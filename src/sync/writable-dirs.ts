import { chmod, stat } from 'node:fs/promises';
import { isWithin } from './paths.js';
import type { SafeDirs } from './safe-dirs.js';

/** Owner write and search: what creating, renaming and removing entries in a folder needs. */
const OWNER_WX = 0o300;

/**
 * Opens read-only replica folders for writing. A replica folder mirrors its source folder's
 * mode, so a read-only source folder (0555) makes a read-only replica folder that an
 * unprivileged user could never add to, replace in or delete from again. As rsync does, such a
 * folder gets owner write and search permission while the pass writes in it; the executor puts
 * the source's mode back at the end of the pass (and the next pass, if this one is cut short).
 */
export class WritableDirs {
  private readonly seen = new Map<string, Promise<boolean>>();

  constructor(private readonly safe: SafeDirs) {}

  /**
   * Makes sure the owner may create and remove entries in the folder `rel` (already checked to
   * be a real folder); true when its mode was changed and must be restored. A folder we cannot
   * chmod is left as it is: the write that follows reports the real error.
   */
  open(rel: string): Promise<boolean> {
    if (rel === '') return Promise.resolve(false);
    let p = this.seen.get(rel);
    if (!p) {
      p = this.openNow(rel);
      this.seen.set(rel, p);
    }
    return p;
  }

  /** Forgets a folder and everything below it (it was renamed or removed). */
  forget(rel: string): void {
    for (const p of this.seen.keys()) if (isWithin(p, rel)) this.seen.delete(p);
  }

  private async openNow(rel: string): Promise<boolean> {
    try {
      // Through the held folder itself: a folder swapped for a link cannot get someone else's file chmodded.
      return await this.safe.within(rel, async (dir) => {
        const st = await stat(dir);
        if (!st.isDirectory() || (st.mode & OWNER_WX) === OWNER_WX) return false;
        await chmod(dir, (st.mode & 0o7777) | OWNER_WX);
        return true;
      });
    } catch {
      return false;
    }
  }
}
