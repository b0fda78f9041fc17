import type { SmtpServer } from './options.js';
import type { MailContent } from './compose.js';

/** Sends mails; one connection per mail (a daemon mails a few times an hour at most). */
export interface MailTransport {
  send(from: string, to: readonly string[], content: MailContent): Promise<void>;
}

/**
 * Bounds on a mail server that does not answer: long enough for a slow relay, short enough that
 * a daemon's shutdown (which sends what is pending) is not held for nodemailer's default minutes.
 */
const TIMEOUTS = Object.freeze({ connectionTimeout: 20_000, greetingTimeout: 20_000, socketTimeout: 60_000 });

/**
 * A transport to the `--smtp` server through nodemailer: TLS from the start for smtps://,
 * STARTTLS whenever the server offers it for smtp://, certificates verified against the system's
 * CAs (and NODE_EXTRA_CA_CERTS). Credentials come from FOLDERSYNC_SMTP_USER and
 * FOLDERSYNC_SMTP_PASSWORD and go nowhere else.
 */
export function smtpTransport(server: SmtpServer, env: NodeJS.ProcessEnv = process.env): MailTransport {
  const user = env.FOLDERSYNC_SMTP_USER;
  const pass = env.FOLDERSYNC_SMTP_PASSWORD;
  return {
    async send(from, to, content) {
      // Loaded on the first mail: most runs never send one.
      const nodemailer = (await import('nodemailer')).default;
      const transport = nodemailer.createTransport({
        host: server.host,
        port: server.port,
        secure: server.secure,
        ...(user ? { auth: { user, pass: pass ?? '' } } : {}),
        ...TIMEOUTS,
      });
      try {
        await transport.sendMail({ from, to: [...to], subject: content.subject, text: content.text, html: content.html });
      } finally {
        transport.close();
      }
    },
  };
}

/** The server as a user wrote it, for messages (never with credentials). */
export function smtpUrl(s: SmtpServer): string {
  const host = s.host.includes(':') ? `[${s.host}]` : s.host;
  return `${s.secure ? 'smtps' : 'smtp'}://${host}:${s.port}`;
}
