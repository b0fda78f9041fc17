#!/usr/bin/env node
// What the file record costs per file: bytes on disk, heap bytes, and the time to load it, to
// rewrite it (compaction) and to append a pass's few changes. Uses the built dist/ (npm run build).
//
//   node --expose-gc bench/record-cost.js [--entries 1000000] [--no-hash] [--dir /tmp/x]
//
// Without --expose-gc the heap figure is skipped (it needs a settled heap on both sides).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const { values: o } = parseArgs({
  options: {
    entries: { type: 'string', default: '1000000' },
    'no-hash': { type: 'boolean', default: false },
    dir: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (o.help) {
  process.stdout.write('usage: node --expose-gc bench/record-cost.js [--entries N (default 1000000)] [--no-hash] [--dir DIR]\n');
  process.exit(0);
}
const N = Number(o.entries);
if (!Number.isInteger(N) || N < 1) {
  process.stderr.write(`record-cost: --entries must be a positive whole number, not ${o.entries}\n`);
  process.exit(2);
}

/** @type {{ RecordStore: typeof import('../src/sync/record.js').RecordStore }} */
const { RecordStore } = await import(pathToFileURL(path.join(HERE, '..', 'dist', 'sync', 'record.js')).href);

/** @type {(() => void) | undefined} */
const gc = /** @type {any} */ (globalThis).gc;

/** A settled heap size: collect twice so finalizers and weak references are done with. */
function heapUsed() {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

/** A plausible replica path: a few folder levels, names of usual length (about 45 characters). */
function pathOf(/** @type {number} */ i) {
  return `photos/${2000 + (i % 25)}/album-${Math.floor(i / 1000) % 500}/IMG_${String(i).padStart(7, '0')}.jpg`;
}

/**
 * A record entry as a pass writes it for a regular file (hash when --checksum or a move needed one).
 * @param {number} i
 * @returns {import('../src/sync/types.js').RecordEntry}
 */
function entryOf(i) {
  /** @type {import('../src/sync/types.js').RecordEntry} */
  const e = {
    kind: 'file',
    size: 1_000_000 + ((i * 7919) % 9_000_000),
    mtimeMs: 1_700_000_000_000 + i * 1.25,
    mode: 0o644,
    rIno: 50_000_000 + i,
    rCtimeMs: 1_710_000_000_123.4375 + i,
    sIno: 10_000_000 + i,
    sDev: 2049,
    sCtimeMs: 1_705_000_000_456.75 + i,
  };
  return o['no-hash'] ? e : { ...e, hash: (i * 2654435761).toString(16).padStart(64, '0').slice(-64), algo: /** @type {const} */ ('sha256') };
}

const ms = (/** @type {number} */ t0) => (performance.now() - t0).toFixed(0);
const dir = o.dir ?? mkdtempSync(path.join(os.tmpdir(), 'record-cost-'));
const file = path.join(dir, 'bench.record');
rmSync(file, { force: true });

try {
  // A first pass: every entry is recorded once, saved as the engine does it (a checkpoint every
  // 5,000 changes: the first writes a new record whole, the others append).
  let t0 = performance.now();
  const { store } = await RecordStore.load(file, '/bench/source', '/bench/replica');
  for (let i = 0; i < N; i++) {
    store.set(pathOf(i), entryOf(i));
    if (store.unsaved >= 5000) await store.checkpoint();
  }
  await store.commit();
  const firstPassMs = ms(t0);
  const bytes = statSync(file).size;

  // A pass with 100 changes: appended lines, fdatasync'ed.
  t0 = performance.now();
  for (let i = 0; i < 100; i++) store.set(pathOf((i * 997) % N), { ...entryOf((i * 997) % N), size: 42 + i });
  await store.commit();
  const appendMs = ms(t0);
  const grown = statSync(file).size - bytes;
  store.record.clear(); // out of the heap measured below

  // A forced compaction of the whole record: enough journal to pass the 2x threshold.
  const compact = await RecordStore.load(file, '/bench/source', '/bench/replica');
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < N; i++) {
      compact.store.set(pathOf(i), entryOf(i));
      if (compact.store.unsaved >= 5000) await compact.store.checkpoint(); // appends, 2N lines in all
    }
  }
  compact.store.set(pathOf(0), entryOf(0));
  t0 = performance.now();
  await compact.store.commit(); // journal > 2x live: rewrite (temp file, fsync, rename)
  const compactMs = ms(t0);
  const afterCompact = statSync(file).size;
  compact.store.record.clear();

  // Load from disk into a fresh heap measure.
  const before = heapUsed();
  t0 = performance.now();
  const loaded = await RecordStore.load(file, '/bench/source', '/bench/replica');
  const loadMs = ms(t0);
  const after = heapUsed();
  if (loaded.warning) throw new Error(`the record did not load cleanly: ${loaded.warning}`);
  if (loaded.store.record.size !== N) throw new Error(`loaded ${loaded.store.record.size} entries, expected ${N}`);

  const rows = [
    ['entries', N.toLocaleString('en-US')],
    ['hashes stored', o['no-hash'] ? 'no' : 'yes (sha256)'],
    ['bytes on disk per entry', (afterCompact / N).toFixed(1)],
    ['record file size', `${(afterCompact / 2 ** 20).toFixed(1)} MiB`],
    ['heap bytes per entry (loaded)', gc ? ((after - before) / N).toFixed(0) : 'n/a (run with --expose-gc)'],
    ['first pass: record and save every entry', `${firstPassMs} ms`],
    ['compaction (temp + fsync + rename)', `${compactMs} ms`],
    ['load', `${loadMs} ms`],
    ['append 100 changes (+ fdatasync)', `${appendMs} ms, ${grown} bytes`],
  ];
  const w = Math.max(...rows.map((r) => r[0]?.length ?? 0));
  process.stdout.write(`record cost, node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown cpu'}\n`);
  for (const [k, v] of rows) process.stdout.write(`  ${String(k).padEnd(w)}  ${v}\n`);
  if (loaded.store.record.size === 0) process.exitCode = 1;
} finally {
  if (!o.dir) rmSync(dir, { recursive: true, force: true });
}
