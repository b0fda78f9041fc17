import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestSshd } from './sshd.js';

/*
 * Real filesystems for the tests, mounted through FUSE (the kernel here has no vfat or exfat
 * module): exFAT with exfat-fuse on a loop device, FAT32 with fusefat, sshfs to an OpenSSH sshd
 * started on 127.0.0.1 with throwaway keys. Every command is bounded; every mount is undone by
 * its `close()`, which the tests call in afterAll (also after a failure).
 */

const CMD_TIMEOUT_MS = 20_000;

/**
 * A temp folder of a mount's own, removed by its close() once unmounted: never by the shared
 * cleanupTemps(), which would reach into a mounted filesystem.
 */
function ownTemp(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Removes a mount's temp folder, unless something is still mounted below it. */
function removeOwn(dir: string): void {
  const mounted = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => (l.split(' ')[4] ?? '').startsWith(`${dir}/`));
  if (!mounted) rmSync(dir, { recursive: true, force: true });
}

/** Runs a command, bounded; throws with its stderr on failure. */
function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { timeout: CMD_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] }).toString('utf8').trim();
}

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore', env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
    return true;
  } catch {
    return false;
  }
}

/**
 * Why FUSE mounts cannot be made on this machine, or null when they can. On CI a missing tool
 * is a failure, not a skip: `.ci/run` installs them.
 */
export function mountProblem(tools: readonly string[]): string | null {
  if (process.getuid?.() !== 0) return 'mounting needs root';
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse on this machine';
  const missing = tools.filter((t) => !has(t));
  if (missing.length > 0) return `missing ${missing.join(', ')} (apt-get install -y exfat-fuse exfatprogs fusefat dosfstools sshfs openssh-server)`;
  return null;
}

/** Skips (with the reason printed) where mounting is impossible; on CI, fails instead. */
export function requireMounts(tools: readonly string[]): boolean {
  const why = mountProblem(tools);
  if (why === null) return true;
  if (process.env.CI) throw new Error(`filesystem tests cannot run on CI: ${why}`);
  console.warn(`skipping filesystem tests: ${why}`);
  return false;
}

/** A mounted filesystem: its folder, a remount (as after unplugging or a reboot) and its teardown. */
export interface Mounted {
  readonly dir: string;
  /** Unmounts and mounts the same filesystem again (a new FUSE mount: new device and inode numbers). */
  remount(): void;
  /** Unmounts and frees everything; idempotent. */
  close(): void;
}

/** How long a FUSE mount may live before its daemon is killed: a hung filesystem fails its tests instead of hanging CI. */
const MOUNT_DEADLINE_S = Number(process.env.FOLDERSYNC_MOUNT_DEADLINE_S ?? 600);

/** The FUSE daemon serving `dir`: the process whose last argument is the mount point. */
function daemonOf(dir: string): number | null {
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (args[args.length - 1] === dir && args.length > 1) return Number(pid);
    } catch {
      // the process ended meanwhile
    }
  }
  return null;
}

/**
 * Arms a watchdog for the FUSE mount at `dir`: a detached process that kills its daemon after
 * the deadline (a blocked filesystem call then fails with ENOTCONN, so even a test stuck in a
 * synchronous call ends). Returns its disarm.
 */
function watchdog(dir: string): () => void {
  const pid = daemonOf(dir);
  if (pid === null) return () => undefined;
  const dog = spawn('sh', ['-c', `sleep ${MOUNT_DEADLINE_S}; kill -9 ${pid}`], { detached: true, stdio: 'ignore' });
  dog.unref();
  return () => {
    try {
      process.kill(-dog.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
}

/** Lazily unmounts a FUSE mount point; best effort. */
function unmountDir(dir: string): void {
  for (const [cmd, args] of [
    ['fusermount', ['-u', '-z', dir]],
    ['umount', ['-l', dir]],
  ] as const) {
    try {
      run(cmd, [...args]);
      return;
    } catch {
      // try the next way, or it was not mounted
    }
  }
}

/**
 * A mount point that `mountOnce` mounts: mounting waits (bounded) for the mount and arms the
 * watchdog of its FUSE daemon (a kernel mount has none); unmounting disarms it and unmounts lazily.
 */
function supervisedMount(dir: string, mountOnce: () => void): { mount(): void; unmount(): void } {
  let disarm = (): void => undefined;
  return {
    mount: () => {
      mountOnce();
      waitMounted(dir);
      disarm = watchdog(dir);
    },
    unmount: () => {
      disarm();
      unmountDir(dir);
    },
  };
}

/** Waits (bounded) until `dir` is a mount point. */
function waitMounted(dir: string): void {
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    const info = readFileSync('/proc/self/mountinfo', 'utf8');
    if (info.split('\n').some((l) => l.split(' ')[4] === dir)) return;
    execFileSync('sleep', ['0.05']);
  }
  throw new Error(`${dir} did not get mounted within 10 s`);
}

/** An image file formatted by `mkfs`, on a loop device, mounted by `mountCmd`. */
function loopMount(kind: string, sizeMb: number, mkfs: [string, string[]], mountCmd: (dev: string, dir: string) => [string, string[]]): Mounted {
  const base = ownTemp(`fs-${kind}-`);
  const img = path.join(base, `${kind}.img`);
  const dir = path.join(base, 'mnt');
  mkdirSync(dir);
  run('truncate', ['-s', `${sizeMb}M`, img]);
  run(mkfs[0], [...mkfs[1], img]);
  let dev: string | null = null;
  const detach = (d: string): void => {
    try {
      run('losetup', ['-d', d]);
    } catch {
      // the lazy unmount may hold it a moment longer; the kernel frees it when released
    }
  };
  const m = supervisedMount(dir, () => {
    const [cmd, args] = mountCmd(dev!, dir);
    run(cmd, args);
  });
  dev = run('losetup', ['-f', '--show', img]);
  m.mount();
  return {
    dir,
    remount: () => {
      // Like a drive plugged in again: the new loop device is attached before the old one is
      // freed, so the filesystem comes back under another device number.
      m.unmount();
      const old = dev!;
      dev = run('losetup', ['-f', '--show', img]);
      detach(old);
      m.mount();
    },
    close: () => {
      m.unmount();
      if (dev) detach(dev);
      dev = null;
      removeOwn(base);
    },
  };
}

/** A fresh exFAT filesystem mounted with exfat-fuse. */
export function mountExfat(sizeMb = 64): Mounted {
  return loopMount('exfat', sizeMb, ['mkfs.exfat', []], (dev, dir) => ['mount.exfat-fuse', [dev, dir]]);
}

/** A fresh FAT32 filesystem mounted with fusefat (read-write). */
export function mountFat(sizeMb = 64): Mounted {
  return loopMount('fat', sizeMb, ['mkfs.vfat', ['-F', '32']], (dev, dir) => ['fusefat', ['-o', 'rw+', dev, dir]]);
}

/** A fresh ext4 filesystem mounted by the kernel from a loop device (a USB disk that keeps its inode numbers). */
export function mountExt4(sizeMb = 64): Mounted {
  return loopMount('ext4', sizeMb, ['mkfs.ext4', ['-q', '-F']], (dev, dir) => ['mount', [dev, dir]]);
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** A running sshd on 127.0.0.1 with throwaway host and user keys. */
export interface Sshd {
  readonly port: number;
  /** The user's private key, accepted by the server. */
  readonly userKey: string;
  /** A known_hosts file that trusts this server's host key. */
  readonly knownHosts: string;
  /** Where the server's files live (remote folders go below it). */
  readonly home: string;
  stop(): Promise<void>;
}

/** Starts OpenSSH's sshd on a free loopback port for sshfs (the remote-tree tests' server: test/helpers/sshd.ts). */
export async function startSshd(): Promise<Sshd> {
  const s = await startTestSshd();
  return { port: s.port, userKey: s.userKey, knownHosts: s.knownHosts, home: s.dir, stop: () => s.stop() };
}

/** Mounts `remoteDir` (a folder on this machine, served by `sshd`) with sshfs. */
export function mountSshfs(sshd: Sshd, remoteDir: string): Mounted {
  mkdirSync(remoteDir, { recursive: true });
  const base = ownTemp('fs-sshfs-');
  const dir = path.join(base, 'mnt');
  mkdirSync(dir);
  const m = supervisedMount(dir, () =>
    run('sshfs', [
      '-o',
      `IdentityFile=${sshd.userKey},UserKnownHostsFile=${sshd.knownHosts},StrictHostKeyChecking=yes,BatchMode=yes,port=${sshd.port},ConnectTimeout=10`,
      `root@127.0.0.1:${remoteDir}`,
      dir,
    ]),
  );
  m.mount();
  return {
    dir,
    remount: () => {
      m.unmount();
      m.mount();
    },
    close: () => {
      m.unmount();
      removeOwn(base);
    },
  };
}

/** Removes everything inside a mounted folder (not the mount point itself). */
export function emptyDir(dir: string): void {
  for (const name of run('ls', ['-A', dir]).split('\n').filter(Boolean)) rmSync(path.join(dir, name), { recursive: true, force: true });
}
