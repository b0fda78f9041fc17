import { mkdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { scan } from '../../src/sync/scan.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { closePool, syncOnce } from '../helpers/pass.js';
import { cleanupTemps, mirrorDiff, readState, tempDir, type TreeSpec, writeTree } from '../helpers/tree.js';
import { rng, seedFor, sleep, tempLeftovers, tryMountTmpfs, unmount } from './fault-kit.js';

/** `dirs` folders of `files` small files each, plus a few top-level files. */
function wideTree(dirs: number, files: number, tag = 'v1'): TreeSpec {
  const spec: TreeSpec = { 'top.txt': `top ${tag}`, 'README': `readme ${tag}` };
  for (let d = 0; d < dirs; d++) {
    const sub: TreeSpec = {};
    for (let f = 0; f < files; f++) sub[`f${f}.txt`] = `${tag} d${d} f${f}\n`;
    spec[`d${String(d).padStart(3, '0')}`] = { inner: { 'deep.txt': `deep ${tag} ${d}` }, ...sub };
  }
  return spec;
}

/** Files of a replica by path, with their content, to show nothing was lost. */
function filesOf(root: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const [p, s] of readState(root)) if (s.kind === 'file') m.set(p, readFileSync(path.join(root, p), 'utf8'));
  return m;
}

/** Replica files of `before` that are gone or changed now, summarised (first few and a count). */
function lost(before: Map<string, string>, root: string): string[] {
  const now = filesOf(root);
  const gone = [...before].filter(([p, t]) => now.get(p) !== t).map(([p]) => p);
  const extra = [...now.keys()].filter((p) => !before.has(p));
  const out = [...gone.slice(0, 5).map((p) => `lost ${p}`), ...extra.slice(0, 5).map((p) => `extra ${p}`)];
  if (gone.length + extra.length > out.length) out.push(`(${gone.length} lost, ${extra.length} extra in all)`);
  return out;
}

const mounts: string[] = [];
let canMount = false;

beforeAll(() => {
  const probe = tempDir('fs-mountprobe-');
  canMount = tryMountTmpfs(probe, '1m');
  if (canMount) unmount(probe);
});
afterEach(() => {
  for (const m of mounts.splice(0)) unmount(m);
  cleanupTemps();
});
afterAll(closePool);

describe('a source that vanishes mid-pass', () => {
  it('renamed away while its tree is listed: no deletion in the replica, the pass fails, the next one is exact', async () => {
    const r = rng(seedFor('vanishing-source/rename-mid-scan'));
    const d = tempDir();
    const src = `${d}/src`;
    const away = `${d}/src-away`;
    const dst = `${d}/dst`;
    const state = `${d}/state.record`;
    writeTree(src, wideTree(80, 40));
    expect((await syncOnce({ source: src, replica: dst, state })).report.outcome).toBe('ok');
    const before = filesOf(dst);
    expect(before.size).toBeGreaterThan(3000);

    const t0 = performance.now();
    await scan(src);
    const scanMs = performance.now() - t0;

    let hits = 0;
    for (let trial = 0; trial < 6; trial++) {
      const delay = scanMs * (0.1 + 0.8 * r.next());
      let renamedDuringPass = false;
      let done = false;
      const pass = syncOnce({ source: src, replica: dst, state });
      const timer = sleep(delay).then(() => {
        if (done) return;
        renameSync(src, away);
        renamedDuringPass = true;
      });
      const { report, lines } = await pass;
      done = true;
      await timer;
      const when = `trial ${trial}: rename after ${delay.toFixed(1)} ms of a ${scanMs.toFixed(1)} ms scan`;
      expect(lost(before, dst), when).toEqual([]);
      if (renamedDuringPass) {
        hits++;
        expect(lines.filter((l) => l.action === 'delete' || l.action === 'rmdir'), when).toEqual([]);
        expect(report.outcome, when).not.toBe('ok');
        renameSync(away, src);
      }
    }
    expect(hits, 'the rename never landed inside a pass: the tree is too small for this machine').toBeGreaterThan(0);

    const last = await syncOnce({ source: src, replica: dst, state });
    expect(last.report.outcome).toBe('ok');
    expect(mirrorDiff(src, dst)).toEqual([]);
  });

  it('renamed away while files are copied (spawned CLI): exit 1, nothing deleted, no temp file, the next pass is exact', async () => {
    const d = tempDir();
    const src = `${d}/src`;
    const away = `${d}/src-away`;
    const dst = `${d}/dst`;
    const args = ['-s', src, '-r', dst, '--once', '--state', `${d}/state.record`];
    writeTree(src, wideTree(40, 50));
    expect((await runCli(args, { home: d })).code).toBe(0);
    const before = filesOf(dst);
    // Every file changes, so the pass has thousands of updates to make when the root goes.
    writeTree(src, wideTree(40, 50, 'v2-longer'));

    const run = spawnCli(args, { home: d });
    await run.waitFor(/^update /m);
    renameSync(src, away);
    const code = await run.exited();
    expect(code, run.stdout() + run.stderr()).toBe(1);
    expect(run.stderr()).toMatch(/source/);
    expect(run.stdout()).not.toMatch(/^(delete|rmdir) /m);
    const after = filesOf(dst);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [p, text] of after) expect(text === before.get(p) || text === readFileSync(path.join(away, p), 'utf8'), p).toBe(true);
    expect(tempLeftovers(dst)).toEqual([]);

    renameSync(away, src);
    expect((await runCli(args, { home: d })).code).toBe(0);
    expect(mirrorDiff(src, dst)).toEqual([]);
  });

  it('an empty source over a full replica (an unmounted mount point) is refused with exit 3', async () => {
    const d = tempDir();
    const args = ['-s', `${d}/src`, '-r', `${d}/dst`, '--once', '--state', `${d}/state.record`];
    writeTree(`${d}/src`, { a: 'x', sub: { b: 'y' } });
    expect((await runCli(args, { home: d })).code).toBe(0);
    renameSync(`${d}/src`, `${d}/src-full`);
    mkdirSync(`${d}/src`);
    const res = await runCli(args, { home: d });
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/empty/);
    expect([...readState(`${d}/dst`).keys()].sort()).toEqual(['a', 'sub', 'sub/b']);
  });

  it('unmounted while a pass runs (tmpfs source, umount -l): nothing deleted, non-zero, exact once it is back', async (ctx) => {
    if (!canMount) {
      ctx.skip('mounting a tmpfs is not allowed on this machine (needs root or CAP_SYS_ADMIN)');
      return;
    }
    const r = rng(seedFor('vanishing-source/unmount'));
    const d = tempDir();
    const src = `${d}/src`;
    const dst = `${d}/dst`;
    const state = `${d}/state.record`;
    mkdirSync(src);
    const mount = (): void => {
      expect(tryMountTmpfs(src, '64m')).toBe(true);
      mounts.push(src);
      writeTree(src, wideTree(60, 40));
    };
    mount();
    expect((await syncOnce({ source: src, replica: dst, state })).report.outcome).toBe('ok');
    const before = filesOf(dst);
    const t0 = performance.now();
    await scan(src);
    const scanMs = performance.now() - t0;

    let hits = 0;
    for (let trial = 0; trial < 4; trial++) {
      let unmountedDuringPass = false;
      let done = false;
      const pass = syncOnce({ source: src, replica: dst, state });
      const timer = sleep(scanMs * (0.1 + 0.8 * r.next())).then(() => {
        if (done) return;
        unmount(src);
        mounts.pop();
        unmountedDuringPass = true;
      });
      const { report, lines } = await pass;
      done = true;
      await timer;
      expect(lost(before, dst)).toEqual([]);
      if (!unmountedDuringPass) continue;
      hits++;
      expect(report.outcome).not.toBe('ok');
      expect(lines.filter((l) => l.action === 'delete' || l.action === 'rmdir')).toEqual([]);
      // Unmounted, the source is an empty folder: refused, nothing deleted.
      const empty = await syncOnce({ source: src, replica: dst, state });
      expect(empty.report.outcome).toBe('refused');
      expect(lost(before, dst)).toEqual([]);
      mount();
    }
    expect(hits, 'the unmount never landed inside a pass').toBeGreaterThan(0);
    const last = await syncOnce({ source: src, replica: dst, state });
    expect(last.report.outcome).toBe('ok');
    expect(mirrorDiff(src, dst)).toEqual([]);
  });
});
