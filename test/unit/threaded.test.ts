import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeFilter } from '../../src/sync/filter.js';
import { type Marched, march } from '../../src/sync/march.js';
import { LocalTree } from '../../src/trees/local.js';
import type { TreeReader } from '../../src/trees/tree.js';
import { cleanupTemps, tempDir } from '../helpers/tree.js';

// The worker thread only exists built: this test runs the built one (npm ci builds it).
const built = (await import(new URL('../../dist/trees/threaded.js', import.meta.url).href)) as typeof import('../../src/trees/threaded.js');

afterAll(() => cleanupTemps());

function tree(): { src: string; dst: string } {
  const d = tempDir();
  const src = path.join(d, 'src');
  const dst = path.join(d, 'dst');
  for (let i = 0; i < 30; i++) {
    const dir = path.join(dst, `d${i % 7}`, `sub ${i % 3}`, i % 2 ? 'x' : 'x.y');
    mkdirSync(dir, { recursive: true });
    for (let j = 0; j < 5; j++) writeFileSync(path.join(dir, `f${i}-${j}`), `${i}${j}`);
  }
  mkdirSync(path.join(dst, 'skip/deep'), { recursive: true });
  writeFileSync(path.join(dst, 'skip/deep/f'), 'f');
  symlinkSync('../nowhere', path.join(dst, 'd1/link'));
  execFileSync('mkfifo', [path.join(dst, 'd2/fifo')]);
  writeFileSync(path.join(dst, 'd3/.foldersync-x.tmp'), 'stale');
  mkdirSync(path.join(src, 'd1'), { recursive: true });
  writeFileSync(path.join(src, 'd1/only-src'), 's');
  return { src, dst };
}

async function walk(src: string, replica: TreeReader): Promise<Marched> {
  return march({
    source: new LocalTree(src),
    replica,
    record: null,
    filter: makeFilter(['skip/']),
    deleteExcluded: false,
    settle: { windowMs: 0, modes: true, srcRootDev: statSync(src).dev },
    replicaMayBeMissing: false,
  });
}

/** What a walk found, in a form two walks can be compared by. */
function shape(m: Marched): unknown {
  const sorted = <T>(m: Map<string, T>): [string, T][] => [...m].sort(([a], [b]) => (a < b ? -1 : 1));
  return { src: sorted(m.source.entries), rep: sorted(m.replica.entries), ex: sorted(m.replica.excluded), stale: m.replica.stale, count: m.count };
}

describe('a replica listed by a worker thread', () => {
  it('lists exactly what this thread lists, also when it may run only a few entries ahead', async () => {
    const { src, dst } = tree();
    const here = shape(await walk(src, new LocalTree(dst)));
    for (const ahead of [50_000, 3]) {
      const t = built.ThreadedTree.start(dst, ['skip/'], ahead);
      expect(t).not.toBeNull();
      try {
        expect(shape(await walk(src, t!))).toEqual(here);
      } finally {
        t!.stop();
      }
    }
  });

  it('fails on a root that cannot be listed, with the OS reason', async () => {
    const t = built.ThreadedTree.start(path.join(tempDir(), 'missing'), []);
    try {
      await expect(t!.list('')).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      t!.stop();
    }
  });

  it('lists the rest itself when asked for a folder it did not list next', async () => {
    const { dst } = tree();
    const t = built.ThreadedTree.start(dst, [])!;
    try {
      const l = await t.list('d3');
      expect(l.items.map((i) => i.name).sort()).toEqual(['sub 0', 'sub 1', 'sub 2']);
      expect((await t.list('')).items.length).toBe(8);
    } finally {
      t.stop();
    }
  });

  it('hands over the link count of hard-linked files, as a listing here does', async () => {
    const dst = tempDir();
    writeFileSync(path.join(dst, 'a'), 'a');
    linkSync(path.join(dst, 'a'), path.join(dst, 'b'));
    writeFileSync(path.join(dst, 'c'), 'c');
    const t = built.ThreadedTree.start(dst, [])!;
    try {
      const links = (await t.list('')).items.map((i) => [i.name, i.nlink]).sort();
      expect(links).toEqual((await new LocalTree(dst).list('')).items.map((i) => [i.name, i.nlink]).sort());
      expect(links).toEqual([['a', 2], ['b', 2], ['c', undefined]]);
    } finally {
      t.stop();
    }
  });
});
