import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { type ChokidarOptions, type FSWatcher, watch } from 'chokidar';

/** Folders handed to one chokidar watcher at a time: chokidar lstat()s every entry of each, all at once. */
const BATCH = 8;

/** What the folder watchers report. */
export interface FolderEvents {
  /** Paths (absolute) never watched nor reported: foldersync's temp files, excluded paths. */
  skip(abs: string): boolean;
  /** A chokidar event (`add`, `change`, `unlink`, `addDir`, `unlinkDir`) for an absolute path. */
  onEvent(event: string, abs: string): void;
  /** A raw inotify event of a watched folder, naming the entry in it that changed. */
  onRaw(event: string, abs: string): void;
  onError(err: unknown): void;
}

/**
 * Watches every folder of a tree (never a file: a folder's watch reports changes to the entries
 * in it), handing the folders to chokidar a few at a time. Given the root, chokidar would crawl
 * the whole tree at once: 200,000 lstat() calls in flight for 100,000 files, whose memory the C
 * library keeps afterwards (a daemon watching the benchmark's tree idled at 280 MB). Here
 * foldersync lists the folders itself (names and types only, no lstat) and gives them to
 * chokidar in batches of BATCH, each one watcher at depth 0 whose start is awaited before the
 * next. A folder that appears later is watched the same way, with the folders inside it; one
 * that goes away is forgotten with the folders below it.
 */
export class FolderWatchers {
  /** The watcher holding each watched folder (absolute path); a watcher left with none is closed. */
  private readonly owner = new Map<string, FSWatcher>();
  /** Batches run one after another: at most one crawl in flight. */
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly events: FolderEvents) {}

  /** Watches `dir` and every folder below it; resolves once all of them are watched (or on close). */
  add(dir: string): Promise<void> {
    const next = this.queue.then(() => this.addTree(dir));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Stops watching `dir` and every folder below it (removed, or renamed away), as `reporter`,
   * the watcher of its parent, said. That watcher has closed the watches it held itself; those
   * of other watchers are closed here (chokidar shares one watch per path between its watchers:
   * left open, a dead one would be handed to the folder made again under that name).
   */
  forget(dir: string, reporter?: FSWatcher): void {
    const below = dir + path.sep;
    const touched = new Set<FSWatcher>();
    for (const [folder, w] of this.owner) {
      if (folder !== dir && !folder.startsWith(below)) continue;
      this.owner.delete(folder);
      touched.add(w);
      // unwatch() also makes that watcher ignore the path from now on: never the parent's
      // watcher, which must see the folder if it comes back.
      if (w !== reporter) w.unwatch(folder);
    }
    const left = new Set(this.owner.values());
    for (const w of touched) if (!left.has(w)) void w.close();
  }

  /** Closes every watcher; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const all = [...new Set(this.owner.values())];
    this.owner.clear();
    await Promise.all(all.map((w) => w.close()));
  }

  private async addTree(dir: string): Promise<void> {
    const folders = await this.list(dir);
    for (let i = 0; i < folders.length && !this.closed; i += BATCH) {
      const batch = folders.slice(i, i + BATCH).filter((f) => !this.owner.has(f));
      if (batch.length > 0) await this.watchBatch(batch);
    }
  }

  /** `dir` and the folders below it, depth first; excluded ones and symlinks left out. */
  private async list(dir: string): Promise<string[]> {
    const out: string[] = [];
    const stack = [dir];
    for (let d = stack.pop(); d !== undefined && !this.closed; d = stack.pop()) {
      out.push(d);
      let entries: Dirent[];
      try {
        entries = await readdir(d, { withFileTypes: true });
      } catch {
        // Unreadable or gone: chokidar, given the folder, says why (a warning).
        continue;
      }
      for (const e of entries) {
        const p = path.join(d, e.name);
        if (e.isDirectory() && !this.events.skip(p)) stack.push(p);
      }
    }
    return out;
  }

  private async watchBatch(folders: string[]): Promise<void> {
    const w = watch(folders, optionsFor(this.events.skip));
    for (const f of folders) this.owner.set(f, w);
    w.on('all', (event: string, abs: string) => {
      if (event === 'addDir') this.add(abs).catch((err: unknown) => this.events.onError(err));
      else if (event === 'unlinkDir') this.forget(abs, w);
      this.events.onEvent(event, abs);
    });
    w.on('raw', (event: string, name: unknown, details: unknown) => {
      const dir = (details as { watchedPath?: unknown } | undefined)?.watchedPath;
      if (typeof dir !== 'string' || typeof name !== 'string' || name === '') return;
      const abs = path.join(dir, name);
      if (!this.events.skip(abs)) this.events.onRaw(event, abs);
    });
    w.on('error', (err: unknown) => this.events.onError(err));
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
    if (this.closed) await w.close();
  }
}

/**
 * Each watcher: the folders given, at depth 0 (their subfolders are given to watchers of their
 * own), never a file. atomic: false, because chokidar's editor-save merging hides source files
 * named like backups (`notes~`, `.x.swp`) and delays deletions; the debounce already merges bursts.
 */
function optionsFor(skip: (abs: string) => boolean): ChokidarOptions {
  return {
    ignoreInitial: true,
    followSymlinks: false,
    depth: 0,
    alwaysStat: false,
    atomic: false,
    ignored: (abs: string, stats?: { isDirectory(): boolean }) => skip(abs) || (stats !== undefined && !stats.isDirectory()),
  };
}
