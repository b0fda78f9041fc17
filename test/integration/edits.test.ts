import { chmodSync, mkdirSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { actions, changeCount, closePool, syncOnce } from '../helpers/pass.js';
import { type TreeSpec, cleanupTemps, mirrorDiff, readState, tempDir, writeTree } from '../helpers/tree.js';

afterEach(cleanupTemps);
afterAll(closePool);

const M = 1_650_000_000_000;
/** Sets an mtime (ms) without following links. */
const touch = (p: string, ms: number): void => utimesSync(p, ms / 1000, ms / 1000);

/** Every folder gets a fixed mtime, so only the edits themselves change folder mtimes. */
const BASE: TreeSpec = {
  w: {
    $dir: {
      f: { $file: 'aaaa', mtime: M },
      g: { $file: 'gggg', mtime: M },
      sub: { $dir: { x: { $file: 'x1', mtime: M }, deeper: { $dir: { y: { $file: 'y1', mtime: M } }, mtime: M } }, mtime: M },
      lnk: { $symlink: 'f' },
    },
    mtime: M,
  },
};

interface Edit {
  readonly name: string;
  /** Edits the source (paths relative to src/w). */
  readonly edit: (w: string) => void;
  /** What the pass after the edit logs, sorted: "action path" ("move from -> path"). */
  readonly want: string[];
}

const edits: Edit[] = [
  {
    name: 'content changed, same size, new mtime',
    edit: (w) => {
      writeFileSync(`${w}/f`, 'bbbb');
      touch(`${w}/f`, M + 5000);
    },
    want: ['update w/f'],
  },
  { name: 'size changed', edit: (w) => writeFileSync(`${w}/f`, 'longer content'), want: ['update w/f'] },
  { name: 'mtime only', edit: (w) => touch(`${w}/f`, M - 86_400_000), want: ['update w/f'] },
  { name: 'chmod only (no data copied)', edit: (w) => chmodSync(`${w}/f`, 0o600), want: ['attrs w/f'] },
  { name: 'folder chmod only', edit: (w) => chmodSync(`${w}/sub`, 0o700), want: ['attrs w/sub'] },
  { name: 'folder mtime only', edit: (w) => touch(`${w}/sub`, M + 1000), want: ['attrs w/sub'] },
  { name: 'delete a file', edit: (w) => unlinkSync(`${w}/g`), want: ['attrs w', 'delete w/g'] },
  {
    name: 'delete a tree',
    edit: (w) => rmSync(`${w}/sub`, { recursive: true }),
    want: ['attrs w', 'delete w/sub/deeper/y', 'delete w/sub/x', 'rmdir w/sub', 'rmdir w/sub/deeper'],
  },
  {
    name: 'file -> folder',
    edit: (w) => {
      unlinkSync(`${w}/g`);
      writeTree(`${w}/g`, { inner: 'now a folder' });
    },
    want: ['attrs w', 'copy w/g/inner', 'delete w/g', 'mkdir w/g'],
  },
  {
    name: 'folder with content -> file',
    edit: (w) => {
      rmSync(`${w}/sub`, { recursive: true });
      writeFileSync(`${w}/sub`, 'now a file');
    },
    want: ['attrs w', 'delete w/sub/deeper/y', 'delete w/sub/x', 'rmdir w/sub', 'rmdir w/sub/deeper', 'update w/sub'],
  },
  {
    name: 'file -> symlink',
    edit: (w) => {
      unlinkSync(`${w}/g`);
      symlinkSync('sub/x', `${w}/g`);
    },
    want: ['attrs w', 'symlink w/g'],
  },
  {
    name: 'symlink -> file',
    edit: (w) => {
      unlinkSync(`${w}/lnk`);
      writeFileSync(`${w}/lnk`, 'a file now');
    },
    want: ['attrs w', 'update w/lnk'],
  },
  {
    name: 'folder -> symlink',
    edit: (w) => {
      rmSync(`${w}/sub`, { recursive: true });
      symlinkSync('/nonexistent/target', `${w}/sub`);
    },
    want: ['attrs w', 'delete w/sub/deeper/y', 'delete w/sub/x', 'rmdir w/sub', 'rmdir w/sub/deeper', 'symlink w/sub'],
  },
  {
    name: 'symlink -> folder',
    edit: (w) => {
      unlinkSync(`${w}/lnk`);
      writeTree(`${w}/lnk`, { inside: 'in a folder', e: {} });
    },
    want: ['attrs w', 'copy w/lnk/inside', 'delete w/lnk', 'mkdir w/lnk', 'mkdir w/lnk/e'],
  },
  {
    name: 'symlink retargeted',
    edit: (w) => {
      unlinkSync(`${w}/lnk`);
      symlinkSync('g', `${w}/lnk`);
    },
    want: ['attrs w', 'symlink w/lnk'],
  },
  {
    name: 'a file becomes a folder holding that file (g -> g/g)',
    edit: (w) => {
      renameSync(`${w}/g`, `${w}/tmp`);
      mkdirSync(`${w}/g`);
      renameSync(`${w}/tmp`, `${w}/g/g`);
    },
    want: ['attrs w', 'mkdir w/g', 'move w/g -> w/g/g'],
  },
  {
    name: 'a folder is replaced by a file from inside it (sub/x -> sub)',
    edit: (w) => {
      renameSync(`${w}/sub/x`, `${w}/tmp`);
      rmSync(`${w}/sub`, { recursive: true });
      renameSync(`${w}/tmp`, `${w}/sub`);
    },
    want: ['attrs w', 'delete w/sub/deeper/y', 'move w/sub/x -> w/sub', 'rmdir w/sub', 'rmdir w/sub/deeper'],
  },
  {
    name: 'new files and folders',
    edit: (w) => writeTree(`${w}/sub/deeper`, { n: { m: 'new', o: {} }, z: '' }),
    want: ['attrs w/sub/deeper', 'copy w/sub/deeper/n/m', 'copy w/sub/deeper/z', 'mkdir w/sub/deeper/n', 'mkdir w/sub/deeper/n/o'],
  },
];

/** The sorted "action path" lines of a pass. */
const logged = (lines: Parameters<typeof actions>[0]): string[] => actions(lines).map((a) => `${a.action} ${a.from ? `${a.from} -> ` : ''}${a.path}`).sort();

async function setup(): Promise<{ src: string; dst: string }> {
  const t = tempDir('fs-edits-');
  const src = path.join(t, 'src');
  const dst = path.join(t, 'dst');
  writeTree(src, BASE);
  const first = await syncOnce({ source: src, replica: dst });
  expect(first.report.outcome).toBe('ok');
  expect(mirrorDiff(src, dst)).toEqual([]);
  return { src, dst };
}

describe('edits in the source between passes', () => {
  it.each(edits)('$name: exact mirror again, then a pass with zero actions', async (e) => {
    const { src, dst } = await setup();
    e.edit(path.join(src, 'w'));
    const second = await syncOnce({ source: src, replica: dst });
    expect(second.report.outcome).toBe('ok');
    expect(mirrorDiff(src, dst)).toEqual([]);
    expect(logged(second.lines)).toEqual(e.want);
    const third = await syncOnce({ source: src, replica: dst });
    expect(changeCount(third.report)).toBe(0);
    expect(mirrorDiff(src, dst)).toEqual([]);
  });
});

interface Drift {
  readonly name: string;
  /** Edits the replica by hand (paths relative to dst/w). Adding or removing entries changes the folder's mtime, which is put back too. */
  readonly edit: (w: string) => void;
  readonly want: string[];
}

const drifts: Drift[] = [
  {
    name: 'file edited, size changed',
    edit: (w) => writeFileSync(`${w}/f`, 'tampered with'),
    want: ['update w/f'],
  },
  {
    name: 'file edited, same size, mtime changed',
    edit: (w) => writeFileSync(`${w}/f`, 'zzzz'),
    want: ['update w/f'],
  },
  {
    name: 'file edited, same size, mtime put back (found by the record)',
    edit: (w) => {
      writeFileSync(`${w}/f`, 'zzzz');
      touch(`${w}/f`, M);
    },
    want: ['update w/f'],
  },
  { name: 'file mtime changed', edit: (w) => touch(`${w}/sub/x`, M + 7000), want: ['update w/sub/x'] },
  { name: 'file deleted', edit: (w) => unlinkSync(`${w}/g`), want: ['attrs w', 'copy w/g'] },
  { name: 'tree deleted', edit: (w) => rmSync(`${w}/sub`, { recursive: true }), want: ['attrs w', 'copy w/sub/deeper/y', 'copy w/sub/x', 'mkdir w/sub', 'mkdir w/sub/deeper'] },
  {
    name: 'files and folders added',
    edit: (w) => writeTree(w, { extra: 'x', 'extra-dir': { a: 'a', b: { c: 'c' } }, sub: { 'extra-link': { $symlink: '/' } } }),
    want: ['attrs w', 'attrs w/sub', 'delete w/extra', 'delete w/extra-dir/a', 'delete w/extra-dir/b/c', 'delete w/sub/extra-link', 'rmdir w/extra-dir', 'rmdir w/extra-dir/b'],
  },
  { name: 'file chmod', edit: (w) => chmodSync(`${w}/f`, 0o777), want: ['attrs w/f'] },
  { name: 'folder chmod', edit: (w) => chmodSync(`${w}/sub/deeper`, 0o700), want: ['attrs w/sub/deeper'] },
  {
    name: 'symlink retargeted',
    edit: (w) => {
      unlinkSync(`${w}/lnk`);
      symlinkSync('/etc/passwd', `${w}/lnk`);
    },
    want: ['attrs w', 'symlink w/lnk'],
  },
  {
    name: 'file replaced by a folder',
    edit: (w) => {
      unlinkSync(`${w}/g`);
      writeTree(`${w}/g`, { q: 'q' });
    },
    want: ['attrs w', 'delete w/g/q', 'rmdir w/g', 'update w/g'],
  },
];

describe('drift in the replica is put back', () => {
  it.each(drifts)('$name', async (d) => {
    const { src, dst } = await setup();
    const before = readState(src);
    d.edit(path.join(dst, 'w'));
    const second = await syncOnce({ source: src, replica: dst });
    expect(second.report.outcome).toBe('ok');
    expect(mirrorDiff(src, dst)).toEqual([]);
    expect(logged(second.lines)).toEqual(d.want);
    // The source is never touched.
    expect(readState(src)).toEqual(before);
    const third = await syncOnce({ source: src, replica: dst });
    expect(changeCount(third.report)).toBe(0);
  });

  it('a replica folder emptied by hand and a missing replica root are both rebuilt', async () => {
    const { src, dst } = await setup();
    rmSync(dst, { recursive: true });
    const again = await syncOnce({ source: src, replica: dst });
    expect(again.report.outcome).toBe('ok');
    expect(mirrorDiff(src, dst)).toEqual([]);
  });
});
