import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli } from '../helpers/cli.js';
import { cleanupTemps, tempDir } from '../helpers/tree.js';

afterAll(cleanupTemps);

/** Enough small files that a first copy with one job runs well past the 2 s a progress line waits for. */
const FOLDERS = 50;
const PER_FOLDER = 300;
const CLEAR = '\r\x1b[K';

const hasScript = spawnSync('script', ['--version']).status === 0;

let src = '';
let home = '';
let t = '';

beforeAll(() => {
  t = tempDir('fs-progress-');
  src = path.join(t, 'src');
  home = path.join(t, 'home');
  mkdirSync(home);
  for (let d = 0; d < FOLDERS; d++) {
    mkdirSync(path.join(src, `d${d}`), { recursive: true });
    for (let i = 0; i < PER_FOLDER; i++) writeFileSync(path.join(src, `d${d}`, `f${i}`), 'x'.repeat(i % 200));
  }
});

/** Runs the CLI with a pseudo-terminal as stdin, stdout and stderr (util-linux `script`); everything it printed. */
function underTerminal(args: string[], ms = 120_000): Promise<{ code: number | null; out: string }> {
  const cmd = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ');
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TMPDIR: home, XDG_STATE_HOME: path.join(home, 'state'), HOME: home },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no exit within ${ms} ms:\n${out.slice(-2000)}`));
    }, ms);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** The duration the log file's `pass complete` line reports. */
function passMs(logs: string): number {
  const lines = readFileSync(path.join(logs, 'foldersync.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  return Number(lines.find((l) => l.msg === 'pass complete')?.durationMs);
}

describe('progress line', () => {
  it('on a terminal: after 2 s, one updating line, erased before every other line, never in the log', async (ctx) => {
    if (!hasScript) {
      if (process.env.CI === 'true') throw new Error('util-linux `script` is missing on CI (.ci/run installs bsdutils)');
      ctx.skip('util-linux `script` is not installed: no pseudo-terminal to test under');
      return;
    }
    const logs = path.join(t, 'logs-tty');
    const r = await underTerminal(['-s', src, '-r', path.join(t, 'dst-tty'), '--once', '--jobs', '1', '-l', logs]);
    expect(r.code).toBe(0);
    expect(passMs(logs)).toBeGreaterThan(2_500);
    const drawn = r.out.match(/\r\x1b\[K(copying|listing|hashing): [^\r\n]*/g) ?? [];
    expect(drawn.length).toBeGreaterThan(3);
    expect(drawn.some((d) => /copying: [\d,]+\/[\d,]+ files, [\d.]+ k?B\/[\d.]+ k?B, [\d.]+ k?B\/s/.test(d))).toBe(true);
    // Every printed line is whole: a progress text never runs into a log line.
    for (const line of r.out.split('\n')) {
      const visible = line.split('\r').at(-1)!.replace('\x1b[K', '');
      expect(visible).not.toMatch(/(copying|listing|hashing): .*(copy |pass complete)/);
    }
    expect(r.out).toMatch(/(\n|\x1b\[K)pass complete: 15000 copied/);
    // The line is erased at the end: the last thing printed is the summary, not a progress text.
    expect(r.out.trimEnd().split('\n').at(-1)).toMatch(/pass complete/);
    const log = readFileSync(path.join(logs, 'foldersync.log'), 'utf8');
    expect(log).not.toMatch(/copying:|listing:|\x1b/);
  }, 150_000);

  it('not with --no-progress, and not on a pass shorter than 2 s', async (ctx) => {
    if (!hasScript) {
      if (process.env.CI === 'true') throw new Error('util-linux `script` is missing on CI (.ci/run installs bsdutils)');
      ctx.skip('util-linux `script` is not installed: no pseudo-terminal to test under');
      return;
    }
    const logs = path.join(t, 'logs-off');
    const dst = path.join(t, 'dst-off');
    const r = await underTerminal(['-s', src, '-r', dst, '--once', '--jobs', '1', '-l', logs, '--no-progress']);
    expect(r.code).toBe(0);
    expect(passMs(logs)).toBeGreaterThan(2_500);
    expect(r.out).not.toContain(CLEAR);
    expect(r.out).toMatch(/pass complete: 15000 copied/);
    const quick = await underTerminal(['-s', src, '-r', dst, '--once']);
    expect(quick.code).toBe(0);
    expect(quick.out).toMatch(/pass complete: no changes/);
    expect(quick.out).not.toContain(CLEAR);
  }, 150_000);

  it('not when stderr is not a terminal', async () => {
    const logs = path.join(t, 'logs-pipe');
    const r = await runCli(['-s', src, '-r', path.join(t, 'dst-pipe'), '--once', '--jobs', '1', '-l', logs], { home, timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    expect(passMs(logs)).toBeGreaterThan(2_500);
    expect(r.stderr).not.toContain('\x1b');
    expect(r.stdout).not.toContain('\x1b');
    expect(r.stdout).toMatch(/pass complete: 15000 copied/);
  }, 150_000);
});
