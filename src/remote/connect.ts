import { readFileSync } from 'node:fs';
import ssh2, { type Client, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { describe, unreachable } from '../errors.js';
import { ConnectError, ConnectionLost } from './errors.js';
import { addKnownHost, checkHostKey, fingerprint, type HostKeyVerdict, keyType, knownKeyTypes, knownName } from './known-hosts.js';
import type { SshSettings } from './ssh-settings.js';


/** What an `exec` channel gave back. */
export interface ExecResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The host key types ssh2 can check, the ones known_hosts holds for this host first. */
const HOST_KEY_TYPES = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

/**
 * One SSH connection with its SFTP channel, opened as OpenSSH would (agent first, then each
 * identity file; the host key checked against known_hosts). It notices when it drops: `lost`
 * says why, and the trees built on it fail every operation with that reason.
 */
export class SshSession {
  private lostWith: Error | null = null;
  /** Rejections of the requests in flight, called when the connection drops. */
  private readonly waiting = new Set<(err: Error) => void>();

  private constructor(
    private readonly client: Client,
    /** The SFTP channel. */
    readonly sftp: SFTPWrapper,
    readonly settings: SshSettings,
  ) {
    const drop = (why: string): void => {
      this.lostWith ??= new ConnectionLost(`the connection to ${where(settings)} was lost (${why})`);
      // Requests in flight get no reply any more: fail them now rather than leave the pass waiting.
      for (const f of this.waiting) f(this.lostWith);
      this.waiting.clear();
    };
    client.on('close', () => drop('closed'));
    client.on('error', (err: Error) => drop(describe(err)));
    sftp.on('close', () => drop('the SFTP channel closed'));
  }

  /** Connects, checks the host key and logs in; throws a ConnectError naming the host and the cause. */
  static open(s: SshSettings): Promise<SshSession> {
    const client = new ssh2.Client();
    let verdict: { v: HostKeyVerdict; blob: Buffer } | undefined;
    const known = knownKeyTypes(s.knownHosts, s.keyName, s.port);
    const order = [...known.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t])), ...HOST_KEY_TYPES];
    const serverHostKey = [...new Set(order)].filter((t) => HOST_KEY_TYPES.includes(t));
    const config: ConnectConfig = {
      host: s.hostName,
      port: s.port,
      username: s.user,
      readyTimeout: s.connectTimeoutMs,
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
      algorithms: { serverHostKey: serverHostKey as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
      hostVerifier: (key: Buffer): boolean => {
        const v = checkHostKey(s.knownHosts, s.keyName, s.port, key);
        verdict = { v, blob: key };
        if (v === 'known') return true;
        if (v === 'unknown' && s.strict !== 'yes') {
          if (s.strict === 'accept-new' && s.knownHosts[0]) addKnownHost(s.knownHosts[0], s.keyName, s.port, key);
          return true;
        }
        return false;
      },
      authHandler: authMethods(s),
    };
    return new Promise<SshSession>((resolve, reject) => {
      let settled = false;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        client.end();
        reject(err);
      };
      client.once('ready', () => {
        client.sftp((err, sftp) => {
          if (err) return fail(new ConnectError(`cannot start SFTP on ${where(s)}: ${describe(err)} (is the sftp subsystem enabled on the server?)`));
          settled = true;
          resolve(new SshSession(client, sftp, s));
        });
      });
      client.on('error', (err: Error & { level?: string }) => {
        if (verdict && verdict.v !== 'known' && !(verdict.v === 'unknown' && s.strict !== 'yes')) return fail(new ConnectError(hostKeyMessage(s, verdict.v, verdict.blob)));
        if (err.level === 'client-authentication') {
          return fail(new ConnectError(`cannot log in to ${s.user}@${where(s)}: no key was accepted (tried ${triedKeys(s)}); no password is ever asked`));
        }
        fail(new ConnectError(`cannot connect to ${where(s)}: ${describe(err)}`));
      });
      client.once('close', () => fail(new ConnectError(`cannot connect to ${where(s)}: the connection closed during the handshake`)));
      client.connect(config);
      // Small requests each waiting for a reply: Nagle's algorithm with delayed ACKs would hold each back ~40 ms.
      client.setNoDelay(true);
    });
  }

  /** Registers a request in flight: `fail` is called if the connection drops first; returns its unregistration. */
  track(fail: (err: Error) => void): () => void {
    this.waiting.add(fail);
    return () => this.waiting.delete(fail);
  }

  /** Why the connection is gone, or null while it is up. */
  get lost(): Error | null {
    return this.lostWith;
  }

  /** Runs a command on the server (for hashing there); rejects when exec channels are refused. */
  exec(command: string, signal?: AbortSignal): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, ch) => {
        if (err) return reject(err);
        // Nothing to say on its stdin: an account forced into an SFTP server sees the end at once.
        ch.end();
        let stdout = '';
        let stderr = '';
        const onAbort = (): void => {
          ch.close();
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        ch.on('data', (b: Buffer) => {
          stdout += b.toString('utf8');
        });
        ch.stderr.on('data', (b: Buffer) => {
          stderr += b.toString('utf8');
        });
        let code: number | null = null;
        ch.on('exit', (c: number | null) => {
          code = c;
        });
        ch.on('close', () => {
          signal?.removeEventListener('abort', onAbort);
          if (signal?.aborted) reject(signal.reason);
          else resolve({ code, stdout, stderr });
        });
      });
    });
  }

  /** Closes the connection; idempotent. */
  close(): void {
    this.lostWith ??= new ConnectionLost(`the connection to ${where(this.settings)} was closed`);
    this.client.end();
  }
}

/** `host` or `host:port` (and the alias, when the config renamed it), for messages. */
export function where(s: SshSettings): string {
  const h = s.port === 22 ? s.hostName : `${s.hostName}:${s.port}`;
  return s.alias === s.hostName ? h : `${s.alias} (${h})`;
}

/** The agent first, then each identity file that parses without a passphrase (nothing is ever prompted). */
function authMethods(s: SshSettings): NonNullable<ConnectConfig['authHandler']> {
  const methods: NonNullable<ConnectConfig['authHandler']> = [];
  const agent = process.env.SSH_AUTH_SOCK;
  if (agent) methods.push({ type: 'agent', username: s.user, agent } as never);
  for (const f of s.identityFiles) {
    let key: Buffer;
    try {
      key = readFileSync(f);
    } catch {
      continue;
    }
    const parsed = ssh2.utils.parseKey(key);
    // An encrypted key the agent does not hold cannot be used by a daemon: skipped, as BatchMode does.
    if (parsed instanceof Error) continue;
    methods.push({ type: 'publickey', username: s.user, key } as never);
  }
  if (methods.length === 0) methods.push({ type: 'none', username: s.user } as never);
  return methods;
}

function triedKeys(s: SshSettings): string {
  const files = s.identityFiles.length === 0 ? 'no identity file' : s.identityFiles.join(', ');
  return process.env.SSH_AUTH_SOCK ? `the agent and ${files}` : `${files}; no agent (SSH_AUTH_SOCK unset)`;
}

/** One line: which host, which key, and the command that trusts it. */
function hostKeyMessage(s: SshSettings, v: HostKeyVerdict, blob: Buffer): string {
  const type = keyType(blob);
  const short = type === 'ssh-ed25519' ? 'ed25519' : type.startsWith('ecdsa') ? 'ecdsa' : type.startsWith('ssh-rsa') || type.startsWith('rsa') ? 'rsa' : type;
  const label = `${short.toUpperCase()} key ${fingerprint(blob)}`;
  const file = s.knownHosts[0] ?? '~/.ssh/known_hosts';
  const scan = `ssh-keyscan ${s.port === 22 ? '' : `-p ${s.port} `}-t ${short} ${s.keyName} >> ${file}`;
  switch (v) {
    case 'unknown':
      return `the host key of ${where(s)} is not known (${label}); nothing was transferred. If that is the server's key, trust it with: ${scan}`;
    case 'changed':
      return `the host key of ${where(s)} has CHANGED (now ${label}); nothing was transferred. If the server was reinstalled, forget the old key with: ssh-keygen -R '${knownName(s.keyName, s.port)}' -f ${file}, then trust the new one with: ${scan}`;
    case 'revoked':
      return `the host key of ${where(s)} is revoked in the known-hosts file (${label}); nothing was transferred`;
    case 'known':
      return `the host key of ${where(s)} (${label}) is known`;
    default:
      return unreachable(v);
  }
}
