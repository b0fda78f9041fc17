import { mkdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalTree } from '../../src/trees/local.js';
import { makeFilter } from '../../src/sync/filter.js';
import { type MarchInput, march } from '../../src/sync/march.js';
import { RecordStore } from '../../src/sync/record.js';
import { closePool, syncOnce } from '../helpers/pass.js';
import { cleanupTemps, tempDir } from '../helpers/tree.js';

afterAll(async () => {
  await closePool();
  cleanupTemps();
});

/** A mirrored pair with names that sort differently by path and by folder walk. */
async function mirrored(): Promise<{ src: string; dst: string; state: string }> {
  const d = tempDir();
  const src = path.join(d, 'src');
  const dst = path.join(d, 'dst');
  const state = path.join(d, 'state.record');
  for (const dir of ['a', 'a/x', 'a b', 'a.d', 'z/deep/er', 'é', 'e\u0301']) mkdirSync(path.join(src, dir), { recursive: true });
  for (const f of ['a.txt', 'a/1', 'a/x/2', 'a b/3', 'a.d/4', 'z/deep/er/5', 'é/6', 'e\u0301/7', 'top']) writeFileSync(path.join(src, f), f);
  symlinkSync('a/1', path.join(src, 'link'));
  await syncOnce({ source: src, replica: dst, state });
  await syncOnce({ source: src, replica: dst, state });
  return { src, dst, state };
}

async function marchOver(p: { src: string; dst: string; state: string }, extra: Partial<MarchInput> = {}) {
  const { store, warning } = await RecordStore.load(p.state, p.src, p.dst);
  expect(warning).toBeUndefined();
  const reader = store.reader();
  try {
    const out = await march({
      source: new LocalTree(p.src),
      replica: new LocalTree(p.dst),
      record: reader,
      filter: undefined,
      deleteExcluded: false,
      settle: { windowMs: 0, modes: true, srcRootDev: statSync(p.src).dev },
      replicaMayBeMissing: false,
      ...extra,
    });
    expect(store.takeWarning()).toBeUndefined();
    return out;
  } finally {
    reader.close();
  }
}

describe('march: both trees and the record, folder by folder', () => {
  it('drops everything of a settled mirror and still counts it', async () => {
    const p = await mirrored();
    const m = await marchOver(p);
    expect([...m.source.entries.keys()]).toEqual([]);
    expect([...m.replica.entries.keys()]).toEqual([]);
    expect([...m.record.keys()]).toEqual([]);
    expect(m.count).toEqual({ source: 19, replica: 19 });
    expect(m.settled).toBe(19);
  });

  it('keeps a difference with the folders above it, nothing else', async () => {
    const p = await mirrored();
    writeFileSync(path.join(p.src, 'z/deep/er/5'), 'changed');
    utimesSync(path.join(p.src, 'z/deep/er/5'), 1_600_000_000, 1_600_000_000);
    const m = await marchOver(p);
    expect([...m.source.entries.keys()].sort()).toEqual(['z', 'z/deep', 'z/deep/er', 'z/deep/er/5']);
    expect([...m.replica.entries.keys()].sort()).toEqual(['z', 'z/deep', 'z/deep/er', 'z/deep/er/5']);
    expect([...m.record.keys()].sort()).toEqual(['z', 'z/deep', 'z/deep/er', 'z/deep/er/5']);
    expect(m.settled).toBe(15);
  });

  it('hands on record lines of paths neither tree has, and one-sided subtrees whole', async () => {
    const p = await mirrored();
    rmSync(path.join(p.src, 'a'), { recursive: true });
    rmSync(path.join(p.dst, 'a'), { recursive: true });
    mkdirSync(path.join(p.src, 'new/sub'), { recursive: true });
    writeFileSync(path.join(p.src, 'new/sub/f'), 'f');
    const m = await marchOver(p);
    expect([...m.record.keys()].sort()).toEqual(['a', 'a/1', 'a/x', 'a/x/2']);
    expect([...m.source.entries.keys()].sort()).toEqual(['new', 'new/sub', 'new/sub/f']);
    expect([...m.replica.entries.keys()]).toEqual([]);
  });

  it('keeps everything when asked to settle nothing, files without a recorded hash under --checksum, and sets excluded replica entries apart', async () => {
    const p = await mirrored();
    const all = await marchOver(p, { settle: null });
    expect(all.source.entries.size).toBe(19);
    expect(all.record.size).toBe(19);
    const sums = await marchOver(p, { settle: { windowMs: 0, modes: true, srcRootDev: statSync(p.src).dev, hashed: 'sha256' } });
    // No hash was recorded (nothing was read): every file goes to the planner, with its folders.
    expect([...sums.source.entries.values()].filter((e) => e.kind === 'file').length).toBe(9);
    expect(sums.source.entries.has('link')).toBe(false);
    const ex = await marchOver(p, { filter: makeFilter(['a.d']) });
    expect([...ex.replica.excluded.keys()]).toEqual(['a.d']);
    expect(ex.count).toEqual({ source: 17, replica: 17 });
  });

  it('lists a whole folder whose names a folding replica holds as one', async () => {
    const p = await mirrored();
    const fold = (s: string): string => s.normalize('NFC').toLowerCase();
    const m = await marchOver(p, { settle: { windowMs: 0, modes: true, srcRootDev: statSync(p.src).dev, fold } });
    // 'é' and 'e\u0301' fold together: the root's entries all go to the planner, the rest settles.
    expect(m.source.entries.has('top')).toBe(true);
    expect(m.source.entries.has('a/1')).toBe(false);
  });
});
