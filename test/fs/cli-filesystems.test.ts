import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Spawned, runCli, spawnCli } from '../helpers/cli.js';
import { type Mounted, emptyDir, mountExfat, requireMounts } from '../helpers/mounts.js';
import { cleanupTemps, mirrorDiff, readState, tempDir, writeTree } from '../helpers/tree.js';

/*
 * The spawned CLI with its replica on a real exFAT mount: exit codes, the one-line errors for
 * what exFAT cannot hold, `--modify-window`, and the probe made once for a daemon's life.
 */

const canMount = requireMounts(['mount.exfat-fuse', 'mkfs.exfat', 'losetup', 'fusermount']);
let fs: Mounted | undefined;
const running: Spawned[] = [];

afterEach(() => {
  for (const s of running.splice(0)) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  if (fs) emptyDir(fs.dir);
});
afterAll(() => {
  fs?.close();
  cleanupTemps();
});

type Line = Record<string, unknown> & { msg: string };

function logLines(logs: string): Line[] {
  const p = path.join(logs, 'foldersync.log');
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);
}

function setup() {
  fs ??= mountExfat();
  const home = tempDir('fs-cli-exfat-');
  const src = path.join(home, 'src');
  writeTree(src, {
    'Photo.JPG': 'upper',
    'photo.jpg': 'lower',
    'a:b.txt': 'colon',
    link: { $symlink: 'Photo.JPG' },
    docs: { 'x.txt': { $file: 'x', mtime: 1_600_000_001_987 } },
  });
  return { home, src, dst: path.join(fs.dir, 'mirror'), logs: path.join(home, 'logs') };
}

describe.skipIf(!canMount)('CLI with the replica on exFAT', () => {
  it('--once: what exFAT cannot hold is one stderr line each and exit 1; the rest mirrors; the next run changes nothing and exits 1 again', async () => {
    const t = setup();
    const r = await runCli(['-s', t.src, '-r', t.dst, '--once', '-l', t.logs], { home: t.home });
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stderr.split('\n').filter(Boolean);
    // Said once per run: exFAT's ctime and inode numbers cannot show every hand edit.
    expect(lines.filter((l) => l.startsWith('warning: drift detection is weaker on this replica (fuseblk)'))).toHaveLength(1);
    const errs = lines.filter((l) => l.startsWith('error: '));
    expect(errs).toHaveLength(lines.length - 1);
    expect(errs.sort()).toEqual([
      expect.stringMatching(/cannot mirror a:b\.txt: the name contains ':'/),
      expect.stringMatching(/cannot mirror link: the replica's filesystem \(fuseblk\) cannot hold symbolic links/),
      expect.stringMatching(/cannot mirror photo\.jpg: differs only in case .*"Photo\.JPG" is kept/),
    ]);
    expect(r.stderr).not.toContain('    at ');
    expect(readFileSync(path.join(t.dst, 'Photo.JPG'), 'utf8')).toBe('upper');
    const ignore = (p: string): boolean => ['photo.jpg', 'a:b.txt', 'link'].includes(p);
    expect(mirrorDiff(t.src, t.dst, ignore, { windowMs: 1000, modes: false })).toEqual([]);
    const probe = logLines(t.logs).filter((l) => l.msg === 'replica filesystem');
    expect(probe).toHaveLength(1);
    expect(probe[0]).toMatchObject({ type: 'fuseblk', mtimeResolutionMs: 1000, modes: false, symlinks: false, caseInsensitive: true, probed: true });

    const again = await runCli(['-s', t.src, '-r', t.dst, '--once', '-l', t.logs], { home: t.home });
    expect(again.code).toBe(1);
    const summary = logLines(t.logs).filter((l) => l.msg === 'pass complete');
    expect(summary).toHaveLength(2);
    expect(summary[1]).toMatchObject({ copy: 0, update: 0, attrs: 0, mkdir: 0, delete: 0, move: 0, errors: 3, hashed: 0 });
  });

  it('--modify-window 0 asks for exact mtimes exFAT cannot keep (files are rewritten every pass); 2s settles', async () => {
    const t = setup();
    const args = ['-s', t.src, '-r', t.dst, '--once', '-l', t.logs, '--exclude', 'photo.jpg', '--exclude', 'a:b.txt', '--exclude', 'link'];
    expect((await runCli([...args, '--modify-window', '0'], { home: t.home })).code).toBe(0);
    expect((await runCli([...args, '--modify-window', '0'], { home: t.home })).code).toBe(0);
    expect((await runCli([...args, '--modify-window', '2s'], { home: t.home })).code).toBe(0);
    const passes = logLines(t.logs).filter((l) => l.msg === 'pass complete');
    expect(passes[1]?.update).toBeGreaterThan(0);
    expect(passes[2]).toMatchObject({ copy: 0, update: 0, attrs: 0 });
    expect(logLines(t.logs).filter((l) => l.msg === 'modify window').map((l) => l.modifyWindowMs)).toEqual([0, 0, 2000]);
  });

  it('a dry run writes nothing on the replica, not even the probe: it guesses from the mount type', async () => {
    const t = setup();
    const first = await runCli(['-s', t.src, '-r', t.dst, '--once', '--exclude', 'photo.jpg', '--exclude', 'a:b.txt', '--exclude', 'link'], { home: t.home });
    expect(first.code, first.stderr).toBe(0);
    writeTree(t.src, { 'new.txt': 'new' });
    const before = readState(t.dst);
    const { statSync } = await import('node:fs');
    const rootBefore = statSync(t.dst).mtimeMs;
    const r = await runCli(['-s', t.src, '-r', t.dst, '--once', '-n', '-l', t.logs, '--exclude', 'photo.jpg', '--exclude', 'a:b.txt', '--exclude', 'link'], { home: t.home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('would '))).toEqual(['would copy new.txt']);
    expect(readState(t.dst)).toEqual(before);
    expect(statSync(t.dst).mtimeMs).toBe(rootBefore);
  });

  it('a daemon probes once for its life, not once per pass', async () => {
    const t = setup();
    const s = spawnCli(['-s', t.src, '-r', t.dst, '-i', '1s', '-l', t.logs, '--exclude', 'photo.jpg', '--exclude', 'a:b.txt', '--exclude', 'link'], { home: t.home, stdin: 'pipe' });
    running.push(s);
    const t0 = Date.now();
    while (logLines(t.logs).filter((l) => l.msg === 'pass complete').length < 3) {
      if (Date.now() - t0 > 20_000) throw new Error(`three passes did not complete within 20 s: ${s.stderr()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    s.child.stdin?.write('quit\n');
    expect(await s.exited(15_000)).toBe(0);
    const lines = logLines(t.logs);
    expect(lines.filter((l) => l.msg === 'replica filesystem')).toHaveLength(1);
    const passes = lines.filter((l) => l.msg === 'pass complete');
    for (const p of passes.slice(1)) expect(p).toMatchObject({ copy: 0, update: 0, attrs: 0, mkdir: 0, errors: 0 });
  });
});
