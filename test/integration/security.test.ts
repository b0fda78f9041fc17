import { lstatSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { closePool, syncOnce } from '../helpers/pass.js';
import { type PathState, cleanupTemps, mirrorDiff, readState, tempDir, writeTree } from '../helpers/tree.js';

afterEach(cleanupTemps);
afterAll(closePool);

const OLD = 1_500_000_000_000;

/** A folder outside the replica with content a naive mirror would overwrite or delete. */
function makeOutside(t: string): string {
  const out = path.join(t, 'outside');
  writeTree(out, {
    'canary.txt': { $file: 'do not touch', mode: 0o644, mtime: OLD },
    'x.txt': { $file: 'outside x', mtime: OLD },
    inner: { $dir: { 'y.txt': { $file: 'outside y', mtime: OLD } }, mode: 0o755, mtime: OLD },
    b: { $dir: { 'c.txt': { $file: 'outside c', mtime: OLD } }, mode: 0o700, mtime: OLD },
    extra: { $dir: { 'only-outside.txt': 'an entry the source does not have' }, mtime: OLD },
  });
  return out;
}

/** The outside folder's full state, its own mode and mtime included. */
function snapshot(dir: string): { root: { mode: number; mtimeMs: number }; tree: Map<string, PathState> } {
  const st = lstatSync(dir);
  return { root: { mode: st.mode & 0o7777, mtimeMs: st.mtimeMs }, tree: readState(dir) };
}

/** A source whose names collide with links planted in the replica. */
function makeSource(t: string): string {
  const src = path.join(t, 'src');
  writeTree(src, {
    // A folder where the replica has a link to the outside folder.
    a: { $dir: { 'x.txt': 'source x', 'canary.txt': 'source canary', inner: { 'y.txt': 'source y' } }, mode: 0o750 },
    // A file where the replica has a link to a file outside.
    f: { $file: 'source f', mode: 0o600 },
    // A file deeper below a path whose top is a link in the replica.
    deep: { b: { 'c.txt': 'source c' } },
    // A file with a mode change only, where the replica has a link.
    m: { $file: 'mode', mode: 0o640 },
    keep: { z: 'z' },
  });
  return src;
}

function plantLinks(dst: string, outside: string): void {
  writeTree(dst, { keep: {} });
  symlinkSync(outside, path.join(dst, 'a'));
  symlinkSync(path.join(outside, 'canary.txt'), path.join(dst, 'f'));
  symlinkSync(outside, path.join(dst, 'deep'));
  symlinkSync(path.join(outside, 'canary.txt'), path.join(dst, 'm'));
  // Where the source has nothing: the link is deleted, its target kept.
  symlinkSync(path.join(outside, 'extra'), path.join(dst, 'gone'));
  symlinkSync(outside, path.join(dst, 'keep', 'sub'));
  // A leftover temp name that is a link: removing it must not remove its target.
  symlinkSync(outside, path.join(dst, '.foldersync-evil.tmp'));
}

describe('replica symlinks pointing outside the replica', () => {
  it('are replaced, never followed, on a fresh replica', async () => {
    const t = tempDir('fs-sec-');
    const outside = makeOutside(t);
    const src = makeSource(t);
    const dst = path.join(t, 'dst');
    plantLinks(dst, outside);
    const before = snapshot(outside);

    const r = await syncOnce({ source: src, replica: dst });

    expect(snapshot(outside)).toEqual(before);
    expect(mirrorDiff(src, dst)).toEqual([]);
    expect(r.report.outcome).toBe('ok');
    expect(lstatSync(path.join(dst, 'a')).isDirectory()).toBe(true);
    expect(lstatSync(path.join(dst, 'deep')).isDirectory()).toBe(true);
  });

  it('are replaced, never followed, when planted after a good pass (the record knows the old folders)', async () => {
    const t = tempDir('fs-sec-');
    const outside = makeOutside(t);
    const src = makeSource(t);
    const dst = path.join(t, 'dst');
    const first = await syncOnce({ source: src, replica: dst });
    expect(first.report.outcome).toBe('ok');

    // An attacker (or an accident) swaps replica folders and files for links to the outside.
    for (const p of ['a', 'f', 'deep', 'm', 'keep']) rmSync(path.join(dst, p), { recursive: true });
    plantLinks(dst, outside);
    // And the source changes under those paths, so a pass must write there.
    writeTree(src, { a: { 'x.txt': 'source x, edited', 'new.txt': 'new' }, deep: { b: { 'c.txt': 'source c, edited!', d: { e: 'e' } } }, f: 'f edited' });
    const before = snapshot(outside);

    const r = await syncOnce({ source: src, replica: dst });

    expect(snapshot(outside)).toEqual(before);
    expect(mirrorDiff(src, dst)).toEqual([]);
    expect(r.report.outcome).toBe('ok');
  });

  it('a link in place of a replica folder whose source content is unchanged', async () => {
    const t = tempDir('fs-sec-');
    const outside = makeOutside(t);
    const src = path.join(t, 'src');
    const dst = path.join(t, 'dst');
    // Same names and sizes as the outside folder's content, so a move or "already there" would be tempting.
    writeTree(src, { b: { 'c.txt': { $file: 'outside c', mtime: OLD } }, inner: { 'y.txt': { $file: 'outside y', mtime: OLD } } });
    await syncOnce({ source: src, replica: dst });
    rmSync(path.join(dst, 'b'), { recursive: true });
    symlinkSync(outside, path.join(dst, 'b'));
    rmSync(path.join(dst, 'inner'), { recursive: true });
    symlinkSync(path.join(outside, 'inner'), path.join(dst, 'inner'));
    const before = snapshot(outside);

    const r = await syncOnce({ source: src, replica: dst });

    expect(snapshot(outside)).toEqual(before);
    expect(mirrorDiff(src, dst)).toEqual([]);
    expect(r.report.outcome).toBe('ok');
  });

  it('an excluded replica folder holding a link to the outside is deleted without following it', async () => {
    const t = tempDir('fs-sec-');
    const outside = makeOutside(t);
    const src = path.join(t, 'src');
    const dst = path.join(t, 'dst');
    writeTree(src, { a: 'a', cache: { c: 'c' } });
    writeTree(dst, { cache: { real: 'r' } });
    symlinkSync(outside, path.join(dst, 'cache', 'out'));
    symlinkSync(outside, path.join(dst, 'tmp-link'));
    const before = snapshot(outside);

    const r = await syncOnce({ source: src, replica: dst, excludes: ['cache/', 'tmp-link'], deleteExcluded: true });

    expect(snapshot(outside)).toEqual(before);
    expect(r.report.outcome).toBe('ok');
    expect(mirrorDiff(src, dst, (p) => p === 'cache' || p.startsWith('cache/'))).toEqual([]);
  });
});
