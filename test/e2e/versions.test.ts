import { existsSync, linkSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { cleanupTemps, tempDir, writeTree } from '../helpers/tree.js';
import { tryMountTmpfs, unmount } from '../faults/fault-kit.js';

afterAll(cleanupTemps);

function fixture(): { src: string; dst: string; home: string; t: string } {
  const t = tempDir('fs-ver-');
  const src = path.join(t, 'src');
  writeTree(src, { 'a.txt': 'a', photos: { 'p.jpg': 'p' }, docs: { 'd.md': 'd' } });
  const home = path.join(t, 'home');
  mkdirSync(home);
  return { t, src, dst: path.join(t, 'dst'), home };
}

/** A folder on another filesystem than the temp folders: /dev/shm, or a tmpfs mounted for the test. */
function otherFilesystem(t: string): { dir: string; done: () => void } | null {
  const tmpDev = statSync(t).dev;
  if (existsSync('/dev/shm') && statSync('/dev/shm').dev !== tmpDev) {
    const dir = path.join('/dev/shm', `fs-ver-${process.pid}-${Date.now()}`);
    return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
  }
  const mnt = path.join(t, 'mnt');
  mkdirSync(mnt);
  return tryMountTmpfs(mnt, '1m') ? { dir: path.join(mnt, 'versions'), done: () => unmount(mnt) } : null;
}

describe('--backup-dir and --backup-keep on the command line', () => {
  const bads: { name: string; args: (f: ReturnType<typeof fixture>) => string[]; says: RegExp }[] = [
    { name: '--backup-keep without --backup-dir', args: (f) => ['-s', f.src, '-r', f.dst, '--once', '--backup-keep', '30d'], says: /--backup-keep needs --backup-dir/ },
    { name: 'a bad --backup-keep', args: (f) => ['-s', f.src, '-r', f.dst, '--once', '--backup-dir', 'v', '--backup-keep', '30 days'], says: /--backup-keep "30 days"/ },
    { name: 'a relative --backup-dir outside the replica', args: (f) => ['-s', f.src, '-r', f.dst, '--once', '--backup-dir', '../v'], says: /must lie inside the replica/ },
    { name: 'an absolute --backup-dir inside the source', args: (f) => ['-s', f.src, '-r', f.dst, '--once', '--backup-dir', path.join(f.src, 'v')], says: /must not be inside the source/ },
  ];
  for (const b of bads) {
    it(`${b.name}: exit 2, one line, nothing created`, async () => {
      const f = fixture();
      const r = await runCli(b.args(f), { home: f.home });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(b.says);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(existsSync(f.dst)).toBe(false);
    });
  }

  it('an absolute --backup-dir on another filesystem: exit 2, nothing created', async (ctx) => {
    const f = fixture();
    const other = otherFilesystem(f.t);
    if (other === null) {
      if (process.env.CI === 'true') throw new Error('no second filesystem (no /dev/shm, tmpfs not mountable) on CI');
      ctx.skip('no second filesystem here: no /dev/shm and mounting a tmpfs is not allowed');
      return;
    }
    try {
      const r = await runCli(['-s', f.src, '-r', f.dst, '--once', '--backup-dir', other.dir], { home: f.home });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/must be on the replica's filesystem/);
      expect(existsSync(f.dst)).toBe(false);
      expect(existsSync(other.dir)).toBe(false);
    } finally {
      other.done();
    }
  });

  it('keeps old versions, logs them, and mirrors only the includes', async () => {
    const f = fixture();
    const args = ['-s', f.src, '-r', f.dst, '--once', '--backup-dir', '.versions', '--backup-keep', '30d', '--include', '/photos/', '--include', '/a.txt'];
    expect((await runCli(args, { home: f.home })).code).toBe(0);
    expect(existsSync(path.join(f.dst, 'docs'))).toBe(false);
    writeFileSync(path.join(f.src, 'a.txt'), 'a, second version');
    rmSync(path.join(f.src, 'photos/p.jpg'));
    const r = await runCli(args, { home: f.home });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^backup a\.txt$/m);
    expect(r.stdout).toMatch(/^backup photos\/p\.jpg$/m);
    expect(r.stdout).toMatch(/2 old versions kept/);
    const [stamp] = readdirSync(path.join(f.dst, '.versions'));
    expect(readFileSync(path.join(f.dst, '.versions', stamp!, 'a.txt'), 'utf8')).toBe('a');
    expect(readFileSync(path.join(f.dst, 'a.txt'), 'utf8')).toBe('a, second version');
  });

  it('-H keeps hard links on the command line, and a second pass does nothing', async () => {
    const f = fixture();
    linkSync(path.join(f.src, 'a.txt'), path.join(f.src, 'docs/a-link.txt'));
    const args = ['-s', f.src, '-r', f.dst, '--once', '-H'];
    const r = await runCli(args, { home: f.home });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^copy (a\.txt|docs\/a-link\.txt) \(hard link to (a\.txt|docs\/a-link\.txt)\)$/m);
    expect(statSync(path.join(f.dst, 'a.txt')).ino).toBe(statSync(path.join(f.dst, 'docs/a-link.txt')).ino);
    const again = await runCli(args, { home: f.home });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/pass complete: no changes/);
  });
});
