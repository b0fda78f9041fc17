import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { freePort } from './mounts.js';

/*
 * A real OpenSSH sshd for the remote-tree tests: 127.0.0.1 only, a free port, a throwaway host
 * key and user key, a known_hosts file that trusts the host key and an ssh client config with
 * a `Host` alias for it. Each test file starts its own and stops it in afterAll (also after a
 * failure); every wait is bounded.
 */

const CMD_TIMEOUT_MS = 20_000;

/** A running test sshd and everything a client needs to reach it. */
export interface TestSshd {
  readonly port: number;
  /** The `Host` alias of `sshConfig` that leads to this server. */
  readonly alias: string;
  /** The login user (the user running the tests). */
  readonly user: string;
  /** A folder for the test's remote trees (on this machine, served by the sshd). */
  readonly dir: string;
  /** The user's private key, accepted by the server. */
  readonly userKey: string;
  /** A known_hosts file that trusts the server's host key (as `[127.0.0.1]:port`). */
  readonly knownHosts: string;
  /** An ssh client config: `Host <alias>` with HostName, Port, User, IdentityFile, UserKnownHostsFile, StrictHostKeyChecking yes. */
  readonly sshConfig: string;
  /** The server's public host key line (`ssh-ed25519 AAAA…`). */
  readonly hostKeyPub: string;
  /** `alias:` + a path (scp's form). */
  url(remotePath: string): string;
  /** A copy of `sshConfig`, written in `dir`, with the values of some of its keys replaced. */
  configWith(dir: string, replace: Record<string, string>): string;
  /** Kills the per-connection sshd processes: every open SSH connection drops at once. */
  killSessions(): number;
  stop(): Promise<void>;
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { timeout: CMD_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] }).toString('utf8').trim();
}

/** The sshd binary, or null when OpenSSH's server is not installed. */
function sshdPath(): string | null {
  for (const p of ['/usr/sbin/sshd', '/usr/local/sbin/sshd']) if (existsSync(p)) return p;
  return null;
}

/** Skips (with the reason printed) where no sshd can be started; on CI, fails instead (.ci/run installs it). */
export function requireSshd(): boolean {
  const missing = sshdPath() === null ? 'sshd' : !hasKeygen() ? 'ssh-keygen' : null;
  if (missing === null) return true;
  const why = `${missing} is not installed (apt-get install -y openssh-server openssh-client)`;
  if (process.env.CI) throw new Error(`remote-tree tests cannot run on CI: ${why}`);
  console.warn(`skipping remote-tree tests: ${why}`);
  return false;
}

function hasKeygen(): boolean {
  try {
    run('ssh-keygen', ['-?']);
  } catch (err) {
    return (err as { code?: string }).code !== 'ENOENT';
  }
  return true;
}

/**
 * Starts an sshd on 127.0.0.1 (bounded: 10 s to accept connections). `sftpOnly`: no shell or
 * commands, only SFTP (a NAS account); `readOnly`: its SFTP server refuses every write.
 */
export async function startTestSshd(opts: { sftpOnly?: boolean; readOnly?: boolean } = {}): Promise<TestSshd> {
  const home = mkdtempSync(path.join(tmpdir(), 'fs-sshd-'));
  const keygen = (name: string): string => {
    const f = path.join(home, name);
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', f]);
    return f;
  };
  const hostKey = keygen('host_key');
  const userKey = keygen('user_key');
  const authorized = path.join(home, 'authorized_keys');
  writeFileSync(authorized, readFileSync(`${userKey}.pub`));
  chmodSync(authorized, 0o600);
  const port = await freePort();
  const user = userInfo().username;
  const config = path.join(home, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorized}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      'MaxStartups 50',
      'MaxSessions 50',
      `PidFile ${path.join(home, 'sshd.pid')}`,
      'Subsystem sftp internal-sftp',
      ...(opts.sftpOnly || opts.readOnly ? [`ForceCommand internal-sftp${opts.readOnly ? ' -R' : ''}`] : []),
      '',
    ].join('\n'),
  );
  const hostKeyPub = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
  const knownHosts = path.join(home, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostKeyPub}\n`);
  const alias = 'testbox';
  const sshConfig = path.join(home, 'ssh_config');
  writeFileSync(
    sshConfig,
    [
      `Host ${alias}`,
      '  HostName 127.0.0.1',
      `  Port ${port}`,
      `  User ${user}`,
      `  IdentityFile ${userKey}`,
      `  UserKnownHostsFile ${knownHosts}`,
      '  StrictHostKeyChecking yes',
      '',
    ].join('\n'),
  );
  const dir = path.join(home, 'trees');
  mkdirSync(dir);
  mkdirSync('/run/sshd', { recursive: true });
  const child: ChildProcess = spawn(sshdPath() ?? 'sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (b: Buffer) => {
    log += b.toString('utf8');
  });
  const stop = (): Promise<void> =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 5_000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      killChildren(child.pid);
      child.kill('SIGTERM');
    }).then(() => rmSync(home, { recursive: true, force: true }));
  const until = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sshd exited at start: ${log}`);
    if (await accepts(port)) break;
    if (Date.now() > until) {
      await stop();
      throw new Error(`sshd did not listen on 127.0.0.1:${port} within 10 s: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    alias,
    user,
    dir,
    userKey,
    knownHosts,
    sshConfig,
    hostKeyPub,
    url: (p) => `${alias}:${p}`,
    configWith: (d, replace) => configWith(sshConfig, d, replace),
    killSessions: () => killChildren(child.pid),
    stop,
  };
}

/** A copy of an ssh config with the values of some keys replaced (an unknown key, a wrong key, a closed port). */
function configWith(sshConfig: string, dir: string, replace: Record<string, string>): string {
  const text = readFileSync(sshConfig, 'utf8')
    .split('\n')
    .map((l) => {
      const key = l.trim().split(' ')[0] ?? '';
      return key in replace ? `  ${key} ${replace[key]}` : l;
    })
    .join('\n');
  const f = path.join(dir, `ssh_config-${Math.random().toString(36).slice(2, 8)}`);
  writeFileSync(f, text);
  return f;
}

/** SIGKILLs every process whose parent is `pid` (sshd's per-connection processes); how many. */
function killChildren(pid: number | undefined): number {
  if (pid === undefined) return 0;
  let n = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) {
        process.kill(Number(name), 'SIGKILL');
        n++;
      }
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
