import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type AuditCounts, type AuditIssue, type Finding, audit } from '../../src/check/audit.js';
import { compareEntries } from '../../src/check/compare.js';
import { textLine } from '../../src/check/format.js';
import { checkTreesOf } from '../../src/check/trees.js';
import { makeFilter } from '../../src/sync/filter.js';
import { HashPool } from '../../src/sync/hash-pool.js';
import { Trees } from '../../src/trees/factory.js';
import type { Entry } from '../../src/sync/types.js';
import { cleanupTemps, tempDir, writeTree, type TreeSpec } from '../helpers/tree.js';

const pool = new HashPool(2);
afterAll(async () => {
  cleanupTemps();
  await pool.close();
});

const T = 1_600_000_000_000;

/** Audits two trees written from specs; the lines it would print, its issues and counts. */
async function check(src: TreeSpec, rep: TreeSpec, opts: { excludes?: string[]; checksum?: boolean; windowMs?: number; modes?: boolean } = {}): Promise<{ lines: string[]; issues: AuditIssue[]; counts: AuditCounts }> {
  const t = tempDir('fs-audit-');
  writeTree(path.join(t, 's'), src);
  writeTree(path.join(t, 'r'), rep);
  const lines: string[] = [];
  const issues: AuditIssue[] = [];
  const filter = makeFilter(opts.excludes ?? []);
  const { source, replica } = checkTreesOf(Trees.local(path.join(t, 's'), path.join(t, 'r'), pool), { excludes: opts.excludes ?? [] });
  const counts = await audit({
    source,
    replica,
    filter: filter.empty ? undefined : filter,
    rules: { windowMs: opts.windowMs ?? 0, modes: opts.modes ?? true },
    checksum: opts.checksum ? 'sha256' : null,
    hashConcurrency: 2,
    onFinding: (f: Finding) => lines.push(textLine(f)),
    onIssue: (i) => issues.push(i),
  });
  return { lines, issues, counts };
}

const file = (content: string, mtime = T, mode = 0o644): TreeSpec[string] => ({ $file: content, mtime, mode });

describe('audit', () => {
  it('walks in the walk order: a folder, its subtree, then its next sibling (a/x before a-b)', async () => {
    const r = await check({ a: { x: file('x') }, 'a-b': file('ab'), b: file('b') }, {});
    expect(r.lines).toEqual(['+ a', '+ a/x', '+ a-b', '+ b']);
    expect(r.counts).toMatchObject({ missing: 4, extra: 0, differs: 0, sourceEntries: 4, replicaEntries: 0 });
  });

  it('a type change lists the other side\'s subtree; fifos: skipped in the source, a difference in the replica', async () => {
    const src = { d: { inner: file('i') }, f: file('f'), 'src-fifo': { $fifo: true as const }, g: file('g') };
    const rep = { d: file('now a file'), f: { $fifo: true as const }, g: file('g'), 'rep-fifo': { $fifo: true as const } };
    const r = await check(src, rep);
    expect(r.lines).toEqual(['~ d (type)', '+ d/inner', '~ f (type)', '- rep-fifo']);
  });

  it('excluded paths are left out on both sides, folders and everything below them', async () => {
    const r = await check({ keep: file('k'), cache: { a: file('a') }, 'x.tmp': file('t') }, { keep: file('k'), cache: { b: file('b') }, 'y.tmp': file('t') }, { excludes: ['cache/', '*.tmp'] });
    expect(r.lines).toEqual([]);
    expect(r.counts).toMatchObject({ sourceEntries: 1, replicaEntries: 1 });
  });

  it('mtimes within the window are equal; modes only where the replica keeps them; folders by mode, not mtime', async () => {
    const src = { f: file('f', T), x: file('x', T, 0o600), d: { $dir: {}, mode: 0o755, mtime: T } };
    const rep = { f: file('f', T + 900), x: file('x', T, 0o644), d: { $dir: {}, mode: 0o755, mtime: T + 60_000 } };
    expect((await check(src, rep)).lines).toEqual(['~ f (mtime)', '~ x (mode)']);
    expect((await check(src, rep, { windowMs: 1000, modes: false })).lines).toEqual([]);
  });

  it('--checksum hashes both sides of every same-size pair and counts what it read', async () => {
    const src = { a: file('same'), b: file('AAAA'), c: file('short') };
    const rep = { a: file('same'), b: file('BBBB'), c: file('longer') };
    const plain = await check(src, rep);
    expect(plain.lines).toEqual(['~ c (size)']);
    expect(plain.counts.hashed).toBe(0);
    const sum = await check(src, rep, { checksum: true });
    expect(sum.lines).toEqual(['~ b (content)', '~ c (size)']);
    expect(sum.counts).toMatchObject({ hashed: 4, hashedBytes: 16 });
  });

  it('links compare by target only', () => {
    const base: Entry = { path: 'l', kind: 'symlink', size: 3, mtimeMs: T, ctimeMs: T, mode: 0o777, ino: 1, dev: 1, target: 'a' };
    expect(compareEntries(base, { ...base, mtimeMs: T + 5000, mode: 0o755, ino: 2 }, { windowMs: 0, modes: true })).toEqual([]);
    expect(compareEntries(base, { ...base, target: 'b' }, { windowMs: 0, modes: true })).toEqual(['target']);
  });
});
