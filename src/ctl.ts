import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readdirSync, realpathSync, unlinkSync } from 'node:fs';
import { type Server, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { type Reply, runLine, type Steering } from './console.js';
import { describe, errCode } from './errors.js';
import { EXIT } from './exit.js';

/** `foldersync ctl --help`. */
const CTL_USAGE = `foldersync ctl [--config FILE | --socket PATH] COMMAND...
Sends one console command (status, sync [JOB...], pause [JOB...], resume [JOB...],
add NAME -s SRC -r DST [options], remove NAME, help, quit) to a running daemon.
--config FILE   the daemon running that config file
--socket PATH   the daemon listening on that socket
Without either: the one daemon whose socket is in $XDG_RUNTIME_DIR/foldersync
(/run/foldersync for root).`;

/** How long `ctl` waits for a daemon's reply. */
const CTL_TIMEOUT_MS = 10_000;

/**
 * The folder of the daemons' control sockets: `$XDG_RUNTIME_DIR/foldersync`, else
 * `/run/foldersync` for root, else a per-user folder in the temp folder.
 */
export function socketDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, 'foldersync');
  if (process.getuid?.() === 0) return '/run/foldersync';
  return path.join(tmpdir(), `foldersync-${process.getuid?.() ?? 'user'}`);
}

const short = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 12);

/**
 * The control socket of a daemon: named after its config file (`jobs-<hash>.sock`, by the file's
 * real path) or, for a single -s/-r daemon, after its replica, so several daemons each have one.
 */
export function socketPath(by: { readonly configFile: string } | { readonly replica: string }, env: NodeJS.ProcessEnv = process.env): string {
  if ('configFile' in by) {
    let real = path.resolve(by.configFile);
    try {
      real = realpathSync(real);
    } catch {
      // a missing file names a socket nobody listens on: ctl says so
    }
    return path.join(socketDir(env), `${path.basename(real).replace(/\.[^.]*$/, '')}-${short(real)}.sock`);
  }
  return path.join(socketDir(env), `${path.basename(by.replica)}-${short(by.replica)}.sock`);
}

/** A listening control socket; `close()` removes it and is idempotent. */
export interface CtlServer {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Serves the console's commands on a Unix socket only its owner can use (folder 0700, socket
 * 0600): one command line in, one JSON line `{"ok":…,"reply":…}` out. A socket left by a dead
 * daemon is replaced; one a live daemon answers on is left alone (that daemon keeps it).
 */
export async function serveCtl(file: string, steering: Steering): Promise<CtlServer> {
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  ownerOnly(dir);
  if (await answers(file)) throw new Error(`another foldersync daemon listens on ${file}`);
  try {
    unlinkSync(file);
  } catch (err) {
    if (errCode(err) !== 'ENOENT') throw err;
  }
  const server: Server = createServer((sock) => {
    sock.on('error', () => undefined);
    const rl = createInterface({ input: sock, terminal: false });
    rl.once('line', (line) => {
      rl.close();
      runLine(line, steering).then(
        (r: Reply | null) => sock.end(`${JSON.stringify(r ?? { ok: false, text: 'empty command' })}\n`),
        (err: unknown) => sock.end(`${JSON.stringify({ ok: false, text: describe(err) })}\n`),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, () => resolve());
  });
  chmodSync(file, 0o600);
  let closed = false;
  return {
    path: file,
    close: async () => {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      try {
        unlinkSync(file);
      } catch {
        // already gone
      }
    },
  };
}

/**
 * The socket folder must be ours and closed to others: in a shared temp folder someone else could
 * have made it first, to listen in or to answer in our place.
 */
function ownerOnly(dir: string): void {
  const st = lstatSync(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory()) throw new Error(`${dir} is not a folder`);
  if (uid !== undefined && st.uid !== uid) throw new Error(`${dir} belongs to another user (uid ${st.uid})`);
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/** True when a live daemon accepts connections on this socket. */
function answers(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(file);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * `foldersync ctl [--config FILE | --socket PATH] COMMAND…`: sends one console command to a
 * running daemon and prints its reply. Without --config/--socket, the one daemon whose socket is
 * in socketDir(). Exit 0 when the command was done, 1 when the daemon refused it, 2 when no daemon answers.
 */
export async function runCtl(args: readonly string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  if (args[0] === '-h' || args[0] === '--help') {
    out(`${CTL_USAGE}\n`);
    return EXIT.ok;
  }
  let socket: string | undefined;
  const rest = [...args];
  while (rest[0]?.startsWith('-')) {
    const flag = rest.shift()!;
    const value = rest.shift();
    if (value === undefined || (flag !== '--config' && flag !== '--socket')) {
      err(`foldersync ctl: ${value === undefined ? `${flag} needs a value` : `unknown option ${flag}`} (usage: ${CTL_USAGE.split('\n')[0]})\n`);
      return EXIT.usage;
    }
    socket = flag === '--config' ? socketPath({ configFile: value }) : path.resolve(value);
  }
  if (rest.length === 0) {
    err('foldersync ctl: no command given (try: foldersync ctl help)\n');
    return EXIT.usage;
  }
  if (!socket) {
    const dir = socketDir();
    let found: string[] = [];
    try {
      found = readdirSync(dir).filter((n) => n.endsWith('.sock'));
    } catch {
      // no folder: no daemon
    }
    if (found.length === 0) {
      err(`foldersync ctl: no foldersync daemon is running (no control socket in ${dir})\n`);
      return EXIT.usage;
    }
    if (found.length > 1) {
      err(`foldersync ctl: several daemons are running (${found.join(', ')} in ${dir}); name one with --config FILE or --socket PATH\n`);
      return EXIT.usage;
    }
    socket = path.join(dir, found[0]!);
  }
  // The console splits words as a shell does with quotes (no backslash escapes).
  const line = rest.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : w.includes('"') ? `'${w}'` : `"${w}"`)).join(' ');
  let reply: string;
  try {
    reply = await ask(socket, line);
  } catch (e) {
    const code = errCode(e);
    const why = code === 'ENOENT' || code === 'ECONNREFUSED' ? 'no foldersync daemon is running' : describe(e);
    err(`foldersync ctl: ${why} (socket ${socket})\n`);
    return EXIT.usage;
  }
  let r: Reply;
  try {
    r = JSON.parse(reply) as Reply;
  } catch {
    err(`foldersync ctl: the daemon on ${socket} gave no reply\n`);
    return EXIT.usage;
  }
  if (r.text) (r.ok ? out : err)(`${r.text}\n`);
  return r.ok ? EXIT.ok : EXIT.errors;
}

/** Sends one line and reads the whole reply, bounded by CTL_TIMEOUT_MS. */
function ask(socket: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let data = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no reply within ${CTL_TIMEOUT_MS / 1000} s`));
    }, CTL_TIMEOUT_MS);
    s.setEncoding('utf8');
    s.once('connect', () => s.write(`${line}\n`));
    s.on('data', (d: string) => {
      data += d;
    });
    s.once('end', () => {
      clearTimeout(timer);
      resolve(data);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
