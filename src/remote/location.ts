import { UsageError } from '../errors.js';

/** A folder on another machine, as the user named it; everything else about the connection comes from the ssh config. */
export interface RemoteLocation {
  readonly kind: 'sftp';
  /** The host as written: an ssh config `Host` alias or a real name. */
  readonly host: string;
  readonly user?: string;
  readonly port?: number;
  /** The remote path; relative ones are relative to the remote user's home ('' = the home itself). */
  readonly path: string;
  /** The location exactly as given (messages, the record's and the lock's name). */
  readonly text: string;
}

/** A folder on this machine. */
export interface LocalLocation {
  readonly kind: 'local';
  readonly path: string;
}

/** Where a tree is: `-s`/`-r` parsed. */
export type Location = LocalLocation | RemoteLocation;

const URL_RE = /^sftp:\/\/(?:([^@/]+)@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?(\/.*)?$/;
const SCP_RE = /^(?:([^@/:]+)@)?(\[[^\]]+\]|[^:/[\]]+):(.*)$/s;

/**
 * Reads `-s`/`-r` as scp and rsync do: `sftp://[user@]host[:port]/path` or `[user@]host:path`
 * is remote; anything with a `/` before its first `:` (`./a:b`, `/mnt/x:y`) is a local path.
 */
export function parseLocation(text: string, option: string): Location {
  if (/^sftp:\/\//i.test(text)) {
    const m = URL_RE.exec(text);
    if (!m) throw new UsageError(`${option} ${JSON.stringify(text)}: expected sftp://[user@]host[:port]/path`);
    const port = m[3] === undefined ? undefined : Number(m[3]);
    if (port !== undefined && (port < 1 || port > 65535)) throw new UsageError(`${option} ${JSON.stringify(text)}: port ${m[3]} is out of range`);
    const path = decodeURIComponent(m[4] ?? '/');
    return remote(text, unbracket(m[2]!), m[1] === undefined ? undefined : decodeURIComponent(m[1]), port, path === '/' ? '/' : path.replace(/\/+$/, ''));
  }
  const m = SCP_RE.exec(text);
  if (!m) return { kind: 'local', path: text };
  const host = unbracket(m[2]!);
  if (host === '') throw new UsageError(`${option} ${JSON.stringify(text)}: no host before the ':' (write a local path with a '/' before the colon: ./${text})`);
  const path = m[3]!.length > 1 ? m[3]!.replace(/\/+$/, '') : m[3]!;
  return remote(text, host, m[1], undefined, path === '.' ? '' : path);
}

function remote(text: string, host: string, user: string | undefined, port: number | undefined, path: string): RemoteLocation {
  return { kind: 'sftp', host, path, text, ...(user === undefined ? {} : { user }), ...(port === undefined ? {} : { port }) };
}

function unbracket(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/** The remote location of a `-s`/`-r` value, or null for a local path. */
export function remoteOf(text: string): RemoteLocation | null {
  try {
    const loc = parseLocation(text, '');
    return loc.kind === 'sftp' ? loc : null;
  } catch {
    return null;
  }
}
