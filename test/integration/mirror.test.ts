import { existsSync, linkSync, lstatSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { actions, changeCount, closePool, syncOnce } from '../helpers/pass.js';
import { MTIME, trickyTree } from '../helpers/tricky-tree.js';
import { cleanupTemps, mirrorDiff, readState, tempDir, writeTree } from '../helpers/tree.js';

afterEach(cleanupTemps);
afterAll(closePool);

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
