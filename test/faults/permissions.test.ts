import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { cleanupTemps, mirrorDiff, readState, tempDir, writeTree } from '../helpers/tree.js';
import { tempLeftovers } from './fault-kit.js';
import { NOBODY, chattrWorks, isRoot, unprivileged } from '../helpers/privilege.js';

/*
 * Mode bits do not stop root, and CI runs as root: the CLI is run as nobody (setpriv) so that
 * 0000 files and folders really are unreadable, and a replica folder owned by root with mode
 * 0555 really is unwritable. `chattr +i` makes a folder unwritable even for root.
 */
if (unprivileged === null && !chattrWorks) console.warn('permissions: skipped, neither setpriv (to drop root) nor chattr +i works here');

const immutable: string[] = [];
afterEach(() => {
  for (const p of immutable.splice(0)) spawnSync('chattr', ['-i', p]);
  cleanupTemps();
});

/** A temp root the unprivileged user can use: source, replica, state and home all belong to it. */
function fixture(): { d: string; src: string; dst: string; args: string[] } {
  const d = tempDir('fs-perm-');
  chmodSync(d, 0o755);
  const src = `${d}/src`;
  const dst = `${d}/dst`;
  mkdirSync(`${d}/home`);
  return { d, src, dst, args: ['-s', src, '-r', dst, '--once', '--state', `${d}/home/pair.record`] };
}

function giveToNobody(...paths: string[]): void {
  if (isRoot) for (const p of paths) spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, p]);
}

/** Lines of stderr that are error reports. */
const errorLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('error'));

describe('permission errors', () => {
  it.skipIf(unprivileged === null)('unreadable source file and folder (as nobody): reported with their paths, exit 1, the rest mirrored, nothing under the folder deleted', async () => {
    const { d, src, dst, args } = fixture();
    writeTree(src, {
      'a.txt': 'a',
      old: { 'gone.txt': 'to be deleted later' },
      locked: { 'in.txt': 'inside', deeper: { 'x.txt': 'x' } },
    });
    giveToNobody(d);
    const as = { home: `${d}/home`, prefix: unprivileged! };
    const first = await runCli(args, as);
    expect(first.code, first.stderr).toBe(0);

    // Now: a new unreadable file, the folder becomes unreadable (and its content changed before
    // that), a legitimate deletion elsewhere, and ordinary new work.
    writeTree(src, { 'secret.txt': 'secret', 'b.txt': 'new b', more: { 'c.txt': 'c' } });
    writeFileSync(`${src}/locked/in.txt`, 'changed inside, and then the folder was locked');
    rmSync(`${src}/locked/deeper/x.txt`);
    rmSync(`${src}/old/gone.txt`);
    giveToNobody(src);
    chmodSync(`${src}/secret.txt`, 0);
    chmodSync(`${src}/locked`, 0);
    const lockedBefore = readState(`${dst}/locked`);

    const res = await runCli(args, as);
    expect(res.code, res.stdout + res.stderr).toBe(1);
    const errors = errorLines(res.stderr);
    expect(errors.some((l) => l.includes('secret.txt') && /permission denied|EACCES/i.test(l)), res.stderr).toBe(true);
    expect(errors.some((l) => l.includes('locked') && /permission denied|EACCES/i.test(l)), res.stderr).toBe(true);
    // The rest is mirrored ...
    expect(readFileSync(`${dst}/b.txt`, 'utf8')).toBe('new b');
    expect(readFileSync(`${dst}/more/c.txt`, 'utf8')).toBe('c');
    expect(tempLeftovers(dst)).toEqual([]);
    // ... nothing below the folder that could not be read is touched, and no deletion happens
    // at all in a pass whose listing of the source was incomplete.
    chmodSync(`${dst}/locked`, 0o755);
    const lockedAfter = readState(`${dst}/locked`);
    expect([...lockedAfter.keys()].sort()).toEqual([...lockedBefore.keys()].sort());
    expect(lockedAfter.get('in.txt')?.hash).toBe(lockedBefore.get('in.txt')?.hash);
    expect(readFileSync(`${dst}/old/gone.txt`, 'utf8')).toBe('to be deleted later');
    expect(res.stderr).toMatch(/withheld/);

    // Readable again: the next pass is exact, deletions included.
    chmodSync(`${src}/secret.txt`, 0o644);
    chmodSync(`${src}/locked`, 0o755);
    const again = await runCli(args, as);
    expect(again.code, again.stderr).toBe(0);
    expect(mirrorDiff(src, dst)).toEqual([]);
  });

  it.skipIf(unprivileged === null || !isRoot)('an unwritable replica folder (root-owned, 0555, CLI as nobody): reported with its path, exit 1, the rest mirrored', async () => {
    const { d, src, dst, args } = fixture();
    writeTree(src, { 'a.txt': 'a', ro: { 'old.txt': 'old' }, other: { 'o.txt': 'o' } });
    giveToNobody(d);
    const as = { home: `${d}/home`, prefix: unprivileged! };
    expect((await runCli(args, as)).code).toBe(0);

    writeTree(src, { ro: { 'new.txt': 'cannot land' }, other: { 'p.txt': 'p' }, 'b.txt': 'b' });
    giveToNobody(src);
    spawnSync('chown', ['root:root', `${dst}/ro`]);
    chmodSync(`${dst}/ro`, 0o555);

    const res = await runCli(args, as);
    expect(res.code, res.stdout + res.stderr).toBe(1);
    expect(errorLines(res.stderr).some((l) => l.includes('ro/new.txt') || /"ro"/.test(l)), res.stderr).toBe(true);
    expect(readFileSync(`${dst}/other/p.txt`, 'utf8')).toBe('p');
    expect(readFileSync(`${dst}/b.txt`, 'utf8')).toBe('b');
    expect(readFileSync(`${dst}/ro/old.txt`, 'utf8')).toBe('old');
    expect(tempLeftovers(dst)).toEqual([]);
  });

  it.skipIf(!chattrWorks)('an immutable replica folder (chattr +i, even root cannot write): reported with its path, exit 1, the rest mirrored; exact once writable', async () => {
    const { d, src, dst, args } = fixture();
    writeTree(src, { 'a.txt': 'a', frozen: { 'old.txt': 'old' }, other: { 'o.txt': 'o' } });
    expect((await runCli(args, { home: `${d}/home` })).code).toBe(0);

    writeTree(src, { frozen: { 'new.txt': 'cannot land' }, other: { 'p.txt': 'p' }, 'b.txt': 'b' });
    rmSync(`${src}/frozen/old.txt`);
    expect(spawnSync('chattr', ['+i', `${dst}/frozen`]).status).toBe(0);
    immutable.push(`${dst}/frozen`);

    const res = await runCli(args, { home: `${d}/home` });
    expect(res.code, res.stdout + res.stderr).toBe(1);
    const errors = errorLines(res.stderr);
    expect(errors.some((l) => l.includes('frozen/new.txt')), res.stderr).toBe(true);
    expect(errors.some((l) => l.includes('frozen/old.txt')), res.stderr).toBe(true);
    expect(readFileSync(`${dst}/other/p.txt`, 'utf8')).toBe('p');
    expect(readFileSync(`${dst}/b.txt`, 'utf8')).toBe('b');
    expect(readFileSync(`${dst}/frozen/old.txt`, 'utf8')).toBe('old');
    expect(tempLeftovers(dst)).toEqual([]);

    spawnSync('chattr', ['-i', `${dst}/frozen`]);
    const again = await runCli(args, { home: `${d}/home` });
    expect(again.code, again.stderr).toBe(0);
    expect(mirrorDiff(src, dst)).toEqual([]);
  });
});
