import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type FilterSpec, makeFilter } from '../sync/filter.js';
import { cmp, joinRel } from '../sync/paths.js';
import type { Entry, EntryKind, PathIssue } from '../sync/types.js';
import { LocalTree } from './local.js';
import type { FolderListing, Listed, TreeReader } from './tree.js';

/** What the listing worker is asked: a tree and what to leave out of its walk. */
export interface ListJob {
  readonly root: string;
  /** Exclude patterns, or the whole filter (includes, reserved paths). */
  readonly excludes: readonly string[] | FilterSpec;
  /** [unused, entries handed over]: the worker waits while it is more than `ahead` entries ahead. */
  readonly progress: SharedArrayBuffer;
  readonly ahead: number;
}

/** One folder's listing, packed for the trip between threads. */
export interface PackedFolder {
  readonly dir: string;
  readonly names: string[];
  /** 0 file, 1 folder, 2 symlink, 3 special. */
  readonly kinds: Uint8Array;
  /** size, mtimeMs, ctimeMs, mode, ino, dev, nlink (0: one name) per entry. */
  readonly nums: Float64Array;
  /** [index, target] of symlinks; [index, issue] of those whose target could not be read. */
  readonly targets: [number, string][];
  readonly linkErrors: [number, PathIssue][];
  readonly stale: string[];
  readonly issues: PathIssue[];
}

/** A message from the worker: folders in walk order, the end, or the root's failure. */
export type ListMessage =
  | { readonly folders: PackedFolder[] }
  | { readonly done: true }
  | { readonly error: { message: string; code?: string; syscall?: string; path?: string } };

const KINDS: readonly EntryKind[] = ['file', 'dir', 'symlink', 'file'];
const NUMS = 7;
/** Entries the worker may list ahead of the walk: bounds the memory of listings in flight. */
export const AHEAD = 50_000;

/** Packs one listing (the worker's side). */
export function pack(dir: string, l: FolderListing): PackedFolder {
  const n = l.items.length;
  const kinds = new Uint8Array(n);
  const nums = new Float64Array(n * NUMS);
  const names: string[] = new Array(n);
  const targets: [number, string][] = [];
  const linkErrors: [number, PathIssue][] = [];
  for (let i = 0; i < n; i++) {
    const it = l.items[i]!;
    const e = it.e;
    names[i] = it.name;
    kinds[i] = it.special ? 3 : e.kind === 'file' ? 0 : e.kind === 'dir' ? 1 : 2;
    const o = i * NUMS;
    nums[o] = e.size;
    nums[o + 1] = e.mtimeMs;
    nums[o + 2] = e.ctimeMs;
    nums[o + 3] = e.mode;
    nums[o + 4] = e.ino;
    nums[o + 5] = e.dev;
    nums[o + 6] = it.nlink ?? 0;
    if (e.target !== undefined) targets.push([i, e.target]);
    if (it.linkError) linkErrors.push([i, it.linkError]);
  }
  return { dir, names, kinds, nums, targets, linkErrors, stale: l.stale, issues: l.issues };
}

/** Rebuilds a listing from its packed form (this thread's side). */
export function unpack(p: PackedFolder): FolderListing {
  const targets = new Map(p.targets);
  const linkErrors = new Map(p.linkErrors);
  const items: Listed[] = new Array(p.names.length);
  const n = p.nums;
  for (let i = 0; i < p.names.length; i++) {
    const o = i * NUMS;
    const name = p.names[i]!;
    const k = p.kinds[i]!;
    const e: Entry = { path: joinRel(p.dir, name), kind: KINDS[k]!, size: n[o]!, mtimeMs: n[o + 1]!, ctimeMs: n[o + 2]!, mode: n[o + 3]!, ino: n[o + 4]!, dev: n[o + 5]! };
    const target = targets.get(i);
    const linkError = linkErrors.get(i);
    const withTarget = target === undefined ? e : { ...e, target };
    const nlink = n[o + 6]!;
    items[i] = k === 3 ? { name, e, special: true } : linkError ? { name, e, linkError } : nlink > 1 ? { name, e: withTarget, nlink } : { name, e: withTarget };
  }
  return { items, stale: p.stale, issues: p.issues };
}

const WORKER = new URL('./list-worker.js', import.meta.url);
/** The worker exists once built (dist/); the TypeScript sources under test list in this thread. */
const HAVE_WORKER = existsSync(fileURLToPath(WORKER));

/**
 * A local tree listed by a worker thread, on the other core while this thread lists the other
 * tree and merges (a no-change pass over 100k files is 200k lstat calls, ~0.35 s each side).
 * The worker walks in the march's order (each folder, then its subfolders by name, excluded
 * ones left out) and stays at most AHEAD entries ahead. Asked for a folder it did not list next
 * (the trees changed under the walk), it stops and this thread lists the rest itself.
 */
export class ThreadedTree implements TreeReader {
  private readonly local: LocalTree;
  private worker: Worker | undefined;
  private readonly queue: PackedFolder[] = [];
  private head = 0;
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly progress: Int32Array;

  /** Starts listing `root` at once; null where there is no built worker (then use LocalTree). */
  static start(root: string, excludes: readonly string[] | FilterSpec, ahead = AHEAD): ThreadedTree | null {
    return HAVE_WORKER ? new ThreadedTree(root, excludes, ahead) : null;
  }

  private constructor(
    readonly root: string,
    excludes: readonly string[] | FilterSpec,
    ahead: number,
  ) {
    this.local = new LocalTree(root);
    const progress = new SharedArrayBuffer(8);
    this.progress = new Int32Array(progress);
    const job: ListJob = { root, excludes: Array.isArray(excludes) ? [...excludes] : { ...excludes }, progress, ahead };
    const w = new Worker(WORKER, { workerData: job });
    this.worker = w;
    w.on('message', (m: ListMessage) => {
      if ('folders' in m) for (const f of m.folders) this.queue.push(f);
      else if ('done' in m) this.ended = true;
      else this.failure = Object.assign(new Error(m.error.message), m.error);
      this.poke();
    });
    // A worker that cannot run is not the tree's failure: this thread lists instead.
    w.on('error', () => this.stop());
    w.on('exit', () => {
      this.ended = true;
      this.poke();
    });
  }

  /** The next folder of the walk, as the worker listed it; another one is listed here. */
  async list(dir: string): Promise<FolderListing> {
    while (this.worker !== undefined && this.head >= this.queue.length && !this.ended && this.failure === undefined) {
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
    if (this.failure !== undefined && dir === '') throw this.failure;
    const next = this.worker !== undefined && this.head < this.queue.length ? this.queue[this.head] : undefined;
    if (next === undefined || next.dir !== dir) {
      this.stop();
      return this.local.list(dir);
    }
    this.queue[this.head++] = undefined as unknown as PackedFolder;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    Atomics.add(this.progress, 1, next.names.length);
    Atomics.notify(this.progress, 1);
    return unpack(next);
  }

  /** lstats one path here (not part of the walk). */
  stat(rel: string): Promise<Entry | null> {
    return this.local.stat(rel);
  }

  /** Ends the worker; what is left is listed here. Idempotent. */
  stop(): void {
    const w = this.worker;
    if (w === undefined) return;
    this.worker = undefined;
    this.queue.length = 0;
    this.head = 0;
    // Let a worker waiting for room go, then end it.
    Atomics.store(this.progress, 1, 0x3fffffff);
    Atomics.notify(this.progress, 1);
    void w.terminate();
    this.poke();
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}

/** The worker's walk: each folder in the march's order, posted in batches, never too far ahead. */
export async function listInWorker(job: ListJob, post: (m: ListMessage, transfer: ArrayBuffer[]) => void): Promise<void> {
  const tree = new LocalTree(job.root);
  const filter = makeFilter(job.excludes);
  const progress = new Int32Array(job.progress);
  let listed = 0;
  let batch: PackedFolder[] = [];
  let batchSize = 0;
  const flush = (): void => {
    if (batch.length === 0) return;
    post({ folders: batch }, batch.flatMap((f) => [f.kinds.buffer as ArrayBuffer, f.nums.buffer as ArrayBuffer]));
    batch = [];
    batchSize = 0;
  };
  const stack = [''];
  try {
    for (let dir = stack.pop(); dir !== undefined; dir = stack.pop()) {
      for (let handed = Atomics.load(progress, 1); listed - handed > job.ahead; handed = Atomics.load(progress, 1)) {
        flush();
        Atomics.wait(progress, 1, handed, 100);
      }
      const l = await tree.list(dir);
      const subdirs: string[] = [];
      for (const it of l.items) if (it.e.kind === 'dir' && !it.special && !(!filter.empty && filter.excluded(it.e.path, true))) subdirs.push(it.name);
      subdirs.sort(cmp);
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push(joinRel(dir, subdirs[i]!));
      batch.push(pack(dir, l));
      listed += l.items.length;
      batchSize += l.items.length + 1;
      if (batchSize >= 2048) flush();
    }
    flush();
    post({ done: true }, []);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    post({ error: { message: e instanceof Error ? e.message : String(err), ...(e.code ? { code: e.code } : {}), ...(e.syscall ? { syscall: e.syscall } : {}), ...(e.path ? { path: e.path } : {}) } }, []);
  }
}
