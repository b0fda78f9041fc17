import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type Watcher, startWatch } from '../../src/watch.js';
import { cleanupTemps, tempDir, writeTree } from '../helpers/tree.js';

const watchers: Watcher[] = [];
afterEach(async () => {
  for (const w of watchers.splice(0)) await w.close();
  cleanupTemps();
});

const log = pino({ level: 'silent' });

async function watching(src: string, excludes: string[] = [], timing: { quietMs: number; maxWaitMs: number; maxPaths?: number } = { quietMs: 30, maxWaitMs: 300 }): Promise<Watcher> {
  const w = startWatch({ source: src, excludes }, log, timing);
  watchers.push(w);
  await w.ready;
  return w;
}

/** Resolves true on a nudge, false after `ms`. */
function nudged(w: Watcher, ms: number): Promise<boolean> {
  const cancel = new AbortController();
  return Promise.race([
    w.next(cancel.signal).then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), ms)),
  ]).finally(() => cancel.abort());
}

/** inotify watches this process holds (from /proc/self/fdinfo). */
function inotifyWatches(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fdinfo')) {
    try {
      n += (readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').match(/^inotify wd:/gm) ?? []).length;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

describe('startWatch', () => {
  it('turns a change into one nudge whose scope is the changed paths and their parents', async () => {
    const d = tempDir();
    writeTree(d, { a: { b: 'x' }, c: 'y' });
    const w = await watching(d);
    expect(w.takeScope()).toEqual({ deep: [], shallow: [] });
    writeFileSync(path.join(d, 'a', 'b'), 'changed');
    writeFileSync(path.join(d, 'a', 'new'), 'n');
    expect(await nudged(w, 3000)).toBe(true);
    const scope = w.takeScope();
    expect([...(scope?.deep ?? [])].sort()).toEqual(['a/b', 'a/new']);
    expect(scope?.shallow).toEqual(['a']);
    // Taken: nothing more to report, no further nudge.
    expect(w.takeScope()).toEqual({ deep: [], shallow: [] });
    expect(await nudged(w, 200)).toBe(false);
  });

  it('ignores its own temp files and excluded paths', async () => {
    const d = tempDir();
    writeTree(d, { keep: {} });
    const w = await watching(d, ['*.log']);
    writeFileSync(path.join(d, '.foldersync-1-abc.tmp'), 't');
    writeFileSync(path.join(d, 'x.log'), 'l');
    expect(await nudged(w, 300)).toBe(false);
    writeFileSync(path.join(d, 'keep', 'notes~'), 'backup-looking names are real files too');
    expect(await nudged(w, 3000)).toBe(true);
    expect(w.takeScope()?.deep).toEqual(['keep/notes~']);
  });

  it('a tree that never goes quiet still nudges after the maximum wait', async () => {
    const d = tempDir();
    const w = await watching(d, [], { quietMs: 200, maxWaitMs: 400 });
    const t0 = Date.now();
    let i = 0;
    const busy = setInterval(() => writeFileSync(path.join(d, `f${i++}`), 'x'), 40);
    try {
      expect(await nudged(w, 3000)).toBe(true);
    } finally {
      clearInterval(busy);
    }
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it('a new folder is one deep path, however much it holds', async () => {
    const d = tempDir();
    const w = await watching(d);
    mkdirSync(path.join(d, 'many'));
    for (let i = 0; i < 300; i++) writeFileSync(path.join(d, 'many', `f${i}`), '');
    expect(await nudged(w, 5000)).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(w.takeScope()).toEqual({ deep: ['many'], shallow: [''] });
  });

  it('more changed paths than the limit mean a full rescan', async () => {
    const d = tempDir();
    writeTree(d, { dir: {} });
    const w = await watching(d, [], { quietMs: 30, maxWaitMs: 300, maxPaths: 20 });
    for (let i = 0; i < 30; i++) writeFileSync(path.join(d, 'dir', `f${i}`), '');
    expect(await nudged(w, 5000)).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(w.takeScope()).toBeUndefined();
    expect(w.takeScope()).toEqual({ deep: [], shallow: [] });
  });

  it('watches folders, not files: one inotify watch per folder', async (ctx) => {
    if (!existsSync('/proc/self/fdinfo')) ctx.skip();
    const d = tempDir();
    const spec: Record<string, Record<string, string>> = {};
    for (let f = 0; f < 3; f++) {
      spec[`d${f}`] = {};
      for (let i = 0; i < 50; i++) spec[`d${f}`]![`f${i}`] = 'x';
    }
    writeTree(d, spec);
    const before = inotifyWatches();
    const w = await watching(d);
    expect(inotifyWatches() - before).toBe(4); // the root and 3 folders, not 150 files
    writeFileSync(path.join(d, 'd1', 'f7'), 'changed in place');
    expect(await nudged(w, 3000)).toBe(true);
    expect(w.takeScope()).toEqual({ deep: ['d1/f7'], shallow: ['d1'] });
    await w.close();
    expect(inotifyWatches()).toBe(before);
  });

  it('folders are handed to chokidar a few at a time: deleted, recreated and renamed folders deep in a big tree stay watched, nothing leaks', async (ctx) => {
    if (!existsSync('/proc/self/fdinfo')) ctx.skip();
    const d = tempDir();
    // 30 folders, 3 levels: parents and children end up with different chokidar watchers.
    const spec: Record<string, Record<string, Record<string, string>>> = {};
    for (let a = 0; a < 3; a++) {
      spec[`a${a}`] = {};
      for (let b = 0; b < 9; b++) spec[`a${a}`]![`b${b}`] = { f: 'x' };
    }
    writeTree(d, spec);
    const before = inotifyWatches();
    const w = await watching(d);
    expect(inotifyWatches() - before).toBe(31);
    // Deleted with its subfolders, then made again with new ones: each new folder is watched.
    rmSync(path.join(d, 'a1'), { recursive: true });
    expect(await nudged(w, 3000)).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    w.takeScope();
    expect(inotifyWatches() - before).toBe(21);
    mkdirSync(path.join(d, 'a1', 'b3', 'c'), { recursive: true });
    expect(await nudged(w, 3000)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    w.takeScope();
    writeFileSync(path.join(d, 'a1', 'b3', 'c', 'deep'), 'x');
    expect(await nudged(w, 3000)).toBe(true);
    expect(w.takeScope()?.deep).toEqual(['a1/b3/c/deep']);
    // Renamed: watched under its new name, not its old one.
    renameSync(path.join(d, 'a2'), path.join(d, 'z2'));
    expect(await nudged(w, 3000)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    w.takeScope();
    writeFileSync(path.join(d, 'z2', 'b5', 'new'), 'x');
    expect(await nudged(w, 3000)).toBe(true);
    expect(w.takeScope()?.deep).toEqual(['z2/b5/new']);
    // The root, a0 and its 9, a1, a1/b3, a1/b3/c, z2 and its 9: one watch each, the old ones closed.
    expect(inotifyWatches() - before).toBe(1 + 10 + 3 + 10);
    await w.close();
    expect(inotifyWatches()).toBe(before);
  });

  it('close is idempotent and ends pending waits quietly', async () => {
    const d = tempDir();
    const w = await watching(d);
    await w.close();
    await w.close();
    writeFileSync(path.join(d, 'late'), 'x');
    expect(await nudged(w, 200)).toBe(false);
  });
});
