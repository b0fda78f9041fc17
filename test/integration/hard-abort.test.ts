import { closeSync, existsSync, ftruncateSync, openSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RecordStore } from '../../src/sync/record.js';
import { closePool, syncOnce } from '../helpers/pass.js';
import { cleanupTemps, mirrorDiff, tempDir, writeTree } from '../helpers/tree.js';

afterEach(cleanupTemps);
afterAll(closePool);

const temps = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((n) => /^\.foldersync-.*\.tmp$/.test(n)) : []);

describe('a hard abort (second SIGINT)', () => {
  it('ends the pass without waiting for the kernel copy in flight, removes its temp file and keeps what was done', async () => {
    const d = tempDir();
    const src = path.join(d, 'src');
    const dst = path.join(d, 'dst');
    writeTree(src, { 'a-small': 'done first' });
    // A sparse 512 MB file: free to create, seconds to copy (the kernel writes real zeros).
    const fd = openSync(path.join(src, 'z-huge'), 'w');
    ftruncateSync(fd, 512 << 20);
    closeSync(fd);
    const hard = new AbortController();
    const watcher = setInterval(() => {
      if (temps(dst).length > 0 && existsSync(path.join(dst, 'a-small'))) hard.abort(new Error('aborted by a second SIGINT'));
    }, 1);
    let abortedAt = 0;
    hard.signal.addEventListener('abort', () => {
      abortedAt = performance.now();
      clearInterval(watcher);
    });
    const state = path.join(d, 'record');
    try {
      const { report, lines } = await syncOnce({ source: src, replica: dst, state, jobs: 1 }, { signal: hard.signal });
      const took = performance.now() - abortedAt;
      expect(report.outcome).toBe('aborted');
      expect(took, `the pass ended ${took} ms after the abort`).toBeLessThan(250);
      expect(temps(dst)).toEqual([]);
      expect(existsSync(path.join(dst, 'z-huge'))).toBe(false);
      // An abort is not a failure of the copy it interrupted.
      expect(lines.filter((l) => l.level >= 50)).toEqual([]);
      expect(lines.at(-1)?.msg).toBe('pass aborted');
    } finally {
      clearInterval(watcher);
    }
    // The record on disk kept what was done, and only that.
    const { store } = await RecordStore.load(state, src, dst);
    const record = store.readAll();
    expect(record.has('a-small')).toBe(true);
    expect(record.has('z-huge')).toBe(false);
    rmSync(path.join(src, 'z-huge'));
    const next = await syncOnce({ source: src, replica: dst, state });
    expect(next.report).toMatchObject({ outcome: 'ok', copy: 0, errors: 0 });
    expect(mirrorDiff(src, dst)).toEqual([]);
  });
});
