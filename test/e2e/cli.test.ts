import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { closePool, syncOnce } from '../helpers/pass.js';
import { type TreeSpec, cleanupTemps, mirrorDiff, readState, tempDir, writeTree } from '../helpers/tree.js';
import { NOBODY, chattrWorks, isRoot, unprivileged } from '../helpers/privilege.js';

// Tests here run concurrently: temp folders are removed once, after all of them.
afterAll(async () => {
  cleanupTemps();
  await closePool();
});

/** Gives the unprivileged user a temp tree it may write (when the tests run as root). */
function handOver(...dirs: string[]): void {
  if (!isRoot) return;
  for (const d of dirs) {
    mkdirSync(d, { recursive: true });
    spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, d]);
  }
}

/** A temp folder with a small source, a home for state and lock files, and paths for the rest. */
function fixture(): { t: string; src: string; dst: string; logs: string; home: string } {
  const t = tempDir('fs-cli-');
  chmodSync(t, 0o755);
  const src = path.join(t, 'src');
  writeTree(src, { 'a.txt': 'a', d: { 'b.txt': 'bb' } });
  const home = path.join(t, 'home');
  mkdirSync(home);
  return { t, src, dst: path.join(t, 'out', 'dst'), logs: path.join(t, 'logs'), home };
}

/** Every bad input of the contract (the finer points of each option are unit-tested in config.test.ts): exit 2, one line on stderr naming the problem, no stack trace, nothing created. */
interface Bad {
  readonly name: string;
  readonly args: (f: ReturnType<typeof fixture>) => string[];
  readonly setup?: (f: ReturnType<typeof fixture>) => void;
  readonly stderr: RegExp;
  readonly prefix?: readonly string[] | null;
}

const bads: Bad[] = [
  { name: 'unknown option', args: (f) => ['-s', f.src, '-r', f.dst, '--once', '-l', f.logs, '--bogus'], stderr: /--bogus/ },
  { name: 'an extra argument', args: (f) => ['-s', f.src, '-r', f.dst, '--once', 'stray'], stderr: /stray|argument/ },
  { name: 'missing -s', args: (f) => ['-r', f.dst, '--once', '-l', f.logs], stderr: /--source/ },
  { name: 'missing -r', args: (f) => ['-s', f.src, '--once', '-l', f.logs], stderr: /--replica/ },
  { name: 'bad interval', args: (f) => ['-s', f.src, '-r', f.dst, '-i', '1m2h', '-l', f.logs], stderr: /--interval "1m2h"/ },
  { name: 'missing interval without --once', args: (f) => ['-s', f.src, '-r', f.dst, '-l', f.logs], stderr: /--interval/ },
  { name: 'missing source', args: (f) => ['-s', path.join(f.t, 'nope'), '-r', f.dst, '--once', '-l', f.logs], stderr: /nope.*(no such|ENOENT)/ },
  {
    name: 'source is a file',
    setup: (f) => writeFileSync(path.join(f.t, 'file'), 'x'),
    args: (f) => ['-s', path.join(f.t, 'file'), '-r', f.dst, '--once', '-l', f.logs],
    stderr: /file.*not a folder/,
  },
  {
    name: 'unreadable source',
    setup: (f) => chmodSync(f.src, isRoot ? 0o700 : 0o000),
    args: (f) => ['-s', f.src, '-r', f.dst, '--once', '-l', f.logs],
    stderr: /--source .*(not readable|permission denied)/,
    prefix: unprivileged,
  },
  { name: 'replica inside the source', args: (f) => ['-s', f.src, '-r', path.join(f.src, 'mirror'), '--once', '-l', f.logs], stderr: /nested/ },
  {
    name: 'source inside the replica',
    setup: (f) => mkdirSync(path.join(f.t, 'rep', 'in'), { recursive: true }),
    args: (f) => ['-s', path.join(f.t, 'rep', 'in'), '-r', path.join(f.t, 'rep'), '--once', '-l', f.logs],
    stderr: /nested/,
  },
  {
    name: 'log folder not writable (a path under a file)',
    setup: (f) => writeFileSync(path.join(f.t, 'file'), 'x'),
    args: (f) => ['-s', f.src, '-r', f.dst, '--once', '-l', path.join(f.t, 'file', 'logs')],
    stderr: /--log-dir/,
  },
  {
    name: 'log folder not writable (permissions)',
    setup: (f) => {
      handOver(path.join(f.t, 'out'));
      mkdirSync(path.join(f.t, 'ro'));
      chmodSync(path.join(f.t, 'ro'), 0o555);
    },
    args: (f) => ['-s', f.src, '-r', f.dst, '--once', '-l', path.join(f.t, 'ro', 'logs')],
    stderr: /--log-dir .*not writable/,
    prefix: unprivileged,
  },
  { name: 'bad --hash', args: (f) => ['-s', f.src, '-r', f.dst, '--once', '-l', f.logs, '--hash', 'sha1'], stderr: /--hash/ },
  { name: 'bad --max-delete', args: (f) => ['-s', f.src, '-r', f.dst, '--once', '-l', f.logs, '--max-delete', 'lots'], stderr: /--max-delete/ },
  { name: 'bad --jobs', args: (f) => ['-s', f.src, '-r', f.dst, '--once', '-l', f.logs, '--jobs', '0'], stderr: /--jobs/ },
  { name: 'bad --modify-window', args: (f) => ['-s', f.src, '-r', f.dst, '--once', '-l', f.logs, '--modify-window', 'fast'], stderr: /--modify-window "fast"/ },
  { name: 'fractional --modify-window', args: (f) => ['-s', f.src, '-r', f.dst, '--once', '--modify-window', '1.5s'], stderr: /--modify-window "1\.5s"/ },
  { name: '--modify-window over a day', args: (f) => ['-s', f.src, '-r', f.dst, '--once', '--modify-window', '25h'], stderr: /--modify-window "25h": at most one day/ },
  {
    name: 'unreadable --exclude-from',
    args: (f) => ['-s', f.src, '-r', f.dst, '--once', '--exclude-from', path.join(f.t, 'missing.txt')],
    stderr: /--exclude-from .*missing\.txt/,
  },
];

describe.concurrent('bad input exits 2 with one line and changes nothing', () => {
  it.for(bads)('$name', async (b, { skip }) => {
    if (b.prefix === null) skip('cannot run unprivileged here (root without setpriv)');
    const f = fixture();
    b.setup?.(f);
    const before = readState(f.t);
    const r = await runCli(b.args(f), { home: f.home, ...(b.prefix ? { prefix: b.prefix } : {}) });
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(b.stderr);
    expect(r.stderr).not.toContain('    at ');
    expect(r.stdout).toBe('');
    // Nothing created or changed anywhere: no replica, no log folder, no state, no lock.
    expect(readState(f.t)).toEqual(before);
  });
});

/** Writes `n` files (and `extra`) into a source and mirrors it once, in-process to save a spawn. */
async function mirrored(n: number, extra: TreeSpec = {}): Promise<ReturnType<typeof fixture>> {
  const f = fixture();
  rmSync(f.src, { recursive: true });
  const spec: TreeSpec = {};
  for (let i = 0; i < n; i++) spec[`f${i}.txt`] = `file ${i}`;
  writeTree(f.src, { ...spec, ...extra });
  const r = await syncOnce({ source: f.src, replica: f.dst, state: path.join(f.t, 'setup.record') });
  expect(r.report.outcome).toBe('ok');
  expect(mirrorDiff(f.src, f.dst)).toEqual([]);
  return f;
}

describe.concurrent('safety refusals exit 3 and delete nothing', () => {
  it('an empty source over a non-empty replica, then --allow-empty-source empties it', async () => {
    const f = await mirrored(3);
    rmSync(f.src, { recursive: true });
    mkdirSync(f.src);
    const before = readState(f.dst);
    const r = await runCli(['-s', f.src, '-r', f.dst, '--once'], { home: f.home });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/empty/);
    expect(r.stderr).toMatch(/--allow-empty-source/);
    expect(r.stderr).not.toContain('    at ');
    expect(readState(f.dst)).toEqual(before);

    const ok = await runCli(['-s', f.src, '-r', f.dst, '--once', '--allow-empty-source'], { home: f.home });
    expect(ok.code, ok.stderr).toBe(0);
    expect(readdirSync(f.dst)).toEqual([]);
  });

  it('--max-delete 2 with 5 deletions', async () => {
    const f = await mirrored(8);
    for (let i = 0; i < 5; i++) rmSync(path.join(f.src, `f${i}.txt`));
    writeFileSync(path.join(f.src, 'new.txt'), 'new');
    const before = readState(f.dst);
    const r = await runCli(['-s', f.src, '-r', f.dst, '--once', '--max-delete', '2'], { home: f.home });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/--max-delete/);
    expect(r.stderr).toMatch(/5/);
    // Refused before anything ran: not even the copy happened.
    expect(readState(f.dst)).toEqual(before);

    const ok = await runCli(['-s', f.src, '-r', f.dst, '--once', '--max-delete', '5'], { home: f.home });
    expect(ok.code, ok.stderr).toBe(0);
    expect(mirrorDiff(f.src, f.dst)).toEqual([]);
  });

  it('every entry inside a deleted folder counts', async () => {
    const f = await mirrored(2, { d: { a: 'a', b: 'b', c: { e: 'e' } } });
    rmSync(path.join(f.src, 'd'), { recursive: true });
    const before = readState(f.dst);
    // d, d/a, d/b, d/c, d/c/e: five entries.
    const r = await runCli(['-s', f.src, '-r', f.dst, '--once', '--max-delete', '4'], { home: f.home });
    expect(r.code, r.stderr).toBe(3);
    expect(readState(f.dst)).toEqual(before);
    const ok = await runCli(['-s', f.src, '-r', f.dst, '--once', '--max-delete', '5'], { home: f.home });
    expect(ok.code, ok.stderr).toBe(0);
    expect(mirrorDiff(f.src, f.dst)).toEqual([]);
  });

  it('--max-delete 50%: 6 of 10 refused, 5 of 10 allowed', async () => {
    const a = await mirrored(10);
    for (let i = 0; i < 6; i++) rmSync(path.join(a.src, `f${i}.txt`));
    const before = readState(a.dst);
    const refused = await runCli(['-s', a.src, '-r', a.dst, '--once', '--max-delete', '50%'], { home: a.home });
    expect(refused.code, refused.stderr).toBe(3);
    expect(readState(a.dst)).toEqual(before);

    const b = await mirrored(10);
    for (let i = 0; i < 5; i++) rmSync(path.join(b.src, `f${i}.txt`));
    const ok = await runCli(['-s', b.src, '-r', b.dst, '--once', '--max-delete', '50%'], { home: b.home });
    expect(ok.code, ok.stderr).toBe(0);
    expect(mirrorDiff(b.src, b.dst)).toEqual([]);
  });

  it('--max-delete 0 refuses any deletion but allows copies', async () => {
    const f = await mirrored(2);
    writeFileSync(path.join(f.src, 'new.txt'), 'new');
    const ok = await runCli(['-s', f.src, '-r', f.dst, '--once', '--max-delete', '0'], { home: f.home });
    expect(ok.code, ok.stderr).toBe(0);
    rmSync(path.join(f.src, 'new.txt'));
    const r = await runCli(['-s', f.src, '-r', f.dst, '--once', '--max-delete', '0'], { home: f.home });
    expect(r.code, r.stderr).toBe(3);
    expect(existsSync(path.join(f.dst, 'new.txt'))).toBe(true);
  });
});

describe.concurrent('dry run', () => {
  it('prints one line per planned action and changes nothing anywhere', async () => {
    const f = fixture();
    writeTree(f.src, { 'a.txt': 'a, changed', n: { 'new.txt': 'new' }, l: { $symlink: 'a.txt' } });
    writeTree(f.dst, { 'a.txt': 'a', 'old.txt': 'old', d: { 'b.txt': { $file: 'bb', mtime: 1_000_000 } } });
    utimesSync(path.join(f.dst, 'd'), 1_000_000, 1_000_000);
    const beforeAll = readState(f.t);
    const r = await runCli(['-s', f.src, '-r', f.dst, '--once', '-n', '-l', f.logs], { home: f.home });
    expect(r.code, r.stderr).toBe(0);
    const would = r.stdout.split('\n').filter((l) => l.startsWith('would '));
    expect(would.sort()).toEqual(
      ['would update a.txt', 'would mkdir n', 'would copy n/new.txt', 'would symlink l', 'would delete old.txt', 'would update d/b.txt', 'would attrs d'].sort(),
    );
    expect(r.stdout).toMatch(/dry run/);
    // Nothing anywhere: replica, source, no log folder, no record or lock under the home.
    expect(readState(f.t)).toEqual(beforeAll);
    expect(existsSync(f.logs)).toBe(false);
    expect(readdirSync(f.home)).toEqual([]);
  });

  it('leaves an existing record, replica and source untouched, and reports moves as moves', async () => {
    const f = fixture();
    const first = await runCli(['-s', f.src, '-r', f.dst, '--once'], { home: f.home });
    expect(first.code, first.stderr).toBe(0);
    rmSync(path.join(f.src, 'a.txt'));
    writeFileSync(path.join(f.src, 'c.txt'), 'a new file');
    renameSync(path.join(f.src, 'd'), path.join(f.src, 'd2'));
    const before = readState(f.t);
    const r = await runCli(['-s', f.src, '-r', f.dst, '--once', '-n'], { home: f.home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('would ')).sort()).toEqual(['would copy c.txt', 'would delete a.txt', 'would move d -> d2']);
    expect(readState(f.t)).toEqual(before);
  });

  it('does not create a missing replica', async () => {
    const f = fixture();
    const before = readState(f.t);
    const r = await runCli(['-s', f.src, '-r', f.dst, '--once', '--dry-run', '-l', f.logs], { home: f.home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('would '))).toHaveLength(3);
    expect(readState(f.t)).toEqual(before);
  });
});

describe.concurrent('--once', () => {
  it('exits 0 after an exact mirror, writes the JSON log and a record under XDG_STATE_HOME', async () => {
    const f = fixture();
    const r = await runCli(['-s', f.src, '-r', f.dst, '--once', '-l', f.logs], { home: f.home });
    expect(r.code, r.stderr).toBe(0);
    expect(mirrorDiff(f.src, f.dst)).toEqual([]);
    const log = readFileSync(path.join(f.logs, 'foldersync.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(log.filter((l) => l.action).map((l) => `${l.action} ${l.path}`).sort()).toEqual(['copy a.txt', 'copy d/b.txt', 'mkdir d']);
    const done = log.find((l) => l.msg === 'pass complete')!;
    expect(done).toMatchObject({ copy: 2, mkdir: 1, errors: 0 });
    expect(readdirSync(path.join(f.home, 'state', 'foldersync'))).toHaveLength(1);
  });

  it.skipIf(unprivileged === null)('a pass with an unreadable source file exits 1, names it, and mirrors the rest', async () => {
    const f = fixture();
    writeTree(f.src, { 'secret.txt': { $file: 'root only', mode: 0o600 }, d: { 'c.txt': 'c' } });
    if (!isRoot) chmodSync(path.join(f.src, 'secret.txt'), 0o000);
    handOver(f.home, path.join(f.t, 'out'));
    const r = await runCli(['-s', f.src, '-r', f.dst, '--once'], { home: f.home, ...(unprivileged?.length ? { prefix: unprivileged } : {}) });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/secret\.txt/);
    expect(r.stderr).not.toContain('    at ');
    expect(existsSync(path.join(f.dst, 'secret.txt'))).toBe(false);
    expect(mirrorDiff(f.src, f.dst, (p) => p === 'secret.txt')).toEqual([]);
  });

  it.skipIf(!chattrWorks)('a pass that cannot write into an immutable replica folder exits 1 and mirrors the rest', async () => {
    const f = fixture();
    const first = await runCli(['-s', f.src, '-r', f.dst, '--once'], { home: f.home });
    expect(first.code, first.stderr).toBe(0);
    writeTree(f.src, { d: { 'new.txt': 'new' }, 'top.txt': 'top' });
    const locked = path.join(f.dst, 'd');
    expect(spawnSync('chattr', ['+i', locked]).status).toBe(0);
    try {
      const r = await runCli(['-s', f.src, '-r', f.dst, '--once'], { home: f.home });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/d\/new\.txt/);
      expect(existsSync(path.join(f.dst, 'top.txt'))).toBe(true);
    } finally {
      spawnSync('chattr', ['-i', locked]);
    }
    const again = await runCli(['-s', f.src, '-r', f.dst, '--once'], { home: f.home });
    expect(again.code, again.stderr).toBe(0);
    expect(mirrorDiff(f.src, f.dst)).toEqual([]);
  });

  it.skipIf(unprivileged === null)('unprivileged: read-only folders and files can be updated, emptied and moved in later passes', async () => {
    const f = fixture();
    rmSync(f.src, { recursive: true });
    writeTree(f.src, {
      ro: { $dir: { 'f.txt': { $file: 'v1', mode: 0o444 }, gone: 'x', sub: { $dir: { s: 's' }, mode: 0o555 } }, mode: 0o555 },
      a: { moving: { $dir: { m: 'a read-only folder that moves' }, mode: 0o555 } },
      b: {},
    });
    handOver(f.src, f.home, path.join(f.t, 'out'));
    const as = unprivileged?.length ? { prefix: unprivileged } : {};
    const first = await runCli(['-s', f.src, '-r', f.dst, '--once'], { home: f.home, ...as });
    expect(first.code, first.stderr).toBe(0);
    expect(mirrorDiff(f.src, f.dst)).toEqual([]);
    // The owner edits inside the read-only folder (opening it for a moment, as a user would).
    chmodSync(path.join(f.src, 'ro'), 0o755);
    writeFileSync(path.join(f.src, 'ro', 'new.txt'), 'new');
    rmSync(path.join(f.src, 'ro', 'gone'));
    chmodSync(path.join(f.src, 'ro', 'f.txt'), 0o644);
    writeFileSync(path.join(f.src, 'ro', 'f.txt'), 'version 2');
    chmodSync(path.join(f.src, 'ro', 'f.txt'), 0o444);
    rmSync(path.join(f.src, 'ro', 'sub'), { recursive: true, force: true });
    chmodSync(path.join(f.src, 'ro'), 0o555);
    // A read-only folder moved to another parent: renaming it rewrites its '..' entry.
    renameSync(path.join(f.src, 'a', 'moving'), path.join(f.src, 'b', 'moving'));
    handOver(f.src);
    const second = await runCli(['-s', f.src, '-r', f.dst, '--once'], { home: f.home, ...as });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/move a\/moving -> b\/moving/);
    expect(mirrorDiff(f.src, f.dst)).toEqual([]);
  });
});

describe.concurrent('help and version', () => {
  const OPTIONS = [
    '--source',
    '--replica',
    '--interval',
    '--log-dir',
    '--once',
    '--dry-run',
    '--watch',
    '--exclude',
    '--exclude-from',
    '--delete-excluded',
    '--checksum',
    '--hash',
    '--state',
    '--max-delete',
    '--allow-empty-source',
    '--jobs',
    '--log-level',
    '--help',
    '--version',
  ];
  const SHORT = ['-s,', '-r,', '-i,', '-l,', '-n,', '-h,', '-V,'];

  it.each([['-h'], ['--help']])('%s exits 0 and shows every contract option', async (flag) => {
    const home = tempDir('fs-cli-home-');
    const r = await runCli([flag], { home });
    expect(r.code).toBe(0);
    for (const o of [...OPTIONS, ...SHORT]) expect(r.stdout).toContain(o);
    expect(readdirSync(home)).toEqual([]);
  });

  it.each([['-V'], ['--version']])('%s exits 0 and prints the package version', async (flag) => {
    const home = tempDir('fs-cli-home-');
    const r = await runCli([flag], { home });
    expect(r.code).toBe(0);
    const pkg = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };
    expect(r.stdout.trim()).toBe(pkg.version);
  });
});
