import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { closePool, syncOnce } from '../helpers/pass.js';
import { cleanupTemps, mirrorDiff, readState, tempDir, type TreeSpec, writeTree } from '../helpers/tree.js';
import { type Rng, rng, seedFor, tempLeftovers } from './fault-kit.js';

const DIRS = 30;
const FILES = 50;

function tree(tag: string): TreeSpec {
  const spec: TreeSpec = {};
  for (let d = 0; d < DIRS; d++) {
    const sub: TreeSpec = {};
    for (let f = 0; f < FILES; f++) sub[`f${f}.txt`] = `source ${tag} d${d} f${f}\n`;
    spec[`d${d}`] = sub;
  }
  return spec;
}

/** A folder outside both trees, shaped like the source so a followed link would find files. */
function canaryTree(): TreeSpec {
  const spec: TreeSpec = {};
  for (let f = 0; f < FILES; f++) spec[`f${f}.txt`] = `CANARY ${f}\n`;
  spec.inner = { 'f0.txt': 'CANARY inner\n' };
  return spec;
}

/** The canary's full state, its root included. */
function canaryState(dir: string): string {
  const st = lstatSync(dir);
  return JSON.stringify([st.mtimeMs, st.mode, [...readState(dir)]]);
}

/** Replica files whose bytes came from outside the source. */
function leaks(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const d of readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) out.push(...leaks(root, r));
    else if (d.isFile() && readFileSync(path.join(root, r), 'utf8').includes('CANARY')) out.push(r);
  }
  return out;
}

/** Changes the type of one random path: file -> folder or link, folder -> link or file, link -> file. */
function swapOne(r: Rng, src: string, canary: string, trash: string, n: number): string {
  const rel = r.next() < 0.3 ? `d${r.int(DIRS)}` : `d${r.int(DIRS)}/f${r.int(FILES)}.txt`;
  const p = path.join(src, rel);
  let kind: string;
  try {
    // Never through a folder that is itself a link now: the test must not touch the canary either.
    if (rel.includes('/') && !lstatSync(path.dirname(p)).isDirectory()) return `${rel}: parent is not a folder`;
    const st = lstatSync(p);
    kind = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'file';
  } catch {
    return `${rel}: gone`;
  }
  if (kind === 'file') {
    unlinkSync(p);
    if (r.next() < 0.5) {
      mkdirSync(p);
      writeFileSync(path.join(p, 'inside.txt'), `was a file ${n}\n`);
      return `${rel}: file -> folder`;
    }
    symlinkSync(r.next() < 0.5 ? path.join(canary, path.basename(rel)) : `../../canary/${path.basename(rel)}`, p);
    return `${rel}: file -> link outside`;
  }
  if (kind === 'dir') {
    // Renamed out of the way (fast), then a link to the canary folder or a file takes its place.
    renameSync(p, path.join(trash, `t${n}`));
    if (r.next() < 0.7) symlinkSync(canary, p);
    else writeFileSync(p, `was a folder ${n}\n`);
    return `${rel}: folder -> ${existsSync(p) && lstatSync(p).isSymbolicLink() ? 'link outside' : 'file'}`;
  }
  unlinkSync(p);
  writeFileSync(p, `was a link ${n}\n`);
  return `${rel}: link -> file`;
}

/** A mirrored v0 tree, a canary folder outside both trees, and a trash folder, for one race. */
async function raceSetup(seedName: string, prefix: string) {
  const seed = seedFor(seedName);
  const r = rng(seed);
  const d = tempDir(prefix);
  const src = `${d}/src`;
  const dst = `${d}/dst`;
  const state = `${d}/state.record`;
  const canary = `${d}/canary`;
  const trash = `${d}/trash`;
  mkdirSync(trash);
  writeTree(canary, canaryTree());
  const canaryBefore = canaryState(canary);
  writeTree(src, tree('v0'));
  expect((await syncOnce({ source: src, replica: dst, state })).report.outcome).toBe('ok');
  return { seed, r, src, dst, state, canary, trash, canaryBefore };
}

afterEach(cleanupTemps);
afterAll(closePool);

describe('paths that change type while a pass runs', () => {
  it('files and folders become folders, files and links to the outside mid-pass: no crash, nothing outside written or copied in, an exact mirror at the end', async () => {
    const { seed, r, src, dst, state, canary, trash, canaryBefore } = await raceSetup('type-change', 'fs-types-');

    let swaps = 0;
    for (let round = 1; round <= 4; round++) {
      // Every file changes, so the pass has a long run of copies to race against.
      rmSync(src, { recursive: true, force: true });
      writeTree(src, tree(`v${round}`));
      let running = true;
      const done: string[] = [];
      const pass = syncOnce({ source: src, replica: dst, state }).finally(() => {
        running = false;
      });
      const swapper = (async () => {
        while (running) {
          await new Promise((res) => setTimeout(res, r.int(3)));
          if (running) done.push(swapOne(r, src, canary, trash, swaps++));
        }
      })();
      const { report, lines } = await pass;
      await swapper;
      const why = `round ${round} (seed ${seed}), ${done.length} swaps: ${done.slice(0, 8).join('; ')}`;
      expect(['ok', 'errors'], why).toContain(report.outcome);
      expect(lines.filter((l) => /pass failed/.test(l.msg)), why).toEqual([]);
      expect(canaryState(canary), why).toBe(canaryBefore);
      expect(leaks(dst), `${why}: replica files with bytes from outside the source`).toEqual([]);
      expect(tempLeftovers(dst), why).toEqual([]);
      expect(done.length, why).toBeGreaterThan(0);

      const settle = await syncOnce({ source: src, replica: dst, state });
      expect(settle.report.outcome, why).toBe('ok');
      expect(mirrorDiff(src, dst), why).toEqual([]);
      expect(canaryState(canary), why).toBe(canaryBefore);
    }
    console.log(`type-change: ${swaps} type changes during 4 passes`);
  });

  it('replica folders replaced by links to the outside while a pass writes into them: nothing is written outside, the next pass is exact', async () => {
    const { seed, r, src, dst, state, canary, trash, canaryBefore } = await raceSetup('type-change/replica', 'fs-reptypes-');

    let swaps = 0;
    for (let round = 1; round <= 3; round++) {
      rmSync(src, { recursive: true, force: true });
      writeTree(src, tree(`v${round}`));
      let running = true;
      const pass = syncOnce({ source: src, replica: dst, state }).finally(() => {
        running = false;
      });
      // Someone else with write access to the replica swaps its folders for links into the canary.
      while (running) {
        await new Promise((res) => setTimeout(res, r.int(3)));
        const rel = `d${r.int(DIRS)}`;
        try {
          if (lstatSync(path.join(dst, rel)).isDirectory()) {
            renameSync(path.join(dst, rel), path.join(trash, `t${swaps++}`));
            symlinkSync(r.next() < 0.5 ? canary : '../canary', path.join(dst, rel));
          }
        } catch {
          // the pass moved or replaced it first: try another
        }
      }
      const { report } = await pass;
      const why = `round ${round} (seed ${seed}), ${swaps} swaps so far`;
      expect(['ok', 'errors'], why).toContain(report.outcome);
      expect(canaryState(canary), `${why}: written outside the replica`).toBe(canaryBefore);
      const settle = await syncOnce({ source: src, replica: dst, state });
      expect(settle.report.outcome, why).toBe('ok');
      expect(mirrorDiff(src, dst), why).toEqual([]);
      expect(canaryState(canary), why).toBe(canaryBefore);
    }
    console.log(`type-change/replica: ${swaps} replica folders swapped for links during 3 passes`);
  });
});
