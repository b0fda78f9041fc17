// renumbered() (src/sync/identity.ts): telling a remount that renumbered a side's inodes (per-mount
// filesystems only) from files swapped in place, edits, and out-of-scope paths; the replica side
// compares mtimes within the modify window, the source side exactly.
import { describe, expect, it } from 'vitest';
import { type IdSide, renumbered } from '../../src/sync/identity.js';
import type { Entry, FileRecord, RecordEntry } from '../../src/sync/types.js';

const T = 1_700_000_000_000;

/** One file known to the record and seen again: inode numbers and times per side. */
interface Spec {
  readonly path: string;
  readonly kind?: 'file' | 'dir';
  readonly size?: number;
  /** The mtime the record holds. */
  readonly mtimeMs?: number;
  /** The inode the record holds (used as both sIno and rIno: each test looks at one side). */
  readonly recIno: number;
  /** The inode seen now. */
  readonly ino: number;
  /** Size seen now (default: as recorded). */
  readonly nowSize?: number;
  /** Mtime seen now (default: as recorded). */
  readonly nowMtimeMs?: number;
}

function rec(s: Spec): RecordEntry {
  const kind = s.kind ?? 'file';
  const size = kind === 'dir' ? 0 : (s.size ?? 100);
  return { kind, size, mtimeMs: s.mtimeMs ?? T, mode: 0o644, rIno: s.recIno, rCtimeMs: T, sIno: s.recIno, sDev: 0, sCtimeMs: T };
}
function entry(s: Spec): Entry {
  const kind = s.kind ?? 'file';
  const size = kind === 'dir' ? 0 : (s.nowSize ?? s.size ?? 100);
  return { path: s.path, kind, size, mtimeMs: s.nowMtimeMs ?? s.mtimeMs ?? T, ctimeMs: T + 5, mode: 0o644, ino: s.ino, dev: 7 };
}

/** n files a0..a(n-1), each with a distinct size and mtime; `renumber` of them get new inode numbers. */
function tree(n: number, renumber: number, extra: Partial<Spec> = {}): Spec[] {
  return Array.from({ length: n }, (_, i) => ({ path: `a${i}`, size: 10 + i, mtimeMs: T + i * 1000, recIno: 100 + i, ino: i < renumber ? 900_000 + i : 100 + i, ...extra }));
}

interface Case {
  readonly name: string;
  readonly specs: Spec[];
  /** Record lines with no entry seen now (deleted files). */
  readonly gone?: Spec[];
  /** Entries seen now with no record line (new files). */
  readonly fresh?: Spec[];
  readonly side?: IdSide;
  readonly windowMs?: number;
  readonly perMount?: boolean;
  readonly inScope?: (p: string) => boolean;
  readonly want: boolean;
}

const cases: Case[] = [
  { name: 'a remount (every inode replaced) on a per-mount filesystem', specs: tree(10, 10), want: true },
  { name: 'a remount (most inodes replaced: 7 of 10)', specs: tree(10, 7), want: true },
  { name: 'the same remount on the replica side', specs: tree(10, 8), side: 'rep', want: true },
  { name: 'never on a filesystem whose inode numbers last (perMount false)', specs: tree(10, 10), perMount: false, want: false },
  { name: '...nor on the replica side', specs: tree(10, 10), side: 'rep', perMount: false, want: false },
  { name: 'nothing renumbered', specs: tree(10, 0), want: false },
  { name: 'exactly half renumbered is not most', specs: tree(10, 5), want: false },
  { name: 'a few new inodes (hand edits, restores) are not a remount', specs: tree(10, 2), want: false },
  { name: 'an empty record says nothing', specs: [], want: false },
  {
    name: 'folders count too: renumbered folders are a remount',
    specs: [0, 1, 2, 3].map((i) => ({ path: `d${i}`, kind: 'dir' as const, recIno: 10 + i, ino: 500 + i, mtimeMs: T + i })),
    want: true,
  },
  {
    name: 'a folder whose mtime changed (entries added) still counts',
    specs: [0, 1, 2].map((i) => ({ path: `d${i}`, kind: 'dir' as const, recIno: 10 + i, ino: 500 + i, nowMtimeMs: T + 60_000 })),
    want: true,
  },
  {
    // Equal size and mtime, inodes permuted: a → b → c → a. Each number is the record's for another such file.
    name: 'files rotated in place (inodes permuted among equal size and mtime) are not renumbered',
    specs: [
      { path: 'a', recIno: 1, ino: 2 },
      { path: 'b', recIno: 2, ino: 3 },
      { path: 'c', recIno: 3, ino: 1 },
    ],
    want: false,
  },
  {
    name: 'a swap on the replica side is not renumbered either',
    specs: [
      { path: 'a', recIno: 1, ino: 2 },
      { path: 'b', recIno: 2, ino: 1 },
    ],
    side: 'rep',
    want: false,
  },
  {
    // The numbers are the record's, but for files of another size: they explain nothing.
    name: 'inodes permuted among files of different sizes are not explained',
    specs: [
      { path: 'a', size: 10, recIno: 1, ino: 2 },
      { path: 'b', size: 20, recIno: 2, ino: 3 },
      { path: 'c', size: 30, recIno: 3, ino: 1 },
    ],
    want: true,
  },
  {
    name: 'inodes permuted among files of different mtimes are not explained',
    specs: [
      { path: 'a', mtimeMs: T, recIno: 1, ino: 2 },
      { path: 'b', mtimeMs: T + 5000, recIno: 2, ino: 1 },
    ],
    want: true,
  },
  {
    name: 'a number the record holds for a (deleted) file of the same size and mtime explains itself',
    specs: [{ path: 'new-name', recIno: 50, ino: 1 }],
    gone: [{ path: 'old-name', recIno: 1, ino: 0 }],
    want: false,
  },
  {
    name: 'entries whose size changed do not count',
    specs: [...tree(4, 0), ...[4, 5, 6, 7, 8, 9].map((i) => ({ path: `e${i}`, recIno: 100 + i, ino: 900_000 + i, size: 50, nowSize: 51 }))],
    want: false,
  },
  {
    name: 'entries whose mtime changed do not count',
    specs: [...tree(4, 0), ...[4, 5, 6, 7, 8, 9].map((i) => ({ path: `e${i}`, recIno: 100 + i, ino: 900_000 + i, nowMtimeMs: T + 60_000 }))],
    want: false,
  },
  {
    name: 'all edited: nothing is left to judge by',
    specs: tree(5, 5, { nowSize: 1 }),
    want: false,
  },
  {
    name: 'deleted and new files do not count',
    specs: tree(4, 1),
    gone: [0, 1, 2, 3, 4].map((i) => ({ path: `gone${i}`, recIno: 300 + i, ino: 0 })),
    fresh: [0, 1, 2, 3, 4].map((i) => ({ path: `new${i}`, recIno: 0, ino: 600 + i })),
    want: false,
  },
  {
    // Replica mtimes were rounded to the replica's step: 1.5 s off is "the same" within a 2 s window.
    name: "'rep' side: mtimes within the modify window are the same",
    specs: tree(6, 6).map((s) => ({ ...s, nowMtimeMs: (s.mtimeMs ?? T) + 1500 })),
    side: 'rep',
    windowMs: 2000,
    want: true,
  },
  {
    name: "'rep' side: mtimes beyond the modify window are edits and do not count",
    specs: tree(6, 6).map((s) => ({ ...s, nowMtimeMs: (s.mtimeMs ?? T) + 2500 })),
    side: 'rep',
    windowMs: 2000,
    want: false,
  },
  {
    name: "'rep' side without a window: 1.5 s off is an edit",
    specs: tree(6, 6).map((s) => ({ ...s, nowMtimeMs: (s.mtimeMs ?? T) + 1500 })),
    side: 'rep',
    windowMs: 0,
    want: false,
  },
  {
    name: "'src' side compares mtimes exactly, whatever the window",
    specs: tree(6, 6).map((s) => ({ ...s, nowMtimeMs: (s.mtimeMs ?? T) + 1500 })),
    side: 'src',
    windowMs: 2000,
    want: false,
  },
  {
    name: "'src' side: even half a millisecond off is a change",
    specs: tree(6, 6).map((s) => ({ ...s, nowMtimeMs: (s.mtimeMs ?? T) + 0.5 })),
    side: 'src',
    windowMs: 2000,
    want: false,
  },
  {
    name: "'rep' side: a swap among files whose mtimes differ within the window is explained",
    specs: [
      // Each is seen 500 ms off what the record holds for either file: only the window pairs them.
      { path: 'a', mtimeMs: T, nowMtimeMs: T + 500, recIno: 1, ino: 2 },
      { path: 'b', mtimeMs: T + 1000, nowMtimeMs: T + 500, recIno: 2, ino: 1 },
    ],
    side: 'rep',
    windowMs: 2000,
    want: false,
  },
  {
    name: 'inScope: renumbered entries out of scope are not looked at',
    specs: [...tree(3, 0).map((s) => ({ ...s, path: `in/${s.path}` })), ...tree(10, 10).map((s) => ({ ...s, path: `out/${s.path}`, recIno: s.recIno + 50 }))],
    inScope: (p) => p.startsWith('in/'),
    want: false,
  },
  {
    name: 'without inScope the same tree is a remount',
    specs: [...tree(3, 0).map((s) => ({ ...s, path: `in/${s.path}` })), ...tree(10, 10).map((s) => ({ ...s, path: `out/${s.path}`, recIno: s.recIno + 50 }))],
    want: true,
  },
  {
    name: 'inScope: a renumbered scope is seen even when the rest is not renumbered',
    specs: [...tree(3, 3).map((s) => ({ ...s, path: `in/${s.path}` })), ...tree(10, 0).map((s) => ({ ...s, path: `out/${s.path}`, recIno: s.recIno + 50, ino: s.ino + 50 }))],
    inScope: (p) => p.startsWith('in/'),
    want: true,
  },
  {
    name: 'without inScope the same tree is mostly unchanged',
    specs: [...tree(3, 3).map((s) => ({ ...s, path: `in/${s.path}` })), ...tree(10, 0).map((s) => ({ ...s, path: `out/${s.path}`, recIno: s.recIno + 50, ino: s.ino + 50 }))],
    want: false,
  },
];

function run(c: Case): boolean {
  const record: FileRecord = new Map([...c.specs, ...(c.gone ?? [])].map((s) => [s.path, rec(s)]));
  const entries = new Map([...c.specs, ...(c.fresh ?? [])].map((s) => [s.path, entry(s)]));
  return renumbered(c.side ?? 'src', record, entries, { windowMs: c.windowMs ?? 0 }, c.perMount ?? true, c.inScope);
}

describe('renumbered() from a table', () => {
  it.each(cases)('$name', (c) => {
    expect(run(c)).toBe(c.want);
  });

  it('looks at the side asked for: sIno for the source, rIno for the replica', () => {
    const specs = tree(6, 0);
    // The record's source numbers are all stale, its replica numbers all current.
    const record: FileRecord = new Map(specs.map((s) => [s.path, { ...rec(s), sIno: s.recIno + 10_000 }]));
    const entries = new Map(specs.map((s) => [s.path, entry(s)]));
    expect(renumbered('src', record, entries, { windowMs: 0 }, true)).toBe(true);
    expect(renumbered('rep', record, entries, { windowMs: 0 }, true)).toBe(false);
  });

  it('a file that became a folder at the same path is not counted', () => {
    const record: FileRecord = new Map([['x', rec({ path: 'x', recIno: 1, ino: 0 })]]);
    const entries = new Map([['x', entry({ path: 'x', kind: 'dir', recIno: 1, ino: 99 })]]);
    expect(renumbered('src', record, entries, { windowMs: 0 }, true)).toBe(false);
    // The same line with a file there under a new number is a (one-entry) remount.
    const asFile = new Map([['x', entry({ path: 'x', recIno: 1, ino: 99 })]]);
    expect(renumbered('src', record, asFile, { windowMs: 0 }, true)).toBe(true);
  });
});
