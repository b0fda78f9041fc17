import { renameSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pairOn } from '../helpers/mounted-pair.js';
import { type Mounted, mountExfat, mountExt4, requireMounts } from '../helpers/mounts.js';
import { changeCount, closePool } from '../helpers/pass.js';
import { type TreeSpec, cleanupTemps, mirrorDiff } from '../helpers/tree.js';

/*
 * The source on a removable drive: an exFAT stick (whole-second mtimes, inode numbers made up
 * per mount) and an ext4 disk that comes back under another device number when plugged in
 * again. Either way a pass over an unchanged source after the replug reads nothing and changes
 * nothing, and renames after it are still renames.
 */

const canMount = requireMounts(['mount.exfat-fuse', 'mkfs.exfat', 'mkfs.ext4', 'losetup', 'fusermount']);
const mounts: Mounted[] = [];

afterAll(async () => {
  for (const m of mounts.splice(0)) m.close();
  cleanupTemps();
  await closePool();
});

/** Twenty files in two folders: enough for the source's timestamp step to show in its listing. */
function tree(): TreeSpec {
  const spec: TreeSpec = { photos: {}, docs: {} };
  // Distinct mtimes, as a real folder has, with milliseconds the filesystem drops.
  for (let i = 0; i < 10; i++) {
    (spec.photos as TreeSpec)[`img-${i}.jpg`] = { $file: `photo ${i} `.repeat(50 + i), mtime: 1_600_000_000_000 + i * 7_777 };
    (spec.docs as TreeSpec)[`doc-${i}.txt`] = { $file: `document ${i}`, mtime: 1_600_100_000_000 + i * 3_333 };
  }
  return spec;
}

describe.skipIf(!canMount)('source on exFAT (exfat-fuse)', () => {
  const t = pairOn('source', () => mountExfat(), mounts, tree());

  it('mirrors, and the automatic window is the source step read off its listing (nothing written to the source)', async () => {
    const { report, lines } = await t.pass();
    expect(report).toMatchObject({ copy: 20, mkdir: 2, errors: 0, outcome: 'ok' });
    expect(lines.find((l) => l.msg === 'modify window')).toMatchObject({ modifyWindowMs: 1000, sourceStepMs: 1000, replicaStepMs: 0 });
    expect(mirrorDiff(t.src, t.dst)).toEqual([]);
    expect(changeCount((await t.pass()).report)).toBe(0);
  });

  it('after the stick is unmounted and mounted again, a pass reads nothing and changes nothing', async () => {
    t.fs.remount();
    const { report } = await t.pass();
    expect(changeCount(report)).toBe(0);
    expect(report.hashed).toBe(0);
    expect(changeCount((await t.pass()).report)).toBe(0);
  });

  it('after the remount, a rename is a rename, and --checksum agrees with the window', async () => {
    renameSync(path.join(t.src, 'photos/img-3.jpg'), path.join(t.src, 'photos/renamed.jpg'));
    const moved = await t.pass();
    expect(moved.report).toMatchObject({ move: 1, copy: 0, delete: 0, errors: 0 });
    expect(moved.lines.find((l) => l.action === 'move')).toMatchObject({ from: 'photos/img-3.jpg', path: 'photos/renamed.jpg' });
    // --checksum over unchanged trees reads both sides and finds nothing to do.
    const checked = await t.pass({ checksum: true });
    expect(changeCount(checked.report)).toBe(0);
    expect(checked.report.hashed).toBeGreaterThan(0);
    // Same size, same whole-second mtime, other bytes: size and time cannot tell, --checksum does.
    const doc = path.join(t.src, 'docs/doc-1.txt');
    writeFileSync(doc, 'DOCUMENT 1');
    utimesSync(doc, 1_600_000_001, 1_600_000_001);
    expect((await t.pass()).report).toMatchObject({ update: 1 });
    writeFileSync(doc, 'document 1');
    utimesSync(doc, 1_600_000_001, 1_600_000_001);
    expect(changeCount((await t.pass()).report)).toBe(0);
    expect((await t.pass({ checksum: true })).report).toMatchObject({ update: 1, errors: 0 });
    expect(mirrorDiff(t.src, t.dst)).toEqual([]);
  });
});

describe.skipIf(!canMount)('source on an ext4 disk plugged in again under another device number', () => {
  const t = pairOn('source', () => mountExt4(), mounts, tree());

  it('keeps finding renames by inode: the new device number is the same drive', async () => {
    await t.pass();
    const { statSync } = await import('node:fs');
    const devBefore = statSync(t.src).dev;
    t.fs.remount();
    expect(statSync(t.src).dev).not.toBe(devBefore);
    const unchanged = await t.pass();
    expect(changeCount(unchanged.report)).toBe(0);
    expect(unchanged.report.hashed).toBe(0);
    renameSync(path.join(t.src, 'photos/img-3.jpg'), path.join(t.src, 'docs/img-3.jpg'));
    renameSync(path.join(t.src, 'photos'), path.join(t.src, 'pictures'));
    const { report, lines } = await t.pass();
    expect(report).toMatchObject({ move: 2, copy: 0, delete: 0, rmdir: 0, hashed: 0 });
    expect(lines.filter((l) => l.action === 'move').map((l) => `${l.from} -> ${l.path}`).sort()).toEqual(['photos -> pictures', 'photos/img-3.jpg -> docs/img-3.jpg']);
    expect(mirrorDiff(t.src, t.dst)).toEqual([]);
  });
});
