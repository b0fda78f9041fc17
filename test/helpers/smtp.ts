import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** One mail the test server received: the envelope, how the session was secured, and the parsed message. */
export interface Received {
  readonly from: string;
  readonly to: string[];
  /** The session ran over TLS (smtps, or after STARTTLS). */
  readonly secure: boolean;
  /** The user that logged in, if any. */
  readonly user: string | undefined;
  readonly mail: ParsedMail;
}

/** A real SMTP server on 127.0.0.1 at a random port, collecting what it receives. */
export interface TestSmtp {
  readonly port: number;
  readonly received: Received[];
  /** Resolves once `n` mails arrived; rejects after `ms`. */
  waitFor(n: number, ms?: number): Promise<void>;
  close(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1 and localhost, made with openssl in `dir`. */
export function selfSignedCert(dir: string): { key: string; cert: string; certFile: string } {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8'), certFile: cert };
}

/**
 * Starts the server. Without `tls` it offers no STARTTLS; with it, STARTTLS (or TLS from the
 * start with `secure`). With `auth`, it requires that user and password. `port`: a given one (default: any free).
 */
export async function startSmtp(opts: { tls?: { key: string; cert: string }; secure?: boolean; auth?: { user: string; pass: string }; port?: number } = {}): Promise<TestSmtp> {
  const received: Received[] = [];
  const server = new SMTPServer({
    secure: opts.secure === true,
    ...(opts.tls ? { key: opts.tls.key, cert: opts.tls.cert } : {}),
    disabledCommands: [...(opts.tls ? [] : ['STARTTLS']), ...(opts.auth ? [] : ['AUTH'])],
    authOptional: !opts.auth,
    logger: false,
    onAuth(auth, _session, cb) {
      if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.pass) cb(null, { user: auth.username });
      else cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
      simpleParser(stream).then(
        (mail) => {
          received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            secure: session.secure,
            user: typeof session.user === 'string' ? session.user : undefined,
            mail,
          });
          cb();
        },
        (err: Error) => cb(err),
      );
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    received,
    waitFor: (n, ms = 20_000) =>
      new Promise<void>((resolve, reject) => {
        const started = Date.now();
        const tick = (): void => {
          if (received.length >= n) resolve();
          else if (Date.now() - started > ms) reject(new Error(`expected ${n} mails within ${ms} ms, got ${received.length}`));
          else setTimeout(tick, 20);
        };
        tick();
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port on 127.0.0.1 where nothing listens (taken, then freed). */
export async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
