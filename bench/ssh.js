// `npm run bench -- --ssh`: foldersync to a folder over SSH (SFTP) side by side with
// `rsync -a --delete -e ssh` and `rclone sync` to an sftp remote, all against one OpenSSH sshd
// started here on 127.0.0.1 (temp keys). Initial copy and no-change pass on many small files
// and on one big file. Prints a markdown table and writes it to bench/results/ssh.md.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateBig, generateMany } from './gen.js';
import { have, measure, median } from './measure.js';
import { ratio, table } from './report.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MiB = 1 << 20;
/** Targets of the remote bench: no slower than rclone's sftp; the no-change pass within this × rsync. */
const NO_CHANGE_VS_RSYNC = 1.5;

/**
 * Runs the remote bench.
 * @param {{files: number, bigMiB: number, runs: number, out: string, bin: string, keep: boolean, tools?: string, datasets?: string}} o
 */
export async function benchSsh(o) {
  const work = mkdtempSync(path.join(os.tmpdir(), 'foldersync-bench-ssh-'));
  const log = (/** @type {string} */ msg) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);
  const server = await startSshd(work);
  log(`sshd on 127.0.0.1:${server.port}`);
  /** @type {import('./report.js').Row[]} */
  const rows = [];
  /** @type {string[]} */
  const notes = [];
  const env = { ...process.env, SSH_AUTH_SOCK: '', RCLONE_CONFIG: path.join(work, 'rclone.conf') };
  const sshCmd = `ssh -F ${server.sshConfig}`;
  // disable_hashcheck: by default rclone runs `md5sum` in a new SSH session after each upload
  // (~0.2 s a file here); without it rclone is much faster, and that faster rclone is the bar.
  const rcloneRemote = `:sftp,host=127.0.0.1,port=${server.port},user=${os.userInfo().username},key_file=${server.userKey},known_hosts_file=${server.knownHosts},disable_hashcheck=true:`;
  /** @type {Record<string, {cmd: string, args: (src: string, dst: string, state: string) => string[]}>} */
  const TOOLS = {
    foldersync: { cmd: process.execPath, args: (s, d, st) => [o.bin, '-s', s, '-r', `bench:${d}`, '--once', '--state', st, '--ssh-config', server.sshConfig] },
    rsync: { cmd: 'rsync', args: (s, d) => ['-a', '--delete', '-e', sshCmd, `${s}/`, `bench:${d}/`] },
    rclone: { cmd: 'rclone', args: (s, d) => ['sync', '--links', s, `${rcloneRemote}${d}`] },
  };
  const tools = (o.tools ?? Object.keys(TOOLS).join(',')).split(',').filter((t) => t in TOOLS && (t === 'foldersync' || have(t)));
  try {
    for (const name of (o.datasets ?? 'many,big').split(',').filter((d) => d === 'many' || d === 'big')) {
      const base = path.join(work, name);
      const src = path.join(base, 'src');
      const label = name === 'many' ? `many (${o.files.toLocaleString('en')} files) over SFTP` : `big (1 × ${o.bigMiB} MiB) over SFTP`;
      if (name === 'many') generateMany(src, { count: o.files });
      else generateBig(src, { count: 1, size: o.bigMiB * MiB });
      log(`generated ${label}`);
      const dst = (/** @type {string} */ t) => path.join(server.trees, `${name}-${t}`);
      const state = (/** @type {string} */ t) => path.join(base, `${t}.record`);
      /** @type {Record<string, {copy: number[], none: number[]}>} */
      const times = Object.fromEntries(tools.map((t) => [t, { copy: [], none: [] }]));
      const one = async (/** @type {string} */ t, /** @type {'copy' | 'none'} */ what) => {
        const tool = /** @type {(typeof TOOLS)[string]} */ (TOOLS[t]);
        if (what === 'copy') {
          rmSync(dst(t), { recursive: true, force: true });
          rmSync(state(t), { force: true });
        }
        const r = await measure(tool.cmd, tool.args(src, dst(t), state(t)), { env });
        if (r.code !== 0) notes.push(`${t} exited with ${r.code} on ${name} ${what}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
        times[t]?.[what].push(r.ms);
        log(`${name} ${what} ${t}: ${(r.ms / 1000).toFixed(2)} s`);
      };
      for (let run = 0; run < o.runs; run++) for (const t of tools) await one(t, 'copy');
      for (const t of tools) await one(t, 'none');
      for (let run = 0; run < o.runs; run++) for (const t of tools) await one(t, 'none');
      for (const t of tools) times[t]?.none.shift();
      const med = (/** @type {'copy' | 'none'} */ w, /** @type {string} */ t) => median(times[t]?.[w] ?? []);
      for (const [what, scenario] of /** @type {const} */ ([
        ['copy', 'initial copy'],
        ['none', 'no-change pass'],
      ])) {
        const fs = med(what, 'foldersync');
        const rs = med(what, 'rsync');
        const rc = med(what, 'rclone');
        const vsRclone = rc == null || fs == null ? null : fs <= rc;
        const vsRsync = what === 'none' ? (rs == null || fs == null ? null : fs <= NO_CHANGE_VS_RSYNC * rs) : null;
        const met = vsRclone === false || vsRsync === false ? false : vsRclone ?? vsRsync;
        const target = what === 'none' ? `≤ rclone, ≤ ${NO_CHANGE_VS_RSYNC} × rsync (fs = ${ratio(fs, rs)})` : `≤ rclone (fs = ${ratio(fs, rc)})`;
        rows.push({ dataset: label, scenario, unit: 'time', fs, rsync: rs, rclone: rc, target, met });
      }
      if (!o.keep) rmSync(base, { recursive: true, force: true });
    }
  } finally {
    await server.stop();
    if (!o.keep) rmSync(work, { recursive: true, force: true });
  }
  const text = [
    '# foldersync over SFTP: benchmark results',
    '',
    `${new Date().toISOString()}; all three against one OpenSSH sshd on 127.0.0.1 (loopback: no network latency), medians of ${o.runs} runs; ${os.cpus().length} cores`,
    '',
    table(rows),
    '',
    ...(notes.length ? ['Notes:', ...notes.map((n) => `- ${n}`), ''] : []),
  ].join('\n');
  console.log(`\n${text}`);
  mkdirSync(path.dirname(o.out), { recursive: true });
  writeFileSync(o.out, text);
}

/** @returns {Promise<number>} a free TCP port on 127.0.0.1 */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * An sshd on 127.0.0.1 with temp keys, a known_hosts file and an ssh config with `Host bench`.
 * @param {string} work
 */
export async function startSshd(work) {
  const home = path.join(work, 'sshd');
  mkdirSync(home);
  const keygen = (/** @type {string} */ n) => {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(home, n)], { timeout: 20_000 });
    return path.join(home, n);
  };
  const hostKey = keygen('host_key');
  const userKey = keygen('user_key');
  const authorized = path.join(home, 'authorized_keys');
  writeFileSync(authorized, readFileSync(`${userKey}.pub`));
  chmodSync(authorized, 0o600);
  const port = await freePort();
  const conf = path.join(home, 'sshd_config');
  writeFileSync(
    conf,
    [`Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${hostKey}`, `AuthorizedKeysFile ${authorized}`, 'PasswordAuthentication no', 'PermitRootLogin prohibit-password', 'StrictModes no', 'UsePAM no', `PidFile ${home}/sshd.pid`, 'Subsystem sftp internal-sftp', ''].join('\n'),
  );
  const knownHosts = path.join(home, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${readFileSync(`${hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
  const sshConfig = path.join(home, 'ssh_config');
  writeFileSync(
    sshConfig,
    ['Host bench', '  HostName 127.0.0.1', `  Port ${port}`, `  User ${os.userInfo().username}`, `  IdentityFile ${userKey}`, `  UserKnownHostsFile ${knownHosts}`, '  StrictHostKeyChecking yes', '  BatchMode yes', ''].join('\n'),
  );
  const trees = path.join(work, 'remote');
  mkdirSync(trees);
  mkdirSync('/run/sshd', { recursive: true });
  const child = spawn(existsSync('/usr/sbin/sshd') ? '/usr/sbin/sshd' : 'sshd', ['-D', '-e', '-f', conf], { stdio: 'ignore' });
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve(undefined);
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve(undefined);
      });
      child.kill('SIGTERM');
    });
  const until = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (Date.now() > until || child.exitCode !== null) {
      await stop();
      throw new Error('sshd did not start');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, userKey, knownHosts, sshConfig, trees, stop };
}

/** @param {number} port */
function accepts(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export const SSH_RESULTS = path.join(HERE, 'results', 'ssh.md');
