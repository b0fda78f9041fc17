import { ancestors } from './paths.js';
import type { Entry, Snapshot } from './types.js';

/**
 * Pure, for --include: leaves out of a pass's source listing the folders it walked only on the
 * way to the includes that hold nothing included and are not in the replica yet, so the
 * replica gets only the folders that lead somewhere. A folder already in the replica is the
 * planner's as usual. (A first copy defers such folders as it walks: see SeedWays.)
 */
export function dropEmptyWays(source: Snapshot, replica: Snapshot, onTheWay: (rel: string) => boolean): void {
  const candidates = new Set<string>();
  for (const e of source.entries.values()) if (e.kind === 'dir' && !replica.entries.has(e.path) && onTheWay(e.path)) candidates.add(e.path);
  if (candidates.size === 0) return;
  const holding = new Set<string>();
  for (const p of source.entries.keys()) {
    if (candidates.has(p)) continue;
    for (const a of ancestors(p)) holding.add(a);
  }
  for (const d of candidates) if (!holding.has(d)) source.entries.delete(d);
}

/**
 * A first copy's folders on the way to the includes: each is created only once something below
 * it is, then with the folders above it that wait too (outermost first).
 */
export class SeedWays {
  private readonly waiting = new Map<string, Entry>();

  /** Holds a folder back until something is created below it. */
  hold(e: Entry): void {
    this.waiting.set(e.path, e);
  }

  /** The held folders above `rel` (outermost first), now to be created; they wait no more. */
  release(rel: string): Entry[] {
    const out: Entry[] = [];
    for (const a of ancestors(rel)) {
      const e = this.waiting.get(a);
      if (e === undefined) continue;
      this.waiting.delete(a);
      out.push(e);
    }
    return out;
  }
}
