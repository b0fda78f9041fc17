import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mounts.js';
import { type TestSshd, requireSshd, startTestSshd } from '../helpers/sshd.js';
import { cleanupTemps, readState, tempDir, writeTree } from '../helpers/tree.js';

/** No agent: the keys the tests name are the only ones offered. */
const ENV = { SSH_AUTH_SOCK: '' };

/** Mtimes with a fraction of a second: SFTP carries whole seconds, so the replica's are truncated. */
const T = 1_600_000_000_437;

const ready = requireSshd();

describe.skipIf(!ready)('foldersync check with a remote side, spawned (e2e: run `npm run build` first)', () => {
  let sshd: TestSshd;

  beforeAll(async () => {
    sshd = await startTestSshd();
  }, 30_000);
  afterAll(async () => {
    cleanupTemps();
    await sshd?.stop();
  });

  /** A folder served by the test sshd (on this machine, so the test can look at it directly). */
  function remote(name: string): string {
    return path.join(sshd.dir, `${name}-${Math.random().toString(36).slice(2, 8)}`);
  }

  /** A source tree with files, a folder, a link and an executable, every mtime off a whole second. */
  function sourceTree(dir: string): void {
    writeTree(dir, {
      'a.txt': { $file: 'alpha', mtime: T },
      'gone.txt': { $file: 'to be deleted', mtime: T + 1_111 },
      'same.txt': { $file: 'same size', mtime: T + 2_222 },
      'run.sh': { $file: '#!/bin/sh\n', mode: 0o755, mtime: T + 3_333 },
      link: { $symlink: 'a.txt' },
      sub: { $dir: { 'deep.txt': { $file: 'deep', mtime: T + 4_444 } }, mode: 0o750 },
    });
  }

  /** Runs `check` with the test server's ssh config and a fresh home, and asserts that home stays empty (no record, lock or log). */
  async function check(args: string[], sshConfig = sshd.sshConfig): Promise<{ code: number; stdout: string; stderr: string; lines: string[] }> {
    const home = tempDir('fs-check-remote-home-');
    const r = await runCli(['check', ...args, '--ssh-config', sshConfig], { home, env: ENV });
    expect(readdirSync(home)).toEqual([]);
    return { ...r, lines: r.stdout.split('\n').filter(Boolean) };
  }

  /** Mirrors with a real pass; exit 0. */
  async function mirror(src: string, dst: string, extra: string[] = [], sshConfig = sshd.sshConfig): Promise<void> {
    const home = tempDir('fs-check-remote-pass-');
    const r = await runCli(['-s', src, '-r', dst, '--once', '--ssh-config', sshConfig, ...extra], { home, env: ENV });
    expect(r.code, r.stderr).toBe(0);
  }

  it('local → remote: a fresh mirror is identical (whole-second mtimes too); each change is reported once; nothing is written', async () => {
    const t = tempDir('fs-check-remote-');
    const src = path.join(t, 'src');
    sourceTree(src);
    const dst = remote('check');
    await mirror(src, sshd.url(dst));
    // The server kept whole seconds only: without the modify window these would all differ.
    expect(readState(dst).get('a.txt')?.mtimeMs).toBe(Math.floor(T / 1000) * 1000);

    for (const extra of [[], ['--checksum'], ['--checksum', '--hash', 'md5'], ['--json']]) {
      const r = await check(['-s', src, '-r', sshd.url(dst), ...extra]);
      expect(r.code, `${extra.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^check: identical; 7 entries in the source, 7 in the replica/m);
    }
    // sftp:// names the same folder.
    const url = await check(['-s', src, '-r', `sftp://${sshd.alias}${dst}`]);
    expect(url.code, url.stderr).toBe(0);

    writeFileSync(path.join(src, 'a.txt'), 'alpha, edited to be longer');
    utimesSync(path.join(src, 'a.txt'), (T + 60_000) / 1000, (T + 60_000) / 1000); // size, mtime
    rmSync(path.join(src, 'gone.txt')); // only in the replica now
    writeFileSync(path.join(dst, 'sub', 'extra.txt'), 'extra'); // only in the replica
    writeFileSync(path.join(src, 'new.txt'), 'new'); // only in the source
    chmodSync(path.join(dst, 'run.sh'), 0o644); // mode
    writeFileSync(path.join(dst, 'same.txt'), 'SAME SIZE');
    utimesSync(path.join(dst, 'same.txt'), Math.floor((T + 2_222) / 1000), Math.floor((T + 2_222) / 1000)); // content only
    const before = [readState(src), readState(dst)];

    const expected = ['~ a.txt (size, mtime)', '- gone.txt', '+ new.txt', '~ run.sh (mode)', '~ same.txt (content)', '- sub/extra.txt'];
    const plain = await check(['-s', src, '-r', sshd.url(dst)]);
    expect(plain.code, plain.stderr).toBe(1);
    expect(plain.lines).toEqual(expected.filter((l) => !l.includes('(content)')));
    expect(plain.stderr).toMatch(/^check: 5 differences \(1 only in the source, 2 only in the replica, 2 differ\)/m);

    const sum = await check(['-s', src, '-r', sshd.url(dst), '--checksum']);
    expect(sum.code, sum.stderr).toBe(1);
    expect(sum.lines).toEqual(expected);
    expect(sum.stderr).toMatch(/files hashed/);

    // Excludes apply on both sides, as in a pass.
    const ex = await check(['-s', src, '-r', sshd.url(dst), '--checksum', '--exclude', '*.txt']);
    expect(ex.lines).toEqual(['~ run.sh (mode)']);

    // Not a byte written on either side: no probe file, no temp file, no folder's mtime moved.
    expect([readState(src), readState(dst)]).toEqual(before);
  });

  it('remote → local, and remote → remote: a mirror made by a pass is identical; changes in the local replica are reported', async () => {
    const t = tempDir('fs-check-remote-');
    const origin = path.join(t, 'origin');
    sourceTree(origin);
    const server = remote('source');
    await mirror(origin, sshd.url(server));
    const local = path.join(t, 'copy');
    await mirror(sshd.url(server), local);
    const other = remote('other');
    await mirror(sshd.url(server), sshd.url(other));

    for (const extra of [[], ['--checksum']]) {
      const r = await check(['-s', sshd.url(server), '-r', local, ...extra]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('');
      const both = await check(['-s', sshd.url(server), '-r', sshd.url(other), ...extra]);
      expect(both.code, both.stderr).toBe(0);
      expect(both.stdout).toBe('');
    }

    writeFileSync(path.join(local, 'sub', 'deep.txt'), 'DEEP');
    utimesSync(path.join(local, 'sub', 'deep.txt'), Math.floor((T + 4_444) / 1000), Math.floor((T + 4_444) / 1000));
    rmSync(path.join(local, 'gone.txt'));
    mkdirSync(path.join(local, 'stray'));
    chmodSync(path.join(local, 'sub'), 0o700);
    const before = [readState(server), readState(local)];
    const r = await check(['-s', sshd.url(server), '-r', local, '--checksum']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.lines).toEqual(['+ gone.txt', '- stray', '~ sub (mode)', '~ sub/deep.txt (content)']);
    expect([readState(server), readState(local)]).toEqual(before);
  });

  it('--checksum against an SFTP-only account (no commands on the server): files are read over SFTP instead', async () => {
    const nas = await startTestSshd({ sftpOnly: true });
    try {
      const t = tempDir('fs-check-remote-');
      const src = path.join(t, 'src');
      sourceTree(src);
      const dst = path.join(nas.dir, 'sftp-only');
      await mirror(src, nas.url(dst), [], nas.sshConfig);
      const same = await check(['-s', src, '-r', nas.url(dst), '--checksum'], nas.sshConfig);
      expect(same.code, same.stderr).toBe(0);
      expect(same.stderr).toMatch(/, 10 files hashed/);
      writeFileSync(path.join(dst, 'same.txt'), 'SAME SIZE');
      utimesSync(path.join(dst, 'same.txt'), Math.floor((T + 2_222) / 1000), Math.floor((T + 2_222) / 1000));
      const r = await check(['-s', src, '-r', nas.url(dst), '--checksum'], nas.sshConfig);
      expect(r.code, r.stderr).toBe(1);
      expect(r.lines).toEqual(['~ same.txt (content)']);
    } finally {
      await nas.stop();
    }
  });

  it('a backup folder inside a remote replica (--backup-dir, relative) is not reported as extra', async () => {
    const t = tempDir('fs-check-remote-');
    const src = path.join(t, 'src');
    sourceTree(src);
    const dst = remote('versions');
    await mirror(src, sshd.url(dst), ['--backup-dir', '.versions']);
    writeFileSync(path.join(src, 'a.txt'), 'alpha 2');
    await mirror(src, sshd.url(dst), ['--backup-dir', '.versions']);
    expect(readdirSync(path.join(dst, '.versions'))).toHaveLength(1);

    const without = await check(['-s', src, '-r', sshd.url(dst)]);
    expect(without.code).toBe(1);
    expect(without.lines[0]).toBe('- .versions');
    const aware = await check(['-s', src, '-r', sshd.url(dst), '--backup-dir', '.versions']);
    expect(aware.code, aware.stderr).toBe(0);
    expect(aware.stdout).toBe('');
    // As for a pass: on another machine the backup folder must lie inside the replica.
    const abs = await check(['-s', src, '-r', sshd.url(dst), '--backup-dir', '/elsewhere']);
    expect(abs.code).toBe(2);
  });

  it('an untrusted host key, a refused login, an unreachable host: exit 2 with the line a pass prints; a missing remote root: exit 2 naming it', async () => {
    const t = tempDir('fs-check-remote-');
    const src = path.join(t, 'src');
    sourceTree(src);
    const dst = remote('untrusted');
    mkdirSync(dst);
    const empty = path.join(t, 'known_hosts_empty');
    writeFileSync(empty, '');
    const stranger = path.join(t, 'stranger');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger], { timeout: 10_000 });
    const closed = await freePort();
    const cases: [string, RegExp][] = [
      [sshd.configWith(t, { UserKnownHostsFile: empty }), /^foldersync: the host key of testbox \(127\.0\.0\.1:\d+\) is not known \(ED25519 key SHA256:/],
      [sshd.configWith(t, { IdentityFile: stranger }), /^foldersync: cannot log in to .*testbox/],
      [sshd.configWith(t, { Port: String(closed) }), /^foldersync: cannot connect to .*127\.0\.0\.1/],
    ];
    for (const [cfg, line] of cases) {
      for (const [s, r] of [
        [src, sshd.url(dst)],
        [sshd.url(dst), src],
      ] as const) {
        const c = await check(['-s', s, '-r', r], cfg);
        expect(c.code, c.stderr).toBe(2);
        expect(c.stdout).toBe('');
        expect(c.stderr).toMatch(line);
        expect(c.stderr.trim().split('\n')).toHaveLength(1);
      }
      // A pass says the same, word for word.
      const home = tempDir('fs-check-remote-pass-');
      const pass = await runCli(['-s', src, '-r', sshd.url(dst), '--once', '--ssh-config', cfg], { home, env: ENV });
      expect(pass.code).toBe(2);
      const c = await check(['-s', src, '-r', sshd.url(dst)], cfg);
      expect(c.stderr).toBe(pass.stderr);
    }
    expect(readdirSync(dst)).toEqual([]);

    const missing = await check(['-s', src, '-r', sshd.url(`${dst}/no-such-folder`)]);
    expect(missing.code).toBe(2);
    const lines = missing.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.startsWith(`foldersync: check: cannot list the replica testbox:${dst}/no-such-folder: no such file or directory`)).toBe(true);
    expect(lines[0]).toMatch(/\(ENOENT\)$/);
  });
});
