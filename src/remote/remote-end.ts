import path from 'node:path/posix';
import { describe } from '../errors.js';
import { SshSession } from './connect.js';
import { ConnectError } from './errors.js';
import type { RemoteLocation } from './location.js';
import { Sftp } from './sftp-io.js';
import type { SshSettings } from './ssh-settings.js';
import type { Throttle } from './throttle.js';

/** Waits between reconnection attempts of a pass: a server that restarts gets a few seconds. */
const BACKOFF_MS = [1_000, 3_000, 9_000];

/**
 * One remote tree's end of things: the settled connection settings, the live session (opened
 * again when it dropped), the root as an absolute path on the server, and the rate limit all
 * its transfers share. Held by the run, shared by every pass.
 */
export class RemoteEnd {
  private session: SshSession | null = null;
  private io: Sftp | null = null;
  private rootPath: string | null = null;

  constructor(
    readonly loc: RemoteLocation,
    readonly settings: SshSettings,
    readonly throttle: Throttle | null,
  ) {}

  /** The location as the user wrote it. */
  get text(): string {
    return this.loc.text;
  }

  /** Opens the connection (again, if it dropped); bounded retries with backoff before a pass gives up. */
  async connect(signal?: AbortSignal, retries = BACKOFF_MS.length): Promise<void> {
    if (this.session && !this.session.lost) return;
    this.session?.close();
    this.session = null;
    this.io = null;
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      try {
        const s = await SshSession.open(this.settings);
        this.session = s;
        this.io = new Sftp(s);
        if (this.rootPath === null) this.rootPath = await this.resolveRoot(this.io);
        return;
      } catch (err) {
        // A host key problem or a refused login does not go away by waiting.
        const permanent = err instanceof ConnectError && !/cannot connect|closed during/.test(err.message);
        if (permanent || attempt >= retries) throw err;
        await sleep(BACKOFF_MS[attempt] ?? 10_000, signal);
      }
    }
  }

  /** The live SFTP requests; throws the drop's reason once the connection is gone. */
  get sftp(): Sftp {
    if (!this.io || !this.session) throw new ConnectError(`not connected to ${this.loc.host}`);
    return this.io;
  }

  /** Why the connection dropped, or null. */
  lost(): Error | null {
    return this.session?.lost ?? null;
  }

  /** The root's absolute path on the server. */
  get root(): string {
    if (this.rootPath === null) throw new Error(`${this.loc.text}: not connected yet`);
    return this.rootPath;
  }

  /** The server path of a root-relative path. */
  abs(rel: string): string {
    return rel === '' ? this.root : `${this.root === '/' ? '' : this.root}/${rel}`;
  }

  /** Runs a command on the server. */
  exec(command: string, signal?: AbortSignal): ReturnType<SshSession['exec']> {
    if (!this.session) return Promise.reject(new ConnectError(`not connected to ${this.loc.host}`));
    return this.session.exec(command, signal);
  }

  /** Closes the connection; idempotent. */
  close(): void {
    this.session?.close();
    this.session = null;
    this.io = null;
  }

  /** A relative path is relative to the login's home, as scp has it. */
  private async resolveRoot(io: Sftp): Promise<string> {
    if (this.loc.path.startsWith('/')) return path.normalize(this.loc.path);
    try {
      const home = await io.realpath('.');
      return path.join(home, this.loc.path);
    } catch (err) {
      throw new ConnectError(`${this.loc.text}: cannot find the remote home folder: ${describe(err)}`);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
