// The comparison rules of src/sync/fs-rules.ts (mtimeEq, devKey, autoWindowMs, nameFolding, and
// EXACT_RULES) and the source mtime step read from listed mtimes, observedResolutionMs
// (src/trees/probe.ts).
import { describe, expect, it } from 'vitest';
import { EXACT_RULES, autoWindowMs, devKey, mtimeEq, nameFolding } from '../../src/sync/fs-rules.js';
import { observedResolutionMs } from '../../src/trees/probe.js';

const T = 1_700_000_000_000;

describe('mtimeEq()', () => {
  const cases: [name: string, windowMs: number, a: number, b: number, want: boolean][] = [
    ['identical', 0, T, T, true],
    ['under a millisecond apart, exact', 0, T, T + 0.999, true],
    ['a millisecond apart, exact', 0, T, T + 1, false],
    ['a second apart, exact', 0, T + 1000, T, false],
    ['under a millisecond apart, in a window', 2000, T, T + 0.5, true],
    ['inside a 2 s window', 2000, T, T + 1500, true],
    ['inside a 2 s window, the other way', 2000, T + 1500, T, true],
    ['on the edge of a 2 s window', 2000, T, T + 2000, true],
    ['just past a 2 s window', 2000, T, T + 2000.5, false],
    ['past a 2 s window', 2000, T - 2500, T, false],
    ['an hour off in a 1 h window (FAT and DST)', 3_600_000, T, T + 3_600_000, true],
    ['an hour and a millisecond off in a 1 h window', 3_600_000, T, T + 3_600_001, false],
    ['a window of Infinity (mtimes not kept) takes any', Number.POSITIVE_INFINITY, 0, T, true],
  ];
  it.each(cases)('%s (window %d)', (_name, windowMs, a, b, want) => {
    expect(mtimeEq({ windowMs }, a, b)).toBe(want);
    expect(mtimeEq({ windowMs }, b, a)).toBe(want);
  });
});

describe('devKey()', () => {
  const cases: [name: string, srcRootDev: number, dev: number, want: number][] = [
    ['the source root device is recorded as 0', 2049, 2049, 0],
    ['another device keeps its number', 2049, 2050, 2050],
    ['EXACT_RULES match no device', EXACT_RULES.srcRootDev, 2049, 2049],
    ['device 0 stays 0', 5, 0, 0],
  ];
  it.each(cases)('%s', (_name, srcRootDev, dev, want) => {
    expect(devKey({ srcRootDev }, dev)).toBe(want);
  });
});

describe('autoWindowMs()', () => {
  const cases: [name: string, replicaMs: number, sourceMs: number, want: number][] = [
    ['both exact', 0, 0, 0],
    ['a FAT replica', 2000, 0, 2000],
    ['an sshfs replica of a 10 ms source', 1000, 10, 1000],
    ['a FAT source onto a fine replica', 0, 2000, 2000],
    ['the coarser of the two', 10, 1000, 1000],
    ['a replica that keeps no mtimes', Number.POSITIVE_INFINITY, 1, Number.POSITIVE_INFINITY],
  ];
  it.each(cases)('%s', (_name, replicaMs, sourceMs, want) => {
    expect(autoWindowMs({ mtimeResolutionMs: replicaMs }, sourceMs)).toBe(want);
  });
});

describe('nameFolding()', () => {
  const NFC = 'Caf\u00e9/R\u00c9SUM\u00c9.txt';
  const NFD = NFC.normalize('NFD');
  // [caseInsensitive, normalizing, input, expected key] — undefined key: no folding at all.
  const cases: [name: string, ci: boolean, norm: boolean, input: string, want: string | undefined][] = [
    ['a case-sensitive, non-normalising replica folds nothing', false, false, 'ABC', undefined],
    ['case-insensitive: lower case', true, false, 'Dir/README.Txt', 'dir/readme.txt'],
    ['case-insensitive only: NFD stays NFD', true, false, NFD, NFD.toLowerCase()],
    ['normalising only: NFC, case kept', false, true, NFD, NFC],
    ['normalising only: NFC input unchanged', false, true, NFC, NFC],
    ['both: NFC, lower case', true, true, NFD, 'caf\u00e9/r\u00e9sum\u00e9.txt'],
  ];
  it.each(cases)('%s', (_name, caseInsensitive, normalizing, input, want) => {
    const fold = nameFolding({ caseInsensitive, normalizing });
    if (want === undefined) expect(fold).toBeUndefined();
    else expect(fold?.(input)).toBe(want);
  });

  it('folds two spellings of one name to one key, and different names to different keys', () => {
    const fold = nameFolding({ caseInsensitive: true, normalizing: true })!;
    expect(fold('Photo.JPG')).toBe(fold('photo.jpg'));
    expect(fold(NFC)).toBe(fold(NFD.toUpperCase()));
    expect(fold('photo.jpg')).not.toBe(fold('photo.jpeg'));
  });
});

describe('EXACT_RULES', () => {
  it('is exact, keeps modes, trusts inodes, folds nothing, and cannot be changed', () => {
    expect(EXACT_RULES).toEqual({ windowMs: 0, exactSource: false, modes: true, srcIno: true, repIno: true, srcRootDev: -1 });
    expect(EXACT_RULES.fold).toBeUndefined();
    expect(Object.isFrozen(EXACT_RULES)).toBe(true);
  });
});

describe('observedResolutionMs()', () => {
  /** n distinct mtimes on even seconds (each a multiple of 2000 ms). */
  const even = (n: number): number[] => Array.from({ length: n }, (_, i) => T + i * 2000);
  const cases: [name: string, mtimes: number[], want: number | undefined][] = [
    ['no mtimes: too few to tell', [], undefined],
    ['seven distinct even-second mtimes are too few to tell', even(7), undefined],
    ['many files written in one second (one distinct mtime) are too few to tell', Array.from({ length: 50 }, () => T), undefined],
    ['eight distinct even-second mtimes: FAT', even(8), 2000],
    ['one odd second among them: 1 s (sshfs)', [...even(7), T + 1000], 1000],
    ['an odd second first', [T + 1000, ...even(7)], 1000],
    ['tenths', [...even(7), T + 100], 100],
    ['hundredths (exFAT)', [...even(7), T + 10], 10],
    ['whole milliseconds', [T + 7, ...even(7)], 1],
    ['a fraction of a millisecond: finer than a millisecond', [...even(8), T + 0.5], 0],
    ['a single fractional mtime decides, however few were seen', [T + 0.001], 0],
    ['repeats do not count as distinct', [...even(7), ...even(7)], undefined],
  ];
  it.each(cases)('%s', (_name, mtimes, want) => {
    expect(observedResolutionMs(mtimes)).toBe(want);
  });

  it('takes any iterable (a generator of mtimes)', () => {
    function* gen(): Generator<number> {
      yield* even(7);
      yield T + 1010;
    }
    expect(observedResolutionMs(gen())).toBe(10);
  });
});
