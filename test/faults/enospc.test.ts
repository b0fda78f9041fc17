import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RecordStore } from '../../src/sync/record.js';
import { runCli } from '../helpers/cli.js';
import { cleanupTemps, mirrorDiff, readState, tempDir, type TreeSpec, writeTree } from '../helpers/tree.js';
import { tempLeftovers, tryMountTmpfs, unmount } from './fault-kit.js';
import { recordProblems } from '../helpers/record.js';

const mounts: string[] = [];
/** Whether this machine lets the tests mount a tmpfs (root or CAP_SYS_ADMIN); probed once. */
let mountable = false;

beforeAll(() => {
  const probe = tempDir('fs-mountprobe-');
  mountable = tryMountTmpfs(probe, '1m');
  if (mountable) unmount(probe);
  else console.warn('enospc: skipped, mounting a size-limited tmpfs is not allowed here (needs root or CAP_SYS_ADMIN)');
});
const unmountAll = (): void => {
  for (const m of mounts.splice(0)) unmount(m);
};
// Unmounted before the temp folders go, and again at the end whatever happened.
afterEach(() => {
  unmountAll();
  cleanupTemps();
});
afterAll(unmountAll);

/** About 4.5 MB in 45 files over a few folders, plus small files: more than a 2 MB replica holds. */
function bigSource(): TreeSpec {
  const spec: TreeSpec = { 'small.txt': 'small', empty: {} };
  for (let d = 0; d < 5; d++) {
    const sub: TreeSpec = { 'note.txt': `note ${d}` };
    for (let f = 0; f < 9; f++) sub[`blob-${f}.bin`] = Buffer.alloc(100_000, 65 + ((d * 9 + f) % 26));
    spec[`dir${d}`] = sub;
  }
  return spec;
}

describe('a full replica disk (ENOSPC)', () => {
  it('reports the failed files, exits 1, leaves no temp file, keeps the source and the record; after growing the disk the next pass completes', async (ctx) => {
    if (!mountable) {
      ctx.skip('mounting a size-limited tmpfs is not allowed here (needs root or CAP_SYS_ADMIN)');
      return;
    }
    const d = tempDir('fs-enospc-');
    const src = `${d}/src`;
    const dst = `${d}/dst`;
    const state = `${d}/state/pair.record`;
    const args = ['-s', src, '-r', dst, '--once', '--state', state];
    mkdirSync(dst);
    expect(tryMountTmpfs(dst, '2m')).toBe(true);
    mounts.push(dst);

    // A first pass fits; then the source grows past what the replica can hold.
    writeTree(src, { 'small.txt': 'small', keep: { 'k.txt': 'kept' } });
    expect((await runCli(args, { home: d })).code).toBe(0);
    writeTree(src, bigSource());
    const sourceBefore = readState(src);

    const full = await runCli(args, { home: d });
    expect(full.code, full.stdout + full.stderr).toBe(1);
    const failures = full.stderr.split('\n').filter((l) => /no space left|ENOSPC/i.test(l));
    expect(failures.length, full.stderr).toBeGreaterThan(0);
    for (const l of failures) expect(l).toMatch(/dir\d\/blob-\d\.bin|\bdir\d\b/);
    expect(tempLeftovers(dst)).toEqual([]);
    expect(readState(src)).toEqual(sourceBefore);
    // What was there before is still there, and what got copied is whole.
    const rep = readState(dst);
    expect(rep.get('keep/k.txt')?.kind).toBe('file');
    for (const [p, s] of rep) if (s.kind === 'file') expect(s.hash, p).toBe(sourceBefore.get(p)?.hash);
    const loaded = await RecordStore.load(state, src, dst);
    expect(loaded.warning).toBeUndefined();
    expect(await recordProblems(state, src, dst)).toEqual([]);

    execFileSync('mount', ['-o', 'remount,size=20m', dst]);
    const next = await runCli(args, { home: d });
    expect(next.code, next.stderr).toBe(0);
    expect(mirrorDiff(src, dst)).toEqual([]);
    expect(tempLeftovers(dst)).toEqual([]);
    expect(await recordProblems(state, src, dst)).toEqual([]);
  });
});

describe('a replica disk out of inodes', () => {
  it('the probe cannot create its file: the pass guesses from the mount type, says so, and still deletes what is extra; the next pass probes again', async (ctx) => {
    if (!mountable) {
      ctx.skip('mounting a size-limited tmpfs is not allowed here (needs root or CAP_SYS_ADMIN)');
      return;
    }
    const d = tempDir('fs-noinodes-');
    const src = `${d}/src`;
    const dst = `${d}/dst`;
    const args = ['-s', src, '-r', dst, '--once', '--state', `${d}/state/pair.record`, '-l', `${d}/logs`];
    mkdirSync(dst);
    // Six inodes: the root, two mirrored files, and room for the probe's files.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,nr_inodes=6', 'tmpfs', dst]);
    mounts.push(dst);
    writeTree(src, { 'a.txt': 'a', 'b.txt': 'b' });
    expect((await runCli(args, { home: d })).code).toBe(0);
    // Extra files by hand until the filesystem has no inode left.
    let n = 0;
    try {
      for (; n < 10; n++) writeTree(dst, { [`extra-${n}.txt`]: 'x' });
    } catch {
      // ENOSPC: the disk is out of inodes
    }
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(10);
    const r = await runCli(args, { home: d });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^warning: could not probe the filesystem of ".*dst": no space left on device \(ENOSPC\); guessing what it keeps from its mount type \(tmpfs\)$/m);
    expect(mirrorDiff(src, dst)).toEqual([]);
    const again = await runCli(args, { home: d });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toBe('');
  });
});
