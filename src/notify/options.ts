import { hostname } from 'node:os';
import { UsageError } from '../errors.js';

/** Which passes are reported (`--notify-on`). */
export const NOTIFY_ON = ['errors', 'changes', 'always'] as const;
/** One of NOTIFY_ON. */
export type NotifyOn = (typeof NOTIFY_ON)[number];

/** The mail server, from `--smtp`. */
export interface SmtpServer {
  readonly host: string;
  readonly port: number;
  /** smtps://: TLS from the first byte; smtp://: STARTTLS when the server offers it. */
  readonly secure: boolean;
}

/** Where pass reports go, validated once, then frozen. */
export interface NotifySettings {
  readonly on: NotifyOn;
  /** `--notify-cmd`, run with /bin/sh -c; null when not given. */
  readonly cmd: string | null;
  /** `--mail-to` addresses; empty when no mail is sent. */
  readonly mailTo: readonly string[];
  readonly mailFrom: string;
  readonly smtp: SmtpServer;
}

/** The notification options as commander hands them over. */
export interface NotifyRawOptions {
  notifyCmd?: string;
  mailTo?: string;
  mailFrom?: string;
  smtp?: string;
  notifyOn?: string;
}

/**
 * Defaults, explained: the local mail server on port 25 is what a host with a mail relay (or
 * a smarthost set up in it) listens on; the sender names this host so a reader knows which
 * machine wrote.
 */
const DEFAULT_SMTP = 'smtp://localhost:25';

/** Validates the notification options; null when neither a command nor a mail is asked for. */
export function parseNotify(raw: NotifyRawOptions): NotifySettings | null {
  const on = raw.notifyOn ?? 'errors';
  if (!(NOTIFY_ON as readonly string[]).includes(on)) throw new UsageError(`--notify-on ${JSON.stringify(on)}: expected one of ${NOTIFY_ON.join(', ')}`);
  const smtp = parseSmtp(raw.smtp ?? DEFAULT_SMTP);
  const mailTo = raw.mailTo === undefined ? [] : parseAddresses(raw.mailTo, '--mail-to');
  const mailFrom = raw.mailFrom === undefined ? `foldersync@${hostname()}` : parseAddresses(raw.mailFrom, '--mail-from');
  if (Array.isArray(mailFrom) && mailFrom.length !== 1) throw new UsageError(`--mail-from ${JSON.stringify(raw.mailFrom)}: expected one address`);
  if (raw.notifyCmd !== undefined && raw.notifyCmd.trim() === '') throw new UsageError('--notify-cmd: the command is empty');
  if (raw.notifyCmd === undefined && mailTo.length === 0) return null;
  return Object.freeze({
    on: on as NotifyOn,
    cmd: raw.notifyCmd ?? null,
    mailTo: Object.freeze(mailTo),
    mailFrom: Array.isArray(mailFrom) ? mailFrom[0]! : mailFrom,
    smtp,
  });
}

/** `smtp://host[:port]` or `smtps://host[:port]`; credentials never in the URL (it shows in `ps`). */
export function parseSmtp(text: string): SmtpServer {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new UsageError(`--smtp ${JSON.stringify(text)}: expected smtp://host[:port] or smtps://host[:port]`);
  }
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') throw new UsageError(`--smtp ${JSON.stringify(text)}: expected smtp://host[:port] or smtps://host[:port]`);
  if (u.username || u.password) throw new UsageError(`--smtp: no credentials in the URL; set FOLDERSYNC_SMTP_USER and FOLDERSYNC_SMTP_PASSWORD`);
  if (!u.hostname || (u.pathname !== '' && u.pathname !== '/') || u.search || u.hash) {
    throw new UsageError(`--smtp ${JSON.stringify(text)}: expected smtp://host[:port] or smtps://host[:port]`);
  }
  const secure = u.protocol === 'smtps:';
  // URL keeps IPv6 literals in brackets; sockets want them bare.
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return Object.freeze({ host, port: u.port ? Number(u.port) : secure ? 465 : 25, secure });
}

/** Comma-separated addresses, each `local@domain` (a display name `Ann <ann@example.org>` is kept as given). */
function parseAddresses(text: string, option: string): string[] {
  const list = text
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  if (list.length === 0) throw new UsageError(`${option}: no address given`);
  for (const a of list) {
    const bare = /<([^<>]*)>\s*$/.exec(a)?.[1] ?? a;
    if (!/^[^\s@<>]+@[^\s@<>]+$/.test(bare)) throw new UsageError(`${option} ${JSON.stringify(a)}: not a mail address`);
  }
  return list;
}
