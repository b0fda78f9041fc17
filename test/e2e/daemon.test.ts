import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, readdirSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lockPath } from '../../src/lock.js';
import { BIN, type Spawned, runCli, spawnCli } from '../helpers/cli.js';
import { cleanupTemps, mirrorDiff, tempDir, writeTree } from '../helpers/tree.js';

const running: Spawned[] = [];
afterEach(() => {
  for (const s of running.splice(0)) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  cleanupTemps();
});

/** A temp home (state, lock, TMPDIR) with a source tree, a replica path and a log folder. */
function setup(spec: Parameters<typeof writeTree>[1] = { a: 'x', sub: { b: 'y' } }) {
  const home = tempDir('fs-daemon-');
  const src = path.join(home, 'src');
  const dst = path.join(home, 'dst');
  const logs = path.join(home, 'logs');
  writeTree(src, spec);
  return { home, src, dst, logs };
}

/** Starts the daemon with stdin as a pipe (so the test can type into it). */
function daemon(t: ReturnType<typeof setup>, extra: string[] = [], interval = '1h'): Spawned {
  const s = spawnCli(['-s', t.src, '-r', t.dst, '-i', interval, '-l', t.logs, ...extra], { home: t.home, stdin: 'pipe' });
  running.push(s);
  return s;
}

type Line = Record<string, unknown> & { msg: string; time: number };

/** The JSON lines of foldersync.log (or another file in the log folder). */
function logLines(logs: string, file = 'foldersync.log'): Line[] {
  const p = path.join(logs, file);
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
}

const passLines = (lines: Line[]): Line[] => lines.filter((l) => l.msg === 'pass complete');

/** Polls `cond` every 20 ms; rejects after `ms` naming what it waited for. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const tempFiles = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((n) => /\.foldersync-[^/]*\.tmp$/.test(n)) : []);

describe('daemon: stopping', () => {
  it('quit during a pass lets the pass complete, then exits 0', async () => {
    // 1000 small files copied one at a time: a pass long enough to type into.
    const spec: Record<string, Record<string, string>> = {};
    for (let d = 0; d < 10; d++) {
      spec[`d${d}`] = {};
      for (let f = 0; f < 100; f++) spec[`d${d}`]![`f${f}`] = `file ${d}/${f}\n`.repeat(20);
    }
    const t = setup(spec);
    const s = daemon(t, ['--jobs', '1']);
    await s.waitFor(/^copy /m, 15_000);
    s.child.stdin?.write('quit\n');
    expect(await s.exited(30_000)).toBe(0);
    const lines = logLines(t.logs);
    const stopping = lines.findIndex((l) => l.msg === 'stopping (quit)');
    const complete = lines.findIndex((l) => l.msg === 'pass complete');
    expect(stopping).toBeGreaterThan(0);
    expect(complete).toBeGreaterThan(stopping); // quit arrived mid-pass, and the pass still finished
    expect(lines[complete]).toMatchObject({ copy: 1000, errors: 0 });
    expect(passLines(lines)).toHaveLength(1);
    expect(mirrorDiff(t.src, t.dst)).toEqual([]);
    expect(s.stderr()).not.toMatch(/type quit to stop/); // not a TTY: no hint
  });

  it('quit between passes exits within 1 s; exit, q, " QUIT " and one SIGINT work too', async () => {
    const words = ['quit', 'exit', 'q', ' QUIT ', null] as const;
    await Promise.all(
      words.map(async (word) => {
        const t = setup();
        const s = daemon(t);
        await s.waitFor(/pass complete/, 15_000);
        const t0 = Date.now();
        if (word === null) s.child.kill('SIGINT');
        else s.child.stdin?.write(`${word}\n`);
        expect(await s.exited(10_000)).toBe(0);
        const ms = Date.now() - t0;
        expect(ms, `${word ?? 'SIGINT'} took ${ms} ms`).toBeLessThan(1000);
        expect(mirrorDiff(t.src, t.dst)).toEqual([]);
        expect(s.stdout()).toMatch(word === null ? /stopping \(SIGINT\)/ : /stopped \(/);
      }),
    );
  });

  it('end of stdin does not stop it; passes start one interval apart and never overlap; SIGTERM exits 0', async () => {
    const t = setup();
    const s = daemon(t, [], '1');
    s.child.stdin?.end();
    await until(() => passLines(logLines(t.logs)).length >= 4, 15_000, 'four passes');
    expect(s.child.exitCode).toBeNull();
    writeFileSync(path.join(t.src, 'late'), 'still mirroring after EOF');
    await until(() => existsSync(path.join(t.dst, 'late')), 5_000, 'a pass after EOF to copy a new file');
    s.child.kill('SIGTERM');
    expect(await s.exited(10_000)).toBe(0);
    expect(s.stdout()).toMatch(/stopped \(SIGTERM\)/);

    // Each `pass complete` line is logged at the pass's end: start = time - durationMs.
    const passes = passLines(logLines(t.logs)).map((l) => ({ start: l.time - Number(l.durationMs), end: l.time }));
    for (let i = 1; i < passes.length; i++) {
      const gap = passes[i]!.start - passes[i - 1]!.start;
      expect(gap, `gap ${i}`).toBeGreaterThanOrEqual(950);
      expect(gap, `gap ${i}`).toBeLessThan(1600);
      expect(passes[i]!.start).toBeGreaterThanOrEqual(passes[i - 1]!.end - 1);
    }
    expect(mirrorDiff(t.src, t.dst)).toEqual([]);
  });

  it('a second SIGINT aborts the pass at once: exit 130, no temp file left, the next pass completes the mirror', async () => {
    // Sparse 64 MB files cost nothing to create but take real time to copy, one at a time.
    const t = setup({});
    const n = 4;
    const size = 64 << 20;
    for (let i = 0; i < n; i++) {
      const fd = openSync(path.join(t.src, `big${i}`), 'w');
      ftruncateSync(fd, size);
      closeSync(fd);
    }
    const s = daemon(t, ['--jobs', '1']);
    await until(() => tempFiles(t.dst).length > 0, 15_000, 'a copy in flight');
    s.child.kill('SIGINT');
    await s.waitFor(/stopping \(SIGINT\)/, 5_000);
    const sentAt = Date.now();
    s.child.kill('SIGINT');
    // The process can only end once the kernel returns from the copy it is in; the pass itself ends at once.
    expect(await s.exited(30_000)).toBe(130);
    expect(tempFiles(t.dst)).toEqual([]);
    const lines = logLines(t.logs);
    const aborted = lines.find((l) => l.msg === 'pass aborted');
    expect(aborted).toMatchObject({ outcome: 'aborted' });
    expect(aborted!.time - sentAt).toBeLessThan(1000);
    expect(lines.some((l) => l.msg === 'pass complete')).toBe(false);
    // Nothing torn: whatever reached the replica is complete.
    const done = readdirSync(t.dst);
    expect(done.length).toBeLessThan(n);
    for (const f of done) expect(statSync(path.join(t.dst, f)).size).toBe(size);

    const again = await runCli(['-s', t.src, '-r', t.dst, '--once'], { home: t.home, timeoutMs: 60_000 });
    expect(again.code).toBe(0);
    expect(again.stdout.match(/^copy /gm) ?? []).toHaveLength(n - done.length);
    expect(mirrorDiff(t.src, t.dst)).toEqual([]);
  });

  it('a TTY user gets a one-line hint', async (ctx) => {
    if (spawnSync('script', ['--version']).status !== 0) ctx.skip(); // util-linux `script` gives the CLI a terminal
    const t = setup();
    const cmd = [process.execPath, BIN, '-s', t.src, '-r', t.dst, '-i', '1h'].map((a) => `'${a}'`).join(' ');
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: t.home, XDG_STATE_HOME: path.join(t.home, 'state'), HOME: t.home } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    try {
      await until(() => out.includes('pass complete'), 15_000, 'the first pass');
      child.stdin.write('quit\n');
      await until(() => child.exitCode !== null, 10_000, 'exit');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(await exit).toBe(0);
    expect(out.match(/type quit to stop/g)).toHaveLength(1);
  });
});

describe('daemon: log file', () => {
  it('SIGHUP reopens foldersync.log, so a rotated log is followed by a fresh one', async () => {
    const t = setup();
    const s = daemon(t, [], '1');
    await until(() => passLines(logLines(t.logs)).length >= 1, 15_000, 'the first pass in the log');
    renameSync(path.join(t.logs, 'foldersync.log'), path.join(t.logs, 'foldersync.log.1'));
    s.child.kill('SIGHUP');
    writeFileSync(path.join(t.src, 'after-rotation'), 'z');
    await until(() => passLines(logLines(t.logs)).length >= 1, 10_000, 'a pass in the new log');
    s.child.stdin?.write('quit\n');
    expect(await s.exited(10_000)).toBe(0);
    const fresh = logLines(t.logs);
    const old = logLines(t.logs, 'foldersync.log.1');
    expect(passLines(old).length).toBeGreaterThanOrEqual(1);
    expect(passLines(fresh).length).toBeGreaterThanOrEqual(1);
    expect(fresh.some((l) => l.action === 'copy' && l.path === 'after-rotation')).toBe(true);
    expect(old.some((l) => l.path === 'after-rotation')).toBe(false);
    expect(fresh.at(-1)?.msg).toMatch(/^stopped/);
    expect(existsSync(path.join(t.dst, 'after-rotation'))).toBe(true);
  });
});

describe('daemon: lock', () => {
  it('a second instance on the same replica exits 4 at once naming the first one; a dry run needs no lock', async () => {
    const t = setup();
    const first = daemon(t);
    await first.waitFor(/pass complete/, 15_000);
    const t0 = Date.now();
    const second = await runCli(['-s', t.src, '-r', t.dst, '--once'], { home: t.home });
    expect(second.code).toBe(4);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(second.stderr).toContain(`pid ${first.child.pid}`);
    expect(second.stderr.trim().split('\n')).toHaveLength(1);
    // Another source into the same replica is locked out too: the lock is per replica.
    const other = path.join(t.home, 'other');
    mkdirSync(other);
    expect((await runCli(['-s', other, '-r', t.dst, '-i', '1h'], { home: t.home })).code).toBe(4);
    const dry = await runCli(['-s', t.src, '-r', t.dst, '--once', '--dry-run'], { home: t.home });
    expect(dry.code).toBe(0);
    first.child.stdin?.write('quit\n');
    expect(await first.exited()).toBe(0);
    expect(existsSync(path.join(t.home, path.basename(lockPath(realpathSync(t.dst)))))).toBe(false);
  });

  it('a lock left by a dead process, or by a reused pid, is taken over', async () => {
    const t = setup();
    const lock = path.join(t.home, path.basename(lockPath(path.join(realpathSync(t.home), 'dst'))));
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(lock, `${dead} 12345\n`);
    const r = await runCli(['-s', t.src, '-r', t.dst, '--once'], { home: t.home });
    expect(r.code).toBe(0);
    expect(mirrorDiff(t.src, t.dst)).toEqual([]);
    expect(existsSync(lock)).toBe(false);
    // A live pid whose start time does not match: the pid was reused by an unrelated process.
    writeFileSync(lock, `${process.pid} 1\n`);
    writeFileSync(path.join(t.src, 'more'), 'm');
    const r2 = await runCli(['-s', t.src, '-r', t.dst, '--once'], { home: t.home });
    expect(r2.code).toBe(0);
    expect(existsSync(path.join(t.dst, 'more'))).toBe(true);
  });
});
