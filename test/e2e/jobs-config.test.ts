import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { cleanupTemps, mirrorDiff, tempDir, writeTree } from '../helpers/tree.js';

afterEach(cleanupTemps);

/** A temp home with three sources a, b, c and a config file holding `text`. */
function home(text: string): { home: string; file: string } {
  const h = tempDir('fs-jobs-config-');
  writeTree(h, { a: { x: 'a' }, b: { y: 'b', 'skip.tmp': 't' }, c: { z: 'c' } });
  const file = path.join(h, 'jobs.yaml');
  writeFileSync(file, text);
  return { home: h, file };
}

const J = (lines: string[]): string => `${lines.join('\n')}\n`;

/** Bad config files: each is exit 2, nothing written, and exactly these stderr lines ($H is the temp home). */
const BAD: { name: string; text: string; args?: string[]; err: string[] }[] = [
  {
    name: 'an unknown key in a job',
    text: J(['jobs:', '  a:', '    source: a', '    replica: ra', '    intervl: 1h']),
    err: ['jobs.yaml:5: job "a", key "intervl": unknown option'],
  },
  {
    name: 'an unknown key in defaults and at the top',
    text: J(['defaults:', '  colour: blue', 'settings: {}', 'jobs:', '  a: {source: a, replica: ra}']),
    err: ['jobs.yaml:2: defaults, key "colour": unknown option', 'jobs.yaml:3: unknown key "settings" (expected "defaults" and "jobs")'],
  },
  {
    name: 'a missing replica',
    text: J(['jobs:', '  a:', '    source: a']),
    err: ['jobs.yaml:2: job "a", key "replica": --replica is required'],
  },
  {
    name: 'a bad interval in defaults, charged to every job at its line',
    text: J(['defaults:', '  interval: 1x', 'jobs:', '  a: {source: a, replica: ra}', '  b: {source: b, replica: rb}']),
    args: [],
    err: [
      'jobs.yaml:2: job "a", key "interval": --interval "1x": expected ##d##h##m##s (e.g. 1h30m, 45s, 2d) or whole seconds',
      'jobs.yaml:2: job "b", key "interval": --interval "1x": expected ##d##h##m##s (e.g. 1h30m, 45s, 2d) or whole seconds',
    ],
  },
  {
    name: 'bad values of each kind, all reported at once',
    text: J([
      'jobs:',
      '  "a b":',
      '    source: a',
      '  c:',
      '    source: nope',
      '    replica: rc',
      '    hash: sha1',
      '    watch: yes please',
      '    exclude: {a: 1}',
      '    jobs: [1, 2]',
      '    once: true',
    ]),
    err: [
      'jobs.yaml:2: job "a b": a job name is letters, digits, ".", "_" and "-"',
      "jobs.yaml:7: job \"c\", key \"hash\": option '--hash <algo>' argument 'sha1' is invalid. Allowed choices are sha256, md5.",
      'jobs.yaml:8: job "c", key "watch": expected true or false',
      'jobs.yaml:9: job "c", key "exclude": expected a text or a number, not a map',
      'jobs.yaml:10: job "c", key "jobs": takes one value, not a list',
      'jobs.yaml:11: job "c", key "once": not an option of a job (give it on the command line)',
      'jobs.yaml:5: job "c", key "source": --source "$H/nope": no such file or directory (ENOENT)',
    ],
  },
  {
    name: 'two jobs into one replica, and a replica inside another job\'s source',
    text: J(['jobs:', '  a:', '    source: a', '    replica: r', '  b:', '    source: b', '    replica: r', '  c:', '    source: c', '    replica: a/inside']),
    err: ['jobs.yaml:7: job "b", key "replica": $H/r is also the replica of job "a"', 'jobs.yaml:10: job "c", key "replica": $H/a/inside is inside the source of job "a" ($H/a)'],
  },
  {
    name: 'a YAML syntax error',
    text: J(['jobs: [1']),
    err: ['jobs.yaml:1: Flow sequence in block collection must be sufficiently indented and end with a ]'],
  },
  {
    name: 'no jobs',
    text: J(['defaults:', '  interval: 1h', 'jobs: {}']),
    err: ['jobs.yaml:3: "jobs" must name at least one job'],
  },
  {
    name: '--job naming no job of the file',
    text: J(['jobs:', '  a: {source: a, replica: ra}']),
    args: ['--once', '--job', 'zz'],
    err: ['jobs.yaml: --job "zz": no such job (the file has a)'],
  },
  {
    name: '--config with -s',
    text: J(['jobs:', '  a: {source: a, replica: ra}']),
    args: ['-s', 'a'],
    err: ['--config cannot be combined with --source or --replica: a config file names them per job'],
  },
];

describe('--config: bad files', () => {
  for (const c of BAD) {
    it(`${c.name}: exit 2 and exactly the lines naming file, line, job and key`, async () => {
      const h = home(c.text);
      const r = await runCli(['--config', h.file, ...(c.args ?? ['--once'])], { home: h.home });
      expect(r.code).toBe(2);
      const want = c.err.map((l) => `foldersync: ${l.startsWith('jobs.yaml') ? `${h.file}${l.slice('jobs.yaml'.length)}` : l}`.replaceAll('$H', h.home));
      expect(r.stderr.trimEnd().split('\n')).toEqual(want);
      expect(r.stdout).toBe('');
      for (const rep of ['ra', 'rb', 'rc', 'r']) expect(existsSync(path.join(h.home, rep))).toBe(false);
    });
  }

  it('--job without --config, and a missing config file: exit 2', async () => {
    const h = home('');
    const r1 = await runCli(['--job', 'a', '-s', 'a', '-r', 'b', '--once'], { home: h.home });
    expect([r1.code, r1.stderr]).toEqual([2, 'foldersync: --job needs --config\n']);
    const r2 = await runCli(['--config', path.join(h.home, 'none.yaml')], { home: h.home });
    expect([r2.code, r2.stderr]).toEqual([2, `foldersync: ${path.join(h.home, 'none.yaml')}: cannot read the config file: no such file or directory (ENOENT)\n`]);
  });
});

describe('--config: good files', () => {
  it('YAML: defaults apply to every job, a job overrides them, ~ expands, relative paths are the file\'s folder\'s', async () => {
    const h = home(
      J(['defaults:', '  interval: 1h', '  exclude: ["*.tmp"]', '  log-dir: logs', 'jobs:', '  a:', '    source: ~/a', '    replica: ra', '  b:', '    source: b', '    replica: rb', '    exclude: []']),
    );
    // Run from another folder: paths are the config file's, not the working folder's.
    const r = await runCli(['--config', h.file, '--once'], { home: h.home });
    expect(r.code).toBe(0);
    expect(mirrorDiff(path.join(h.home, 'a'), path.join(h.home, 'ra'))).toEqual([]);
    expect(readFileSync(path.join(h.home, 'rb', 'skip.tmp'), 'utf8')).toBe('t'); // the job's empty list replaced the defaults'
    const lines = readFileSync(path.join(h.home, 'logs', 'foldersync.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const done = lines.filter((l) => l.msg === 'pass complete');
    expect(done.map((l) => l.job).sort()).toEqual(['a', 'b']);
    expect(done.find((l) => l.job === 'b')).toMatchObject({ copy: 2, errors: 0 });
  });

  it('JSON is YAML; --job selects; an option on the command line applies to every job', async () => {
    const h = home(JSON.stringify({ jobs: { a: { source: 'a', replica: 'ra' }, b: { source: 'b', replica: 'rb', exclude: ['*.tmp'] }, c: { source: 'c', replica: 'rc' } } }));
    // --exclude z adds to each job's excludes.
    const r = await runCli(['--config', h.file, '--once', '--job', 'b', '--job', 'c', '--exclude', 'z'], { home: h.home });
    expect(r.code).toBe(0);
    expect(existsSync(path.join(h.home, 'ra'))).toBe(false);
    expect(existsSync(path.join(h.home, 'rb', 'y'))).toBe(true);
    expect(existsSync(path.join(h.home, 'rb', 'skip.tmp'))).toBe(false);
    expect(existsSync(path.join(h.home, 'rc'))).toBe(true);
    expect(existsSync(path.join(h.home, 'rc', 'z'))).toBe(false); // --exclude z from the command line
    expect(r.stdout).toMatch(/^b: copy y$/m);
    expect(r.stdout).toMatch(/^c: pass complete: no changes/m);
  });
});
