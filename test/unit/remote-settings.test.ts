import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { checkHostKey, fingerprint, knownKeyTypes } from '../../src/remote/known-hosts.js';
import { parseLocation } from '../../src/remote/location.js';
import { sshSettings } from '../../src/remote/ssh-settings.js';
import { Throttle, parseRate } from '../../src/remote/throttle.js';
import { cleanupTemps, tempDir } from '../helpers/tree.js';

afterEach(cleanupTemps);

describe('parseLocation', () => {
  it.each([
    ['/abs/path', { kind: 'local', path: '/abs/path' }],
    ['./a:b', { kind: 'local', path: './a:b' }],
    ['/mnt/x:y', { kind: 'local', path: '/mnt/x:y' }],
    ['rel/dir', { kind: 'local', path: 'rel/dir' }],
    ['nas:photos', { kind: 'sftp', host: 'nas', path: 'photos', text: 'nas:photos' }],
    ['nas:', { kind: 'sftp', host: 'nas', path: '', text: 'nas:' }],
    ['ann@nas:/volume1/photos/', { kind: 'sftp', host: 'nas', user: 'ann', path: '/volume1/photos', text: 'ann@nas:/volume1/photos/' }],
    ['[::1]:/x', { kind: 'sftp', host: '::1', path: '/x', text: '[::1]:/x' }],
    ['sftp://nas/volume1/photos', { kind: 'sftp', host: 'nas', path: '/volume1/photos', text: 'sftp://nas/volume1/photos' }],
    ['sftp://ann@nas:2222/srv/a%20b', { kind: 'sftp', host: 'nas', user: 'ann', port: 2222, path: '/srv/a b', text: 'sftp://ann@nas:2222/srv/a%20b' }],
    ['sftp://nas', { kind: 'sftp', host: 'nas', path: '/', text: 'sftp://nas' }],
  ])('%s', (text, want) => {
    expect(parseLocation(text, '--replica')).toEqual(want);
  });

  it('refuses a bad URL or an empty host, naming the option', () => {
    expect(() => parseLocation('sftp://nas:99999/x', '--source')).toThrow(UsageError);
    expect(() => parseLocation('sftp://', '--source')).toThrow(/--source/);
  });
});

describe('sshSettings', () => {
  it('takes HostName, User, Port, IdentityFile, UserKnownHostsFile and StrictHostKeyChecking from the first matching Host blocks', () => {
    const t = tempDir('fs-sshcfg-');
    writeFileSync(`${t}/key`, 'x');
    const cfg = [
      'Host nas',
      '  HostName 192.168.1.5',
      '  Port 2222',
      `  IdentityFile ${t}/key`,
      '  StrictHostKeyChecking accept-new',
      'Host *.lan nas',
      '  User backup',
      '  Port 22',
      `  UserKnownHostsFile ${t}/kh ~/.ssh/kh2`,
      '',
    ].join('\n');
    const s = sshSettings({ kind: 'sftp', host: 'nas', path: 'p', text: 'nas:p' }, cfg);
    expect(s).toMatchObject({ alias: 'nas', hostName: '192.168.1.5', port: 2222, user: 'backup', identityFiles: [`${t}/key`], strict: 'accept-new', keyName: '192.168.1.5' });
    expect(s.knownHosts.slice(0, 2)).toEqual([`${t}/kh`, path.join(homedir(), '.ssh/kh2')]);
    // What the user wrote wins over the config.
    const u = sshSettings({ kind: 'sftp', host: 'box.lan', user: 'ann', port: 2200, path: '', text: 'x' }, cfg);
    expect(u).toMatchObject({ hostName: 'box.lan', user: 'ann', port: 2200, strict: 'yes' });
  });
});

describe('known_hosts', () => {
  const key = (): { blob: Buffer; line: string; dir: string } => {
    const dir = tempDir('fs-kh-');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', `${dir}/k`], { timeout: 10_000 });
    const line = readFileSync(`${dir}/k.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    return { blob: Buffer.from(line.split(' ')[1]!, 'base64'), line, dir };
  };

  it('plain, [host]:port, wildcard, negated and hashed entries; a different key of the same type is a change', () => {
    const a = key();
    const b = key();
    const f = `${a.dir}/known_hosts`;
    writeFileSync(f, `# comment\nnas,192.168.1.5 ${a.line}\n[10.0.0.1]:2222 ${a.line}\n*.lan,!evil.lan ${a.line}\n`);
    expect(checkHostKey([f], 'nas', 22, a.blob)).toBe('known');
    expect(checkHostKey([f], '10.0.0.1', 2222, a.blob)).toBe('known');
    expect(checkHostKey([f], '10.0.0.1', 22, a.blob)).toBe('unknown');
    expect(checkHostKey([f], 'box.lan', 22, a.blob)).toBe('known');
    expect(checkHostKey([f], 'evil.lan', 22, a.blob)).toBe('unknown');
    expect(checkHostKey([f], 'nas', 22, b.blob)).toBe('changed');
    expect(checkHostKey([`${a.dir}/missing`, f], 'other', 22, a.blob)).toBe('unknown');
    expect(knownKeyTypes([f], 'nas', 22)).toEqual(['ssh-ed25519']);

    const hashed = `${a.dir}/hashed`;
    writeFileSync(hashed, `[127.0.0.1]:2022 ${a.line}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', hashed], { stdio: 'ignore', timeout: 10_000 });
    expect(readFileSync(hashed, 'utf8')).not.toContain('127.0.0.1');
    expect(checkHostKey([hashed], '127.0.0.1', 2022, a.blob)).toBe('known');
    expect(checkHostKey([hashed], '127.0.0.1', 2022, b.blob)).toBe('changed');
    writeFileSync(`${a.dir}/revoked`, `@revoked * ${a.line}\n`);
    expect(checkHostKey([`${a.dir}/revoked`, f], 'nas', 22, a.blob)).toBe('revoked');
  });

  it('prints fingerprints as ssh-keygen -l does', () => {
    const a = key();
    const want = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${a.dir}/k.pub`], { timeout: 10_000 }).toString().split(' ')[1];
    expect(fingerprint(a.blob)).toBe(want);
  });
});

describe('--bwlimit', () => {
  it('parses rates', () => {
    expect(parseRate('10M')).toBe(10 * 1024 * 1024);
    expect(parseRate('500K')).toBe(500 * 1024);
    expect(parseRate('1.5m')).toBe(1.5 * 1024 * 1024);
    expect(parseRate('100')).toBe(100 * 1024);
    expect(parseRate('fast')).toBeNull();
    expect(parseRate('0')).toBeNull();
  });

  it('a throttle holds the rate after a quarter-second burst', async () => {
    const t = new Throttle(1024 * 1024);
    const t0 = performance.now();
    for (let i = 0; i < 16; i++) await t.take(64 * 1024);
    // 1 MiB at 1 MiB/s with a 0.25 s burst: about 0.75 s.
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThan(650);
    expect(ms).toBeLessThan(2_000);
  });
});
