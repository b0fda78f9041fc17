import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { stampOf } from '../../src/sync/versions.js';
import { actions, closePool, syncOnce } from '../helpers/pass.js';
import { cleanupTemps, mirrorDiff, readState, tempDir, writeTree } from '../helpers/tree.js';

afterEach(cleanupTemps);
afterAll(closePool);

const DAY = 86_400_000;

/** A source and a replica mirrored once, with `.versions` (inside the replica) as the backup folder. */
async function mirrored(spec: Parameters<typeof writeTree>[1]): Promise<{ src: string; dst: string; versions: string; run: (extra?: object) => ReturnType<typeof syncOnce> }> {
  const dir = tempDir();
  const src = path.join(dir, 'src');
  const dst = path.join(dir, 'dst');
  const versions = path.join(dst, '.versions');
  writeTree(src, spec);
  const run = (extra: object = {}): ReturnType<typeof syncOnce> => syncOnce({ source: src, replica: dst, backup: { dir: versions, keepMs: null }, ...extra });
  const first = await run();
  expect(first.report.errors).toBe(0);
  return { src, dst, versions, run };
}

/** The one stamp folder of the backup folder. */
function onlyStamp(versions: string): string {
  const names = readdirSync(versions);
  expect(names).toHaveLength(1);
  expect(names[0]).toMatch(/^\d{4}-\d{2}-\d{2}_\d{6}$/);
  return path.join(versions, names[0]!);
}

const notVersions = (p: string): boolean => p === '.versions' || p.startsWith('.versions/');

describe('--backup-dir', () => {
  it('moves a deleted file into the stamp folder, with its old bytes and inode', async () => {
    const { src, dst, versions, run } = await mirrored({ keep: 'keep', gone: 'old bytes', sub: { deep: 'deep old' } });
    const ino = lstatSync(path.join(dst, 'sub/deep')).ino;
    rmSync(path.join(src, 'gone'));
    rmSync(path.join(src, 'sub/deep'));
    const { report, lines } = await run();
    expect(report).toMatchObject({ errors: 0, delete: 2, backup: 2 });
    const stamp = onlyStamp(versions);
    expect(readFileSync(path.join(stamp, 'gone'), 'utf8')).toBe('old bytes');
    expect(readFileSync(path.join(stamp, 'sub/deep'), 'utf8')).toBe('deep old');
    // Renamed, never copied: the same inode.
    expect(lstatSync(path.join(stamp, 'sub/deep')).ino).toBe(ino);
    expect(mirrorDiff(src, dst, notVersions)).toEqual([]);
    const backups = actions(lines).filter((a) => a.action === 'backup');
    expect(backups.map((b) => b.path).sort()).toEqual(['gone', 'sub/deep']);
    const done = lines.find((l) => l.msg === 'pass complete');
    expect(done?.backup).toBe(2);
  });

  it('keeps the old version of an overwritten file', async () => {
    const { src, dst, versions, run } = await mirrored({ 'a.txt': 'version one' });
    writeFileSync(path.join(src, 'a.txt'), 'version two, longer');
    const { report } = await run();
    expect(report).toMatchObject({ errors: 0, update: 1, backup: 1 });
    expect(readFileSync(path.join(dst, 'a.txt'), 'utf8')).toBe('version two, longer');
    expect(readFileSync(path.join(onlyStamp(versions), 'a.txt'), 'utf8')).toBe('version one');
  });

  it('moves a whole deleted folder by one rename', async () => {
    const { src, dst, versions, run } = await mirrored({ album: { 'a.jpg': 'a', 'b.jpg': 'b', inner: { 'c.jpg': 'c' } }, other: 'x' });
    const ino = lstatSync(path.join(dst, 'album')).ino;
    rmSync(path.join(src, 'album'), { recursive: true });
    const { report, lines } = await run();
    expect(report.errors).toBe(0);
    const stamp = onlyStamp(versions);
    expect(lstatSync(path.join(stamp, 'album')).ino).toBe(ino);
    expect(readFileSync(path.join(stamp, 'album/inner/c.jpg'), 'utf8')).toBe('c');
    expect(actions(lines).filter((a) => a.action === 'backup')).toEqual([{ action: 'backup', path: 'album' }]);
    expect(mirrorDiff(src, dst, notVersions)).toEqual([]);
    // The record forgot everything that went: the next pass has nothing to do.
    expect(actions((await run()).lines)).toEqual([]);
  });

  it('keeps what a type change replaces: a folder by a file, a file by a folder, a file by a link', async () => {
    const { src, dst, versions, run } = await mirrored({ was_dir: { 'in.txt': 'inside' }, was_file: 'plain', was_file2: 'plain two' });
    rmSync(path.join(src, 'was_dir'), { recursive: true });
    writeFileSync(path.join(src, 'was_dir'), 'now a file');
    rmSync(path.join(src, 'was_file'));
    mkdirSync(path.join(src, 'was_file'));
    writeFileSync(path.join(src, 'was_file/x'), 'x');
    rmSync(path.join(src, 'was_file2'));
    symlinkSync('was_dir', path.join(src, 'was_file2'));
    const { report } = await run();
    expect(report.errors).toBe(0);
    const stamp = onlyStamp(versions);
    expect(readFileSync(path.join(stamp, 'was_dir/in.txt'), 'utf8')).toBe('inside');
    expect(readFileSync(path.join(stamp, 'was_file'), 'utf8')).toBe('plain');
    expect(readFileSync(path.join(stamp, 'was_file2'), 'utf8')).toBe('plain two');
    expect(mirrorDiff(src, dst, notVersions)).toEqual([]);
    expect(actions((await run()).lines)).toEqual([]);
  });

  it('keeps the file a move lands on', async () => {
    const big = 'moved content '.repeat(100);
    const { src, dst, versions, run } = await mirrored({ 'from.txt': big, 'to.txt': 'the old target' });
    renameSync(path.join(src, 'from.txt'), path.join(src, 'to.txt'));
    const { report } = await run();
    expect(report.errors).toBe(0);
    expect(report.move).toBe(1);
    expect(readFileSync(path.join(dst, 'to.txt'), 'utf8')).toBe(big);
    expect(readFileSync(path.join(onlyStamp(versions), 'to.txt'), 'utf8')).toBe('the old target');
    expect(mirrorDiff(src, dst, notVersions)).toEqual([]);
    expect(actions((await run()).lines)).toEqual([]);
  });

  it('never mirrors, counts or deletes the backup folder, even with --delete-excluded and a source folder of that name', async () => {
    const { src, dst, versions, run } = await mirrored({ a: 'a', b: 'b' });
    rmSync(path.join(src, 'a'));
    await run();
    const stamp = onlyStamp(versions);
    writeTree(src, { '.versions': { 'from-source': 'not mirrored' } });
    // Deleting b is 1 of the replica's 1 entries (100 %); were .versions counted, 1 of 4 (25 %).
    rmSync(path.join(src, 'b'));
    const refused = await run({ deleteExcluded: true, maxDelete: { count: 50, percent: true } });
    expect(refused.report.outcome).toBe('refused');
    const { report } = await run({ deleteExcluded: true, allowEmptySource: true });
    expect(report.errors).toBe(0);
    expect(existsSync(path.join(stamp, 'a'))).toBe(true);
    expect(existsSync(path.join(versions, 'from-source'))).toBe(false);
    expect([...readState(dst).keys()].filter((p) => !notVersions(p))).toEqual([]);
    // A no-change pass afterwards does nothing at all.
    const again = await run({ deleteExcluded: true, allowEmptySource: true });
    expect(actions(again.lines)).toEqual([]);
  });

  it('removes stamp folders older than --backup-keep at the end of a pass, and nothing else', async () => {
    const { src, versions, run } = await mirrored({ a: 'a' });
    const now = Date.now();
    const old = stampOf(new Date(now - 40 * DAY));
    const recent = stampOf(new Date(now - 10 * DAY));
    writeTree(versions, { [old]: { 'x.txt': 'old' }, [recent]: { 'y.txt': 'recent' }, 'not-a-stamp': { 'z.txt': 'mine' } });
    writeFileSync(path.join(src, 'b'), 'b');
    const { report, lines } = await run({ backup: { dir: versions, keepMs: 30 * DAY } });
    expect(report.errors).toBe(0);
    expect(readdirSync(versions).sort()).toEqual([recent, 'not-a-stamp'].sort());
    expect(lines.some((l) => l.msg === `removed old versions ${old}`)).toBe(true);
  });

  it('works with an absolute backup folder beside the replica', async () => {
    const dir = tempDir();
    const src = path.join(dir, 'src');
    const dst = path.join(dir, 'dst');
    const versions = path.join(dir, 'versions');
    writeTree(src, { f: 'one' });
    const settings = { source: src, replica: dst, backup: { dir: versions, keepMs: null } };
    await syncOnce(settings);
    writeFileSync(path.join(src, 'f'), 'two!');
    utimesSync(path.join(src, 'f'), 1, 1);
    const { report } = await syncOnce(settings);
    expect(report).toMatchObject({ errors: 0, backup: 1 });
    expect(readFileSync(path.join(onlyStamp(versions), 'f'), 'utf8')).toBe('one');
    expect(readState(dst).has('versions')).toBe(false);
  });
});
