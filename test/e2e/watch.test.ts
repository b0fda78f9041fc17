import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, type Spawned, runCli, spawnCli } from '../helpers/cli.js';
import { cleanupTemps, mirrorDiff, tempDir, writeTree } from '../helpers/tree.js';

const running: Spawned[] = [];
afterEach(() => {
  for (const s of running.splice(0)) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  cleanupTemps();
});

type Line = Record<string, unknown> & { msg: string; level: number };

function logLines(logs: string): Line[] {
  const p = path.join(logs, 'foldersync.log');
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
}

/** Polls `cond` every 20 ms; rejects after `ms` naming what it waited for. Returns the time it took. */
async function until(cond: () => boolean, ms: number, what: string): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - t0;
}

const read = (p: string): string | null => (existsSync(p) ? readFileSync(p, 'utf8') : null);

describe('--watch', () => {
  it('mirrors new, changed and deleted source files without waiting for the interval, in passes scoped to the change', async () => {
    const home = tempDir('fs-watch-');
    const src = path.join(home, 'src');
    const dst = path.join(home, 'dst');
    const logs = path.join(home, 'logs');
    writeTree(src, { keep: 'k', sub: { old: 'o', deep: { x: '1' } }, other: { y: '2' } });
    const s = spawnCli(['-s', src, '-r', dst, '-i', '1h', '-l', logs, '--watch'], { home, stdin: 'pipe' });
    running.push(s);
    await s.waitFor(/watching the source for changes/, 15_000);
    await s.waitFor(/pass complete/, 15_000);
    expect(mirrorDiff(src, dst)).toEqual([]);
    // Tamper with the replica outside anything the watcher will report: only a full pass repairs it.
    unlinkSync(path.join(dst, 'other', 'y'));

    writeFileSync(path.join(src, 'sub', 'new'), 'brand new');
    await until(() => read(path.join(dst, 'sub', 'new')) === 'brand new', 5_000, 'a new file');
    writeFileSync(path.join(src, 'sub', 'old'), 'changed, and longer');
    await until(() => read(path.join(dst, 'sub', 'old')) === 'changed, and longer', 5_000, 'a changed file');
    unlinkSync(path.join(src, 'keep'));
    await until(() => !existsSync(path.join(dst, 'keep')), 5_000, 'a deleted file');
    mkdirSync(path.join(src, 'sub', 'deep', 'more', 'levels'), { recursive: true });
    writeFileSync(path.join(src, 'sub', 'deep', 'more', 'levels', 'z'), 'zz');
    await until(() => read(path.join(dst, 'sub', 'deep', 'more', 'levels', 'z')) === 'zz', 5_000, 'a file in new folders');

    s.child.stdin?.write('quit\n');
    expect(await s.exited(10_000)).toBe(0);
    const lines = logLines(logs);
    // No interval pass ran (1h): the first full pass, then nudged passes only.
    expect(lines.filter((l) => l.msg === 'pass complete').length).toBeGreaterThanOrEqual(5);
    expect(existsSync(path.join(dst, 'other', 'y'))).toBe(false);
    expect(mirrorDiff(src, dst)).toEqual(['missing in replica: other/y']);
    // The full pass (here --once; in the daemon, the interval pass) catches what the nudges did not look at.
    expect((await runCli(['-s', src, '-r', dst, '--once'], { home })).code).toBe(0);
    expect(mirrorDiff(src, dst)).toEqual([]);
  });

  it('a watched folder deleted and recreated is still watched', async () => {
    const home = tempDir('fs-watch-');
    const src = path.join(home, 'src');
    const dst = path.join(home, 'dst');
    writeTree(src, { d: { a: 'a' } });
    const s = spawnCli(['-s', src, '-r', dst, '-i', '1h', '--watch'], { home, stdin: 'pipe' });
    running.push(s);
    await s.waitFor(/watching the source for changes/, 15_000);
    await s.waitFor(/pass complete/, 15_000);
    rmSync(path.join(src, 'd'), { recursive: true });
    await until(() => !existsSync(path.join(dst, 'd')), 5_000, 'the deleted folder to go');
    mkdirSync(path.join(src, 'd'));
    await until(() => existsSync(path.join(dst, 'd')), 5_000, 'the recreated folder');
    // Give the watcher a moment to attach to the new folder, then write into it.
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(path.join(src, 'd', 'b'), 'inside the recreated folder');
    await until(() => read(path.join(dst, 'd', 'b')) === 'inside the recreated folder', 5_000, 'a file in the recreated folder');
    writeFileSync(path.join(src, 'd', 'b'), 'changed again');
    await until(() => read(path.join(dst, 'd', 'b')) === 'changed again', 5_000, 'a change in the recreated folder');
    s.child.stdin?.write('quit\n');
    expect(await s.exited(10_000)).toBe(0);
    expect(mirrorDiff(src, dst)).toEqual([]);
  });

  it('a watcher failure is a warning; interval passes go on', async (ctx) => {
    // Root reads everything: only an unprivileged process meets an unreadable folder.
    const root = process.getuid?.() === 0;
    const prefix = root ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
    if (root && spawnSync(prefix[0]!, [...prefix.slice(1), 'true']).status !== 0) ctx.skip();
    const home = tempDir('fs-watch-');
    chmodSync(home, 0o755);
    const src = path.join(home, 'src');
    const dst = path.join(home, 'dst');
    const logs = path.join(home, 'logs');
    writeTree(src, { open: { a: 'a' }, locked: { b: 'b' } });
    if (root) spawnSync('chown', ['-R', '65534:65534', home]);
    chmodSync(path.join(src, 'locked'), 0);
    const [cmd, ...pre] = [...prefix, process.execPath];
    const child = spawn(cmd!, [...pre, BIN, '-s', src, '-r', dst, '-i', '1', '-l', logs, '--watch'], {
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { ...process.env, TMPDIR: home, XDG_STATE_HOME: path.join(home, 'state'), HOME: home },
    });
    const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    try {
      await until(() => logLines(logs).some((l) => l.level === 40 && /^watch locked: .*EACCES/.test(l.msg)), 10_000, 'the watch warning');
      writeFileSync(path.join(src, 'open', 'new'), 'n');
      await until(() => read(path.join(dst, 'open', 'new')) === 'n', 5_000, 'a new file next to the failure');
      await until(() => logLines(logs).filter((l) => /^pass /.test(l.msg)).length >= 3, 10_000, 'more passes');
      child.stdin.write('quit\n');
      await until(() => child.exitCode !== null, 10_000, 'exit');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(await exit).toBe(0);
    // One warning per kind of failure, however many passes and events follow.
    expect(logLines(logs).filter((l) => l.level === 40 && l.msg.startsWith('watch')).length).toBe(1);
  });
});
