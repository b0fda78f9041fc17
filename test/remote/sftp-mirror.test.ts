import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Trees } from '../../src/trees/factory.js';
import { openTrees } from '../../src/trees/open.js';
import { actions, changeCount, closePool, pool, syncOnce } from '../helpers/pass.js';
import { type TestSshd, requireSshd, startTestSshd } from '../helpers/sshd.js';
import { type TreeSpec, cleanupTemps, mirrorDiff, tempDir, writeTree } from '../helpers/tree.js';
import { MTIME, trickyTree as coreTrickyTree } from '../helpers/tricky-tree.js';

/** SFTP carries whole seconds: a remote side's mtimes are equal within 1 s (the modify window). */
const SFTP_KEPT = { windowMs: 1000 };

/**
 * The core tests' tricky tree, minus what SFTP cannot carry: a pre-1970 mtime (its mtime field
 * is an unsigned 32-bit count of seconds). Fifos stay: they are skipped as on a local replica.
 */
function trickyTree(root: string): TreeSpec {
  const { 'pre-1970-mtime': _unsigned, ...carried } = coreTrickyTree(root);
  return carried;
}

/** The file at the bottom of the tricky tree's 40 nested folders. */
const BOTTOM = ['nested', ...Array.from({ length: 40 }, (_, i) => `level-${i + 1}`), 'bottom.txt'].join('/');

const ready = requireSshd();

describe.skipIf(!ready)('mirroring to and from a real sshd over SFTP', () => {
  let sshd: TestSshd;
  const opened: Trees[] = [];

  beforeAll(async () => {
    sshd = await startTestSshd();
  }, 30_000);
  afterEach(() => {
    for (const t of opened.splice(0)) t.close();
    cleanupTemps();
  });
  afterAll(async () => {
    await sshd?.stop();
    await closePool();
  });

  async function trees(source: string, replica: string): Promise<Trees> {
    const t = await openTrees({ source, replica, sshConfig: sshd.sshConfig }, pool());
    opened.push(t);
    return t;
  }

  /** A folder under the server's tree folder (remote path = local path: the server is this machine). */
  function remoteDir(name: string): string {
    return path.join(sshd.dir, `${name}-${Math.random().toString(36).slice(2, 8)}`);
  }

  it('local to remote: a tricky tree arrives whole (content, mtimes, modes, links, empty folders); a second pass does nothing', async () => {
    const t = tempDir('fs-sftp-');
    const src = path.join(t, 'src');
    writeTree(src, trickyTree(src));
    const dst = remoteDir('rep');
    const state = path.join(t, 'record');
    const tr = await trees(src, sshd.url(`${dst}/a/b`));
    const first = await syncOnce({ source: src, replica: sshd.url(`${dst}/a/b`), state }, {}, tr);
    expect(first.lines.filter((l) => l.level >= 50)).toEqual([]);
    expect(first.report.outcome).toBe('ok');
    expect(mirrorDiff(src, `${dst}/a/b`, () => false, SFTP_KEPT)).toEqual([]);
    expect(lstatSync(`${dst}/a/b/modes/ro-folder-0555`).mode & 0o7777).toBe(0o555);
    expect(first.lines.some((l) => l.msg === 'replica filesystem' && l.type === 'sftp')).toBe(true);

    const second = await syncOnce({ source: src, replica: sshd.url(`${dst}/a/b`), state }, {}, tr);
    expect(second.report.outcome).toBe('ok');
    expect(actions(second.lines)).toEqual([]);
    expect(changeCount(second.report)).toBe(0);
  });

  it('local to remote: a renamed file and a renamed folder are renames on the server, not copies', async () => {
    const t = tempDir('fs-sftp-');
    const src = path.join(t, 'src');
    writeTree(src, { photos: { '2024': { 'a.jpg': Buffer.alloc(50_000, 1), 'b.jpg': Buffer.alloc(60_000, 2) } }, 'notes.txt': 'some notes' });
    const dst = remoteDir('ren');
    const state = path.join(t, 'record');
    const rep = sshd.url(dst);
    const tr = await trees(src, rep);
    expect((await syncOnce({ source: src, replica: rep, state }, {}, tr)).report.outcome).toBe('ok');
    renameSync(`${src}/photos/2024`, `${src}/photos/year-2024`);
    renameSync(`${src}/notes.txt`, `${src}/notes-renamed.txt`);
    const r = await syncOnce({ source: src, replica: rep, state }, {}, tr);
    expect(r.report.outcome).toBe('ok');
    expect(r.report.copy).toBe(0);
    expect(r.report.bytes).toBe(0);
    expect(r.report.move).toBe(2);
    expect(mirrorDiff(src, dst, () => false, SFTP_KEPT)).toEqual([]);
  });

  it('remote to local: the source read over SFTP; a second pass does nothing; an edit is copied', async () => {
    const t = tempDir('fs-sftp-');
    const src = remoteDir('src');
    writeTree(src, trickyTree(src));
    const dst = path.join(t, 'dst');
    const state = path.join(t, 'record');
    const tr = await trees(sshd.url(src), dst);
    const first = await syncOnce({ source: sshd.url(src), replica: dst, state }, {}, tr);
    expect(first.lines.filter((l) => l.level >= 50)).toEqual([]);
    expect(first.report.outcome).toBe('ok');
    expect(mirrorDiff(src, dst, () => false, SFTP_KEPT)).toEqual([]);
    const second = await syncOnce({ source: sshd.url(src), replica: dst, state }, {}, tr);
    expect(actions(second.lines)).toEqual([]);

    writeFileSync(`${src}/${BOTTOM}`, 'edited far down');
    utimesSync(`${src}/${BOTTOM}`, 1_700_000_000, 1_700_000_000);
    const third = await syncOnce({ source: sshd.url(src), replica: dst, state }, {}, tr);
    expect(third.report.outcome).toBe('ok');
    expect(third.report.update).toBe(1);
    expect(readFileSync(`${dst}/${BOTTOM}`, 'utf8')).toBe('edited far down');
  });

  it('remote to local: a renamed file in the remote source is a rename in the replica, found by size and content', async () => {
    const t = tempDir('fs-sftp-');
    const src = remoteDir('src');
    writeTree(src, { d: { 'a.bin': Buffer.alloc(70_000, 3), 'b.bin': Buffer.alloc(70_000, 4) } });
    const dst = path.join(t, 'dst');
    const state = path.join(t, 'record');
    const tr = await trees(sshd.url(src), dst);
    expect((await syncOnce({ source: sshd.url(src), replica: dst, state }, {}, tr)).report.outcome).toBe('ok');
    renameSync(`${src}/d/a.bin`, `${src}/d/renamed.bin`);
    const r = await syncOnce({ source: sshd.url(src), replica: dst, state }, {}, tr);
    expect(r.report.outcome).toBe('ok');
    expect(r.report.move).toBe(1);
    expect(r.report.copy).toBe(0);
    expect(mirrorDiff(src, dst, () => false, SFTP_KEPT)).toEqual([]);
  });

  it('remote to remote: both sides over SFTP', async () => {
    const t = tempDir('fs-sftp-');
    const src = remoteDir('src');
    writeTree(src, { d: { f: 'x', g: { $file: 'mode', mode: 0o640 } }, l: { $symlink: 'd/f' }, e: {} });
    const dst = remoteDir('dst');
    const state = path.join(t, 'record');
    const tr = await trees(sshd.url(src), `sftp://${sshd.alias}${dst}`);
    const r = await syncOnce({ source: sshd.url(src), replica: `sftp://${sshd.alias}${dst}`, state }, {}, tr);
    expect(r.report.outcome).toBe('ok');
    expect(mirrorDiff(src, dst, () => false, SFTP_KEPT)).toEqual([]);
  });

  it('--checksum hashes a remote side and finds content that changed behind the same size and mtime', async () => {
    const t = tempDir('fs-sftp-');
    const src = path.join(t, 'src');
    writeTree(src, { 'a.txt': { $file: 'AAAA', mtime: MTIME }, 'b.txt': 'bbbb' });
    const dst = remoteDir('sum');
    const state = path.join(t, 'record');
    const rep = sshd.url(dst);
    const tr = await trees(src, rep);
    expect((await syncOnce({ source: src, replica: rep, state, checksum: true }, {}, tr)).report.outcome).toBe('ok');
    // Same size and mtime, other bytes: only a content comparison sees it.
    writeFileSync(`${dst}/a.txt`, 'ZZZZ');
    utimesSync(`${dst}/a.txt`, MTIME / 1000, MTIME / 1000);
    const r = await syncOnce({ source: src, replica: rep, state, checksum: true }, {}, tr);
    expect(r.report.outcome).toBe('ok');
    expect(r.report.hashed).toBeGreaterThan(0);
    expect(readFileSync(`${dst}/a.txt`, 'utf8')).toBe('AAAA');
  });

  it('a replica folder swapped for a symlink on the server is never written through', async () => {
    const t = tempDir('fs-sftp-');
    const src = path.join(t, 'src');
    writeTree(src, { sub: { 'a.txt': 'a' } });
    const dst = remoteDir('swap');
    const outside = remoteDir('outside');
    mkdirSync(outside);
    writeFileSync(`${outside}/keep.txt`, 'not the replica');
    const state = path.join(t, 'record');
    const rep = sshd.url(dst);
    const tr = await trees(src, rep);
    expect((await syncOnce({ source: src, replica: rep, state }, {}, tr)).report.outcome).toBe('ok');
    rmSync(`${dst}/sub`, { recursive: true });
    symlinkSync(outside, `${dst}/sub`);
    writeFileSync(`${src}/sub/new.txt`, 'new');
    const r = await syncOnce({ source: src, replica: rep, state }, {}, tr);
    expect(existsSync(`${outside}/new.txt`)).toBe(false);
    expect(existsSync(`${outside}/a.txt`)).toBe(false);
    expect(readFileSync(`${outside}/keep.txt`, 'utf8')).toBe('not the replica');
    // The link is replaced by the folder it should be (a link in the replica is an entry like any other).
    expect(r.report.outcome).toBe('ok');
    expect(lstatSync(`${dst}/sub`).isDirectory()).toBe(true);
    expect(mirrorDiff(src, dst, () => false, SFTP_KEPT)).toEqual([]);
  });
});

describe.skipIf(!ready)('the SFTP replica writer', () => {
  let sshd: TestSshd;

  beforeAll(async () => {
    sshd = await startTestSshd();
  }, 30_000);
  afterEach(cleanupTemps);
  afterAll(async () => {
    await sshd?.stop();
    await closePool();
  });

  it('refuses to write, rename or delete under a folder that became a symlink after the listing', async () => {
    const t = tempDir('fs-sftp-');
    const src = path.join(t, 'src');
    writeTree(src, { sub: { 'a.txt': 'a' } });
    const dst = path.join(sshd.dir, 'late-swap');
    const outside = path.join(sshd.dir, 'late-outside');
    mkdirSync(outside);
    writeFileSync(`${outside}/victim.txt`, 'must survive');
    mkdirSync(dst);
    symlinkSync(outside, `${dst}/sub`);
    const tr = await openTrees({ source: src, replica: sshd.url(dst), sshConfig: sshd.sshConfig }, pool());
    try {
      const { InFlight } = await import('../../src/sync/in-flight.js');
      const { EXACT_RULES } = await import('../../src/sync/fs-rules.js');
      const w = tr.writer({ rules: EXACT_RULES, inFlight: new InFlight() });
      await expect(w.copyIn('sub/a.txt')).rejects.toThrow(/symbolic link on the server/);
      await expect(w.remove('sub/victim.txt', false)).rejects.toThrow(/symbolic link on the server/);
      await expect(w.rename('sub/victim.txt', 'stolen.txt')).rejects.toThrow(/symbolic link on the server/);
      await expect(w.mkdir('sub/inner')).rejects.toThrow(/symbolic link on the server/);
      expect(readFileSync(`${outside}/victim.txt`, 'utf8')).toBe('must survive');
      expect(existsSync(`${outside}/a.txt`)).toBe(false);
      expect(existsSync(`${outside}/inner`)).toBe(false);
      // The link itself is an entry of the replica: it may be replaced, never followed.
      await w.remove('sub', false);
      expect(existsSync(`${outside}/victim.txt`)).toBe(true);
      expect(existsSync(`${dst}/sub`)).toBe(false);
    } finally {
      tr.close();
    }
  });
});
