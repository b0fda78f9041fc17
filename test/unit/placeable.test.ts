// findUnplaceable / dropSubtrees (src/sync/placeable.ts): which source entries a replica's
// filesystem cannot hold (symlinks, Windows-forbidden names, over-long names, non-ASCII names,
// names that collide once the replica folds case or Unicode form), reported once per subtree, and
// dropping exactly those subtrees from a listing.
import { describe, expect, it } from 'vitest';
import { nameFolding } from '../../src/sync/fs-rules.js';
import { type NameTraits, caseConflicts, dropSubtrees, findUnplaceable } from '../../src/sync/placeable.js';
import type { Entry } from '../../src/sync/types.js';

const T = 1_700_000_000_000;
let nextIno = 5000;

function file(path: string): Entry {
  return { path, kind: 'file', size: 1, mtimeMs: T, ctimeMs: T, mode: 0o644, ino: nextIno++, dev: 1 };
}
function dir(path: string): Entry {
  return { path, kind: 'dir', size: 0, mtimeMs: T, ctimeMs: T, mode: 0o755, ino: nextIno++, dev: 1 };
}
function link(path: string, target = 'elsewhere'): Entry {
  return { path, kind: 'symlink', size: target.length, mtimeMs: T, ctimeMs: T, mode: 0o777, ino: nextIno++, dev: 1, target };
}
function listing(entries: Entry[]): Map<string, Entry> {
  return new Map(entries.map((e) => [e.path, e]));
}

/** A local POSIX filesystem: holds everything. */
const EXT4: NameTraits = { type: 'ext4', symlinks: true, caseInsensitive: false, normalizing: false, windowsNames: false, unicodeNames: true };
/** FAT/exFAT-like: no links, Windows names, case-insensitive. */
const VFAT: NameTraits = { type: 'vfat', symlinks: false, caseInsensitive: true, normalizing: false, windowsNames: true, unicodeNames: true };
/** Case-sensitive but Windows names (e.g. a CIFS share with posix paths off), so name rules are tested without folding. */
const WINNAMES: NameTraits = { ...EXT4, type: 'cifs', windowsNames: true };
/** An old filesystem that refuses non-ASCII names. */
const ASCII_ONLY: NameTraits = { ...EXT4, type: 'fuse.fusefat', unicodeNames: false };
/** Case-sensitive but normalising (NFC and NFD name one entry). */
const NORMALISING: NameTraits = { ...EXT4, type: 'apfs', normalizing: true };
/** Case-insensitive and normalising. */
const FOLD_BOTH: NameTraits = { ...EXT4, type: 'hfsplus', caseInsensitive: true, normalizing: true };

interface Expected {
  readonly path: string;
  readonly below: number;
  /** What the reason must match. */
  readonly reason: RegExp;
}

interface Case {
  readonly name: string;
  readonly entries: Entry[];
  readonly traits: NameTraits;
  /** Folding applied: by default what nameFolding(traits) returns. */
  readonly fold?: 'none';
  readonly want: Expected[];
}

const FORBIDDEN_CHARS = ['"', '*', ':', '<', '>', '?', '\\', '|'];

const cases: Case[] = [
  { name: 'nothing to report on a POSIX filesystem', entries: [dir('d'), file('d/a:b?'), link('l'), file('trail. ')], traits: EXT4, want: [] },
  {
    name: 'a symlink on a filesystem without links',
    entries: [file('a'), link('l')],
    traits: VFAT,
    want: [{ path: 'l', below: 0, reason: /\(vfat\) cannot hold symbolic links/ }],
  },
  { name: 'a symlink is fine where links exist', entries: [link('l')], traits: WINNAMES, want: [] },
  ...FORBIDDEN_CHARS.map(
    (ch): Case => ({
      name: `Windows-forbidden character ${JSON.stringify(ch)}`,
      entries: [dir('d'), file(`d/a${ch}b.txt`), file('d/ok.txt')],
      traits: WINNAMES,
      want: [{ path: `d/a${ch}b.txt`, below: 0, reason: new RegExp(`contains '${ch.replace(/[\\*?|]/g, '\\$&')}', which cifs does not allow`) }],
    }),
  ),
  {
    name: 'a control character in a name',
    entries: [file('bell\u0007.txt'), file('tab\there')],
    traits: WINNAMES,
    want: [
      { path: 'bell\u0007.txt', below: 0, reason: /contains control character "\\u0007", which cifs does not allow/ },
      { path: 'tab\there', below: 0, reason: /contains control character "\\t"/ },
    ],
  },
  {
    name: 'a trailing dot',
    entries: [file('notes.'), file('.hidden'), file('a.b')],
    traits: WINNAMES,
    want: [{ path: 'notes.', below: 0, reason: /ends with a dot, which cifs does not allow/ }],
  },
  {
    name: 'a trailing space',
    entries: [file('notes '), file(' leading')],
    traits: WINNAMES,
    want: [{ path: 'notes ', below: 0, reason: /ends with a space/ }],
  },
  {
    name: 'a folder with a forbidden name is reported once, with what is below it',
    entries: [dir('what?'), dir('what?/sub'), file('what?/sub/x'), file('what?/y:z'), file('ok')],
    traits: WINNAMES,
    want: [{ path: 'what?', below: 3, reason: /contains '\?'/ }],
  },
  {
    name: 'a 256-UTF-16-unit name on Windows names; 255 is fine',
    entries: [file('a'.repeat(256)), file('b'.repeat(255))],
    traits: WINNAMES,
    want: [{ path: 'a'.repeat(256), below: 0, reason: /256 UTF-16 units long; cifs holds at most 255/ }],
  },
  {
    // 200 é's are 400 bytes but 200 UTF-16 units: Windows counts units.
    name: 'Windows names count UTF-16 units, not bytes',
    entries: [file('\u00e9'.repeat(200))],
    traits: WINNAMES,
    want: [],
  },
  {
    name: 'a name over 255 bytes elsewhere (128 é = 256 bytes); 255 bytes is fine',
    entries: [dir('d'), file(`d/${'\u00e9'.repeat(128)}`), file(`d/${'x'.repeat(255)}`), file(`d/${'\u00e9'.repeat(127)}x`)],
    traits: EXT4,
    want: [{ path: `d/${'\u00e9'.repeat(128)}`, below: 0, reason: /256 bytes long; ext4 holds at most 255/ }],
  },
  {
    name: 'only the last component counts toward the name limit',
    entries: [dir('a'.repeat(200)), file(`${'a'.repeat(200)}/${'b'.repeat(200)}`)],
    traits: EXT4,
    want: [],
  },
  {
    name: 'non-ASCII when unicodeNames is false',
    entries: [file('caf\u00e9'), file('plain'), file('emoji\u{1f600}')],
    traits: ASCII_ONLY,
    want: [
      { path: 'caf\u00e9', below: 0, reason: /beyond ASCII, which this fuse\.fusefat filesystem refuses/ },
      { path: 'emoji\u{1f600}', below: 0, reason: /beyond ASCII/ },
    ],
  },
  { name: 'non-ASCII is fine when unicodeNames is true', entries: [file('caf\u00e9')], traits: EXT4, want: [] },
  {
    name: 'case collision: the one first in byte order is kept and named',
    entries: [file('photo.jpg'), file('Photo.JPG')],
    traits: VFAT,
    want: [{ path: 'photo.jpg', below: 0, reason: /^differs only in case or Unicode form from "Photo\.JPG".*\(vfat\).*"Photo\.JPG" is kept$/ }],
  },
  {
    name: 'a three-way collision keeps one and reports two',
    entries: [file('readme'), file('README'), file('ReadMe')],
    traits: VFAT,
    want: [
      { path: 'ReadMe', below: 0, reason: /from "README".*"README" is kept/ },
      { path: 'readme', below: 0, reason: /from "README".*"README" is kept/ },
    ],
  },
  {
    name: 'colliding folders: only the folder is reported, children go with it',
    entries: [dir('Albums'), file('Albums/a.jpg'), file('Albums/b.jpg'), dir('albums'), file('albums/a.jpg'), dir('albums/2020'), file('albums/2020/c.jpg')],
    traits: VFAT,
    want: [{ path: 'albums', below: 3, reason: /from "Albums".*"Albums" is kept/ }],
  },
  {
    name: 'collisions in different folders are independent of each other',
    entries: [dir('x'), file('x/A'), file('x/a'), dir('y'), file('y/A')],
    traits: VFAT,
    want: [{ path: 'x/a', below: 0, reason: /from "x\/A"/ }],
  },
  {
    // NFD 'cafe\u0301' (65 cc 81) sorts before NFC 'caf\u00e9' (c3 a9) in bytes: the NFD spelling is kept.
    name: 'NFC vs NFD names collide on a normalising filesystem',
    entries: [file('caf\u00e9'), file('cafe\u0301')],
    traits: NORMALISING,
    want: [{ path: 'caf\u00e9', below: 0, reason: /from "cafe\u0301".*"cafe\u0301" is kept/ }],
  },
  {
    name: 'NFC vs NFD with different case collide when folding both',
    entries: [file('CAF\u00c9'), file('cafe\u0301')],
    traits: FOLD_BOTH,
    want: [{ path: 'cafe\u0301', below: 0, reason: /from "CAF\u00c9"/ }],
  },
  {
    name: 'NFC vs NFD are two entries where names are not normalised',
    entries: [file('caf\u00e9'), file('cafe\u0301')],
    traits: VFAT,
    want: [],
  },
  {
    name: 'no collisions are reported when the replica is case-sensitive (no fold)',
    entries: [file('photo.jpg'), file('Photo.JPG'), dir('Albums'), dir('albums')],
    traits: EXT4,
    want: [],
  },
  {
    name: 'no collisions without a fold even on traits that say case-insensitive',
    entries: [file('photo.jpg'), file('Photo.JPG')],
    traits: VFAT,
    fold: 'none',
    want: [],
  },
  {
    name: 'several reasons at once, in byte order of path',
    entries: [link('z-link'), file('a|b'), file('B'), file('b'), dir('d'), file('d/x')],
    traits: VFAT,
    want: [
      { path: 'a|b', below: 0, reason: /contains '\|', which vfat/ },
      { path: 'b', below: 0, reason: /from "B"/ },
      { path: 'z-link', below: 0, reason: /symbolic links/ },
    ],
  },
];

describe('findUnplaceable() from a table', () => {
  it.each(cases)('$name', (c) => {
    const fold = c.fold === 'none' ? undefined : nameFolding(c.traits);
    const got = findUnplaceable(listing(c.entries), c.traits, fold);
    expect(got.map((u) => [u.path, u.below])).toEqual(c.want.map((w) => [w.path, w.below]));
    for (const [i, u] of got.entries()) expect(u.reason).toMatch(c.want[i]!.reason);
  });

  it('does not change the listing it looks at', () => {
    const m = listing([file('a?'), file('A'), file('a')]);
    const before = [...m.keys()];
    expect(findUnplaceable(m, VFAT, nameFolding(VFAT))).toHaveLength(2);
    expect([...m.keys()]).toEqual(before);
  });
});

describe('dropSubtrees()', () => {
  interface DropCase {
    readonly name: string;
    readonly entries: Entry[];
    readonly traits: NameTraits;
    readonly left: string[];
  }
  const dropCases: DropCase[] = [
    {
      name: 'removes reported entries and their subtrees, nothing else',
      entries: [
        dir('Albums'),
        file('Albums/a.jpg'),
        dir('albums'),
        file('albums/a.jpg'),
        dir('albums/deep'),
        file('albums/deep/x'),
        // A sibling whose name starts with the dropped folder's name is not below it.
        file('albums2'),
        dir('albums-old'),
        file('albums-old/y'),
        link('l'),
        file('ok:no'),
        file('fine.txt'),
      ],
      traits: VFAT,
      left: ['Albums', 'Albums/a.jpg', 'albums2', 'albums-old', 'albums-old/y', 'fine.txt'],
    },
    { name: 'an empty drop list changes nothing', entries: [file('a'), dir('d'), file('d/b')], traits: EXT4, left: ['a', 'd', 'd/b'] },
  ];

  it.each(dropCases)('$name', (c) => {
    const m = listing(c.entries);
    const drop = findUnplaceable(m, c.traits, nameFolding(c.traits));
    dropSubtrees(m, drop.map((u) => u.path));
    expect([...m.keys()].sort()).toEqual([...c.left].sort());
  });

  it('drops exactly the given paths and what is below them', () => {
    const m = listing([dir('a'), file('a/b'), dir('a/c'), file('a/c/d'), file('e')]);
    dropSubtrees(m, ['a/c']);
    expect([...m.keys()]).toEqual(['a', 'a/b', 'e']);
  });
});

describe('entries with their own problem do not take part in collisions', () => {
  const vfat = { type: 'vfat', symlinks: false, caseInsensitive: true, normalizing: false, windowsNames: true, unicodeNames: true };
  const mk = (p: string, kind: 'file' | 'dir' | 'symlink'): Entry => ({ path: p, kind, size: 0, mtimeMs: 0, ctimeMs: 0, mode: 0o644, ino: 1, dev: 1, ...(kind === 'symlink' ? { target: 'x' } : {}) });
  it('a link README beside a file readme on FAT: only the link is reported, the file is mirrored', () => {
    const entries = new Map([mk('README', 'symlink'), mk('readme', 'file')].map((e) => [e.path, e]));
    const found = findUnplaceable(entries, vfat, nameFolding(vfat));
    expect(found.map((u) => u.path)).toEqual(['README']);
    expect(found[0]?.reason).toContain('symbolic links');
  });
  it('a link Docs beside a folder docs: the folder and its files stay', () => {
    const entries = new Map([mk('Docs', 'symlink'), mk('docs', 'dir'), mk('docs/a', 'file')].map((e) => [e.path, e]));
    const found = findUnplaceable(entries, vfat, nameFolding(vfat));
    expect(found.map((u) => u.path)).toEqual(['Docs']);
    dropSubtrees(entries, found.map((u) => u.path));
    expect([...entries.keys()].sort()).toEqual(['docs', 'docs/a']);
  });
});

describe('links whose targets the replica cannot read back, and folders spelt differently', () => {
  const sshfs = { type: 'fuse.sshfs', symlinks: true, outwardLinks: false, caseInsensitive: false, normalizing: false, windowsNames: false, unicodeNames: true };
  const link = (p: string, target: string): Entry => ({ path: p, kind: 'symlink', size: 0, mtimeMs: 0, ctimeMs: 0, mode: 0o777, ino: 1, dev: 1, target });
  it.each([
    ['/etc/passwd', true],
    ['../up', true],
    ['a/../b', true],
    ['a/b', false],
    ['..foo', false],
    ['plain', false],
  ])('target %s reported: %s', (target, reported) => {
    const found = findUnplaceable(new Map([['l', link('l', target)]]), sshfs);
    expect(found.length > 0).toBe(reported);
    if (reported) expect(found[0]?.reason).toMatch(/refuses to read back a link target that is absolute or climbs with '\.\.'/);
  });
  it('every target is fine where outward links read back', () => {
    expect(findUnplaceable(new Map([['l', link('l', '/etc')]]), { ...sshfs, outwardLinks: true })).toEqual([]);
  });

  it('caseConflicts: the topmost replica folders spelt differently from a source folder', () => {
    const d = (p: string): Entry => ({ path: p, kind: 'dir', size: 0, mtimeMs: 0, ctimeMs: 0, mode: 0o755, ino: 1, dev: 1 });
    const source = new Map([d('Photos'), d('Photos/Trip'), d('docs')].map((e) => [e.path, e]));
    const replica = new Map([d('photos'), d('photos/trip'), d('docs'), d('other')].map((e) => [e.path, e]));
    expect(caseConflicts(source, replica, (p) => p.toLowerCase())).toEqual([{ source: 'Photos', replica: 'photos' }]);
    expect(caseConflicts(source, new Map([d('Photos')].map((e) => [e.path, e])), (p) => p.toLowerCase())).toEqual([]);
  });
});
