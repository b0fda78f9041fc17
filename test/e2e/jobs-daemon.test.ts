import { chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Spawned, runCli, spawnCli } from '../helpers/cli.js';
import { NOBODY, chattrWorks, isRoot } from '../helpers/privilege.js';
import { cleanupTemps, mirrorDiff, tempDir, writeTree } from '../helpers/tree.js';
import { spawnSync } from 'node:child_process';

const running: Spawned[] = [];
afterEach(() => {
  for (const s of running.splice(0)) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  cleanupTemps();
});

type Line = Record<string, unknown> & { msg: string; time: number };

/** A temp home with sources a, b, c, d and a config file of jobs a, b, c (b every second). */
function setup(extra: string[] = []) {
  const home = tempDir('fs-jobs-daemon-');
  writeTree(home, { a: { x: 'a' }, b: { y: 'b' }, c: { z: 'c' }, d: { w: 'd' } });
  const file = path.join(home, 'jobs.yaml');
  const config = (jobs: string[]): void =>
    writeFileSync(file, ['defaults:', '  interval: 1h', '  log-dir: logs', ...extra, 'jobs:', ...jobs].join('\n'));
  config(['  a: {source: a, replica: ra}', '  b: {source: b, replica: rb, interval: 1s}', '  c: {source: c, replica: rc}']);
  const at = (p: string): string => path.join(home, p);
  return { home, file, config, at };
}

function logLines(t: ReturnType<typeof setup>): Line[] {
  const p = t.at('logs/foldersync.log');
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
}

const passes = (t: ReturnType<typeof setup>, job: string): Line[] => logLines(t).filter((l) => l.msg === 'pass complete' && l.job === job);

/** Polls `cond` every 20 ms; rejects after `ms` naming what it waited for. */
async function until(cond: () => boolean, ms: number, what: string | (() => string)): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function start(t: ReturnType<typeof setup>, args: string[] = [], stdin: 'pipe' | 'ignore' = 'pipe'): Spawned {
  const s = spawnCli(['--config', t.file, ...args], { home: t.home, stdin });
  running.push(s);
  return s;
}

/** Types a line and waits for the reply that matches `re` among stdout's new text. */
async function type(s: Spawned, line: string, re: RegExp): Promise<string> {
  const before = s.stdout().length;
  s.child.stdin?.write(`${line}\n`);
  const got = (): string => s.stdout().slice(before);
  await until(() => re.test(got()), 10_000, () => `${re} after "${line}"; stdout: ${got()}`);
  return got();
}

describe('a daemon of three jobs', () => {
  it('steered on stdin: status, sync within a second, pause/resume, add good and bad, remove, bad command, quit', async () => {
    const t = setup();
    const s = start(t);
    await until(() => ['a', 'b', 'c'].every((j) => passes(t, j).length >= 1), 15_000, 'a first pass of each job');
    for (const j of ['a', 'b', 'c']) expect(mirrorDiff(t.at(j), t.at(`r${j}`))).toEqual([]);

    const status = await type(s, 'STATUS', /^c .*\n/m);
    expect(status).toMatch(/^JOB +STATE +LAST PASS +OUTCOME +CHANGES +NEXT PASS$/m);
    expect(status).toMatch(/^a +(idle|running) +(now|\d+s ago) +ok +\d+ +in (59m|1h)$/m);
    expect(status).toMatch(/^c +(idle|running) +(now|\d+s ago) +ok +\d+ +in (59m|1h)$/m);
    const widths = status.split('\n').filter((l) => /^(JOB|a|b|c) /.test(l)).map((l) => l.indexOf(l.includes('STATE') ? 'STATE' : l.split(/ +/)[1]!));
    expect(new Set(widths).size).toBe(1); // the columns line up

    // sync: a pass of job a starts within a second, not an hour later.
    writeFileSync(t.at('a/new.txt'), 'new');
    const before = passes(t, 'a').length;
    const sent = Date.now();
    await type(s, 'sync a', /^pass started: a$/m);
    await until(() => passes(t, 'a').length > before, 5_000, 'the pass sync asked for');
    const p = passes(t, 'a').at(-1)!;
    expect(p.time - Number(p.durationMs) - sent).toBeLessThan(1_000);
    expect(readFileSync(t.at('ra/new.txt'), 'utf8')).toBe('new');

    // pause: b (every second) runs no more passes; resume: it does again.
    await until(() => passes(t, 'b').length >= 2, 5_000, 'b on its 1 s schedule');
    await type(s, 'pause b', /^paused: b$/m);
    await sleep(300); // a pass already running finishes
    const paused = passes(t, 'b').length;
    expect(await type(s, 'status', /^c .*\n/m)).toMatch(/^b +paused .* paused$/m);
    await sleep(2_500);
    expect(passes(t, 'b').length).toBe(paused);
    await type(s, 'resume b', /^resumed: b$/m);
    await until(() => passes(t, 'b').length > paused, 3_000, 'b running again after resume');

    // add: a good job starts at once; a bad one is one line and changes nothing.
    // Paths in `add` are the daemon's working folder's, as on its command line; `~` is the home folder.
    await type(s, `add d -s ~/d -r "${t.at('r d')}" -i 1h`, /^added d: /m);
    await until(() => existsSync(t.at('r d/w')), 5_000, 'the added job mirroring d');
    // Its pass's last console line comes after the copy: the replies below must not share the output with it.
    await until(() => s.stdout().includes('d: pass complete'), 5_000, "the added job's first pass to end");
    expect(await type(s, 'add e -s nope -r re', /^add e: .*\n/m)).toBe(`add e: --source "nope": no such file or directory (ENOENT)\n`);
    expect(await type(s, `add f -s ${t.at('d')} -r ${t.at('ra')}`, /^add f: .*\n/m)).toBe(`add f: --replica ${t.at('ra')} is also the replica of job "a"\n`);
    expect(await type(s, 'add d -s x -r x', /^add d: .*\n/m)).toBe('add d: there is already a job named d\n');
    expect(await type(s, `add g -s ${t.at('d')} -r ${t.at('rg')} --once`, /^add g: .*\n/m)).toBe('add g: --once is not an option of a job\n');
    expect(existsSync(t.at('re'))).toBe(false);

    // remove, and a bad command.
    await type(s, 'remove a', /^removed a$/m);
    expect(await type(s, 'frobnicate', /\n/)).toBe('unknown command "frobnicate" (type help for the list)\n');
    expect(await type(s, 'sync zz', /\n/)).toBe('no job named zz (jobs: b, c, d)\n');
    const after = await type(s, 'status', /^d .*\n/m);
    expect(after).not.toMatch(/^a /m);
    expect(after).toMatch(/^b +/m);
    expect(await type(s, 'help', /^quit.*\n/m)).toMatch(/^add NAME -s SRC -r DST/m);

    s.child.stdin?.write('quit\n');
    expect(await s.exited(15_000)).toBe(0);
    expect(logLines(t).some((l) => l.msg === 'stopped (quit)')).toBe(true);
  });

  it('steered with foldersync ctl over an owner-only socket, as under systemd (no stdin)', async () => {
    const t = setup();
    const status = path.join(t.home, 'status.json');
    const s = start(t, ['--status-file', status], 'ignore');
    await until(() => ['a', 'b', 'c'].every((j) => passes(t, j).length >= 1), 15_000, 'a first pass of each job');
    const ctl = (...args: string[]) => runCli(['ctl', '--config', t.file, ...args], { home: t.home, timeoutMs: 15_000 });

    const dir = path.join(t.home, 'run', 'foldersync');
    const socks = readdirSync(dir);
    expect(socks).toEqual([expect.stringMatching(/^jobs-[0-9a-f]{12}\.sock$/)]);
    expect(lstatSync(dir).mode & 0o777).toBe(0o700);
    expect(lstatSync(path.join(dir, socks[0]!)).mode & 0o777).toBe(0o600);

    const st = await ctl('status');
    expect(st.code).toBe(0);
    expect(st.stdout).toMatch(/^a +idle +.* ok +\d+ +in (59m|1h)$/m);
    // Without --config: the only daemon's socket.
    const bare = await runCli(['ctl', 'status'], { home: t.home });
    expect(bare.code).toBe(0);
    expect(bare.stdout).toMatch(/^JOB +STATE .*\na +idle .*\nb +\w+ .*\nc +idle .*\n$/);

    writeFileSync(t.at('c/more'), 'more');
    const before = passes(t, 'c').length;
    expect((await ctl('sync', 'c')).stdout).toBe('pass started: c\n');
    await until(() => passes(t, 'c').length > before, 5_000, 'the pass ctl sync asked for');
    expect(readFileSync(t.at('rc/more'), 'utf8')).toBe('more');

    expect((await ctl('pause')).stdout).toBe('paused: a, b, c\n');
    const paused = passes(t, 'b').length;
    await sleep(2_000);
    expect(passes(t, 'b').length).toBeLessThanOrEqual(paused + 1);
    expect((await ctl('resume', 'b')).stdout).toBe('resumed: b\n');

    const added = await ctl('add', 'd', '-s', t.at('d'), '-r', t.at('rd'));
    expect(added).toMatchObject({ code: 0, stdout: `added d: ${t.at('d')} -> ${t.at('rd')}\n` });
    const bad = await ctl('add', 'e', '-s', t.at('d'), '-r', t.at('re'), '-i', 'soon');
    expect(bad).toMatchObject({ code: 1, stdout: '' });
    expect(bad.stderr).toBe('add e: --interval "soon": expected ##d##h##m##s (e.g. 1h30m, 45s, 2d) or whole seconds\n');
    expect((await ctl('remove', 'a')).stdout).toBe('removed a\n');
    expect(await ctl('launch')).toMatchObject({ code: 1, stderr: 'unknown command "launch" (type help for the list)\n' });

    await until(() => existsSync(t.at('rd/w')), 5_000, 'the added job mirroring d');
    await until(() => (JSON.parse(readFileSync(status, 'utf8')) as { jobs: { name: string }[] }).jobs.map((j) => j.name).join() === 'b,c,d', 5_000, 'the status file to list b, c, d');
    const json = JSON.parse(readFileSync(status, 'utf8')) as { jobs: Record<string, unknown>[] };
    expect(json.jobs[1]).toMatchObject({ name: 'c', state: 'paused', nextPassAt: null, lastPass: { outcome: 'ok', copy: 1, errors: 0 } });

    expect((await ctl('quit')).code).toBe(0);
    expect(await s.exited(15_000)).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
    const gone = await ctl('status');
    expect(gone.code).toBe(2);
    expect(gone.stderr).toMatch(/^foldersync ctl: no foldersync daemon is running \(socket .*\)\n$/);
    const none = await runCli(['ctl', 'status'], { home: t.home });
    expect(none).toMatchObject({ code: 2, stderr: `foldersync ctl: no foldersync daemon is running (no control socket in ${dir})\n` });
  });

  it('SIGHUP re-reads the file: an added job starts, a removed one stops, an invalid file is refused and the old jobs go on', async () => {
    const t = setup();
    const status = path.join(t.home, 'status.json');
    const s = start(t, ['--status-file', status]);
    const names = (): string => (JSON.parse(readFileSync(status, 'utf8')) as { jobs: { name: string }[] }).jobs.map((j) => j.name).join();
    await until(() => ['a', 'b', 'c'].every((j) => passes(t, j).length >= 1), 15_000, 'a first pass of each job');
    t.config(['  b: {source: b, replica: rb, interval: 1s}', '  c: {source: c, replica: rc, interval: 2s}', '  d: {source: d, replica: rd}']);
    s.child.kill('SIGHUP');
    await until(() => names() === 'b,c,d', 5_000, 'the reloaded jobs in the status file');
    await until(() => existsSync(t.at('rd/w')), 5_000, 'the added job d mirroring');
    expect(logLines(t).find((l) => l.msg === 'job removed (no longer in the config file)')).toMatchObject({ job: 'a' });
    const aPasses = passes(t, 'a').length;
    // c changed (interval 2s): it restarted with it.
    await until(() => passes(t, 'c').length >= 3, 8_000, 'c on its new 2 s schedule');

    writeFileSync(t.file, 'jobs:\n  b: {source: b, replica: rb, colour: red}\n');
    s.child.kill('SIGHUP');
    await s.waitFor(/config reload refused, the jobs run on as before: .*jobs\.yaml:2: job "b", key "colour": unknown option/, 5_000);
    const bBefore = passes(t, 'b').length;
    await until(() => passes(t, 'b').length > bBefore, 3_000, 'b still running after the refused reload');
    expect(names()).toBe('b,c,d');
    expect(passes(t, 'a').length).toBe(aPasses);

    s.child.kill('SIGTERM');
    expect(await s.exited(15_000)).toBe(0);
  });

  it('a job whose replica another process holds is reported and retried; the others go on', async () => {
    const t = setup();
    // Another foldersync holds rb (a single-pair daemon).
    const other = spawnCli(['-s', t.at('d'), '-r', t.at('rb'), '-i', '1h'], { home: t.home, stdin: 'pipe' });
    running.push(other);
    await other.waitFor(/pass complete/, 15_000);
    const s = start(t);
    await until(() => passes(t, 'a').length >= 1 && passes(t, 'c').length >= 1, 15_000, 'jobs a and c');
    await s.waitFor(/^b: error: another foldersync \(pid \d+\) is already syncing into .*rb; trying again at the next pass$/m, 5_000);
    expect(await type(s, 'status', /^c .*\n/m)).toMatch(/^b +idle +never +not run: locked +- +(now|in 1s)$/m);
    expect(mirrorDiff(t.at('a'), t.at('ra'))).toEqual([]);
    expect(existsSync(t.at('rb/y'))).toBe(false);
    // Once the other one is gone, the next attempt (b runs every second) mirrors b.
    other.child.stdin?.write('quit\n');
    expect(await other.exited(15_000)).toBe(0);
    await until(() => passes(t, 'b').length >= 1, 5_000, 'b once the lock is free');
    expect(mirrorDiff(t.at('b'), t.at('rb'))).toEqual([]);
    s.child.stdin?.write('quit\n');
    expect(await s.exited(15_000)).toBe(0);
  });
});

describe('a single -s/-r daemon', () => {
  it('is one job named after its replica folder, with the same console and a Prometheus status file', async () => {
    const t = setup();
    const prom = path.join(t.home, 'foldersync.prom');
    const s = spawnCli(['-s', t.at('a'), '-r', t.at('backup'), '-i', '1h', '--status-file', prom], { home: t.home, stdin: 'pipe' });
    running.push(s);
    await s.waitFor(/pass complete/, 15_000);
    expect(await type(s, 'status', /^backup .*\n/m)).toMatch(/^backup +idle +(now|\d+s ago) +ok +1 +in (59m|1h)$/m);
    await until(() => existsSync(prom), 5_000, 'the status file');
    const text = readFileSync(prom, 'utf8');
    expect(text).toMatch(/^foldersync_last_success_timestamp_seconds\{job="backup"\} \d{10}(\.\d+)?$/m);
    expect(text).toMatch(/^foldersync_last_pass_changes\{job="backup",action="copy"\} 1$/m);
    // The log lines of the single job are as they always were (no "job" field).
    expect(s.stdout()).toMatch(/^copy x$/m);
    const ctl = await runCli(['ctl', 'sync'], { home: t.home });
    expect(ctl).toMatchObject({ code: 0, stdout: 'pass started: backup\n' });

    // A second daemon: ctl must be told which one.
    const second = spawnCli(['-s', t.at('b'), '-r', t.at('other'), '-i', '1h'], { home: t.home, stdin: 'pipe' });
    running.push(second);
    await second.waitFor(/pass complete/, 15_000);
    const dir = path.join(t.home, 'run', 'foldersync');
    const both = await runCli(['ctl', 'status'], { home: t.home });
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^foldersync ctl: several daemons are running \(backup-\w+\.sock, other-\w+\.sock in .*\); name one with --config FILE or --socket PATH\n$/);
    const sock = readdirSync(dir).find((n) => n.startsWith('other-'))!;
    const one = await runCli(['ctl', '--socket', path.join(dir, sock), 'status'], { home: t.home });
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/^other +idle /m);
    expect(one.stdout).not.toMatch(/^backup /m);
    second.child.stdin?.write('quit\n');
    s.child.stdin?.write('q\n');
    expect(await s.exited(15_000)).toBe(0);
    expect(await second.exited(15_000)).toBe(0);
  });
});

if (!isRoot) console.warn('jobs-daemon: not root, so no folder of another user can be made: the socket folder check is not run');
if (!chattrWorks) console.warn('jobs-daemon: chattr +i does not work here: the --once exit 1 case is not run');

describe('the control socket', () => {
  it.skipIf(!isRoot)('is not put into a socket folder that another user made; the jobs run anyway', async () => {
    const t = setup();
    const dir = path.join(t.home, 'run', 'foldersync');
    mkdirSync(dir, { recursive: true, mode: 0o777 });
    chownSync(dir, NOBODY, NOBODY);
    const s = spawnCli(['-s', t.at('a'), '-r', t.at('ra'), '-i', '1h'], { home: t.home, stdin: 'pipe' });
    running.push(s);
    await s.waitFor(/pass complete/, 15_000);
    expect(s.stderr()).toMatch(new RegExp(`^warning: no control socket, foldersync ctl cannot reach this daemon: ${dir} belongs to another user \\(uid ${NOBODY}\\)$`, 'm'));
    expect(readdirSync(dir)).toEqual([]);
    expect(mirrorDiff(t.at('a'), t.at('ra'))).toEqual([]);
    s.child.stdin?.write('quit\n');
    expect(await s.exited(15_000)).toBe(0);
  });
});

describe('--config --once', () => {
  it('one pass of each job; the exit status is the most severe (4 > 3 > 0)', async () => {
    const t = setup();
    const ok = await runCli(['--config', t.file, '--once'], { home: t.home });
    expect(ok.code, ok.stderr).toBe(0);
    for (const j of ['a', 'b', 'c']) expect(mirrorDiff(t.at(j), t.at(`r${j}`))).toEqual([]);
    // An empty source over a non-empty replica: c is refused (3), a and b succeed.
    spawnSync('rm', ['-rf', t.at('c/z')]);
    const refused = await runCli(['--config', t.file, '--once'], { home: t.home });
    expect(refused.code).toBe(3);
    expect(existsSync(t.at('rc/z'))).toBe(true);
    // ...and b's replica locked by another process as well: 4.
    const other = spawnCli(['-s', t.at('d'), '-r', t.at('rb'), '-i', '1h'], { home: t.home, stdin: 'pipe' });
    running.push(other);
    await other.waitFor(/pass complete/, 15_000);
    const locked = await runCli(['--config', t.file, '--once'], { home: t.home });
    expect(locked.code).toBe(4);
    expect(locked.stderr).toMatch(/^b: error: another foldersync \(pid \d+\) is already syncing into /m);
    other.child.stdin?.write('quit\n');
    expect(await other.exited(15_000)).toBe(0);
  });

  it.skipIf(!chattrWorks)('a job with failed entries and one that succeeded: exit 1', async () => {
    const t = setup();
    writeTree(t.at('a'), { sub: { s: 's' } });
    expect((await runCli(['--config', t.file, '--once'], { home: t.home })).code).toBe(0);
    writeFileSync(t.at('a/sub/new.txt'), 'new');
    expect(spawnSync('chattr', ['+i', t.at('ra/sub')]).status).toBe(0);
    try {
      const r = await runCli(['--config', t.file, '--once'], { home: t.home });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/^a: error: .*new\.txt/m);
    } finally {
      spawnSync('chattr', ['-i', t.at('ra/sub')]);
    }
  });
});
