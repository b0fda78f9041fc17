import { createHash } from 'node:crypto';
import { chmodSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RecordStore } from '../../src/sync/record.js';
import type { HashAlgo } from '../../src/sync/types.js';
import { changeCount, closePool, syncOnce } from '../helpers/pass.js';
import { recordProblems } from '../helpers/record.js';
import { type TreeSpec, cleanupTemps, mirrorDiff, tempDir, writeTree } from '../helpers/tree.js';

afterEach(cleanupTemps);
afterAll(closePool);

/** A mirrored pair of `n` files (plus a folder of a few), ready for the next pass. */
async function mirrored(n = 30, hash: HashAlgo = 'sha256') {
  const d = tempDir();
  const src = `${d}/src`;
  const dst = `${d}/dst`;
  const state = `${d}/dst.record`;
  const spec: TreeSpec = { sub: { 'x.txt': 'xx', 'y.txt': 'yyy' } };
  for (let i = 0; i < n; i++) spec[`f${i}.txt`] = `file number ${i} `.repeat(20 + i);
  writeTree(src, spec);
  const pass = (checksum = false) => syncOnce({ source: src, replica: dst, state, checksum, hash });
  const first = await pass();
  expect(first.report.outcome).toBe('ok');
  return { src, dst, state, pass, files: n + 2 };
}

/** Rewrites a file with other bytes of the same length and puts its mtime back, as some tools do. */
function sneakyEdit(p: string): void {
  const st = statSync(p);
  const data = readFileSync(p);
  data[0] = data[0] === 0x41 ? 0x42 : 0x41;
  writeFileSync(p, data);
  utimesSync(p, st.atimeMs / 1000, st.mtimeMs / 1000);
  expect(Math.abs(statSync(p).mtimeMs - st.mtimeMs)).toBeLessThan(0.01); // seconds as a double: sub-µs rounding
  expect(statSync(p).size).toBe(st.size);
}

const digest = (algo: string, p: string): string => createHash(algo).update(readFileSync(p)).digest('hex');

describe('hashing only what must be hashed', () => {
  it('a no-change pass hashes nothing; --checksum hashes everything once, then nothing', async () => {
    const t = await mirrored();
    const plain = await t.pass();
    expect(changeCount(plain.report)).toBe(0);
    expect(plain.report).toMatchObject({ hashed: 0, hashedBytes: 0 });

    const learn = await t.pass(true);
    expect(changeCount(learn.report)).toBe(0);
    expect(learn.report.hashed).toBe(2 * t.files); // each file on both sides, once
    const warm = await t.pass(true);
    expect(changeCount(warm.report)).toBe(0);
    expect(warm.report).toMatchObject({ hashed: 0, hashedBytes: 0 });
    // A plain pass does not forget what was learnt.
    expect((await t.pass()).report.hashed).toBe(0);
    expect((await t.pass(true)).report.hashed).toBe(0);
    expect(await recordProblems(t.state, t.src, t.dst)).toEqual([]);
  });

  it('a copied file needs no hashing afterwards, with or without --checksum', async () => {
    const t = await mirrored(3);
    await t.pass(true);
    writeFileSync(`${t.src}/f1.txt`, 'new content, new size');
    writeFileSync(`${t.src}/added.txt`, 'added');
    const copy = await t.pass(true);
    expect(copy.report).toMatchObject({ update: 1, copy: 1 });
    expect(mirrorDiff(t.src, t.dst)).toEqual([]);
    const after = await t.pass(true);
    expect(changeCount(after.report)).toBe(0);
    // At most the two new files are read once more to learn their hashes.
    expect(after.report.hashed).toBeLessThanOrEqual(4);
    expect((await t.pass(true)).report.hashed).toBe(0);
  });
});

describe('a same-size edit with the mtime put back', () => {
  for (const warm of [false, true]) {
    it(`in the source: missed without --checksum (as rsync does), copied with it${warm ? ' (hashes already recorded)' : ''}`, async () => {
      const t = await mirrored();
      if (warm) await t.pass(true);
      sneakyEdit(`${t.src}/f3.txt`);
      const quick = await t.pass();
      expect(changeCount(quick.report)).toBe(0);
      expect(mirrorDiff(t.src, t.dst)).toEqual(['f3.txt: content differs']);

      const thorough = await t.pass(true);
      expect(thorough.report).toMatchObject({ update: 1, copy: 0, move: 0, delete: 0, bytes: statSync(`${t.src}/f3.txt`).size });
      // The edited file's source side must be read; the replica side too unless its hash was recorded.
      expect(thorough.report.hashed).toBeGreaterThanOrEqual(warm ? 1 : 2 * t.files - 1);
      expect(thorough.report.hashed).toBeLessThanOrEqual(warm ? 2 : 2 * t.files);
      expect(mirrorDiff(t.src, t.dst)).toEqual([]);
      expect(await recordProblems(t.state, t.src, t.dst)).toEqual([]);
    });

    it(`in the replica: repaired without --checksum${warm ? ' (hashes already recorded)' : ''}`, async () => {
      const t = await mirrored();
      if (warm) await t.pass(true);
      sneakyEdit(`${t.dst}/f3.txt`);
      sneakyEdit(`${t.dst}/sub/x.txt`);
      expect(mirrorDiff(t.src, t.dst)).toHaveLength(2);
      const { report } = await t.pass();
      expect(report).toMatchObject({ update: 2, copy: 0, delete: 0 });
      // Only the two drifted files are read: on both sides, or only in the replica when the source hash is known.
      expect(report.hashed).toBeGreaterThanOrEqual(2);
      expect(report.hashed).toBeLessThanOrEqual(4);
      expect(mirrorDiff(t.src, t.dst)).toEqual([]);
      expect(await recordProblems(t.state, t.src, t.dst)).toEqual([]);
      const next = await t.pass();
      expect(changeCount(next.report)).toBe(0);
      expect(next.report.hashed).toBe(0);
    });
  }

  it('in the replica, as a whole new file put in place (new inode)', async () => {
    const t = await mirrored(5);
    const p = `${t.dst}/f2.txt`;
    const st = statSync(p);
    const data = readFileSync(p);
    data[5] = (data[5] ?? 0) ^ 1;
    writeFileSync(`${t.dst}/elsewhere`, data);
    utimesSync(`${t.dst}/elsewhere`, st.atimeMs / 1000, st.mtimeMs / 1000);
    renameSync(`${t.dst}/elsewhere`, p);
    chmodSync(p, st.mode & 0o7777);
    const { report } = await t.pass();
    expect(report).toMatchObject({ update: 1, copy: 0, delete: 0 });
    expect(mirrorDiff(t.src, t.dst)).toEqual([]);
    expect(await recordProblems(t.state, t.src, t.dst)).toEqual([]);
  });

  it('a replica file touched but not changed is read once, kept, and trusted again', async () => {
    const t = await mirrored(5);
    const p = `${t.dst}/f1.txt`;
    const ino = statSync(p).ino;
    chmodSync(p, 0o600);
    chmodSync(p, statSync(`${t.src}/f1.txt`).mode & 0o7777); // ctime moved, nothing else
    const { report } = await t.pass();
    expect(changeCount(report)).toBe(0);
    expect(report.hashed).toBeGreaterThanOrEqual(1);
    expect(report.hashed).toBeLessThanOrEqual(2);
    expect(statSync(p).ino).toBe(ino); // not copied again
    const next = await t.pass();
    expect(next.report.hashed).toBe(0);
    expect(await recordProblems(t.state, t.src, t.dst)).toEqual([]);
  });
});

describe('--hash md5', () => {
  it('compares, records and reuses md5 hashes', async () => {
    const t = await mirrored(10, 'md5');
    const learn = await t.pass(true);
    expect(learn.report.hashed).toBe(2 * t.files);
    const { store } = await RecordStore.load(t.state, t.src, t.dst);
    const rec = store.readAll().get('f4.txt');
    expect(rec).toMatchObject({ algo: 'md5', hash: digest('md5', `${t.src}/f4.txt`) });
    expect((await t.pass(true)).report.hashed).toBe(0);

    sneakyEdit(`${t.src}/f4.txt`);
    const found = await t.pass(true);
    expect(found.report).toMatchObject({ update: 1, hashed: 1 });
    expect(mirrorDiff(t.src, t.dst)).toEqual([]);

    // sha256 hashes are not md5 hashes: switching algorithms reads the files again, once.
    const sha = await syncOnce({ source: t.src, replica: t.dst, state: t.state, checksum: true, hash: 'sha256' });
    expect(changeCount(sha.report)).toBe(0);
    expect(sha.report.hashed).toBeGreaterThan(0);
    const reloaded = await RecordStore.load(t.state, t.src, t.dst);
    expect(reloaded.store.readAll().get('f4.txt')).toMatchObject({ algo: 'sha256', hash: digest('sha256', `${t.src}/f4.txt`) });
  });
});
