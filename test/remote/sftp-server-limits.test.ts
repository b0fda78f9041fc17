import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openTrees } from '../../src/trees/open.js';
import { closePool, pool, syncOnce } from '../helpers/pass.js';
import { type TestSshd, requireSshd, startTestSshd } from '../helpers/sshd.js';
import { cleanupTemps, mirrorDiff, tempDir, writeTree } from '../helpers/tree.js';

const ready = requireSshd();
const MTIME = 1_600_000_000_000;

describe.skipIf(!ready)('servers that allow less', () => {
  let sftpOnly: TestSshd;
  let readOnly: TestSshd;

  beforeAll(async () => {
    [sftpOnly, readOnly] = await Promise.all([startTestSshd({ sftpOnly: true }), startTestSshd({ readOnly: true })]);
  }, 30_000);
  afterEach(cleanupTemps);
  afterAll(async () => {
    await Promise.all([sftpOnly?.stop(), readOnly?.stop()]);
    await closePool();
  });

  it('an SFTP-only account (no commands): --checksum reads the remote files to hash them', async () => {
    const t = tempDir('fs-sftp-lim-');
    const src = path.join(sftpOnly.dir, 'src');
    writeTree(src, { 'a.txt': { $file: 'AAAA', mtime: MTIME }, 'b.txt': 'bb' });
    const dst = path.join(t, 'dst');
    const state = path.join(t, 'record');
    const tr = await openTrees({ source: sftpOnly.url(src), replica: dst, sshConfig: sftpOnly.sshConfig }, pool());
    try {
      expect((await syncOnce({ source: sftpOnly.url(src), replica: dst, state, checksum: true }, {}, tr)).report.outcome).toBe('ok');
      // Other bytes behind the same size and mtime, in the source this time.
      writeFileSync(`${src}/a.txt`, 'ZZZZ');
      utimesSync(`${src}/a.txt`, MTIME / 1000, MTIME / 1000);
      const r = await syncOnce({ source: sftpOnly.url(src), replica: dst, state, checksum: true }, {}, tr);
      expect(r.report.outcome).toBe('ok');
      expect(r.report.hashed).toBeGreaterThan(0);
      expect(readFileSync(`${dst}/a.txt`, 'utf8')).toBe('ZZZZ');
      expect(mirrorDiff(src, dst, () => false, { windowMs: 1000 })).toEqual([]);
    } finally {
      tr.close();
    }
  });

  it('a server that refuses every write: one error per file, the pass goes on to the end (exit 1), nothing half-written', async () => {
    const t = tempDir('fs-sftp-lim-');
    const src = path.join(t, 'src');
    writeTree(src, { 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c' });
    const dst = path.join(readOnly.dir, 'dst');
    mkdirSync(dst);
    const state = path.join(t, 'record');
    const tr = await openTrees({ source: src, replica: readOnly.url(dst), sshConfig: readOnly.sshConfig }, pool());
    try {
      const r = await syncOnce({ source: src, replica: readOnly.url(dst), state }, {}, tr);
      expect(r.report.outcome).toBe('errors');
      const failed = r.lines.filter((l) => l.level >= 50 && typeof l.path === 'string').map((l) => l.path);
      expect(failed.sort()).toEqual(['a.txt', 'b.txt', 'c.txt']);
      expect(r.lines.some((l) => /permission denied|refused/.test(String(l.err)))).toBe(true);
      expect(r.lines.some((l) => l.msg === 'pass complete')).toBe(true);
    } finally {
      tr.close();
    }
  });
});
