import { chmodSync, lstatSync, mkdirSync, readdirSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { isRoot, unprivileged } from '../helpers/privilege.js';
import { trickyTree } from '../helpers/tricky-tree.js';
import { cleanupTemps, readState, tempDir, type TreeSpec, writeTree } from '../helpers/tree.js';

afterAll(cleanupTemps);

/** A mirrored tricky tree (made by a real pass of the CLI) and a home for state and lock files. */
interface Fixture {
  readonly src: string;
  readonly dst: string;
  readonly home: string;
}

async function mirrored(): Promise<Fixture> {
  const t = tempDir('fs-check-');
  chmodSync(t, 0o755);
  const src = path.join(t, 'src');
  const dst = path.join(t, 'dst');
  const home = path.join(t, 'home');
  mkdirSync(home);
  writeTree(src, trickyTree(src));
  const sync = await runCli(['-s', src, '-r', dst, '--once', '--state', path.join(t, 'record')], { home });
  expect(sync.code, sync.stderr).toBe(0);
  return { src, dst, home };
}

/** Sets a file's mtime to another's (so only the intended attribute differs). */
function sameTimeAs(file: string, like: string): void {
  const st = lstatSync(like);
  utimesSync(file, st.atime, st.mtime);
}

let f: Fixture;
beforeAll(async () => {
  f = await mirrored();
}, 60_000);

describe('foldersync check', () => {
  it('identical trees: exit 0, nothing on stdout, a summary on stderr, nothing written', async () => {
    const before = [readState(f.src), readState(f.dst)];
    for (const extra of [[], ['--checksum'], ['--json']]) {
      const r = await runCli(['check', '-s', f.src, '-r', f.dst, ...extra], { home: f.home });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^check: identical; \d+ entries in the source, \d+ in the replica/m);
    }
    expect([readState(f.src), readState(f.dst)]).toEqual(before);
    // No record, lock or log: the home (XDG_STATE_HOME and TMPDIR) stays empty.
    expect(readdirSync(f.home)).toEqual([]);
  });

  it('reports each kind of difference exactly once, sorted by path; content only with --checksum', async () => {
    const g = await mirrored();
    const { src, dst } = g;
    unlinkSync(path.join(dst, 'with spaces in it.txt')); // missing
    writeTree(dst, { 'extra dir': { 'inside.txt': 'x' }, 'zz-extra.txt': 'x' }); // extra (with what is below)
    rmSync(path.join(dst, 'semi;colon'));
    mkdirSync(path.join(dst, 'semi;colon')); // type
    writeFileSync(path.join(dst, '^^^'), 'carets, longer');
    sameTimeAs(path.join(dst, '^^^'), path.join(src, '^^^')); // size
    utimesSync(path.join(dst, 'old-mtime'), new Date(), new Date()); // mtime
    chmodSync(path.join(dst, 'modes/exec-0755'), 0o644); // mode
    chmodSync(path.join(dst, 'modes/sticky-1777'), 0o777); // a folder's mode
    unlinkSync(path.join(dst, 'links/dangling'));
    symlinkSync('somewhere/else', path.join(dst, 'links/dangling')); // target
    writeFileSync(path.join(dst, '-rf'), 'LEADING DASH');
    sameTimeAs(path.join(dst, '-rf'), path.join(src, '-rf')); // content: same size, same mtime
    writeFileSync(path.join(src, 'nested/level-1/new.txt'), 'new'); // missing, deep
    writeFileSync(path.join(dst, 'ignored.tmp'), 'excluded'); // excluded on the replica side
    writeFileSync(path.join(src, 'also-ignored.tmp'), 'excluded'); // and on the source side
    utimesSync(path.join(dst, 'empty-folder'), new Date(), new Date()); // a folder's mtime is no difference
    const before = [readState(src), readState(dst)];

    const expected = [
      '~ -rf (content)',
      '~ ^^^ (size)',
      '- extra dir',
      '- extra dir/inside.txt',
      '~ links/dangling (target)',
      '~ modes/exec-0755 (mode)',
      '~ modes/sticky-1777 (mode)',
      '+ nested/level-1/new.txt',
      '~ old-mtime (mtime)',
      '~ semi;colon (type)',
      '+ with spaces in it.txt',
      '- zz-extra.txt',
    ];
    const plain = await runCli(['check', '-s', src, '-r', dst, '--exclude', '*.tmp'], { home: g.home });
    expect(plain.code, plain.stderr).toBe(1);
    expect(plain.stdout.split('\n').filter(Boolean)).toEqual(expected.filter((l) => !l.includes('(content)')));
    expect(plain.stderr).toMatch(/^check: 11 differences \(2 only in the source, 3 only in the replica, 6 differ\)/m);

    const sum = await runCli(['check', '-s', src, '-r', dst, '--exclude', '*.tmp', '--checksum'], { home: g.home });
    expect(sum.code, sum.stderr).toBe(1);
    expect(sum.stdout.split('\n').filter(Boolean)).toEqual(expected);
    expect(sum.stderr).toMatch(/files hashed/);

    // Without the exclude, the excluded names are differences too.
    const all = await runCli(['check', '-s', src, '-r', dst], { home: g.home });
    expect(all.stdout).toContain('+ also-ignored.tmp\n');
    expect(all.stdout).toContain('- ignored.tmp\n');

    const json = await runCli(['check', '-s', src, '-r', dst, '--exclude', '*.tmp', '--checksum', '--json'], { home: g.home });
    expect(json.code).toBe(1);
    const objs = json.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { path: string; status: string; what: string[] });
    expect(objs).toHaveLength(expected.length);
    expect(objs[0]).toEqual({ path: '-rf', status: 'differs', what: ['content'] });
    expect(objs).toContainEqual({ path: 'with spaces in it.txt', status: 'missing', what: [] });
    expect(objs).toContainEqual({ path: 'zz-extra.txt', status: 'extra', what: [] });

    // Nothing was written by any of these checks: not in the trees, not in the home.
    expect([readState(src), readState(dst)]).toEqual(before);
    expect(readdirSync(g.home)).toEqual([]);
  });

  it('a name with a newline is one escaped line; --json gives it exactly', async () => {
    const g = await mirrored();
    unlinkSync(path.join(g.dst, 'new\nline'));
    const r = await runCli(['check', '-s', g.src, '-r', g.dst], { home: g.home });
    expect(r.stdout).toBe('+ new\\nline\n');
    const j = await runCli(['check', '-s', g.src, '-r', g.dst, '--json'], { home: g.home });
    expect(JSON.parse(j.stdout)).toEqual({ path: 'new\nline', status: 'missing', what: [] });
  });

  it('--modify-window: mtimes within it are equal', async () => {
    const g = await mirrored();
    const p = path.join(g.dst, 'old-mtime');
    const t = lstatSync(p).mtimeMs + 1500;
    utimesSync(p, t / 1000, t / 1000);
    expect((await runCli(['check', '-s', g.src, '-r', g.dst], { home: g.home })).stdout).toBe('~ old-mtime (mtime)\n');
    const r = await runCli(['check', '-s', g.src, '-r', g.dst, '--modify-window', '2s'], { home: g.home });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
  });

  it('--include: only included paths (and the folders on the way that lead to one) are compared, as a pass mirrors them', async () => {
    const t = tempDir('fs-check-include-');
    const src = path.join(t, 'src');
    const dst = path.join(t, 'dst');
    const home = path.join(t, 'home');
    mkdirSync(home);
    const M = 1_700_000_000_000;
    const f = (content: string, mode = 0o644): TreeSpec[string] => ({ $file: content, mtime: M, mode });
    writeTree(src, {
      Photos: { '2024': { 'a.jpg': f('a'), 'b.jpg': f('b') }, 'notes.txt': f('notes') },
      docs: { 'report.pdf': f('report'), 'draft.txt': f('draft') },
      music: { 'song.mp3': f('song') },
      'top.pdf': f('top'),
    });
    const sync = await runCli(['-s', src, '-r', dst, '--once', '--state', path.join(t, 'record')], { home });
    expect(sync.code, sync.stderr).toBe(0);
    writeTree(dst, { Photos: { '2024': { 'a.jpg': f('a, longer') } } }); // size
    chmodSync(path.join(dst, 'Photos', 'notes.txt'), 0o600); // mode
    unlinkSync(path.join(dst, 'docs', 'report.pdf')); // only in the source
    writeTree(dst, { music: { 'extra.mp3': f('extra') } }); // only in the replica
    writeTree(src, { new: { deep: { 'x.pdf': f('x') } } }); // a new folder with an included file below
    writeTree(src, { 'empty-way': { sub: { 'y.txt': f('y') } } }); // a new folder with nothing included below
    const checkHome = path.join(t, 'check-home');
    mkdirSync(checkHome);

    const table: [string[], string[]][] = [
      [
        [],
        [
          '~ Photos/2024/a.jpg (size)',
          '~ Photos/notes.txt (mode)',
          '+ docs/report.pdf',
          '+ empty-way',
          '+ empty-way/sub',
          '+ empty-way/sub/y.txt',
          '- music/extra.mp3',
          '+ new',
          '+ new/deep',
          '+ new/deep/x.pdf',
        ],
      ],
      [['--include', '*.pdf'], ['+ docs/report.pdf', '+ new', '+ new/deep', '+ new/deep/x.pdf']],
      [['--include', 'Photos/'], ['~ Photos/2024/a.jpg (size)', '~ Photos/notes.txt (mode)']],
      [['--include', 'Photos/**/*.jpg', '--include', 'music/'], ['~ Photos/2024/a.jpg (size)', '- music/extra.mp3']],
      [['--include', '*.pdf', '--exclude', 'new/'], ['+ docs/report.pdf']],
      [['--include', 'docs/*.pdf'], ['+ docs/report.pdf']],
      [['--include', 'new/deep/'], ['+ new', '+ new/deep', '+ new/deep/x.pdf']],
      [['--include', '*.ogg'], []],
    ];
    const before = [readState(src), readState(dst)];
    for (const [args, expected] of table) {
      const r = await runCli(['check', '-s', src, '-r', dst, ...args], { home: checkHome });
      expect(r.stdout.split('\n').filter(Boolean), args.join(' ')).toEqual(expected);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(expected.length === 0 ? 0 : 1);
    }
    expect([readState(src), readState(dst)]).toEqual(before);
    expect(readdirSync(checkHome)).toEqual([]);

    // A pass with the same includes leaves nothing for the check to report (and creates no empty way).
    const pass = await runCli(['-s', src, '-r', dst, '--once', '--include', '*.pdf', '--state', path.join(t, 'record')], { home });
    expect(pass.code, pass.stderr).toBe(0);
    expect(readdirSync(dst)).not.toContain('empty-way');
    const after = await runCli(['check', '-s', src, '-r', dst, '--include', '*.pdf'], { home: checkHome });
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toBe('');
  });

  it('--backup-dir: the backup folder inside the replica is foldersync\'s own, not an extra path', async () => {
    const t = tempDir('fs-check-versions-');
    const src = path.join(t, 'src');
    const dst = path.join(t, 'dst');
    const home = path.join(t, 'home');
    mkdirSync(home);
    writeTree(src, { 'a.txt': 'version 1', sub: { 'b.txt': 'b' } });
    const args = ['-s', src, '-r', dst, '--once', '--backup-dir', '.versions', '--state', path.join(t, 'record')];
    expect((await runCli(args, { home })).code).toBe(0);
    writeFileSync(path.join(src, 'a.txt'), 'version 2');
    expect((await runCli(args, { home })).code).toBe(0);
    const [stamp] = readdirSync(path.join(dst, '.versions'));
    expect(stamp).toMatch(/^\d{4}-\d{2}-\d{2}_\d{6}$/);
    const checkHome = path.join(t, 'check-home');
    mkdirSync(checkHome);

    const plain = await runCli(['check', '-s', src, '-r', dst], { home: checkHome });
    expect(plain.code).toBe(1);
    expect(plain.stdout).toBe(`- .versions\n- .versions/${stamp}\n- .versions/${stamp}/a.txt\n`);
    for (const dir of ['.versions', path.join(dst, '.versions')]) {
      const r = await runCli(['check', '-s', src, '-r', dst, '--backup-dir', dir, '--checksum'], { home: checkHome });
      expect(r.code, `${dir}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toBe('');
    }
    // Validated as a pass validates it: a relative one must lie inside the replica.
    const outside = await runCli(['check', '-s', src, '-r', dst, '--backup-dir', '../elsewhere'], { home: checkHome });
    expect(outside.code).toBe(2);
    expect(outside.stderr.trim()).toBe('foldersync: --backup-dir "../elsewhere": a relative backup folder must lie inside the replica');
    expect(readdirSync(checkHome)).toEqual([]);
  });

  it('exit 2: a tree that cannot be listed, or bad usage', async () => {
    const missing = await runCli(['check', '-s', f.src, '-r', path.join(f.home, '..', 'no-such-replica')], { home: f.home });
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toMatch(/^foldersync: check: cannot list the replica .*no-such-replica: no such file or directory \(ENOENT\)$/);
    for (const args of [['check', '-s', f.src], ['check', '-s', f.src, '-r', f.dst, '--hash', 'crc'], ['check', '-s', f.src, '-r', path.join(f.src, 'sub')], ['check', '-s', f.src, '-r', f.dst, '--bogus']]) {
      const r = await runCli(args, { home: f.home });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('exit 2 when a folder below cannot be read; the rest is still compared', async (ctx) => {
    if (unprivileged === null) {
      if (process.env.CI === 'true') throw new Error('cannot drop root privileges (setpriv) on CI');
      ctx.skip(true, 'running as root without setpriv: every folder is readable');
      return;
    }
    const g = await mirrored();
    writeFileSync(path.join(g.dst, 'zz-extra.txt'), 'x');
    const locked = path.join(g.src, 'modes', 'locked');
    mkdirSync(locked, { mode: 0o700 });
    writeFileSync(path.join(locked, 'f'), 'f');
    // The replica's copy can be read: what it holds is not "extra", only unchecked.
    writeTree(path.join(g.dst, 'modes'), { locked: { $dir: { f: 'f' }, mode: 0o755 } });
    if (!isRoot) chmodSync(locked, 0o000);
    const r = await runCli(['check', '-s', g.src, '-r', g.dst], { home: g.home, prefix: unprivileged });
    chmodSync(locked, 0o700);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^error: cannot readdir source modes\/locked: permission denied \(EACCES\)$/m);
    expect(r.stdout).toBe('~ modes/locked (mode)\n- zz-extra.txt\n');
    expect(r.stderr).toMatch(/the check is incomplete/);
  });
});
