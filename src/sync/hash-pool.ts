import { availableParallelism } from 'node:os';
import type { Piscina } from 'piscina';
import type { HashAlgo } from './types.js';

/** What hashing one file gives: a hash of a version that held still, or why not. */
export type HashResult =
  | { status: 'ok'; hash: string; bytes: number; size: number; mtimeMs: number; ctimeMs: number; ino: number }
  | { status: 'gone' }
  | { status: 'changed' };

/** Default worker count: one per core, so hashing uses the machine without starving the I/O. */
export function defaultHashThreads(): number {
  return Math.max(1, availableParallelism());
}

/**
 * A pool of worker threads that hash files off the main thread. Workers start on first use
 * and exit when idle, so a daemon between passes holds none.
 */
export class HashPool {
  private pool: Piscina | undefined;

  constructor(private readonly threads = defaultHashThreads()) {}

  /** Hashes one file; rejects with an AbortError when `signal` fires. */
  async hash(path: string, algo: HashAlgo, signal?: AbortSignal): Promise<HashResult> {
    if (!this.pool) {
      // Loaded on first use: most passes hash nothing, and every run pays for its import.
      const { Piscina } = await import('piscina');
      this.pool ??= new Piscina({
        filename: new URL('./hash-worker.js', import.meta.url).href,
        minThreads: 0,
        maxThreads: this.threads,
        idleTimeout: 2_000,
      });
    }
    return (await this.pool.run({ path, algo }, signal ? { signal } : {})) as HashResult;
  }

  /** Number of live worker threads (0 after close or when idle). */
  get threadCount(): number {
    return this.pool?.threads.length ?? 0;
  }

  /** Stops all workers; idempotent. */
  async close(): Promise<void> {
    const p = this.pool;
    this.pool = undefined;
    await p?.destroy();
  }
}
