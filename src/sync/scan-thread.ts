import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { makeFilter } from './filter.js';
import { type ScanOptions, scan } from './scan.js';
import { FULL_SCOPE, isFull } from './scope.js';
import type { Entry, EntryKind, PathIssue, Snapshot } from './types.js';

/** What a scan worker is asked. */
export interface ScanJob {
  readonly root: string;
  readonly excludes: readonly string[];
  readonly specials: 'skip' | 'replace';
}

/** Entries packed for the trip between threads: one string array and one number array. */
export interface PackedEntries {
  readonly paths: string[];
  readonly kinds: Uint8Array;
  /** size, mtimeMs, ctimeMs, mode, ino, dev for each entry, in that order. */
  readonly nums: Float64Array;
  /** [index, link target] for symlinks. */
  readonly targets: [number, string][];
}

/** A scan worker's answer. */
export type ScanReply =
  | {
      readonly ok: true;
      readonly entries: PackedEntries;
      readonly excluded: PackedEntries;
      readonly issues: PathIssue[];
      readonly stale: string[];
      readonly skipped: string[];
    }
  | { readonly ok: false; readonly error: { message: string; code?: string; syscall?: string; path?: string } };

const KIND_CODES: readonly EntryKind[] = ['file', 'dir', 'symlink'];
const NUMS = 6;

/** Collects entries into a PackedEntries, growing its number array as needed. */
export class Packer {
  private readonly paths: string[] = [];
  private kinds = new Uint8Array(1024);
  private nums = new Float64Array(1024 * NUMS);
  private readonly targets: [number, string][] = [];

  /** Appends one entry. */
  add(e: Entry): void {
    const i = this.paths.length;
    if (i === this.kinds.length) {
      const kinds = new Uint8Array(i * 2);
      kinds.set(this.kinds);
      this.kinds = kinds;
      const nums = new Float64Array(i * 2 * NUMS);
      nums.set(this.nums);
      this.nums = nums;
    }
    this.paths.push(e.path);
    this.kinds[i] = e.kind === 'file' ? 0 : e.kind === 'dir' ? 1 : 2;
    const o = i * NUMS;
    const n = this.nums;
    n[o] = e.size;
    n[o + 1] = e.mtimeMs;
    n[o + 2] = e.ctimeMs;
    n[o + 3] = e.mode;
    n[o + 4] = e.ino;
    n[o + 5] = e.dev;
    if (e.target !== undefined) this.targets.push([i, e.target]);
  }

  /** The packed entries (the arrays are handed over: transfer their buffers). */
  done(): PackedEntries {
    return { paths: this.paths, kinds: this.kinds, nums: this.nums, targets: this.targets };
  }
}

/** Rebuilds Entry objects from packed ones, in the same shape toEntry gives them. */
export function unpack(p: PackedEntries, into: Map<string, Entry>): void {
  const targets = new Map(p.targets);
  const n = p.nums;
  for (let i = 0; i < p.paths.length; i++) {
    const o = i * NUMS;
    const path = p.paths[i]!;
    const e: Entry = { path, kind: KIND_CODES[p.kinds[i]!]!, size: n[o]!, mtimeMs: n[o + 1]!, ctimeMs: n[o + 2]!, mode: n[o + 3]!, ino: n[o + 4]!, dev: n[o + 5]! };
    const target = targets.get(i);
    into.set(path, target === undefined ? e : { ...e, target });
  }
}

/** Runs one scan job in this thread and packs the result (the worker's side). */
export async function packedScan(job: ScanJob): Promise<ScanReply> {
  const packer = new Packer();
  try {
    const snap = await scan(job.root, { filter: makeFilter(job.excludes), specials: job.specials, onEntry: (e) => packer.add(e) });
    const excluded = new Packer();
    for (const e of snap.excluded.values()) excluded.add(e);
    return { ok: true, entries: packer.done(), excluded: excluded.done(), issues: snap.issues, stale: snap.stale, skipped: snap.skipped };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { ok: false, error: { message: e instanceof Error ? e.message : String(err), code: e.code, syscall: e.syscall, path: e.path } };
  }
}

const WORKER = new URL('./scan-worker.js', import.meta.url);
/** The worker exists once built (dist/); the TypeScript sources under test scan in-thread. */
const HAVE_WORKER = existsSync(fileURLToPath(WORKER));

/**
 * Scans a whole tree in a worker thread, so it runs on another core while this thread lists the
 * other tree (a no-change pass over 100k files lists 200k entries: ~0.4 s each side). Entries
 * come back packed (one transferable number array) and are rebuilt here. Partial scopes, and
 * runs without the built worker, scan in this thread; so does a worker that fails to start.
 */
export async function scanInThread(root: string, opts: ScanOptions & { readonly excludes: readonly string[] }): Promise<Snapshot> {
  const scope = opts.scope ?? FULL_SCOPE;
  if (!HAVE_WORKER || !isFull(scope)) return scan(root, opts);
  const job: ScanJob = { root, excludes: [...opts.excludes], specials: opts.specials ?? 'skip' };
  const reply = await runWorker(job, opts.signal);
  if (reply === null) return scan(root, opts);
  if (!reply.ok) throw Object.assign(new Error(reply.error.message), reply.error);
  const snap: Snapshot = { root, entries: new Map(), issues: reply.issues, excluded: new Map(), stale: reply.stale, skipped: reply.skipped };
  unpack(reply.entries, snap.entries);
  unpack(reply.excluded, snap.excluded);
  return snap;
}

/** The worker's reply; null when the worker itself failed (then the caller scans in-thread). */
function runWorker(job: ScanJob, signal: AbortSignal | undefined): Promise<ScanReply | null> {
  signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { workerData: job });
    let settled = false;
    const finish = (f: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      f();
    };
    const onAbort = (): void => {
      void w.terminate();
      finish(() => reject(signal?.reason));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    w.once('message', (m: ScanReply) => finish(() => resolve(m)));
    w.once('error', () => finish(() => resolve(null)));
    w.once('exit', () => finish(() => resolve(null)));
  });
}
