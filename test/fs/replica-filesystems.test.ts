import { appendFileSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempLeftovers } from '../faults/fault-kit.js';
import { recordProblems } from '../helpers/record.js';
import { pairOn } from '../helpers/mounted-pair.js';
import { type Mounted, type Sshd, emptyDir, mountExfat, mountFat, mountSshfs, requireMounts, startSshd } from '../helpers/mounts.js';
import { type LogLine, changeCount, closePool } from '../helpers/pass.js';
import { type KeptByReplica, type TreeSpec, cleanupTemps, mirrorDiff, writeTree } from '../helpers/tree.js';

/*
 * The replica on real filesystems, mounted through FUSE: exFAT (exfat-fuse), FAT32 (fusefat)
 * and sshfs to a real sshd on 127.0.0.1. On each: a tricky tree mirrors as far as the
 * filesystem can hold it, what it cannot hold is reported by path (every pass), the next pass
 * does nothing, and an edit is picked up — also one inside the filesystem's timestamp step.
 */

const TOOLS = ['mount.exfat-fuse', 'mkfs.exfat', 'fusefat', 'mkfs.vfat', 'losetup', 'sshfs', 'sshd', 'ssh-keygen', 'fusermount'];
const canMount = requireMounts(TOOLS);

/** A source with what trips filesystems up: case twins, forbidden characters, links, odd modes and sub-second mtimes. */
const TRICKY: TreeSpec = {
  'Photo.JPG': 'upper case',
  'photo.jpg': 'lower case, other bytes',
  docs: { $dir: { 'a.txt': { $file: 'hello', mode: 0o600, mtime: 1_600_000_001_987 }, 'b b.txt': 'spaces', empty: {} }, mode: 0o750, mtime: 1_600_000_000_250 },
  Albums: { 'x.txt': 'kept folder' },
  albums: { 'y.txt': 'colliding folder' },
  'bad:name.txt': 'colon',
  'trailing.': 'dot',
  'ünïcödé.txt': 'unicode',
  link: { $symlink: 'docs/a.txt' },
  'up-link': { $symlink: '../outside' },
  ro: { $dir: { x: 'x' }, mode: 0o555 },
  'odd.bin': { $file: Buffer.alloc(5000, 7), mtime: 1_600_000_003_500 },
};

interface Case {
  readonly name: string;
  /** Paths reported as unplaceable (and left out with what is below them). */
  readonly unplaceable: readonly string[];
  readonly kept: KeptByReplica;
  /** Expected fields of the `replica filesystem` line. */
  readonly traits: Record<string, unknown>;
  readonly mount: () => Promise<Mounted>;
}

const DOS_LIKE = ['photo.jpg', 'albums', 'bad:name.txt', 'trailing.', 'link', 'up-link'];
const mounts: Mounted[] = [];
let sshd: Sshd | undefined;

const CASES: Case[] = [
  {
    name: 'exFAT (exfat-fuse)',
    unplaceable: DOS_LIKE,
    kept: { windowMs: 1000, modes: false },
    traits: { type: 'fuseblk', mtimeResolutionMs: 1000, modes: false, symlinks: false, caseInsensitive: true, windowsNames: true, ctime: false, stableInodes: false },
    mount: async () => mountExfat(),
  },
  {
    name: 'FAT32 (fusefat)',
    unplaceable: [...DOS_LIKE, 'ünïcödé.txt'],
    kept: { windowMs: 2000, modes: false },
    traits: { type: 'fuse.fusefat', mtimeResolutionMs: 2000, modes: false, symlinks: false, caseInsensitive: true, windowsNames: true, unicodeNames: false },
    mount: async () => mountFat(),
  },
  {
    name: 'sshfs',
    // sshfs refuses to read back link targets that are absolute or climb with '..'.
    unplaceable: ['up-link'],
    kept: { windowMs: 1000, modes: true },
    traits: { type: 'fuse.sshfs', mtimeResolutionMs: 1000, modes: true, symlinks: true, outwardLinks: false, caseInsensitive: false, windowsNames: false, ctime: false, stableInodes: false },
    mount: async () => {
      sshd ??= await startSshd();
      return mountSshfs(sshd, path.join(sshd.home, `remote-${mounts.length}`));
    },
  },
];

afterAll(async () => {
  for (const m of mounts.splice(0)) m.close();
  await sshd?.stop();
  cleanupTemps();
  await closePool();
});

const errorPaths = (lines: LogLine[]): string[] =>
  lines
    .filter((l) => l.level >= 50)
    .map((l) => l.path as string)
    .sort();

describe.skipIf(!canMount).each(CASES)('replica on $name', (c) => {
  const t = pairOn('replica', c.mount, mounts, TRICKY);
  const ignore = (p: string): boolean => c.unplaceable.some((u) => p === u || p.startsWith(`${u}/`));

  it('probes the filesystem and mirrors what it can hold, reporting each entry it cannot by path', async () => {
    const { report, lines } = await t.pass();
    const probe = lines.find((l) => l.msg === 'replica filesystem');
    expect(probe).toMatchObject(c.traits);
    expect(typeof probe?.probeMs).toBe('number');
    console.log(`${c.name}: probe took ${probe?.probeMs} ms`);
    expect(errorPaths(lines)).toEqual([...c.unplaceable].sort());
    expect(report.errors).toBe(c.unplaceable.length);
    expect(report.outcome).toBe(c.unplaceable.length > 0 ? 'errors' : 'ok');
    for (const l of lines.filter((x) => x.level >= 50)) expect(l.msg).toMatch(/^cannot mirror .+: .+/);
    expect(mirrorDiff(t.src, t.dst, ignore, c.kept)).toEqual([]);
    expect(tempLeftovers(t.dst)).toEqual([]);
    expect(await recordProblems(t.state, t.src, t.dst, c.kept.windowMs)).toEqual([]);
    if (c.unplaceable.includes('photo.jpg')) {
      // Of the two case twins the first in byte order is the one mirrored, whole.
      expect(readdirSync(t.dst).filter((n) => n.toLowerCase() === 'photo.jpg')).toEqual(['Photo.JPG']);
      expect(readFileSync(path.join(t.dst, 'Photo.JPG'), 'utf8')).toBe('upper case');
      expect(lines.find((l) => l.path === 'photo.jpg')?.msg).toContain('"Photo.JPG" is kept');
      expect(lines.find((l) => l.path === 'albums')?.msg).toContain('with the 1 entries below it');
    }
  });

  it('converges: the next passes change nothing, read nothing, and report the same entries again', async () => {
    for (let i = 0; i < 2; i++) {
      const { report, lines } = await t.pass();
      expect(changeCount(report)).toBe(0);
      expect(report.hashed).toBe(0);
      expect(errorPaths(lines)).toEqual([...c.unplaceable].sort());
      expect(lines.some((l) => l.msg === 'replica filesystem')).toBe(true);
    }
    if (c.unplaceable.includes('photo.jpg')) expect(readFileSync(path.join(t.dst, 'Photo.JPG'), 'utf8')).toBe('upper case');
    // --checksum reads both sides and agrees: nothing to do.
    const checked = await t.pass({ checksum: true });
    expect(changeCount(checked.report)).toBe(0);
    expect(checked.report.hashed).toBeGreaterThan(0);
    expect(errorPaths(checked.lines)).toEqual([...c.unplaceable].sort());
  });

  it('picks up edits, also one that keeps the size inside the timestamp step', async () => {
    // Same size, 0.7 s later in the same second: the replica's step cannot tell, the record can.
    writeFileSync(path.join(t.src, 'docs/a.txt'), 'HELLO');
    utimesSync(path.join(t.src, 'docs/a.txt'), 1_600_000_001.287, 1_600_000_001.287);
    appendFileSync(path.join(t.src, 'odd.bin'), 'more');
    mkdirSync(path.join(t.src, 'new'));
    writeFileSync(path.join(t.src, 'new/n.txt'), 'new');
    const { report } = await t.pass();
    expect(report).toMatchObject({ update: 2, copy: 1, mkdir: 1, delete: 0 });
    expect(readFileSync(path.join(t.dst, 'docs/a.txt'), 'utf8')).toBe('HELLO');
    expect(mirrorDiff(t.src, t.dst, ignore, c.kept)).toEqual([]);
    const again = await t.pass();
    expect(changeCount(again.report)).toBe(0);
  });

  it('puts back hand edits in the replica and removes what is extra', async () => {
    writeFileSync(path.join(t.dst, 'docs/b b.txt'), 'edited by hand, longer');
    writeFileSync(path.join(t.dst, 'extra.txt'), 'extra');
    const { report } = await t.pass();
    expect(report).toMatchObject({ update: 1, delete: 1 });
    expect(mirrorDiff(t.src, t.dst, ignore, c.kept)).toEqual([]);
    expect(changeCount((await t.pass()).report)).toBe(0);
  });

  it('after an unmount and mount again (new device and inode numbers) a pass reads nothing and changes nothing', async () => {
    t.fs.remount();
    const { report, lines } = await t.pass();
    expect(changeCount(report)).toBe(0);
    expect(report.hashed).toBe(0);
    expect(lines.some((l) => l.msg === 'replica filesystem')).toBe(true);
    const second = await t.pass();
    expect(changeCount(second.report)).toBe(0);
    expect(second.report.hashed).toBe(0);
    expect(mirrorDiff(t.src, t.dst, ignore, c.kept)).toEqual([]);
  });
});

describe.skipIf(!canMount)('case-insensitive replica: names that change only in case', () => {
  const t = pairOn('replica', () => mountExfat(), mounts);

  it('a source rename that changes only the case renames the replica entry (file and folder), never copy-then-delete', async () => {
    writeTree(t.src, { 'readme.txt': 'read me', photos: { 'a.jpg': 'a', 'b.jpg': 'b' } });
    await t.pass();
    const { renameSync } = await import('node:fs');
    renameSync(path.join(t.src, 'readme.txt'), path.join(t.src, 'README.txt'));
    renameSync(path.join(t.src, 'photos'), path.join(t.src, 'Photos'));
    const { report, lines } = await t.pass();
    expect(report).toMatchObject({ copy: 0, delete: 0, rmdir: 0, errors: 0 });
    expect(report.move).toBe(2);
    expect(lines.filter((l) => l.action === 'move').map((l) => `${l.from} -> ${l.path}`).sort()).toEqual(['photos -> Photos', 'readme.txt -> README.txt']);
    expect(readdirSync(t.dst).sort()).toEqual(['Photos', 'README.txt']);
    expect(mirrorDiff(t.src, t.dst, () => false, { windowMs: 1000, modes: false })).toEqual([]);
    expect(changeCount((await t.pass()).report)).toBe(0);
  });

  it('a watch pass (a partial scope) lists the whole tree there: a name is placed knowing all its twins', async () => {
    writeFileSync(path.join(t.src, 'outside.txt'), 'not in the scope');
    writeFileSync(path.join(t.src, 'Photos/c.jpg'), 'c');
    const { report, lines } = await t.pass({}, { scope: { deep: ['Photos'], shallow: [] } });
    expect(report).toMatchObject({ copy: 2, errors: 0 });
    expect(lines.filter((l) => l.action === 'copy').map((l) => l.path).sort()).toEqual(['Photos/c.jpg', 'outside.txt']);
  });

  it('a replica entry spelt differently by hand is renamed to the source spelling and its content put back', async () => {
    emptyDir(t.dst);
    writeTree(path.join(t.dst), { 'readme.TXT': 'other bytes, longer than the source', photos: { 'A.JPG': 'a' } });
    const { report } = await t.pass();
    expect(report.errors).toBe(0);
    expect(readdirSync(t.dst).sort()).toEqual(['Photos', 'README.txt', 'outside.txt']);
    expect(readFileSync(path.join(t.dst, 'README.txt'), 'utf8')).toBe('read me');
    expect(mirrorDiff(t.src, t.dst, () => false, { windowMs: 1000, modes: false })).toEqual([]);
    expect(changeCount((await t.pass()).report)).toBe(0);
  });
});

describe.skipIf(!canMount)('FAT32 through fusefat: folders are never renamed (fusefat loses their contents)', () => {
  const t = pairOn('replica', () => mountFat(), mounts);

  it('a renamed source folder becomes file moves into a new folder; the replica keeps every file', async () => {
    writeTree(t.src, { old: { 'a.txt': 'a', 'b.txt': 'b' } });
    await t.pass();
    const { renameSync } = await import('node:fs');
    renameSync(path.join(t.src, 'old'), path.join(t.src, 'new'));
    const { report, lines } = await t.pass();
    expect(report).toMatchObject({ copy: 0, mkdir: 1, rmdir: 1, move: 2, errors: 0 });
    expect(lines.filter((l) => l.action === 'move').map((l) => l.path).sort()).toEqual(['new/a.txt', 'new/b.txt']);
    expect(readFileSync(path.join(t.dst, 'new/a.txt'), 'utf8')).toBe('a');
    expect(mirrorDiff(t.src, t.dst, () => false, { windowMs: 2000, modes: false })).toEqual([]);
    expect(changeCount((await t.pass()).report)).toBe(0);
  });

  it('a folder whose case differs from the replica one is reported for renaming by hand, and neither side is touched', async () => {
    emptyDir(t.dst);
    emptyDir(t.src);
    writeTree(t.src, { Photos: { 'a.jpg': 'new bytes' }, 'top.txt': 'top' });
    writeTree(t.dst, { photos: { 'a.jpg': 'old' } });
    for (let i = 0; i < 2; i++) {
      const { report, lines } = await t.pass();
      expect(report.errors).toBe(1);
      expect(lines.find((l) => l.level >= 50)?.msg).toMatch(/cannot mirror Photos: the replica holds it as "photos", and folders cannot be renamed safely on fuse\.fusefat; rename "photos" in the replica by hand/);
      expect(readFileSync(path.join(t.dst, 'photos/a.jpg'), 'utf8')).toBe('old');
      expect(readFileSync(path.join(t.dst, 'top.txt'), 'utf8')).toBe('top');
      if (i === 1) expect(changeCount(report)).toBe(0);
    }
  });
});
