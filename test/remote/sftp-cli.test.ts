import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mounts.js';
import { type TestSshd, requireSshd, startTestSshd } from '../helpers/sshd.js';
import { cleanupTemps, mirrorDiff, tempDir, writeTree } from '../helpers/tree.js';

/** No agent: the keys the tests name are the only ones offered. */
const ENV = { SSH_AUTH_SOCK: '' };
const SFTP_KEPT = { windowMs: 1000 };

const ready = requireSshd();

/** stderr without the drift warning every run with an SFTP replica says once (no inode numbers or change times over SFTP). */
function problems(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l !== '' && !l.startsWith('warning: drift detection is weaker on this replica (sftp)'));
}

describe.skipIf(!ready)('foldersync with a remote tree, spawned (e2e: run `npm run build` first)', () => {
  let sshd: TestSshd;

  beforeAll(async () => {
    sshd = await startTestSshd();
  }, 30_000);
  afterEach(cleanupTemps);
  afterAll(async () => {
    await sshd?.stop();
  });

  /** The pass after an interrupted one completes the mirror and leaves no temp file. */
  async function expectCleanNextPass(home: string, dst: string): Promise<void> {
    const again = await runCli(['-s', `${home}/src`, '-r', sshd.url(dst), '--once', '--ssh-config', sshd.sshConfig], { home, env: ENV });
    expect(problems(again.stderr)).toEqual([]);
    expect(again.code).toBe(0);
    expect(readdirSync(dst).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(mirrorDiff(`${home}/src`, dst, () => false, SFTP_KEPT)).toEqual([]);
  }

  function remote(name: string): string {
    return path.join(sshd.dir, `${name}-${Math.random().toString(36).slice(2, 8)}`);
  }

  it('mirrors to host:path with --ssh-config and exits 0; a hashed known_hosts entry is trusted too', async () => {
    const home = tempDir('fs-sftp-cli-');
    writeTree(`${home}/src`, { a: 'a', d: { b: 'b' }, l: { $symlink: 'a' } });
    const dst = remote('cli');
    const r = await runCli(['-s', `${home}/src`, '-r', sshd.url(dst), '--once', '--ssh-config', sshd.sshConfig], { home, env: ENV });
    expect(problems(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    expect(mirrorDiff(`${home}/src`, dst, () => false, SFTP_KEPT)).toEqual([]);

    const hashed = path.join(home, 'known_hosts_hashed');
    writeFileSync(hashed, readFileSync(sshd.knownHosts));
    execFileSync('ssh-keygen', ['-H', '-f', hashed], { stdio: 'ignore', timeout: 10_000 });
    expect(readFileSync(hashed, 'utf8')).toMatch(/^\|1\|/);
    writeFileSync(`${home}/src/new`, 'new');
    const cfg = sshd.configWith(home, { UserKnownHostsFile: hashed });
    const r2 = await runCli(['-s', `${home}/src`, '-r', `sftp://${sshd.alias}${dst}`, '--once', '--ssh-config', cfg], { home, env: ENV });
    expect(r2.code).toBe(0);
    expect(readFileSync(`${dst}/new`, 'utf8')).toBe('new');
  });

  it('runs a config file job whose replica is on the server (--once), and a job of an unknown host exits 2 with the others mirrored', async () => {
    const home = tempDir('fs-sftp-jobs-');
    writeTree(`${home}/photos`, { 'p.jpg': 'photo', album: { 'q.jpg': 'q' } });
    writeTree(`${home}/docs`, { 'd.txt': 'doc' });
    const dst = remote('jobs');
    const config = path.join(home, 'jobs.yaml');
    writeFileSync(
      config,
      ['defaults:', `  ssh-config: ${sshd.sshConfig}`, 'jobs:', '  photos:', `    source: ${home}/photos`, `    replica: ${sshd.url(dst)}`, '  docs:', `    source: ${home}/docs`, `    replica: ${home}/docs-copy`, ''].join('\n'),
    );
    const r = await runCli(['--config', config, '--once'], { home, env: ENV });
    expect(r.code, r.stderr).toBe(0);
    expect(mirrorDiff(`${home}/photos`, dst, () => false, SFTP_KEPT)).toEqual([]);
    expect(readFileSync(`${home}/docs-copy/d.txt`, 'utf8')).toBe('doc');

    // A host nobody trusts: that job exits 2 (before anything is sent), the other one runs.
    const strangers = path.join(home, 'empty_known_hosts');
    writeFileSync(strangers, '');
    const cfg = sshd.configWith(home, { UserKnownHostsFile: strangers });
    writeFileSync(config, readFileSync(config, 'utf8').replace(sshd.sshConfig, cfg));
    writeFileSync(`${home}/docs/e.txt`, 'e');
    writeFileSync(`${home}/photos/new.jpg`, 'new');
    const r2 = await runCli(['--config', config, '--once'], { home, env: ENV });
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/host key/i);
    expect(existsSync(`${dst}/new.jpg`)).toBe(false);
    expect(readFileSync(`${home}/docs-copy/e.txt`, 'utf8')).toBe('e');
  });

  it('keeps old versions on the server (--backup-dir inside the replica, renamed there) and hard-links groups (-H, hardlink@openssh.com)', async () => {
    const home = tempDir('fs-sftp-versions-');
    writeTree(`${home}/src`, { 'doc.txt': 'version 1', old: { 'gone.txt': 'to be deleted' }, 'orig.jpg': 'photo bytes' });
    execFileSync('ln', [`${home}/src/orig.jpg`, `${home}/src/album.jpg`]);
    const dst = remote('versions');
    const args = ['-s', `${home}/src`, '-r', sshd.url(dst), '--once', '--ssh-config', sshd.sshConfig, '--backup-dir', '.versions', '-H'];
    const r1 = await runCli(args, { home, env: ENV });
    expect(problems(r1.stderr)).toEqual([]);
    expect(r1.code).toBe(0);
    expect(statSync(`${dst}/album.jpg`).ino).toBe(statSync(`${dst}/orig.jpg`).ino);
    expect(statSync(`${dst}/orig.jpg`).nlink).toBe(2);

    writeFileSync(`${home}/src/doc.txt`, 'version 2');
    rmSync(`${home}/src/old`, { recursive: true });
    const r2 = await runCli(args, { home, env: ENV });
    expect(problems(r2.stderr)).toEqual([]);
    expect(r2.code).toBe(0);
    expect(readFileSync(`${dst}/doc.txt`, 'utf8')).toBe('version 2');
    expect(existsSync(`${dst}/old`)).toBe(false);
    const stamps = readdirSync(`${dst}/.versions`);
    expect(stamps).toHaveLength(1);
    expect(stamps[0]).toMatch(/^\d{4}-\d{2}-\d{2}_\d{6}$/);
    expect(readFileSync(`${dst}/.versions/${stamps[0]}/doc.txt`, 'utf8')).toBe('version 1');
    expect(readFileSync(`${dst}/.versions/${stamps[0]}/old/gone.txt`, 'utf8')).toBe('to be deleted');

    // The backup folder is never mirrored over or deleted, and an unchanged pass does nothing.
    const r3 = await runCli([...args, '--log-level', 'info'], { home, env: ENV });
    expect(r3.code).toBe(0);
    expect(r3.stdout + r3.stderr).toMatch(/no changes/);
    expect(existsSync(`${dst}/.versions/${stamps[0]}/doc.txt`)).toBe(true);

    // An absolute backup folder cannot be proven to be on the server's filesystem: refused.
    const bad = await runCli(['-s', `${home}/src`, '-r', sshd.url(dst), '--once', '--ssh-config', sshd.sshConfig, '--backup-dir', '/tmp/versions'], { home, env: ENV });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/give a folder inside it/);
  });

  it('--dry-run to a remote folder (here one relative to the remote home) lists what it would do and creates nothing', async () => {
    const home = tempDir('fs-sftp-cli-');
    writeTree(`${home}/src`, { a: 'a', d: { b: 'b' } });
    const name = `foldersync-dry-run-${Math.random().toString(36).slice(2, 10)}`;
    const r = await runCli(['-s', `${home}/src`, '-r', sshd.url(name), '--once', '--dry-run', '--ssh-config', sshd.sshConfig], { home, env: ENV });
    expect(problems(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/copy d\/b/);
    const remoteHome = execFileSync('sh', ['-c', 'getent passwd "$(id -un)" | cut -d: -f6'], { timeout: 10_000 }).toString().trim();
    expect(existsSync(path.join(remoteHome, name))).toBe(false);
  });

  it('StrictHostKeyChecking accept-new records an unknown key and goes on', async () => {
    const home = tempDir('fs-sftp-cli-');
    writeTree(`${home}/src`, { a: 'a' });
    const kh = path.join(home, 'known_hosts_new');
    writeFileSync(kh, '');
    const cfg = sshd.configWith(home, { UserKnownHostsFile: kh, StrictHostKeyChecking: 'accept-new' });
    const dst = remote('accept');
    const r = await runCli(['-s', `${home}/src`, '-r', sshd.url(dst), '--once', '--ssh-config', cfg], { home, env: ENV });
    expect(problems(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    expect(readFileSync(kh, 'utf8')).toBe(`[127.0.0.1]:${sshd.port} ${sshd.hostKeyPub}\n`);
    expect(readFileSync(`${dst}/a`, 'utf8')).toBe('a');
  });

  it('keys from OpenSSH default identity files, and from the ssh agent', async () => {
    const home = tempDir('fs-sftp-cli-');
    writeTree(`${home}/src`, { a: 'a' });
    // No IdentityFile: ~/.ssh/id_ed25519 is one of OpenSSH's default names.
    const cfg = path.join(home, 'cfg');
    writeFileSync(cfg, `Host box\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  User ${sshd.user}\n  UserKnownHostsFile ${sshd.knownHosts}\n`);
    mkdirSync(`${home}/.ssh`, { mode: 0o700 });
    copyFileSync(sshd.userKey, `${home}/.ssh/id_ed25519`);
    chmodSync(`${home}/.ssh/id_ed25519`, 0o600);
    const dst = remote('default-id');
    const r = await runCli(['-s', `${home}/src`, '-r', `box:${dst}`, '--once', '--ssh-config', cfg], { home, env: ENV });
    expect(problems(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    rmSync(`${home}/.ssh/id_ed25519`);

    // The agent alone: no identity file anywhere.
    const sock = path.join(home, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      const until = Date.now() + 10_000;
      while (!existsSync(sock)) {
        if (Date.now() > until) throw new Error('ssh-agent did not start');
        await new Promise((res) => setTimeout(res, 20));
      }
      execFileSync('ssh-add', [sshd.userKey], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore', timeout: 10_000 });
      const dst2 = remote('agent');
      const r2 = await runCli(['-s', `${home}/src`, '-r', `box:${dst2}`, '--once', '--ssh-config', cfg], { home, env: { SSH_AUTH_SOCK: sock } });
      expect(problems(r2.stderr)).toEqual([]);
      expect(r2.code).toBe(0);
      expect(readFileSync(`${dst2}/a`, 'utf8')).toBe('a');
      const r3 = await runCli(['-s', `${home}/src`, '-r', `box:${dst2}`, '--once', '--ssh-config', cfg], { home, env: ENV });
      expect(r3.code).toBe(2);
    } finally {
      agent.kill('SIGTERM');
    }
  });

  it('an unknown host key: exit 2, one line with the host, the SHA256 fingerprint and the ssh-keyscan line; nothing transferred', async () => {
    const home = tempDir('fs-sftp-cli-');
    writeTree(`${home}/src`, { a: 'a' });
    const empty = path.join(home, 'known_hosts_empty');
    writeFileSync(empty, '');
    const dst = remote('unknown');
    const r = await runCli(['-s', `${home}/src`, '-r', sshd.url(dst), '--once', '--ssh-config', sshd.configWith(home, { UserKnownHostsFile: empty })], { home, env: ENV });
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    const fp = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', '-'], { input: sshd.hostKeyPub, timeout: 10_000 }).toString().split(' ')[1]!;
    expect(lines[0]).toContain(fp);
    expect(lines[0]).toContain('testbox');
    expect(lines[0]).toContain(`ssh-keyscan -p ${sshd.port} -t ed25519 127.0.0.1`);
    expect(lines[0]).not.toMatch(/\n\s+at /);
    expect(existsSync(dst)).toBe(false);
  });

  it('a changed host key: exit 2, says CHANGED with the new fingerprint; nothing transferred', async () => {
    const home = tempDir('fs-sftp-cli-');
    writeTree(`${home}/src`, { a: 'a' });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(home, 'other')], { timeout: 10_000 });
    const other = readFileSync(path.join(home, 'other.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    const wrong = path.join(home, 'known_hosts_wrong');
    writeFileSync(wrong, `[127.0.0.1]:${sshd.port} ${other}\n`);
    const dst = remote('changed');
    const r = await runCli(['-s', `${home}/src`, '-r', sshd.url(dst), '--once', '--ssh-config', sshd.configWith(home, { UserKnownHostsFile: wrong })], { home, env: ENV });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/CHANGED/);
    expect(r.stderr).toMatch(/SHA256:[A-Za-z0-9+/]{43}/);
    expect(r.stderr).toContain('ssh-keygen -R');
    expect(existsSync(dst)).toBe(false);
  });

  it('a key the server does not accept: exit 2 at start, naming the host; an unreachable host: exit 2', async () => {
    const home = tempDir('fs-sftp-cli-');
    writeTree(`${home}/src`, { a: 'a' });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(home, 'stranger')], { timeout: 10_000 });
    const dst = remote('auth');
    const r = await runCli(['-s', `${home}/src`, '-r', sshd.url(dst), '--once', '--ssh-config', sshd.configWith(home, { IdentityFile: path.join(home, 'stranger') })], { home, env: ENV });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot log in to .*testbox/);
    expect(existsSync(dst)).toBe(false);

    const closed = await freePort();
    const r2 = await runCli(['-s', `${home}/src`, '-r', sshd.url(dst), '--once', '--ssh-config', sshd.configWith(home, { Port: String(closed) })], { home, env: ENV });
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/cannot connect to .*127\.0\.0\.1/);
    expect(r2.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('the connection killed mid-pass: exit 1 with a clear error, no torn file in place; the next pass completes and removes the temp files', async () => {
    const home = tempDir('fs-sftp-cli-');
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 40; i++) files[`f${String(i).padStart(2, '0')}.bin`] = Buffer.alloc(256 * 1024, i + 1);
    writeTree(`${home}/src`, files);
    const dst = remote('drop');
    // 2 MB/s over 10 MB: the pass takes ~5 s, long enough to be cut in the middle.
    const p = spawnCli(['-s', `${home}/src`, '-r', sshd.url(dst), '--once', '--bwlimit', '2M', '--jobs', '2', '--ssh-config', sshd.sshConfig], { home, env: ENV });
    const until = Date.now() + 15_000;
    while (!(existsSync(dst) && readdirSync(dst).filter((n) => !n.endsWith('.tmp')).length >= 3)) {
      if (Date.now() > until) throw new Error(`no copies arrived: ${p.stderr()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(sshd.killSessions()).toBeGreaterThan(0);
    const code = await p.exited(30_000);
    expect(code).toBe(1);
    expect(p.stderr()).toMatch(/connection to testbox .* was lost/);
    // Every file in place is whole; what was being written is only a temp file.
    const placed = readdirSync(dst).filter((n) => !n.endsWith('.tmp'));
    expect(placed.length).toBeLessThan(40);
    for (const n of placed) expect(readFileSync(path.join(dst, n)).equals(files[n]!)).toBe(true);

    await expectCleanNextPass(home, dst);
  }, 60_000);

  it('a second SIGINT mid-upload: exit 130 at once; the next pass completes the mirror and leaves no temp file', async () => {
    const home = tempDir('fs-sftp-cli-');
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 12; i++) files[`f${String(i).padStart(2, '0')}.bin`] = Buffer.alloc(256 * 1024, i + 1);
    writeTree(`${home}/src`, files);
    const dst = remote('sigint');
    const p = spawnCli(['-s', `${home}/src`, '-r', sshd.url(dst), '--once', '--bwlimit', '1M', '--jobs', '2', '--ssh-config', sshd.sshConfig], { home, env: ENV });
    const until = Date.now() + 15_000;
    while (!(existsSync(dst) && readdirSync(dst).some((n) => n.endsWith('.tmp')))) {
      if (Date.now() > until) throw new Error(`no upload started: ${p.stderr()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    p.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 100));
    p.child.kill('SIGINT');
    const t0 = Date.now();
    expect(await p.exited(15_000)).toBe(130);
    expect(Date.now() - t0).toBeLessThan(5_000);
    for (const n of readdirSync(dst).filter((x) => !x.endsWith('.tmp'))) expect(readFileSync(path.join(dst, n)).equals(files[n]!)).toBe(true);

    await expectCleanNextPass(home, dst);
  }, 60_000);

  it('--bwlimit caps the rate: 2 MiB at 1M takes about two seconds, unlimited far less', async () => {
    const home = tempDir('fs-sftp-cli-');
    writeTree(`${home}/src`, { 'big.bin': Buffer.alloc(2 * 1024 * 1024, 7) });
    const timed = async (args: string[]): Promise<number> => {
      const t0 = Date.now();
      const r = await runCli(['-s', `${home}/src`, '-r', sshd.url(remote('bw')), '--once', '--ssh-config', sshd.sshConfig, ...args], { home, env: ENV });
      expect(r.code).toBe(0);
      return Date.now() - t0;
    };
    const limited = await timed(['--bwlimit', '1M']);
    const free = await timed([]);
    // 2 MiB at 1 MiB/s, less the quarter-second burst: at least 1.5 s.
    expect(limited).toBeGreaterThan(1_500);
    expect(free).toBeLessThan(limited - 700);
  }, 30_000);

  it('a daemon reconnects after the connection dropped between passes', async () => {
    const home = tempDir('fs-sftp-cli-');
    writeTree(`${home}/src`, { a: 'a' });
    const dst = remote('daemon');
    const p = spawnCli(['-s', `${home}/src`, '-r', sshd.url(dst), '-i', '1', '--ssh-config', sshd.sshConfig], { home, env: ENV, stdin: 'pipe' });
    try {
      await p.waitFor(/copy/, 15_000);
      sshd.killSessions();
      writeFileSync(`${home}/src/b`, 'after the drop');
      const until = Date.now() + 20_000;
      while (!existsSync(`${dst}/b`)) {
        if (Date.now() > until) throw new Error(`b never arrived: ${p.stdout()} ${p.stderr()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(readFileSync(`${dst}/b`, 'utf8')).toBe('after the drop');
      expect(statSync(`${dst}/b`).isFile()).toBe(true);
    } finally {
      p.child.stdin?.write('quit\n');
    }
    expect(await p.exited(20_000)).toBe(0);
  }, 60_000);
});
