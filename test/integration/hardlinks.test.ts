import { chmodSync, copyFileSync, linkSync, lstatSync, readFileSync, readdirSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { actions, changeCount, closePool, syncOnce } from '../helpers/pass.js';
import { cleanupTemps, mirrorDiff, tempDir, writeTree } from '../helpers/tree.js';

afterEach(cleanupTemps);
afterAll(closePool);

const PHOTO = 'raw photo bytes '.repeat(1000);
const OTHER = 'another original '.repeat(500);

/** The replica paths that share one inode with `rel`, in order. */
function linkedWith(root: string, rel: string, among: readonly string[]): string[] {
  const ino = lstatSync(path.join(root, rel)).ino;
  return among.filter((p) => lstatSync(path.join(root, p)).ino === ino).sort();
}

/** A source with two link groups (originals hard-linked into albums) and a plain file. */
function photoTree(dir: string): { src: string; dst: string } {
  const src = path.join(dir, 'src');
  const dst = path.join(dir, 'dst');
  writeTree(src, { originals: { 'a.raw': PHOTO, 'b.raw': OTHER }, albums: { summer: {}, best: {} }, 'plain.txt': 'plain' });
  linkSync(path.join(src, 'originals/a.raw'), path.join(src, 'albums/summer/a.raw'));
  linkSync(path.join(src, 'originals/a.raw'), path.join(src, 'albums/best/a.raw'));
  linkSync(path.join(src, 'originals/b.raw'), path.join(src, 'albums/best/b.raw'));
  return { src, dst };
}

const A = ['albums/best/a.raw', 'albums/summer/a.raw', 'originals/a.raw'];
const B = ['albums/best/b.raw', 'originals/b.raw'];
const ALL = [...A, ...B, 'plain.txt'];

describe('-H, --hard-links', () => {
  it('copies a link group once and links the other names to it; a pass over unchanged trees does nothing', async () => {
    const { src, dst } = photoTree(tempDir());
    const first = await syncOnce({ source: src, replica: dst, hardLinks: true });
    expect(first.report.errors).toBe(0);
    expect(first.report.bytes).toBe(PHOTO.length + OTHER.length + 'plain'.length);
    expect(linkedWith(dst, 'originals/a.raw', ALL)).toEqual(A);
    expect(linkedWith(dst, 'originals/b.raw', ALL)).toEqual(B);
    expect(mirrorDiff(src, dst)).toEqual([]);
    const linked = first.lines.filter((l) => l.action === 'copy' && typeof l.link === 'string');
    expect(linked).toHaveLength(3);
    const again = await syncOnce({ source: src, replica: dst, hardLinks: true });
    expect(changeCount(again.report)).toBe(0);
    expect(again.report.hashed).toBe(0);
  });

  it('a group that gains a name (a new one, or a file linked over) links it; then nothing more', async () => {
    const { src, dst } = photoTree(tempDir());
    await syncOnce({ source: src, replica: dst, hardLinks: true });
    writeTree(src, { albums: { winter: {} }, 'loose.raw': 'was a separate file' });
    await syncOnce({ source: src, replica: dst, hardLinks: true });
    linkSync(path.join(src, 'originals/a.raw'), path.join(src, 'albums/winter/a.raw'));
    rmSync(path.join(src, 'loose.raw'));
    linkSync(path.join(src, 'originals/a.raw'), path.join(src, 'loose.raw'));
    const grown = await syncOnce({ source: src, replica: dst, hardLinks: true });
    expect(grown.report.errors).toBe(0);
    expect(grown.report.bytes).toBe(0);
    const names = [...A, 'albums/winter/a.raw', 'loose.raw'].sort();
    expect(linkedWith(dst, 'originals/a.raw', [...names, ...B])).toEqual(names);
    expect(mirrorDiff(src, dst)).toEqual([]);
    const again = await syncOnce({ source: src, replica: dst, hardLinks: true });
    expect(actions(again.lines)).toEqual([]);
    expect(again.report.hashed).toBe(0);
  });

  it('a name split from its group gets its own file; the rest stay linked', async () => {
    const { src, dst } = photoTree(tempDir());
    await syncOnce({ source: src, replica: dst, hardLinks: true });
    // An editor that saves a new file: the album's copy leaves the group.
    rmSync(path.join(src, 'albums/best/a.raw'));
    writeFileSync(path.join(src, 'albums/best/a.raw'), 'retouched');
    const split = await syncOnce({ source: src, replica: dst, hardLinks: true });
    expect(split.report.errors).toBe(0);
    expect(linkedWith(dst, 'originals/a.raw', ALL)).toEqual(['albums/summer/a.raw', 'originals/a.raw']);
    expect(linkedWith(dst, 'albums/best/a.raw', ALL)).toEqual(['albums/best/a.raw']);
    expect(mirrorDiff(src, dst)).toEqual([]);
    expect(actions((await syncOnce({ source: src, replica: dst, hardLinks: true })).lines)).toEqual([]);
  });

  it('a name split off with the same bytes and times gets a file of its own, so a chmod of it stays its own', async () => {
    const { src, dst } = photoTree(tempDir());
    await syncOnce({ source: src, replica: dst, hardLinks: true });
    // cp -p, then a rename over: the same content and mtime, another inode.
    const p = path.join(src, 'albums/best/a.raw');
    copyFileSync(p, `${p}.new`);
    const st = lstatSync(p);
    utimesSync(`${p}.new`, st.atime, st.mtime);
    renameSync(`${p}.new`, p);
    const split = await syncOnce({ source: src, replica: dst, hardLinks: true });
    expect(split.report.errors).toBe(0);
    expect(linkedWith(dst, 'albums/best/a.raw', ALL)).toEqual(['albums/best/a.raw']);
    expect(linkedWith(dst, 'originals/a.raw', ALL)).toEqual(['albums/summer/a.raw', 'originals/a.raw']);
    chmodSync(p, 0o600);
    const chmodded = await syncOnce({ source: src, replica: dst, hardLinks: true });
    expect(chmodded.report.errors).toBe(0);
    expect(mirrorDiff(src, dst)).toEqual([]);
    expect(actions((await syncOnce({ source: src, replica: dst, hardLinks: true })).lines)).toEqual([]);
  });

  it('names deleted from a group, and a whole group deleted', async () => {
    const { src, dst } = photoTree(tempDir());
    await syncOnce({ source: src, replica: dst, hardLinks: true });
    rmSync(path.join(src, 'originals/a.raw'));
    rmSync(path.join(src, 'originals/b.raw'));
    rmSync(path.join(src, 'albums/best/b.raw'));
    const shrunk = await syncOnce({ source: src, replica: dst, hardLinks: true });
    expect(shrunk.report.errors).toBe(0);
    expect(shrunk.report.delete).toBe(3);
    expect(linkedWith(dst, 'albums/best/a.raw', ['albums/best/a.raw', 'albums/summer/a.raw'])).toEqual(['albums/best/a.raw', 'albums/summer/a.raw']);
    expect(mirrorDiff(src, dst)).toEqual([]);
    expect(actions((await syncOnce({ source: src, replica: dst, hardLinks: true })).lines)).toEqual([]);
  });

  it('a replica mirrored without -H gets its links on the first pass with it', async () => {
    const { src, dst } = photoTree(tempDir());
    await syncOnce({ source: src, replica: dst });
    expect(linkedWith(dst, 'originals/a.raw', ALL)).toEqual(['originals/a.raw']);
    const fixed = await syncOnce({ source: src, replica: dst, hardLinks: true });
    expect(fixed.report.errors).toBe(0);
    expect(fixed.report.bytes).toBe(0);
    expect(linkedWith(dst, 'originals/a.raw', ALL)).toEqual(A);
    expect(linkedWith(dst, 'originals/b.raw', ALL)).toEqual(B);
    const again = await syncOnce({ source: src, replica: dst, hardLinks: true });
    expect(actions(again.lines)).toEqual([]);
    expect(again.report.hashed).toBe(0);
  });

  it('with --backup-dir: a group rewritten in the source is copied once, and its old version kept once per name', async () => {
    const dir = tempDir();
    const { src, dst } = photoTree(dir);
    const versions = path.join(dir, 'versions');
    const settings = { source: src, replica: dst, hardLinks: true, backup: { dir: versions, keepMs: null } };
    await syncOnce(settings);
    // Written in place: every name of the group sees the new bytes.
    writeFileSync(path.join(src, 'originals/a.raw'), 'edited in place');
    const { report } = await syncOnce(settings);
    expect(report).toMatchObject({ errors: 0, update: 3, backup: 3, bytes: 'edited in place'.length });
    expect(linkedWith(dst, 'originals/a.raw', ALL)).toEqual(A);
    expect(mirrorDiff(src, dst)).toEqual([]);
    const [stamp] = readdirSync(versions);
    for (const p of A) expect(readFileSync(path.join(versions, stamp!, p), 'utf8')).toBe(PHOTO);
    expect(actions((await syncOnce(settings)).lines)).toEqual([]);
  });

  it('without -H, each name is a copy of its own, as before', async () => {
    const { src, dst } = photoTree(tempDir());
    const { report } = await syncOnce({ source: src, replica: dst });
    expect(report.bytes).toBe(3 * PHOTO.length + 2 * OTHER.length + 'plain'.length);
    for (const p of ALL) expect(linkedWith(dst, p, ALL)).toEqual([p]);
  });
});
