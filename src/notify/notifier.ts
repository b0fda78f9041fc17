import type { Logger } from 'pino';
import { describe } from '../errors.js';
import type { PassReport } from '../sync/types.js';
import { HOOK_TIMEOUT_MS, runHook } from './command.js';
import { composeMail } from './compose.js';
import type { Digest } from './digest.js';
import { Mailbox } from './mailbox.js';
import type { NotifySettings } from './options.js';
import type { Lines } from './pass-lines.js';
import { type MailTransport, smtpTransport, smtpUrl } from './smtp.js';
import { type JobInfo, passSummary } from './summary.js';
import { shouldNotify } from './when.js';

/** What a notifier uses besides its settings; the bounds are shortened by tests. */
export interface NotifierDeps {
  readonly log: Logger;
  readonly transport?: MailTransport;
  readonly hookTimeoutMs?: number;
  readonly mailIntervalMs?: number;
  readonly now?: () => number;
}

/**
 * One job's notifications after its passes: the notify command and the mail, for the passes
 * `--notify-on` selects. They run beside the schedule (a slow mail server does not delay the
 * next pass), one command at a time; their failures are logged and change no pass's outcome.
 */
export class Notifier {
  private hooks: Promise<void> = Promise.resolve();
  /** Fires on a hard stop: running commands are killed, queued ones skipped. */
  private readonly hurry = new AbortController();
  private readonly mailbox: Mailbox | null;

  constructor(
    private readonly s: NotifySettings,
    private readonly job: JobInfo,
    private readonly d: NotifierDeps,
  ) {
    const transport = d.transport ?? smtpTransport(s.smtp);
    this.mailbox =
      s.mailTo.length === 0
        ? null
        : new Mailbox({
            send: (digest) => this.mail(transport, digest),
            onError: (err, digest) =>
              d.log.error(
                { to: s.mailTo.join(', '), smtp: smtpUrl(s.smtp), err: describe(err) },
                `cannot send the report mail (${digest.totals.passes === 1 ? '1 pass' : `${digest.totals.passes} passes`}) to ${s.mailTo.join(', ')} through ${smtpUrl(s.smtp)}: ${describe(err)}; it goes out with the next one`,
              ),
            ...(d.mailIntervalMs !== undefined ? { intervalMs: d.mailIntervalMs } : {}),
            ...(d.now ? { now: d.now } : {}),
          });
  }

  /** Reports a pass, if `--notify-on` selects it; returns at once. */
  afterPass(report: PassReport, lines: Lines): void {
    if (!shouldNotify(this.s.on, report)) return;
    const summary = passSummary(report, this.job, Date.now());
    const cmd = this.s.cmd;
    if (cmd !== null) {
      this.hooks = this.hooks.then(async () => {
        if (this.hurry.signal.aborted) return;
        const r = await runHook(cmd, summary, this.d.hookTimeoutMs ?? HOOK_TIMEOUT_MS, this.hurry.signal);
        if (r.ok) this.d.log.debug('notify command done');
        else this.d.log.error({ op: 'notify-cmd', err: r.reason }, `the notify command failed: ${r.reason}`);
      });
    }
    this.mailbox?.add(report.reason ? { summary, reason: report.reason } : { summary }, lines);
  }

  /**
   * Waits for running commands and sends the mail still pending (each bounded); with `hurry`
   * (a hard stop) kills the commands and sends nothing more.
   */
  async close(hurry = false): Promise<void> {
    if (hurry) this.hurry.abort();
    await Promise.all([this.hooks, this.mailbox?.close(hurry)]);
  }

  private async mail(transport: MailTransport, digest: Digest): Promise<void> {
    const content = composeMail(this.job, digest);
    await transport.send(this.s.mailFrom, this.s.mailTo, content);
    this.d.log.info({ to: this.s.mailTo.join(', '), subject: content.subject }, `report mailed to ${this.s.mailTo.join(', ')}`);
  }
}
