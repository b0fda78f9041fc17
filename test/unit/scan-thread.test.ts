import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeFilter } from '../../src/sync/filter.js';
import { scan } from '../../src/sync/scan.js';
import { type PackedEntries, Packer, packedScan, unpack } from '../../src/sync/scan-thread.js';
import type { Entry } from '../../src/sync/types.js';
import { type TreeSpec, cleanupTemps, tempDir, writeTree } from '../helpers/tree.js';

afterEach(cleanupTemps);

const tree: TreeSpec = {
  'a.txt': 'hello',
  'e\u0301 ünï 日本 🙂': { $file: 'x', mode: 0o640, mtime: 1_600_000_000_123 },
  sub: { $dir: { deep: { 'b.bin': Buffer.alloc(70_000, 7) }, 'skip.log': 'no' }, mode: 0o750 },
  link: { $symlink: 'sub/deep/b.bin' },
  dangling: { $symlink: '../nowhere' },
  '.foldersync-old.tmp': 'stale',
  fifo: { $fifo: true },
};

/** What the main thread gets back from a worker: the reply unpacked. */
function unpacked(p: PackedEntries): Map<string, Entry> {
  const m = new Map<string, Entry>();
  unpack(p, m);
  return m;
}

describe('scan in a worker thread: packing', () => {
  it('a packed scan unpacks to exactly what scanning in this thread gives', async () => {
    const root = path.join(tempDir(), 'src');
    writeTree(root, tree);
    for (const specials of ['skip', 'replace'] as const) {
      const direct = await scan(root, { specials, filter: makeFilter(['*.log']) });
      const reply = await packedScan({ root, excludes: ['*.log'], specials });
      if (!reply.ok) throw new Error(reply.error.message);
      expect(unpacked(reply.entries)).toEqual(direct.entries);
      expect(unpacked(reply.excluded)).toEqual(direct.excluded);
      expect(reply.issues).toEqual(direct.issues);
      expect(reply.stale).toEqual(direct.stale);
      expect(reply.skipped).toEqual(direct.skipped);
      expect(direct.entries.get('link')?.target).toBe('sub/deep/b.bin');
    }
  });

  it('keeps every number of an entry exactly, past the first 1,024 entries', () => {
    const packer = new Packer();
    const entries: Entry[] = [];
    for (let i = 0; i < 3000; i++) {
      const e: Entry = { path: `d/f${i}`, kind: i % 3 === 0 ? 'dir' : 'file', size: i * 4099, mtimeMs: 1_700_000_000_000.123 + i, ctimeMs: 1_700_000_000_001.987 + i, mode: 0o644, ino: 2 ** 40 + i, dev: 2049 };
      entries.push(i % 500 === 7 ? { ...e, kind: 'symlink', target: `t${i}` } : e);
    }
    for (const e of entries) packer.add(e);
    expect(unpacked(packer.done())).toEqual(new Map(entries.map((e) => [e.path, e])));
  });

  it('a root that cannot be listed comes back as an error with its code', async () => {
    const reply = await packedScan({ root: path.join(tempDir(), 'missing'), excludes: [], specials: 'skip' });
    expect(reply).toMatchObject({ ok: false, error: { code: 'ENOENT' } });
  });
});
