import { describe, expect, it } from 'vitest';
import { forBackup } from '../../src/sync/backup-plan.js';
import { makeFilter, passFilterSpec } from '../../src/sync/filter.js';
import type { Action, Entry } from '../../src/sync/types.js';
import { expiredStamps, parseStamp, stampOf } from '../../src/sync/versions.js';

const DAY = 86_400_000;
const file = (path: string): Entry => ({ path, kind: 'file', size: 1, mtimeMs: 0, ctimeMs: 0, mode: 0o644, ino: 1, dev: 1 });

describe('stamps', () => {
  it('names a pass by its local start time, and reads the name back', () => {
    const t = new Date(2026, 11, 4, 9, 5, 7);
    expect(stampOf(t)).toBe('2026-12-04_090507');
    expect(parseStamp('2026-12-04_090507')?.getTime()).toBe(t.getTime());
  });

  it('never takes a name it did not write for a stamp', () => {
    for (const n of ['2026-02-31_000000', '2026-12-04', 'notes', '2026-12-04_0905077', '2026-13-01_000000']) expect(parseStamp(n)).toBeNull();
  });

  it('chooses only stamp folders older than the keep duration', () => {
    const now = new Date(2026, 11, 31, 12, 0, 0);
    const at = (days: number): string => stampOf(new Date(now.getTime() - days * DAY));
    const names = [at(31), at(30.5), at(29), at(0), 'keep-me', '2020-02-30_000000'];
    expect(expiredStamps(names, now, 30 * DAY)).toEqual([at(31), at(30.5)]);
  });
});

describe('forBackup', () => {
  it('turns a folder removed whole into one recursive delete, and leaves the rest alone', () => {
    const actions: Action[] = [
      { type: 'update', path: 'keep/x', src: file('keep/x') },
      { type: 'delete', path: 'old/a', kind: 'file' },
      { type: 'delete', path: 'old/sub/b', kind: 'symlink' },
      { type: 'delete', path: 'other.txt', kind: 'file' },
      { type: 'rmdir', path: 'old/sub' },
      { type: 'rmdir', path: '.foldersync-stage-0.tmp', orig: 'was-dir' },
      { type: 'rmdir', path: 'old' },
    ];
    expect(forBackup(actions)).toEqual([
      { type: 'update', path: 'keep/x', src: file('keep/x') },
      { type: 'delete', path: 'other.txt', kind: 'file' },
      { type: 'delete', path: '.foldersync-stage-0.tmp', kind: 'dir', recursive: true, orig: 'was-dir' },
      { type: 'delete', path: 'old', kind: 'dir', recursive: true },
    ]);
  });

  it('changes nothing in a plan that removes no folder', () => {
    const actions: Action[] = [{ type: 'delete', path: 'a', kind: 'file' }];
    expect(forBackup(actions)).toEqual(actions);
  });
});

describe('the backup folder in the filter', () => {
  it('is reserved (and excluded) when it lies inside the replica, on both sides', () => {
    const f = makeFilter(passFilterSpec({ replica: '/r', excludes: [], backup: { dir: '/r/keep/.versions' } }));
    expect(f.reserved('keep/.versions')).toBe(true);
    expect(f.reserved('keep/.versions/2026-12-04_090507/a')).toBe(true);
    expect(f.excluded('keep/.versions', true)).toBe(true);
    expect(f.reserved('keep')).toBe(false);
    expect(f.reserved('keep/.versions2')).toBe(false);
  });

  it('reserves nothing when it lies outside the replica', () => {
    const f = makeFilter(passFilterSpec({ replica: '/r', excludes: [], backup: { dir: '/elsewhere/v' } }));
    expect(f.empty).toBe(true);
    expect(f.reserved('v')).toBe(false);
  });
});
