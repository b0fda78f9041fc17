import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config.js';
import { UsageError } from '../../src/errors.js';
import { cleanupTemps, tempDir } from '../helpers/tree.js';

afterEach(cleanupTemps);

/** A real source and a replica path beside it. */
function pair(): { source: string; replica: string; state: string; t: string } {
  const t = tempDir();
  const source = path.join(t, 'src');
  mkdirSync(source);
  return { t, source, replica: path.join(t, 'dst'), state: path.join(t, 'record') };
}

describe('buildConfig: --include, --backup-dir, --backup-keep, -H, --no-progress', () => {
  it('has no includes, no backups, no hard links and a progress line by default', () => {
    const c = buildConfig({ ...pair(), once: true });
    expect(c).toMatchObject({ includes: [], backup: null, hardLinks: false, progress: true });
  });

  it('takes repeated includes, -H and --no-progress', () => {
    const c = buildConfig({ ...pair(), once: true, include: ['/a/', '*.pdf'], hardLinks: true, progress: false });
    expect(c).toMatchObject({ includes: ['/a/', '*.pdf'], hardLinks: true, progress: false });
    expect(Object.isFrozen(c.includes)).toBe(true);
  });

  it('resolves a relative --backup-dir inside the replica, with --backup-keep in ms', () => {
    const p = pair();
    const c = buildConfig({ ...p, once: true, backupDir: '.versions', backupKeep: '30d' });
    expect(c.backup).toEqual({ dir: path.join(p.replica, '.versions'), keepMs: 30 * 86_400_000 });
  });

  it('takes an absolute --backup-dir beside the replica on the same filesystem', () => {
    const p = pair();
    const c = buildConfig({ ...p, once: true, backupDir: path.join(p.t, 'versions') });
    expect(c.backup).toEqual({ dir: path.join(p.t, 'versions'), keepMs: null });
  });

  it.each([
    [{ backupKeep: '30d' }, /--backup-keep needs --backup-dir/],
    [{ backupDir: '.v', backupKeep: 'a month' }, /--backup-keep "a month"/],
    [{ backupDir: '../elsewhere' }, /must lie inside the replica/],
    [{ backupDir: '.' }, /must lie inside the replica/],
  ])('refuses %j', (extra, says) => {
    expect(() => buildConfig({ ...pair(), once: true, ...extra })).toThrow(UsageError);
    expect(() => buildConfig({ ...pair(), once: true, ...extra })).toThrow(says);
  });

  it('refuses an absolute --backup-dir inside the source, or holding the replica', () => {
    const p = pair();
    expect(() => buildConfig({ ...p, once: true, backupDir: path.join(p.source, 'v') })).toThrow(/must not be inside the source/);
    expect(() => buildConfig({ ...p, once: true, backupDir: p.t })).toThrow(/inside the source \(or contain it\)/);
  });
});
