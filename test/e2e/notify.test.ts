import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../helpers/cli.js';
import { type TestSmtp, closedPort, selfSignedCert, startSmtp } from '../helpers/smtp.js';
import { cleanupTemps, tempDir, writeTree } from '../helpers/tree.js';

afterAll(cleanupTemps);

/** A source with two files, a replica path, a log folder and a home for state and lock files. */
function fixture(): { t: string; src: string; dst: string; logs: string; home: string } {
  const t = tempDir('fs-notify-');
  chmodSync(t, 0o755);
  const src = path.join(t, 'src');
  writeTree(src, { 'a.txt': 'a', d: { 'b.txt': 'bb' } });
  const home = path.join(t, 'home');
  mkdirSync(home);
  return { t, src, dst: path.join(t, 'photos'), logs: path.join(t, 'logs'), home };
}

/** The JSON lines of a log file. */
function logLines(logs: string): Record<string, unknown>[] {
  return readFileSync(path.join(logs, 'foldersync.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Runs `fn` with a server, closing it also when the test fails. */
async function withSmtp(opts: Parameters<typeof startSmtp>[0], fn: (s: TestSmtp) => Promise<void>): Promise<void> {
  const s = await startSmtp(opts);
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

describe('--mail-to', () => {
  it('mails one report per pass: recipients, sender, subject with job, outcome and counts, text and HTML bodies', async () => {
    const f = fixture();
    await withSmtp({}, async (smtp) => {
      const r = await runCli(
        ['-s', f.src, '-r', f.dst, '--once', '--notify-on', 'changes', '--mail-to', 'ann@example.org, bob@example.org', '--mail-from', 'backup@example.org', '--smtp', `smtp://127.0.0.1:${smtp.port}`, '-l', f.logs],
        { home: f.home },
      );
      expect(r.code, r.stderr).toBe(0);
      expect(smtp.received).toHaveLength(1);
      const m = smtp.received[0]!;
      expect(m.to).toEqual(['ann@example.org', 'bob@example.org']);
      expect(m.from).toBe('backup@example.org');
      expect(m.secure).toBe(false);
      expect(m.mail.subject).toBe('foldersync photos: ok (2 copied, 1 folders created)');
      const text = m.mail.text ?? '';
      expect(text).toContain(`Job photos: ${f.src} -> ${f.dst}`);
      expect(text).toContain('  copy a.txt\n');
      expect(text).toContain('  copy d/b.txt\n');
      expect(text).toContain('  mkdir d\n');
      expect(text).toMatch(/"msg"|"outcome":"ok"/);
      expect(m.mail.html).toContain('copy d/b.txt');
      expect(logLines(f.logs).some((l) => l.msg === 'report mailed to ann@example.org, bob@example.org')).toBe(true);

      // --notify-on changes: a pass with nothing to do sends nothing.
      const again = await runCli(['-s', f.src, '-r', f.dst, '--once', '--notify-on', 'changes', '--mail-to', 'ann@example.org', '--smtp', `smtp://127.0.0.1:${smtp.port}`], { home: f.home });
      expect(again.code).toBe(0);
      expect(smtp.received).toHaveLength(1);
    });
  });

  it('--notify-on errors (the default) mails a pass with errors, listing them, and a refused pass', async () => {
    const f = fixture();
    // A name that is not valid UTF-8 cannot be mirrored: one error, exit 1.
    writeFileSync(Buffer.concat([Buffer.from(`${f.src}/bad-`), Buffer.from([0xff])]), 'x');
    await withSmtp({}, async (smtp) => {
      const args = ['--once', '--mail-to', 'ann@example.org', '--smtp', `smtp://127.0.0.1:${smtp.port}`];
      const r = await runCli(['-s', f.src, '-r', f.dst, ...args], { home: f.home });
      expect(r.code).toBe(1);
      expect(smtp.received).toHaveLength(1);
      const m = smtp.received[0]!.mail;
      expect(m.subject).toBe('foldersync photos: errors (2 copied, 1 folders created, 1 error)');
      expect(m.text).toMatch(/\nErrors \(1\):\n {2}cannot read the name of bad-\uFFFD: it is not valid UTF-8; rename it\n/);

      // An empty source over the replica is refused: mailed too, with the refusal.
      const empty = path.join(f.t, 'empty');
      mkdirSync(empty);
      const refused = await runCli(['-s', empty, '-r', f.dst, '--state', path.join(f.t, 'rec'), ...args], { home: f.home });
      expect(refused.code).toBe(3);
      expect(smtp.received).toHaveLength(2);
      const m2 = smtp.received[1]!.mail;
      expect(m2.subject).toBe('foldersync photos: refused (no changes)');
      expect(m2.text).toMatch(/\nErrors \(1\):\n {2}refused: .*empty/);
    });
  });

  it('STARTTLS when offered, with AUTH from FOLDERSYNC_SMTP_USER/PASSWORD; the password is never shown', async () => {
    const f = fixture();
    const tls = selfSignedCert(f.t);
    await withSmtp({ tls, auth: { user: 'ann', pass: 's3cret-pw' } }, async (smtp) => {
      const env = { NODE_EXTRA_CA_CERTS: tls.certFile, FOLDERSYNC_SMTP_USER: 'ann', FOLDERSYNC_SMTP_PASSWORD: 's3cret-pw' };
      const r = await runCli(['-s', f.src, '-r', f.dst, '--once', '--notify-on', 'always', '--mail-to', 'ann@example.org', '--smtp', `smtp://localhost:${smtp.port}`, '-l', f.logs, '--log-level', 'debug'], { home: f.home, env });
      expect(r.code, r.stderr).toBe(0);
      expect(smtp.received).toHaveLength(1);
      expect(smtp.received[0]!.secure).toBe(true);
      expect(smtp.received[0]!.user).toBe('ann');

      // A wrong password: the mail is not sent, the error is logged, the pass still succeeds.
      const bad = await runCli(['-s', f.src, '-r', f.dst, '--once', '--notify-on', 'always', '--mail-to', 'ann@example.org', '--smtp', `smtp://localhost:${smtp.port}`, '-l', f.logs], { home: f.home, env: { ...env, FOLDERSYNC_SMTP_PASSWORD: 'wrong-pw' } });
      expect(bad.code).toBe(0);
      expect(bad.stderr).toMatch(/^error: cannot send the report mail \(1 pass\) to ann@example.org through smtp:\/\/localhost:\d+: .*Invalid username or password/m);
      expect(smtp.received).toHaveLength(1);
      const everything = [r.stdout, r.stderr, bad.stdout, bad.stderr, readFileSync(path.join(f.logs, 'foldersync.log'), 'utf8')].join('\n');
      expect(everything).not.toContain('s3cret-pw');
      expect(everything).not.toContain('wrong-pw');
    });
  });

  it('smtps:// speaks TLS from the start', async () => {
    const f = fixture();
    const tls = selfSignedCert(f.t);
    await withSmtp({ tls, secure: true }, async (smtp) => {
      const r = await runCli(['-s', f.src, '-r', f.dst, '--once', '--notify-on', 'always', '--mail-to', 'ann@example.org', '--smtp', `smtps://127.0.0.1:${smtp.port}`], { home: f.home, env: { NODE_EXTRA_CA_CERTS: tls.certFile } });
      expect(r.code, r.stderr).toBe(0);
      expect(smtp.received).toHaveLength(1);
      expect(smtp.received[0]!.secure).toBe(true);
    });
  });

  it('a mail server that is down: the pass still succeeds, the error is logged', async () => {
    const f = fixture();
    const port = await closedPort();
    const r = await runCli(['-s', f.src, '-r', f.dst, '--once', '--notify-on', 'always', '--mail-to', 'ann@example.org', '--smtp', `smtp://127.0.0.1:${port}`, '-l', f.logs], { home: f.home });
    expect(r.code).toBe(0);
    expect(existsSync(path.join(f.dst, 'd/b.txt'))).toBe(true);
    const errors = logLines(f.logs).filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(String(errors[0]!.msg)).toMatch(/^cannot send the report mail .*ECONNREFUSED/);
    expect(logLines(f.logs).find((l) => l.msg === 'pass complete')?.outcome).toBe('ok');
  });

  it('a daemon mails at most once per 15 minutes: the passes after the first mail go out together (at the latest when it stops)', async () => {
    const f = fixture();
    await withSmtp({}, async (smtp) => {
      const d = spawnCli(['-s', f.src, '-r', f.dst, '-i', '1', '--notify-on', 'always', '--mail-to', 'ann@example.org', '--smtp', `smtp://127.0.0.1:${smtp.port}`, '-l', f.logs], { home: f.home, stdin: 'pipe' });
      try {
        await smtp.waitFor(1);
        // More passes, a second apart; three of them copy a new file (waited for until its pass ended).
        for (let i = 0; i < 3; i++) {
          writeFileSync(path.join(f.src, `new-${i}.txt`), `${i}`);
          await d.waitFor(new RegExp(`^copy new-${i}\\.txt\\n(?:.*\\n)*?pass complete`, 'm'), 10_000);
        }
        d.child.stdin!.write('quit\n');
        expect(await d.exited(30_000)).toBe(0);
      } finally {
        d.child.kill('SIGKILL');
      }
      const passes = logLines(f.logs).filter((l) => l.msg === 'pass complete').length;
      expect(passes).toBeGreaterThanOrEqual(4);
      expect(smtp.received).toHaveLength(2);
      expect(smtp.received[0]!.mail.subject).toBe('foldersync photos: ok (2 copied, 1 folders created)');
      const second = smtp.received[1]!.mail;
      expect(second.subject).toMatch(new RegExp(`^foldersync photos: ok in ${passes - 1} passes \\(3 copied\\)$`));
      for (let i = 0; i < 3; i++) expect(second.text).toContain(`  copy new-${i}.txt\n`);
    });
  });
});

describe('--notify-cmd', () => {
  it('runs with the summary on stdin and FOLDERSYNC_* in the environment; only for passes --notify-on selects', async () => {
    const f = fixture();
    const out = path.join(f.t, 'hook');
    mkdirSync(out);
    const cmd = `cat > '${out}/stdin.json'; env | grep '^FOLDERSYNC_' | sort > '${out}/env.txt'`;
    // The default (errors): a clean pass runs nothing.
    const quiet = await runCli(['-s', f.src, '-r', f.dst, '--once', '--notify-cmd', cmd], { home: f.home });
    expect(quiet.code).toBe(0);
    expect(existsSync(path.join(out, 'stdin.json'))).toBe(false);

    writeFileSync(path.join(f.src, 'c.txt'), 'ccc');
    const r = await runCli(['-s', f.src, '-r', f.dst, '--once', '--notify-on', 'changes', '--notify-cmd', cmd], { home: f.home });
    expect(r.code, r.stderr).toBe(0);
    const lines = readFileSync(path.join(out, 'stdin.json'), 'utf8').split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    const summary = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(summary).toMatchObject({ job: 'photos', source: f.src, replica: f.dst, outcome: 'ok', copy: 1, errors: 0, delete: 0, dryRun: false });
    expect(typeof summary.durationMs).toBe('number');
    expect(readFileSync(path.join(out, 'env.txt'), 'utf8')).toBe(
      [`FOLDERSYNC_CHANGES=1`, `FOLDERSYNC_ERRORS=0`, `FOLDERSYNC_JOB=photos`, `FOLDERSYNC_OUTCOME=ok`, `FOLDERSYNC_REPLICA=${f.dst}`, `FOLDERSYNC_SOURCE=${f.src}`, ''].join('\n'),
    );
  });

  it('a refused pass runs it under the default --notify-on errors', async () => {
    const f = fixture();
    const out = path.join(f.t, 'refused.txt');
    expect((await runCli(['-s', f.src, '-r', f.dst, '--once'], { home: f.home })).code).toBe(0);
    const empty = path.join(f.t, 'empty');
    mkdirSync(empty);
    const r = await runCli(['-s', empty, '-r', f.dst, '--once', '--state', path.join(f.t, 'rec'), '--notify-cmd', `echo "$FOLDERSYNC_OUTCOME" > '${out}'`], { home: f.home });
    expect(r.code).toBe(3);
    expect(readFileSync(out, 'utf8')).toBe('refused\n');
  });

  it('a failing command is logged and does not change the outcome', async () => {
    const f = fixture();
    const r = await runCli(['-s', f.src, '-r', f.dst, '--once', '--notify-on', 'always', '--notify-cmd', 'echo "webhook said no" >&2; exit 7', '-l', f.logs], { home: f.home });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('error: the notify command failed: exit status 7: webhook said no\n');
    expect(logLines(f.logs).find((l) => l.op === 'notify-cmd')?.err).toBe('exit status 7: webhook said no');
  });

  it('runs for every job of a config file, set in its defaults, with the job in its summary and environment', async () => {
    const f = fixture();
    const src2 = path.join(f.t, 'src2');
    writeTree(src2, { 'n.txt': 'n' });
    const out = path.join(f.t, 'hooks');
    mkdirSync(out);
    const config = path.join(f.t, 'jobs.yaml');
    writeFileSync(
      config,
      [
        'defaults:',
        '  notify-on: changes',
        `  notify-cmd: 'cat > "${out}/$FOLDERSYNC_JOB.json"'`,
        'jobs:',
        '  photos:',
        `    source: ${f.src}`,
        `    replica: ${f.dst}`,
        '  notes:',
        `    source: ${src2}`,
        `    replica: ${path.join(f.t, 'notes-copy')}`,
        '',
      ].join('\n'),
    );
    const r = await runCli(['--config', config, '--once'], { home: f.home });
    expect(r.code, r.stderr).toBe(0);
    const photos = JSON.parse(readFileSync(path.join(out, 'photos.json'), 'utf8')) as Record<string, unknown>;
    const notes = JSON.parse(readFileSync(path.join(out, 'notes.json'), 'utf8')) as Record<string, unknown>;
    expect(photos).toMatchObject({ job: 'photos', source: f.src, replica: f.dst, outcome: 'ok', copy: 2 });
    expect(notes).toMatchObject({ job: 'notes', source: src2, outcome: 'ok', copy: 1 });
  });
});
