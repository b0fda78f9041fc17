import { appendFileSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync, copyFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { actions, closePool, syncOnce } from '../helpers/pass.js';
import { recordProblems } from '../helpers/record.js';
import { type TreeSpec, cleanupTemps, mirrorDiff, tempDir, writeTree } from '../helpers/tree.js';

afterEach(cleanupTemps);
afterAll(closePool);

const ino = (p: string): number => statSync(p).ino;

/** A source/replica pair, mirrored once, with helpers to run the next pass and check it. */
async function mirrored(spec: TreeSpec): Promise<{
  src: string;
  dst: string;
  state: string;
  pass: (extra?: { checksum?: boolean }) => ReturnType<typeof syncOnce>;
}> {
  const d = tempDir();
  const src = `${d}/src`;
  const dst = `${d}/dst`;
  writeTree(src, spec);
  const state = `${d}/dst.record`;
  const pass = (extra: { checksum?: boolean } = {}): ReturnType<typeof syncOnce> => syncOnce({ source: src, replica: dst, state, ...extra });
  const first = await pass();
  expect(first.report.outcome).toBe('ok');
  expect(mirrorDiff(src, dst)).toEqual([]);
  return { src, dst, state, pass };
}

/** The replica is an exact mirror and the record describes it truly. */
async function exact(t: { src: string; dst: string; state: string }): Promise<void> {
  expect(mirrorDiff(t.src, t.dst)).toEqual([]);
  expect(await recordProblems(t.state, t.src, t.dst)).toEqual([]);
}

/** The move lines of a pass, each checked to be one line with action, from and path. */
function moves(lines: Awaited<ReturnType<typeof syncOnce>>['lines']): string[] {
  const out: string[] = [];
  for (const l of lines) {
    if (l.action !== 'move') continue;
    expect(typeof l.from).toBe('string');
    expect(typeof l.path).toBe('string');
    expect(l.msg).toContain(String(l.from));
    out.push(`${l.from} -> ${l.path}`);
  }
  return out;
}

const body = (tag: string, n: number): string => `${tag}:`.padEnd(n, tag[0]);

describe('moves found by source identity (the record knows the inode)', () => {
  it('a renamed file is renamed in the replica, with nothing read or copied', async () => {
    const t = await mirrored({ docs: { 'report.txt': body('report', 5000), 'other.txt': body('other', 5000) }, top: 'x' });
    // A large sparse file too: its rename must cost no more than a small one's.
    truncateSync(`${t.src}/docs/other.txt`, 64 * 1024 ** 2);
    await t.pass();
    const before = ino(`${t.dst}/docs/report.txt`);
    const bigBefore = ino(`${t.dst}/docs/other.txt`);
    renameSync(`${t.src}/docs/report.txt`, `${t.src}/docs/final.txt`);
    renameSync(`${t.src}/docs/other.txt`, `${t.src}/big.bin`);
    const { report, lines } = await t.pass();
    expect(report.outcome).toBe('ok');
    expect(moves(lines).sort()).toEqual(['docs/other.txt -> big.bin', 'docs/report.txt -> docs/final.txt']);
    expect(report).toMatchObject({ move: 2, copy: 0, update: 0, delete: 0, bytes: 0, hashed: 0, hashedBytes: 0 });
    expect(ino(`${t.dst}/docs/final.txt`)).toBe(before);
    expect(ino(`${t.dst}/big.bin`)).toBe(bigBefore);
    await exact(t);
  });

  it('a renamed folder of many files is one move, and the replica folder keeps its inode', async () => {
    const album: TreeSpec = {};
    for (let i = 0; i < 150; i++) album[`img${i}.jpg`] = body(`img${i}`, 100 + (i % 7));
    album.sub = { deeper: { 'note.txt': 'n' }, 'a.txt': 'a' };
    album.empty = {};
    const t = await mirrored({ photos: { '2023': album }, keep: 'k' });
    const dirIno = ino(`${t.dst}/photos/2023`);
    const fileIno = ino(`${t.dst}/photos/2023/img7.jpg`);
    renameSync(`${t.src}/photos/2023`, `${t.src}/photos/summer-2023`);
    const { report, lines } = await t.pass();
    expect(moves(lines)).toEqual(['photos/2023 -> photos/summer-2023']);
    expect(report).toMatchObject({ move: 1, copy: 0, update: 0, delete: 0, rmdir: 0, mkdir: 0, hashed: 0 });
    expect(ino(`${t.dst}/photos/summer-2023`)).toBe(dirIno);
    expect(ino(`${t.dst}/photos/summer-2023/img7.jpg`)).toBe(fileIno);
    await exact(t);

    // And moved to another parent, deeper.
    mkdirSync(`${t.src}/archive/old`, { recursive: true });
    renameSync(`${t.src}/photos/summer-2023`, `${t.src}/archive/old/2023`);
    const second = await t.pass();
    expect(moves(second.lines)).toEqual(['photos/summer-2023 -> archive/old/2023']);
    expect(second.report).toMatchObject({ move: 1, copy: 0, delete: 0, hashed: 0 });
    expect(ino(`${t.dst}/archive/old/2023`)).toBe(dirIno);
    await exact(t);
  });

  it('a renamed and partly changed folder: one move, then per-file fixes', async () => {
    const spec: TreeSpec = {};
    for (let i = 0; i < 20; i++) spec[`f${i}.txt`] = body(`f${i}`, 300 + i);
    const t = await mirrored({ project: spec });
    const dirIno = ino(`${t.dst}/project`);
    const keptIno = ino(`${t.dst}/project/f10.txt`);
    renameSync(`${t.src}/project`, `${t.src}/project-v2`);
    writeFileSync(`${t.src}/project-v2/f1.txt`, 'rewritten');
    appendFileSync(`${t.src}/project-v2/f2.txt`, ' and more');
    rmSync(`${t.src}/project-v2/f3.txt`);
    writeFileSync(`${t.src}/project-v2/new.txt`, 'brand new');
    renameSync(`${t.src}/project-v2/f4.txt`, `${t.src}/project-v2/f4-renamed.txt`);
    const { report, lines } = await t.pass();
    // `from` names where the scan saw the file, before its folder moved.
    expect(moves(lines).sort()).toEqual(['project -> project-v2', 'project/f4.txt -> project-v2/f4-renamed.txt']);
    expect(report).toMatchObject({ move: 2, update: 2, copy: 1, delete: 1, hashed: 0 });
    expect(ino(`${t.dst}/project-v2`)).toBe(dirIno);
    expect(ino(`${t.dst}/project-v2/f10.txt`)).toBe(keptIno);
    await exact(t);
  });
});

describe('a move never carries a damaged replica file along', () => {
  it('the replica copy was altered (mtime put back): the renamed file is copied, not moved', async () => {
    const t = await mirrored({ a: body('A', 2000), b: body('B', 3000) });
    const rep = `${t.dst}/a`;
    const st = statSync(rep);
    const data = readFileSync(rep);
    data[100] = 0x3f;
    writeFileSync(rep, data);
    utimesSync(rep, st.atimeMs / 1000, st.mtimeMs / 1000);
    renameSync(`${t.src}/a`, `${t.src}/a-renamed`);
    const { report, lines } = await t.pass();
    expect(moves(lines)).toEqual([]);
    expect(report).toMatchObject({ move: 0, copy: 1, delete: 1 });
    await exact(t);
  });
});

describe('moves found by size and content (no record)', () => {
  it('only same-size candidates are read', async () => {
    const spec: TreeSpec = { 'moved.bin': body('moved', 4000), 'gone.bin': body('gone', 5000), dir: {} };
    for (let i = 0; i < 40; i++) (spec.dir as TreeSpec)[`u${i}`] = body(`u${i}`, 100 + i); // unrelated, all other sizes
    const t = await mirrored(spec);
    const before = ino(`${t.dst}/moved.bin`);
    renameSync(`${t.src}/moved.bin`, `${t.src}/dir/moved-here.bin`);
    rmSync(`${t.src}/gone.bin`);
    writeFileSync(`${t.src}/new.bin`, body('new', 6000)); // no candidate of its size
    rmSync(t.state);
    const { report, lines } = await t.pass();
    expect(moves(lines)).toEqual(['moved.bin -> dir/moved-here.bin']);
    // The new source file and the replica orphan of the same size: nothing else.
    expect(report).toMatchObject({ move: 1, copy: 1, delete: 1, hashed: 2, hashedBytes: 8000 });
    expect(ino(`${t.dst}/dir/moved-here.bin`)).toBe(before);
    await exact(t);
  });

  it('a renamed folder becomes one folder move again, found through its files', async () => {
    const spec: TreeSpec = {};
    for (let i = 0; i < 30; i++) spec[`f${i}`] = body(`f${i}`, 200 + i);
    const t = await mirrored({ a: { b: spec }, other: body('other', 50) });
    const dirIno = ino(`${t.dst}/a/b`);
    renameSync(`${t.src}/a/b`, `${t.src}/a/c`);
    rmSync(t.state);
    const { report, lines } = await t.pass();
    expect(moves(lines)).toEqual(['a/b -> a/c']);
    expect(report).toMatchObject({ move: 1, copy: 0, delete: 0 });
    expect(report.hashed).toBeLessThanOrEqual(60); // each file once on each side at most
    expect(ino(`${t.dst}/a/c`)).toBe(dirIno);
    await exact(t);
  });
});

describe('hard cases', () => {
  for (const withRecord of [true, false]) {
    const how = withRecord ? 'with the record' : 'without the record';

    it(`two files swapped, different sizes (${how})`, async () => {
      const t = await mirrored({ a: body('A', 1000), b: body('B', 2000) });
      const [ia, ib] = [ino(`${t.dst}/a`), ino(`${t.dst}/b`)];
      renameSync(`${t.src}/a`, `${t.src}/tmp`);
      renameSync(`${t.src}/b`, `${t.src}/a`);
      renameSync(`${t.src}/tmp`, `${t.src}/b`);
      if (!withRecord) rmSync(t.state);
      const { report, lines } = await t.pass();
      expect(moves(lines).sort()).toEqual(['a -> b', 'b -> a']);
      expect(report).toMatchObject({ move: 2, copy: 0, update: 0, delete: 0, bytes: 0 });
      expect([ino(`${t.dst}/a`), ino(`${t.dst}/b`)]).toEqual([ib, ia]);
      await exact(t);
    });

    it(`two files swapped, same size and mtime (${how})`, async () => {
      const t = await mirrored({ a: { $file: body('A', 1000), mtime: 1_600_000_000_000 }, b: { $file: body('B', 1000), mtime: 1_600_000_000_000 } });
      const [ia, ib] = [ino(`${t.dst}/a`), ino(`${t.dst}/b`)];
      renameSync(`${t.src}/a`, `${t.src}/tmp`);
      renameSync(`${t.src}/b`, `${t.src}/a`);
      renameSync(`${t.src}/tmp`, `${t.src}/b`);
      if (!withRecord) {
        // Without the record nothing tells this apart from "no change" but content:
        // only --checksum sees it (as rsync --checksum would).
        rmSync(t.state);
        const quick = await t.pass();
        expect(quick.report).toMatchObject({ move: 0, copy: 0, update: 0 });
        const { report, lines } = await t.pass({ checksum: true });
        expect(moves(lines).sort()).toEqual(['a -> b', 'b -> a']);
        expect(report).toMatchObject({ move: 2, copy: 0, update: 0, delete: 0, bytes: 0 });
      } else {
        // The record knows the source inodes changed places: no --checksum needed.
        const { report, lines } = await t.pass();
        expect(moves(lines).sort()).toEqual(['a -> b', 'b -> a']);
        expect(report).toMatchObject({ move: 2, copy: 0, update: 0, delete: 0, bytes: 0, hashed: 0 });
      }
      expect([ino(`${t.dst}/a`), ino(`${t.dst}/b`)]).toEqual([ib, ia]);
      await exact(t);
    });

    it(`a move onto a path whose old file is deleted (${how})`, async () => {
      const t = await mirrored({ a: body('A', 1000), b: body('B', 2000), keep: 'k' });
      const ia = ino(`${t.dst}/a`);
      renameSync(`${t.src}/a`, `${t.src}/b`); // b's old file is gone
      if (!withRecord) rmSync(t.state);
      const { report, lines } = await t.pass();
      expect(moves(lines)).toEqual(['a -> b']);
      expect(report).toMatchObject({ move: 1, copy: 0, update: 0, bytes: 0 });
      expect(ino(`${t.dst}/b`)).toBe(ia);
      await exact(t);
    });

    it(`a move onto a path whose old file moved on and was updated (${how})`, async () => {
      const t = await mirrored({ a: body('A', 1000), b: body('B', 2000), c: body('C', 3000) });
      const ia = ino(`${t.dst}/a`);
      const ic = ino(`${t.dst}/c`);
      renameSync(`${t.src}/b`, `${t.src}/b2`);
      appendFileSync(`${t.src}/b2`, 'updated');
      renameSync(`${t.src}/a`, `${t.src}/b`);
      // And a rotation: c -> d, while nothing else is where c was.
      renameSync(`${t.src}/c`, `${t.src}/d`);
      if (!withRecord) rmSync(t.state);
      const { report, lines } = await t.pass();
      expect(moves(lines).sort()).toEqual(['a -> b', 'c -> d']);
      expect(report).toMatchObject({ move: 2, copy: 1, update: 0, delete: 0 });
      expect(ino(`${t.dst}/b`)).toBe(ia);
      expect(ino(`${t.dst}/d`)).toBe(ic);
      expect(readFileSync(`${t.dst}/b2`, 'utf8')).toBe(`${body('B', 2000)}updated`);
      await exact(t);
    });

    it(`a chain of moves a -> b -> c -> d (${how})`, async () => {
      const t = await mirrored({ a: body('A', 100), b: body('B', 200), c: body('C', 300) });
      const [ia, ib, ic] = [ino(`${t.dst}/a`), ino(`${t.dst}/b`), ino(`${t.dst}/c`)];
      renameSync(`${t.src}/c`, `${t.src}/d`);
      renameSync(`${t.src}/b`, `${t.src}/c`);
      renameSync(`${t.src}/a`, `${t.src}/b`);
      if (!withRecord) rmSync(t.state);
      const { report, lines } = await t.pass();
      expect(moves(lines).sort()).toEqual(['a -> b', 'b -> c', 'c -> d']);
      expect(report).toMatchObject({ move: 3, copy: 0, update: 0, delete: 0 });
      expect([ino(`${t.dst}/b`), ino(`${t.dst}/c`), ino(`${t.dst}/d`)]).toEqual([ia, ib, ic]);
      await exact(t);
    });

    it(`one replica orphan matching two new source files: move one, copy the other (${how})`, async () => {
      const t = await mirrored({ x: body('X', 4096), other: 'o' });
      const ix = ino(`${t.dst}/x`);
      copyFileSync(`${t.src}/x`, `${t.src}/y`);
      utimesSync(`${t.src}/y`, statSync(`${t.src}/x`).atime, statSync(`${t.src}/x`).mtime);
      renameSync(`${t.src}/x`, `${t.src}/z`);
      if (!withRecord) rmSync(t.state);
      const { report, lines } = await t.pass();
      expect(moves(lines)).toHaveLength(1);
      expect(report).toMatchObject({ move: 1, copy: 1, update: 0, delete: 0, bytes: 4096 });
      // With the record the rename is known for sure: x became z.
      if (withRecord) {
        expect(moves(lines)).toEqual(['x -> z']);
        expect(report.hashed).toBe(0); // and the copy y needed no look at x's content
      }
      const moved = moves(lines)[0]!.split(' -> ')[1]!;
      expect(ino(`${t.dst}/${moved}`)).toBe(ix);
      await exact(t);
    });

    it(`a file moved and modified is copied and deleted, not moved (${how})`, async () => {
      const t = await mirrored({ a: body('A', 1000), s: body('S', 1000) });
      renameSync(`${t.src}/a`, `${t.src}/a2`);
      appendFileSync(`${t.src}/a2`, 'more');
      // Moved and modified in place, keeping its size: only content tells.
      renameSync(`${t.src}/s`, `${t.src}/s2`);
      const fh = `${t.src}/s2`;
      const old = readFileSync(fh);
      old[10] = 0x21;
      writeFileSync(fh, old);
      if (!withRecord) rmSync(t.state);
      const { report, lines } = await t.pass();
      expect(moves(lines)).toEqual([]);
      expect(report).toMatchObject({ move: 0, copy: 2, delete: 2 });
      await exact(t);
    });

    it(`case-only renames, of a file and of a folder (${how})`, async () => {
      const t = await mirrored({ 'Photo.JPG': body('P', 3000), Album: { 'One.png': body('1', 100), 'Two.png': body('2', 200) } });
      const ip = ino(`${t.dst}/Photo.JPG`);
      const ia = ino(`${t.dst}/Album`);
      renameSync(`${t.src}/Photo.JPG`, `${t.src}/photo.jpg`);
      renameSync(`${t.src}/Album`, `${t.src}/album`);
      if (!withRecord) rmSync(t.state);
      const { report, lines } = await t.pass();
      expect(moves(lines).sort()).toEqual(['Album -> album', 'Photo.JPG -> photo.jpg']);
      expect(report).toMatchObject({ move: 2, copy: 0, delete: 0, rmdir: 0 });
      expect(ino(`${t.dst}/photo.jpg`)).toBe(ip);
      expect(ino(`${t.dst}/album`)).toBe(ia);
      await exact(t);
    });
  }

  it('a folder and a file swap names', async () => {
    const t = await mirrored({ x: { inner: body('I', 500) }, y: body('Y', 700) });
    const [ix, iy] = [ino(`${t.dst}/x`), ino(`${t.dst}/y`)];
    renameSync(`${t.src}/x`, `${t.src}/tmp`);
    renameSync(`${t.src}/y`, `${t.src}/x`);
    renameSync(`${t.src}/tmp`, `${t.src}/y`);
    const { report, lines } = await t.pass();
    expect(moves(lines).sort()).toEqual(['x -> y', 'y -> x']);
    expect(report).toMatchObject({ move: 2, copy: 0, delete: 0, hashed: 0 });
    expect([ino(`${t.dst}/x`), ino(`${t.dst}/y`)]).toEqual([iy, ix]);
    await exact(t);
  });

  it('a file moved into a folder that replaces it by name (a -> a/a)', async () => {
    const t = await mirrored({ a: body('A', 900) });
    const ia = ino(`${t.dst}/a`);
    renameSync(`${t.src}/a`, `${t.src}/tmp`);
    mkdirSync(`${t.src}/a`);
    renameSync(`${t.src}/tmp`, `${t.src}/a/a`);
    const { report, lines } = await t.pass();
    expect(moves(lines)).toEqual(['a -> a/a']);
    expect(report).toMatchObject({ move: 1, mkdir: 1, copy: 0, delete: 0 });
    expect(ino(`${t.dst}/a/a`)).toBe(ia);
    await exact(t);
  });

  it('a folder renamed, with a subfolder inside renamed too', async () => {
    const t = await mirrored({ a: { x: { f1: body('1', 100), f2: body('2', 200) }, g: body('g', 300) } });
    const [ia, ix] = [ino(`${t.dst}/a`), ino(`${t.dst}/a/x`)];
    renameSync(`${t.src}/a`, `${t.src}/b`);
    renameSync(`${t.src}/b/x`, `${t.src}/b/y`);
    const { report, lines } = await t.pass();
    expect(moves(lines)).toEqual(['a -> b', 'a/x -> b/y']);
    expect(report).toMatchObject({ move: 2, copy: 0, delete: 0, hashed: 0 });
    expect([ino(`${t.dst}/b`), ino(`${t.dst}/b/y`)]).toEqual([ia, ix]);
    await exact(t);
  });

  it('a folder moved onto a deleted folder of the same name: nothing is copied', async () => {
    const t = await mirrored({ a: { f1: body('1', 100), f2: body('2', 200) }, b: { old: body('o', 50) } });
    rmSync(`${t.src}/b`, { recursive: true });
    renameSync(`${t.src}/a`, `${t.src}/b`);
    const { report } = await t.pass();
    expect(report).toMatchObject({ copy: 0, update: 0, bytes: 0 });
    expect(report.move).toBeGreaterThanOrEqual(1);
    await exact(t);
  });

  it('every log line of a move names it once', async () => {
    const t = await mirrored({ d: { f: body('F', 100) } });
    renameSync(`${t.src}/d`, `${t.src}/e`);
    const { lines } = await t.pass();
    expect(actions(lines).filter((a) => a.action === 'move')).toEqual([{ action: 'move', from: 'd', path: 'e' }]);
    const complete = lines.filter((l) => l.msg === 'pass complete');
    expect(complete).toHaveLength(1);
    expect(complete[0]).toMatchObject({ move: 1, copy: 0, hashed: 0 });
  });
});
