import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { makeFilter } from '../../src/sync/filter.js';
import { closePool, syncOnce } from '../helpers/pass.js';
import { type TreeSpec, cleanupTemps, readState, tempDir, writeTree } from '../helpers/tree.js';

afterEach(cleanupTemps);
afterAll(closePool);

const TREE: TreeSpec = {
  'top.txt': 'top',
  'top.jpg': 'top jpg',
  photos: { 'a.jpg': 'a', 'a.txt': 'a text', '2020': { 'b.jpg': 'b', 'b.raw': 'raw' }, cache: { 'c.jpg': 'cached' } },
  docs: { 'readme.md': 'read me', sub: { 'deep.md': 'deep', 'deep.txt': 'deep text' } },
  music: { 'song.mp3': 'la' },
};

interface Row {
  readonly name: string;
  readonly includes: string[];
  readonly excludes?: string[];
  /** Every path the replica holds after the pass. */
  readonly expected: string[];
}

const TABLE: Row[] = [
  {
    name: 'a folder: everything in it, and nothing else',
    includes: ['/photos/'],
    expected: ['photos', 'photos/a.jpg', 'photos/a.txt', 'photos/2020', 'photos/2020/b.jpg', 'photos/2020/b.raw', 'photos/cache', 'photos/cache/c.jpg'],
  },
  {
    name: 'an anchored file glob: only the folders on the way to it',
    includes: ['/docs/sub/*.md'],
    expected: ['docs', 'docs/sub', 'docs/sub/deep.md'],
  },
  {
    name: 'a name glob at any depth: every folder is walked, only those on the way are mirrored',
    includes: ['*.jpg'],
    expected: ['top.jpg', 'photos', 'photos/a.jpg', 'photos/2020', 'photos/2020/b.jpg', 'photos/cache', 'photos/cache/c.jpg'],
  },
  {
    name: 'a folder name at any depth',
    includes: ['sub/'],
    expected: ['docs', 'docs/sub', 'docs/sub/deep.md', 'docs/sub/deep.txt'],
  },
  {
    name: 'an exclude applies within the includes',
    includes: ['/photos/'],
    excludes: ['cache/', '*.raw'],
    expected: ['photos', 'photos/a.jpg', 'photos/a.txt', 'photos/2020', 'photos/2020/b.jpg'],
  },
  {
    name: 'several includes add up',
    includes: ['/music', '/top.txt', 'docs/*.md'],
    expected: ['top.txt', 'music', 'music/song.mp3', 'docs', 'docs/readme.md'],
  },
  {
    name: 'a glob in a folder name on the way',
    includes: ['/photos/20*/*.jpg'],
    expected: ['photos', 'photos/2020', 'photos/2020/b.jpg'],
  },
  {
    name: '** in the middle',
    includes: ['docs/**/*.txt'],
    expected: ['docs', 'docs/sub', 'docs/sub/deep.txt'],
  },
  {
    name: 'a negated include narrows the others',
    includes: ['/photos/**', '!*.txt'],
    expected: ['photos', 'photos/a.jpg', 'photos/2020', 'photos/2020/b.jpg', 'photos/2020/b.raw', 'photos/cache', 'photos/cache/c.jpg'],
  },
  {
    name: 'an include that matches nothing mirrors nothing',
    includes: ['/nowhere/'],
    expected: [],
  },
];

const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

describe('--include', () => {
  for (const row of TABLE) {
    it(`${row.name} (${row.includes.join(' ')})`, async () => {
      const dir = tempDir();
      const src = path.join(dir, 'src');
      const dst = path.join(dir, 'dst');
      writeTree(src, TREE);
      // A first copy streams the tree; a later pass marches it: both must take the same paths.
      const first = await syncOnce({ source: src, replica: dst, includes: row.includes, excludes: row.excludes ?? [], allowEmptySource: true });
      expect(first.report.errors).toBe(0);
      expect(sorted(readState(dst).keys())).toEqual(sorted(row.expected));
      writeFileSync(path.join(src, 'photos', 'new.jpg'), 'new');
      writeTree(dst, { 'stray.bin': 'in the replica only' });
      const second = await syncOnce({ source: src, replica: dst, includes: row.includes, excludes: row.excludes ?? [], allowEmptySource: true });
      expect(second.report.errors).toBe(0);
      const wantNew = makeFilter({ excludes: row.excludes ?? [], includes: row.includes }).excluded('photos/new.jpg', false) ? [] : ['photos/new.jpg'];
      // A path outside the includes is treated like an excluded one: kept in the replica.
      expect(sorted(readState(dst).keys())).toEqual(sorted([...row.expected, ...wantNew, 'stray.bin']));
      const third = await syncOnce({ source: src, replica: dst, includes: row.includes, excludes: row.excludes ?? [], allowEmptySource: true });
      expect(third.lines.filter((l) => typeof l.action === 'string')).toEqual([]);
    });
  }

  it('creates a folder on the way once something below it is included, deep ones with their parents', async () => {
    const dir = tempDir();
    const src = path.join(dir, 'src');
    const dst = path.join(dir, 'dst');
    writeTree(src, TREE);
    await syncOnce({ source: src, replica: dst, includes: ['*.jpg'] });
    expect(existsSync(path.join(dst, 'music'))).toBe(false);
    writeTree(src, { music: { 'cover.jpg': 'cover' }, docs: { sub: { deeper: { 'scan.jpg': 'scan' } } } });
    const { report } = await syncOnce({ source: src, replica: dst, includes: ['*.jpg'] });
    expect(report.errors).toBe(0);
    expect(readFileSync(path.join(dst, 'music/cover.jpg'), 'utf8')).toBe('cover');
    expect(readFileSync(path.join(dst, 'docs/sub/deeper/scan.jpg'), 'utf8')).toBe('scan');
    expect(readState(dst).has('docs/sub/deep.md')).toBe(false);
    // Folders get the source's times like any other, so the next pass has nothing to do.
    const again = await syncOnce({ source: src, replica: dst, includes: ['*.jpg'] });
    expect(again.lines.filter((l) => typeof l.action === 'string')).toEqual([]);
  });

  it('keeps what lies outside the includes, unless --delete-excluded', async () => {
    const dir = tempDir();
    const src = path.join(dir, 'src');
    const dst = path.join(dir, 'dst');
    writeTree(src, TREE);
    await syncOnce({ source: src, replica: dst });
    expect(existsSync(path.join(dst, 'music/song.mp3'))).toBe(true);
    const kept = await syncOnce({ source: src, replica: dst, includes: ['/photos/'] });
    expect(kept.report.delete + kept.report.rmdir).toBe(0);
    expect(readFileSync(path.join(dst, 'music/song.mp3'), 'utf8')).toBe('la');
    const pruned = await syncOnce({ source: src, replica: dst, includes: ['/photos/'], deleteExcluded: true });
    expect(pruned.report.errors).toBe(0);
    expect(sorted(readState(dst).keys())).toEqual(sorted(TABLE[0]!.expected));
  });
});
