import { existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import path from 'node:path';
import SSHConfig from 'ssh-config';
import { UsageError, describe } from '../errors.js';
import type { RemoteLocation } from './location.js';

/** What OpenSSH does on an unknown host key: `yes` refuses it, `accept-new` trusts and records it, `no` trusts it for this connection. */
export type StrictHostKeys = 'yes' | 'accept-new' | 'no';

/** Everything one connection needs, from the location and the ssh client config. */
export interface SshSettings {
  /** The name the user wrote (an alias), for messages. */
  readonly alias: string;
  /** The name or address to connect to (`HostName`). */
  readonly hostName: string;
  readonly port: number;
  readonly user: string;
  /** Private key files to offer, in order (those that exist). */
  readonly identityFiles: readonly string[];
  /** Known-hosts files to check the host key against; the first is where `accept-new` records. */
  readonly knownHosts: readonly string[];
  readonly strict: StrictHostKeys;
  /** The name looked up in known_hosts (`HostKeyAlias`, else `HostName`). */
  readonly keyName: string;
  readonly connectTimeoutMs: number;
}

/** OpenSSH's default identity files, in its order. */
const DEFAULT_IDS = ['id_rsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk', 'id_dsa'];

/** The ssh client config file to read: `--ssh-config`, else `~/.ssh/config` when there is one. */
export function sshConfigText(file: string | null): string {
  const f = file ?? path.join(homedir(), '.ssh', 'config');
  try {
    return readFileSync(f, 'utf8');
  } catch (err) {
    if (file === null) return '';
    throw new UsageError(`--ssh-config ${JSON.stringify(file)}: ${describe(err)}`);
  }
}

/**
 * Settles a remote location's connection as `ssh` would: the first value OpenSSH would take
 * for each key (Host aliases and patterns, in file order), then the user's explicit
 * `user@`/`:port` over the config's, then OpenSSH's defaults.
 */
export function sshSettings(loc: RemoteLocation, configText: string): SshSettings {
  const computed = SSHConfig.parse(configText).compute({ Host: loc.host, ...(loc.user ? { User: loc.user } : {}) }) as Record<string, string | string[] | undefined>;
  const one = (k: string): string | undefined => {
    const v = computed[k];
    return Array.isArray(v) ? v.join(' ') : v;
  };
  const many = (k: string): string[] => {
    const v = computed[k];
    if (v === undefined) return [];
    return (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(/\s+/)).filter(Boolean);
  };
  const hostName = expand(one('HostName') ?? loc.host, loc.host, '', 0).replace(/%h/g, loc.host);
  const user = loc.user ?? one('User') ?? userInfo().username;
  const portText = loc.port ?? one('Port');
  const port = portText === undefined ? 22 : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`ssh config for ${loc.host}: bad Port ${JSON.stringify(portText)}`);
  const x = (f: string): string => expand(f, hostName, user, port);
  const ids = many('IdentityFile').map(x);
  const identityFiles = (ids.length > 0 ? ids : DEFAULT_IDS.map((n) => path.join(homedir(), '.ssh', n))).filter((f) => existsSync(f));
  const userKnown = many('UserKnownHostsFile');
  const knownHosts = [
    ...(userKnown.length > 0 ? userKnown.map(x) : [path.join(homedir(), '.ssh', 'known_hosts'), path.join(homedir(), '.ssh', 'known_hosts2')]),
    ...(many('GlobalKnownHostsFile').length > 0 ? many('GlobalKnownHostsFile').map(x) : ['/etc/ssh/ssh_known_hosts']),
  ];
  const strictText = (one('StrictHostKeyChecking') ?? 'ask').toLowerCase();
  // `ask` cannot ask a daemon's user: like BatchMode, it refuses.
  const strict: StrictHostKeys = strictText === 'no' || strictText === 'off' ? 'no' : strictText === 'accept-new' ? 'accept-new' : 'yes';
  const timeout = Number(one('ConnectTimeout') ?? 20);
  return {
    alias: loc.host,
    hostName,
    port,
    user,
    identityFiles,
    knownHosts,
    strict,
    keyName: one('HostKeyAlias') ?? hostName,
    connectTimeoutMs: Number.isFinite(timeout) && timeout > 0 ? timeout * 1000 : 20_000,
  };
}

/** OpenSSH's `~` and `%` tokens in file names. */
function expand(f: string, host: string, user: string, port: number): string {
  const home = homedir();
  const t = f.replace(/^~(?=\/|$)/, home);
  return t.replace(/%([%dhruLlp])/g, (_m, c: string) => {
    switch (c) {
      case '%':
        return '%';
      case 'd':
        return home;
      case 'h':
        return host;
      case 'r':
        return user;
      case 'u':
        return userInfo().username;
      case 'p':
        return String(port);
      default:
        return _m;
    }
  });
}
