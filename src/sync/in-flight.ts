import { unlinkSync } from 'node:fs';

/**
 * The temp files one pass is writing right now. A hard stop cannot wait for the copies to
 * settle, so it removes these synchronously before the process exits; a temp file left by an
 * exit in between is stale and removed by the next pass. One per pass: no process-wide state.
 */
export class InFlight {
  private readonly paths = new Set<string>();

  /** A temp file is about to be written. */
  add(p: string): void {
    this.paths.add(p);
  }

  /** A temp file was renamed into place or removed. */
  delete(p: string): void {
    this.paths.delete(p);
  }

  /** Removes every temp file still being written (on a hard abort, synchronously). */
  removeAll(): void {
    for (const p of this.paths) {
      try {
        unlinkSync(p);
      } catch {
        // already renamed into place or never created: nothing to clean
      }
    }
    this.paths.clear();
  }
}
