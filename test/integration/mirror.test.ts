import { existsSync, linkSync, lstatSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { actions, changeCount, closePool, syncOnce } from '../helpers/pass.js';
import { type TreeSpec, cleanupTemps, mirrorDiff, readState, tempDir, writeTree } from '../helpers/tree.js';

afterEach(cleanupTemps);
afterAll(closePool);

const MTIME = 1_600_000_000_123;

/** 40 nested folders with a file at the bottom. */
function deep(levels: number): TreeSpec {
  let node: TreeSpec = { 'bottom.txt': 'deep down' };
  for (let i = levels; i >= 1; i--) node = { [`level-${i}`]: node };
  return node;
}

/** The tree of the issue: names, modes, links and specials that break naive mirrors. */
function trickyTree(root: string): TreeSpec {
  return {
    'with spaces in it.txt': 'spaces',
    'caf\u00e9.txt': 'NFC spelling',
    'cafe\u0301.txt': 'NFD spelling, longer',
    'semi;colon': 'semicolon',
    '^^^': 'carets',
    'new\nline': 'a newline in the name',
    '-rf': 'leading dash',
    '--help': { 'inside.txt': 'a folder named like an option' },
    ['n'.repeat(255)]: 'a 255-byte name',
    [`${'\u00e9'.repeat(127)}x`]: 'a 255-byte name in 2-byte characters',
    'empty-file': '',
    'empty-folder': {},
    nested: deep(40),
    modes: {
      'private-0600': { $file: 'secret', mode: 0o600, mtime: MTIME },
      'exec-0755': { $file: '#!/bin/sh\necho hi\n', mode: 0o755 },
      'readonly-0444': { $file: 'read only', mode: 0o444 },
      'ro-folder-0555': { $dir: { 'inside.txt': 'in a read-only folder', sub: {} }, mode: 0o555, mtime: MTIME },
      'sticky-1777': { $dir: { s: 's' }, mode: 0o1777 },
      'setgid-2755': { $dir: {}, mode: 0o2755 },
      'setuid-4755': { $file: 'suid', mode: 0o4755 },
    },
    links: {
      relative: { $symlink: '../with spaces in it.txt' },
      absolute: { $symlink: path.join(root, 'semi;colon') },
      dangling: { $symlink: 'does/not/exist' },
      'to-folder': { $symlink: '../modes' },
      'weird target': { $symlink: 'caf\u00e9.txt\nwith newline' },
    },
    fifo: { $fifo: true },
    'old-mtime': { $file: 'old', mtime: 946_684_800_000 },
    'epoch-mtime': { $file: 'epoch', mtime: 0 },
    'pre-1970-mtime': { $file: 'before the epoch', mtime: -86_400_123 },
    'future-mtime': { $file: 'the future', mtime: 4_102_444_800_000 },
    'fraction-mtime': { $file: 'frac', mtime: MTIME + 0.5 },
    'big.bin': Buffer.alloc(3 * 1024 * 1024 + 7, 0xab),
  };
}

describe('one pass over a tricky tree', () => {
  it('mirrors every name, mode, mtime and link exactly; skips the fifo; a second pass does nothing', async () => {
    const t = tempDir('fs-mirror-');
    const src = path.join(t, 'src');
    const dst = path.join(t, 'a/b/dst');
    writeTree(src, trickyTree(src));
    // Two names for one file: each is mirrored as a regular file.
    linkSync(path.join(src, '^^^'), path.join(src, 'hard link to carets'));

    const first = await syncOnce({ source: src, replica: dst });
    expect(first.report.outcome).toBe('ok');
    expect(first.report.errors).toBe(0);
    expect(mirrorDiff(src, dst)).toEqual([]);

    // Spot checks that do not rely on the diff helper alone.
    expect(existsSync(path.join(dst, 'fifo'))).toBe(false);
    expect(first.lines.some((l) => l.level === 40 && l.path === 'fifo')).toBe(true);
    const names = readdirSync(dst);
    expect(names).toContain('caf\u00e9.txt');
    expect(names).toContain('cafe\u0301.txt');
    expect(names).toContain('new\nline');
    expect(lstatSync(path.join(dst, 'modes/ro-folder-0555')).mode & 0o7777).toBe(0o555);
    expect(lstatSync(path.join(dst, 'links/to-folder')).isSymbolicLink()).toBe(true);
    expect(Math.abs(lstatSync(path.join(dst, 'modes/private-0600')).mtimeMs - MTIME)).toBeLessThan(1);
    const st = readState(dst);
    expect(st.get('empty-folder')?.kind).toBe('dir');
    expect(st.get('empty-file')?.size).toBe(0);
    expect(st.get(`nested/${Array.from({ length: 40 }, (_, i) => `level-${i + 1}`).join('/')}/bottom.txt`)?.kind).toBe('file');

    const s = first.report;
    expect(s.copy).toBe([...readState(src).values()].filter((x) => x.kind === 'file').length);
    expect(s.symlink).toBe(5);
    expect(s.bytes).toBeGreaterThan(3 * 1024 * 1024);

    const second = await syncOnce({ source: src, replica: dst });
    expect(second.report.outcome).toBe('ok');
    expect(changeCount(second.report)).toBe(0);
    expect(actions(second.lines)).toEqual([]);
    expect(second.report.bytes).toBe(0);
    expect(mirrorDiff(src, dst)).toEqual([]);
  });

  it('a name that is not valid UTF-8 is reported as an error, not silently left out; deletes wait', async () => {
    const t = tempDir('fs-mirror-');
    const src = `${t}/src`;
    const dst = `${t}/dst`;
    writeTree(src, { 'ok.txt': 'ok' });
    writeTree(dst, { 'extra.txt': 'extra' });
    writeFileSync(Buffer.concat([Buffer.from(`${src}/bad-`), Buffer.from([0xff, 0xfe]), Buffer.from('.txt')]), 'data');
    const r = await syncOnce({ source: src, replica: dst });
    expect(r.report.outcome).toBe('errors');
    expect(r.lines.some((l) => l.level === 50 && String(l.path).startsWith('bad-') && /UTF-8/.test(String(l.err)))).toBe(true);
    expect(existsSync(`${dst}/ok.txt`)).toBe(true);
    // The source could not be read completely: nothing is deleted from the replica.
    expect(existsSync(`${dst}/extra.txt`)).toBe(true);
  });

  it('logs one line per action with the replica-relative path and a complete summary', async () => {
    const t = tempDir('fs-mirror-');
    writeTree(`${t}/src`, { d: { f: 'x' }, l: { $symlink: 'd' } });
    const { lines, report } = await syncOnce({ source: `${t}/src`, replica: `${t}/dst` });
    expect(actions(lines).sort((a, b) => a.path.localeCompare(b.path))).toEqual([
      { action: 'mkdir', path: 'd' },
      { action: 'copy', path: 'd/f' },
      { action: 'symlink', path: 'l' },
    ]);
    const summary = lines.find((l) => l.msg === 'pass complete')!;
    for (const k of ['copy', 'update', 'move', 'delete', 'mkdir', 'rmdir', 'symlink', 'attrs', 'bytes', 'hashed', 'hashedBytes', 'errors', 'durationMs']) {
      expect(typeof summary[k]).toBe('number');
    }
    expect(summary.copy).toBe(1);
    expect(report.outcome).toBe('ok');
  });

  it('leaves excluded paths alone on both sides, and removes them with deleteExcluded', async () => {
    const t = tempDir('fs-mirror-');
    const src = `${t}/src`;
    const dst = `${t}/dst`;
    writeTree(src, { 'a.txt': 'a', 'x.log': 'source log', cache: { big: 'b' }, keep: { 'k.log': 'k' } });
    writeTree(dst, { 'old.log': 'replica-only log', keep: { 'r.log': 'r' } });
    const excludes = ['*.log', 'cache/'];
    const ignore = (p: string): boolean => p.endsWith('.log') || p === 'cache' || p.startsWith('cache/');
    const first = await syncOnce({ source: src, replica: dst, excludes });
    expect(first.report.outcome).toBe('ok');
    expect(mirrorDiff(src, dst, ignore)).toEqual([]);
    expect(existsSync(`${dst}/x.log`)).toBe(false);
    expect(existsSync(`${dst}/cache`)).toBe(false);
    expect(existsSync(`${dst}/old.log`)).toBe(true);
    expect(existsSync(`${dst}/keep/r.log`)).toBe(true);

    writeTree(dst, { cache: { stale: 's' } });
    const second = await syncOnce({ source: src, replica: dst, excludes, deleteExcluded: true });
    expect(second.report.outcome).toBe('ok');
    expect(existsSync(`${dst}/old.log`)).toBe(false);
    expect(existsSync(`${dst}/keep/r.log`)).toBe(false);
    expect(existsSync(`${dst}/cache`)).toBe(false);
    expect(mirrorDiff(src, dst, ignore)).toEqual([]);
  });
});
