import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RawOptions, buildConfig } from '../../src/config.js';
import { formatDuration, parseDuration } from '../../src/duration.js';
import { UsageError } from '../../src/errors.js';
import { cleanupTemps, tempDir } from '../helpers/tree.js';

afterEach(cleanupTemps);

describe('interval grammar', () => {
  it.each([
    ['1h30m', 5_400_000],
    ['45s', 45_000],
    ['2d', 172_800_000],
    ['1d2h3m4s', (86_400 + 7_200 + 180 + 4) * 1000],
    ['90', 90_000],
    ['1m', 60_000],
    ['2h5s', 7_205_000],
    ['1d30m', 88_200_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '1x', '1m2h', '0', '-5', '1.5h', 'h', '1h 30m', '0s', '0h0m', '1s2d', '30mm', 'abc', '9999d'])('%j is refused with a usage error naming the option', (text) => {
    expect(() => parseDuration(text)).toThrow(UsageError);
    expect(() => parseDuration(text)).toThrow(/--interval/);
  });

  it('formats durations for humans', () => {
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(45_000)).toBe('45s');
    expect(formatDuration(93_784_000)).toBe('1d2h3m4s');
  });
});

describe('buildConfig', () => {
  let t: string;
  let src: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    t = tempDir('fs-config-');
    src = path.join(t, 'src');
    mkdirSync(src);
    env = { XDG_STATE_HOME: path.join(t, 'state') };
  });
  const build = (raw: Partial<RawOptions>) => buildConfig({ source: src, replica: path.join(t, 'dst'), once: true, ...raw }, [], env);
  const refused = (raw: Partial<RawOptions>, re: RegExp) => {
    let err: unknown;
    try {
      build(raw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(re);
    expect((err as Error).message).not.toContain('\n');
  };

  it('accepts a valid set and freezes it, creating nothing', () => {
    const c = build({ replica: path.join(t, 'a/b/dst'), logDir: path.join(t, 'logs') });
    expect(Object.isFrozen(c)).toBe(true);
    expect(c.source).toBe(src);
    expect(c.replica).toBe(path.join(t, 'a/b/dst'));
    expect(c.statePath.startsWith(path.join(t, 'state', 'foldersync'))).toBe(true);
    expect(c.jobs).toBe(8);
    expect(c.logLevel).toBe('info');
    expect(c.hash).toBe('sha256');
    expect(c.maxDelete).toBeNull();
    for (const p of ['a', 'logs', 'state']) expect(existsSync(path.join(t, p))).toBe(false);
  });

  it('requires source and replica, and the interval unless --once', () => {
    expect(() => buildConfig({ replica: path.join(t, 'dst'), once: true }, [], env)).toThrow(/--source/);
    expect(() => buildConfig({ source: src, once: true }, [], env)).toThrow(/--replica/);
    refused({ once: false }, /--interval/);
    expect(build({ once: false, interval: '1h30m' }).intervalMs).toBe(5_400_000);
    refused({ interval: '1x' }, /--interval "1x"/);
  });

  it('refuses a missing source, a file as source, and a file as replica', () => {
    refused({ source: path.join(t, 'nope') }, /--source .*nope/);
    writeFileSync(path.join(t, 'f'), 'x');
    refused({ source: path.join(t, 'f') }, /--source .*not a folder/);
    refused({ replica: path.join(t, 'f') }, /--replica .*not a folder/);
  });

  it('refuses source and replica nested in one another, or equal', () => {
    refused({ replica: path.join(src, 'mirror') }, /nested/);
    refused({ replica: src }, /nested/);
    mkdirSync(path.join(t, 'dst/inner'), { recursive: true });
    refused({ source: path.join(t, 'dst/inner') }, /nested/);
    // A sibling whose name merely starts with the source's is not nested.
    expect(build({ replica: `${src}2` }).replica).toBe(`${src}2`);
  });

  it('refuses nesting hidden behind symlinks (real paths are compared)', () => {
    symlinkSync(src, path.join(t, 'srclink'));
    refused({ replica: path.join(t, 'srclink/mirror') }, /nested/);
    refused({ replica: path.join(t, 'srclink') }, /nested/);
    mkdirSync(path.join(t, 'dst'));
    symlinkSync(path.join(t, 'dst'), path.join(t, 'dstlink'));
    mkdirSync(path.join(t, 'dst/in'));
    refused({ source: path.join(t, 'dstlink/in'), replica: path.join(t, 'dst') }, /nested/);
  });

  it('refuses --state inside the source or the replica, also through a symlink, or a folder', () => {
    refused({ state: path.join(src, 'rec') }, /--state .*inside/);
    refused({ state: path.join(t, 'dst', 'sub', 'rec') }, /--state .*inside/);
    symlinkSync(src, path.join(t, 'srclink'));
    refused({ state: path.join(t, 'srclink', 'rec') }, /--state .*inside/);
    mkdirSync(path.join(t, 'statedir'));
    refused({ state: path.join(t, 'statedir') }, /--state .*folder/);
    expect(build({ state: path.join(t, 'elsewhere', 'rec') }).statePath).toBe(path.join(t, 'elsewhere', 'rec'));
  });

  it('refuses a log folder that cannot be created or is inside the replica', () => {
    writeFileSync(path.join(t, 'f'), 'x');
    refused({ logDir: path.join(t, 'f', 'logs') }, /--log-dir/);
    refused({ logDir: path.join(t, 'f') }, /--log-dir .*not a folder/);
    refused({ logDir: path.join(t, 'dst', 'logs') }, /--log-dir .*inside/);
  });

  it.each([
    ['5', { count: 5, percent: false }],
    ['0', { count: 0, percent: false }],
    ['10%', { count: 10, percent: true }],
    ['100%', { count: 100, percent: true }],
  ])('--max-delete %s', (text, want) => {
    expect(build({ maxDelete: text }).maxDelete).toEqual(want);
  });

  it.each(['x', '-1', '1.5', '%', '101%', '5 %', '', '10%%'])('--max-delete %j is refused', (text) => {
    refused({ maxDelete: text }, /--max-delete/);
  });

  it.each([
    ['1', 1],
    ['4', 4],
    ['256', 256],
  ])('--jobs %s', (text, n) => {
    expect(build({ jobs: text }).jobs).toBe(n);
  });

  it.each(['0', '257', 'x', '1.5', '-1', ''])('--jobs %j is refused', (text) => {
    refused({ jobs: text }, /--jobs/);
  });

  it.each(['trace', 'debug', 'info', 'warn', 'error'])('--log-level %s', (level) => {
    expect(build({ logLevel: level }).logLevel).toBe(level);
  });

  it('refuses an unknown --log-level and --hash', () => {
    refused({ logLevel: 'verbose' }, /--log-level "verbose"/);
    refused({ hash: 'sha1' }, /--hash "sha1"/);
    expect(build({ hash: 'md5' }).hash).toBe('md5');
  });

  it('refuses --watch with --once', () => {
    refused({ watch: true }, /--watch/);
  });
});
