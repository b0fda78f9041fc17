import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { runHook } from '../../src/notify/command.js';
import { composeMail } from '../../src/notify/compose.js';
import { Digest } from '../../src/notify/digest.js';
import { Notifier } from '../../src/notify/notifier.js';
import { parseNotify, parseSmtp } from '../../src/notify/options.js';
import { PassLines } from '../../src/notify/pass-lines.js';
import { type PassSummary, passSummary } from '../../src/notify/summary.js';
import { shouldNotify } from '../../src/notify/when.js';
import { type PassReport, emptyCounts } from '../../src/sync/types.js';
import { closedPort, startSmtp } from '../helpers/smtp.js';
import { cleanupTemps, tempDir } from '../helpers/tree.js';

afterAll(cleanupTemps);

const JOB = { job: 'photos', source: '/src', replica: '/dst/photos' };

function report(over: Partial<PassReport> = {}): PassReport {
  return { ...emptyCounts(), outcome: 'ok', durationMs: 12, dryRun: false, ...over };
}

function summary(over: Partial<PassReport> = {}): PassSummary {
  return passSummary(report(over), JOB, 1_795_000_000_000);
}

/** A logger whose lines are kept. */
function captured(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug', base: undefined }, sink), lines };
}

describe('--notify-on', () => {
  it.each([
    ['errors', 'ok', 0, false],
    ['errors', 'ok', 5, false],
    ['errors', 'errors', 0, true],
    ['errors', 'refused', 0, true],
    ['errors', 'aborted', 0, false],
    ['changes', 'ok', 0, false],
    ['changes', 'ok', 1, true],
    ['changes', 'refused', 0, true],
    ['always', 'ok', 0, true],
  ] as const)('%s, a pass %s with %i changes: %s', (on, outcome, copies, expected) => {
    expect(shouldNotify(on, report({ outcome, copy: copies }))).toBe(expected);
  });
});

describe('notification options', () => {
  it('parses --smtp and --mail-to; defaults; nothing asked for is null', () => {
    expect(parseSmtp('smtp://mail.example.org')).toEqual({ host: 'mail.example.org', port: 25, secure: false });
    expect(parseSmtp('smtps://mail.example.org')).toEqual({ host: 'mail.example.org', port: 465, secure: true });
    expect(parseSmtp('smtp://[::1]:2525')).toEqual({ host: '::1', port: 2525, secure: false });
    expect(parseNotify({})).toBeNull();
    const n = parseNotify({ mailTo: 'a@example.org, Bob <b@example.org>' });
    expect(n?.mailTo).toEqual(['a@example.org', 'Bob <b@example.org>']);
    expect(n?.mailFrom).toMatch(/^foldersync@.+/);
    expect(n?.on).toBe('errors');
    expect(n?.smtp).toEqual({ host: 'localhost', port: 25, secure: false });
  });

  it.each([
    [{ mailTo: 'a@example.org', smtp: 'http://x' }, /^--smtp "http:\/\/x": expected smtp:\/\//],
    [{ mailTo: 'a@example.org', smtp: 'smtp://ann:pw@x' }, /no credentials in the URL; set FOLDERSYNC_SMTP_USER/],
    [{ mailTo: 'not-an-address' }, /^--mail-to "not-an-address": not a mail address$/],
    [{ mailTo: 'a@example.org', mailFrom: 'a@example.org, b@example.org' }, /^--mail-from .*: expected one address$/],
    [{ notifyCmd: 'true', notifyOn: 'sometimes' }, /^--notify-on "sometimes": expected one of errors, changes, always$/],
    [{ notifyCmd: '  ' }, /^--notify-cmd: the command is empty$/],
  ])('rejects %j', (raw, message) => {
    expect(() => parseNotify(raw)).toThrow(UsageError);
    expect(() => parseNotify(raw)).toThrow(message);
  });
});

describe('runHook', () => {
  it('a command that hangs is killed at the bound, with what it started', async () => {
    const t = tempDir('fs-hook-');
    const pidFile = path.join(t, 'pid');
    const started = Date.now();
    const r = await runHook(`sleep 30 & echo $! > '${pidFile}'; wait`, summary(), 500);
    expect(r).toEqual({ ok: false, reason: 'killed after 0.5 s' });
    expect(Date.now() - started).toBeLessThan(5_000);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    // The background sleep went with the shell's process group.
    await expect.poll(() => {
      try {
        process.kill(pid, 0);
        return 'alive';
      } catch {
        return 'gone';
      }
    }, { timeout: 2_000 }).toBe('gone');
  });

  it('a command that does not read its stdin, or does not exist, is a result, never a throw', async () => {
    expect(await runHook('exit 0', summary(), 5_000)).toEqual({ ok: true });
    const missing = await runHook('no-such-command-here', summary(), 5_000);
    expect(missing.ok).toBe(false);
    expect(!missing.ok && missing.reason).toMatch(/^exit status 127: .*not found/);
  });
});

describe('Notifier', () => {
  it('a graceful close waits for a running command; a hard one kills it at once', async () => {
    const t = tempDir('fs-notifier-');
    const { log } = captured();
    const settings = { on: 'always', mailTo: [], mailFrom: 'fs@example.org', smtp: { host: '127.0.0.1', port: 25, secure: false } } as const;
    const done = path.join(t, 'done');
    const gentle = new Notifier({ ...settings, cmd: `sleep 0.3; touch '${done}'` }, JOB, { log });
    gentle.afterPass(report(), { changes: [], moreChanges: 0, errors: [], moreErrors: 0 });
    await gentle.close();
    expect(readFileSync(done, 'utf8')).toBe('');

    const hard = new Notifier({ ...settings, cmd: 'sleep 30' }, JOB, { log });
    hard.afterPass(report(), { changes: [], moreChanges: 0, errors: [], moreErrors: 0 });
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await hard.close(true);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe('the mail', () => {
  it('lists the first 1,000 changes and errors, then how many more; subject with job, outcome and counts', () => {
    const lines = new PassLines();
    for (let i = 0; i < 1_200; i++) lines.change(`copy f${i}`);
    lines.error('cannot read x: permission denied (EACCES)');
    const d = new Digest();
    d.add({ summary: summary({ outcome: 'errors', copy: 1_200, errors: 1 }) }, lines.take());
    const m = composeMail(JOB, d);
    expect(m.subject).toBe('foldersync photos: errors (1200 copied, 1 error)');
    expect(m.text).toContain('Changes (1200):\n  copy f0\n');
    expect(m.text).toContain('  copy f999\n  ... and 200 more\n');
    expect(m.text).not.toContain('copy f1000\n');
    expect(m.text).toContain('Errors (1):\n  cannot read x: permission denied (EACCES)\n');
    expect(m.text).toContain('"outcome":"errors"');
    expect(m.html).toContain('<h3>Changes (1200)</h3>');
  });

  it('three passes gathered into one mail after the first one, sent when the interval is over', async () => {
    const smtp = await startSmtp();
    const { log, lines } = captured();
    const n = new Notifier(
      { on: 'always', cmd: null, mailTo: ['ann@example.org'], mailFrom: 'fs@example.org', smtp: { host: '127.0.0.1', port: smtp.port, secure: false } },
      JOB,
      { log, mailIntervalMs: 2_500 },
    );
    try {
      const pass = (i: number): void => {
        const l = new PassLines();
        l.change(`copy file-${i}`);
        n.afterPass(report({ copy: 1 }), l.take());
      };
      pass(0);
      await smtp.waitFor(1);
      for (let i = 1; i <= 3; i++) pass(i);
      await new Promise((r) => setTimeout(r, 300));
      expect(smtp.received).toHaveLength(1);
      await smtp.waitFor(2, 10_000);
      const second = smtp.received[1]!.mail;
      expect(second.subject).toBe('foldersync photos: ok in 3 passes (3 copied)');
      for (let i = 1; i <= 3; i++) expect(second.text).toContain(`  copy file-${i}\n`);
      expect(second.text).not.toContain('file-0');
      // The server has the mail before the client hears its answer and logs it.
      await expect.poll(() => lines.filter((l) => String(l.msg).startsWith('report mailed')).length, { timeout: 5_000 }).toBe(2);
    } finally {
      await n.close();
      await smtp.close();
    }
    expect(smtp.received).toHaveLength(2);
  });

  it('a mail that fails is logged and goes out with the next one', async () => {
    const { log, lines } = captured();
    const port = await closedPort();
    const n = new Notifier({ on: 'always', cmd: null, mailTo: ['ann@example.org'], mailFrom: 'fs@example.org', smtp: { host: '127.0.0.1', port, secure: false } }, JOB, { log });
    // Nothing listens yet: the first report fails.
    n.afterPass(report({ outcome: 'errors', errors: 1 }), { changes: [], moreChanges: 0, errors: ['cannot copy a: no space left on device (ENOSPC)'], moreErrors: 0 });
    await expect.poll(() => lines.filter((l) => l.level === 50).length, { timeout: 10_000 }).toBe(1);
    expect(String(lines.find((l) => l.level === 50)?.msg)).toMatch(/^cannot send the report mail \(1 pass\) to ann@example.org through smtp:\/\/127.0.0.1:\d+: .*ECONNREFUSED.*; it goes out with the next one$/);
    const smtp = await startSmtp({ port });
    try {
      n.afterPass(report({ copy: 1 }), { changes: ['copy b'], moreChanges: 0, errors: [], moreErrors: 0 });
      await smtp.waitFor(1);
      const m = smtp.received[0]!.mail;
      expect(m.subject).toBe('foldersync photos: errors in 2 passes (1 copied, 1 error)');
      expect(m.text).toContain('cannot copy a: no space left on device (ENOSPC)');
      expect(m.text).toContain('  copy b\n');
    } finally {
      await n.close();
      await smtp.close();
    }
    expect(smtp.received).toHaveLength(1);
  });
});
