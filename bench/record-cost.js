#!/usr/bin/env node
// What the file record (format 2: a base in walk order + a journal) costs: bytes on disk per
// entry, the time and memory to read it through reader() in walk order (in a process of its own,
// so the figures are the reading's), the cost of a first pass that records every entry, of
// appending a pass's few changes, of a compaction, and the heap one journalled change holds.
// Uses the built dist/ (npm run build).
//
//   node --expose-gc bench/record-cost.js [--entries 100000,1000000] [--no-hash] [--dir /tmp/x]
//   node --expose-gc [--max-old-space-size=16] bench/record-cost.js --read-only FILE --entries N
//
// Without --expose-gc the heap-per-change figure is skipped (it needs a settled heap on both sides).
// Peak figures are sampled while the work runs and count garbage not yet collected; the second
// form (reading a record the first wrote, kept with --dir) shows how small a heap suffices.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const { values: o } = parseArgs({
  options: {
    entries: { type: 'string', default: '100000,1000000' },
    'no-hash': { type: 'boolean', default: false },
    dir: { type: 'string' },
    'read-only': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (o.help) {
  process.stdout.write('usage: node --expose-gc bench/record-cost.js [--entries N[,N…] (default 100000,1000000)] [--no-hash] [--dir DIR]\n');
  process.stdout.write('       node --expose-gc bench/record-cost.js --read-only FILE --entries N   (one read, as JSON)\n');
  process.exit(0);
}
const sizes = o.entries.split(',').map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n < 1)) {
  process.stderr.write(`record-cost: --entries must be positive whole numbers, not ${o.entries}\n`);
  process.exit(2);
}

/** @type {typeof import('../src/sync/record.js')} */
const { RecordStore } = await import(pathToFileURL(path.join(HERE, '..', 'dist', 'sync', 'record.js')).href);
/** @type {typeof import('../src/sync/paths.js')} */
const { cmpWalk, parentOf } = await import(pathToFileURL(path.join(HERE, '..', 'dist', 'sync', 'paths.js')).href);

/** @type {(() => void) | undefined} */
const gc = /** @type {any} */ (globalThis).gc;

/** A settled heap size: collect twice so finalizers and weak references are done with. */
function settled() {
  gc?.();
  gc?.();
  return process.memoryUsage();
}

/** Highest heap and RSS seen between start() and stop(): sampled by `sample()` calls and a timer (for async work). */
class Peak {
  constructor() {
    this.heap = 0;
    this.rss = 0;
    /** @type {NodeJS.Timeout | undefined} */
    this.timer = undefined;
  }
  sample() {
    const m = process.memoryUsage();
    if (m.heapUsed > this.heap) this.heap = m.heapUsed;
    if (m.rss > this.rss) this.rss = m.rss;
  }
  start() {
    this.sample();
    this.timer = setInterval(() => this.sample(), 2);
    return this;
  }
  stop() {
    clearInterval(this.timer);
    this.sample();
    return this;
  }
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

const ms = (/** @type {number} */ t0) => `${(performance.now() - t0).toFixed(0)} ms`;
const mib = (/** @type {number} */ b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const SRC = '/bench/source';
const REP = '/bench/replica';
const dir = o.dir ?? mkdtempSync(path.join(os.tmpdir(), 'record-cost-'));

/**
 * Reads a record of N bench entries through reader(), folder by folder in walk order, as a pass
 * does, and prints time and memory as JSON: run in a process of its own by measure().
 */
async function readOnly(/** @type {string} */ file, /** @type {number} */ N) {
  const folderSet = new Set();
  for (let i = 0; i < N; i++) folderSet.add(parentOf(pathOf(i)));
  const folders = [...folderSet].sort(cmpWalk);
  // The walk also asks the folders above them, which hold no files.
  const above = new Set(['']);
  for (const f of folders) for (let d = parentOf(f); d !== ''; d = parentOf(d)) above.add(d);
  const walkOrder = [...new Set([...above, ...folders])].sort(cmpWalk);
  folderSet.clear();
  const { store } = await RecordStore.load(file, SRC, REP);
  const before = settled();
  const peak = new Peak();
  const t0 = performance.now();
  let seen = 0;
  const passed = () => {
    seen++;
  };
  const reader = store.reader();
  for (const d of walkOrder) {
    seen += reader.folder(d, passed).size;
    peak.sample();
  }
  reader.finish(passed);
  const took = performance.now() - t0;
  if (seen !== N) throw new Error(`read ${seen} entries, expected ${N}`);
  if (store.size !== N) throw new Error(`size says ${store.size}, expected ${N}`);
  const warning = store.takeWarning();
  if (warning) throw new Error(`the record did not read cleanly: ${warning}`);
  const after = settled();
  process.stdout.write(JSON.stringify({ ms: took, heapBefore: before.heapUsed, heapPeak: peak.heap, heapAfter: after.heapUsed, rssBefore: before.rss, rssPeak: peak.rss }));
}

/** Measures one record size; returns [label, value] rows. */
async function measure(/** @type {number} */ N) {
  const file = path.join(dir, `bench-${N}.record`);
  rmSync(file, { force: true });
  rmSync(`${file}.journal`, { force: true });
  /** @type {[string, string][]} */
  const rows = [['entries', N.toLocaleString('en-US')]];

  // A first pass: every entry recorded once and saved as the engine does it (a checkpoint every
  // 5,000 changes: the first writes a base, the next append, and a journal past the memory cap
  // is compacted at a checkpoint).
  let base = settled();
  let peak = new Peak().start();
  let t0 = performance.now();
  {
    const { store } = await RecordStore.load(file, SRC, REP);
    for (let i = 0; i < N; i++) {
      store.set(pathOf(i), entryOf(i));
      if (store.unsaved >= 5000) await store.checkpoint();
    }
    await store.commit();
  }
  rows.push(['first pass: record and save every entry', `${ms(t0)}, peak heap +${mib(peak.stop().heap - base.heapUsed)}`]);
  const bytes = statSync(file).size;
  rows.push(['bytes on disk per entry', (bytes / N).toFixed(1)]);
  rows.push(['base file size', mib(bytes)]);

  // Reading it the way a pass does, in a fresh process (so its memory is the reading's alone).
  const child = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--read-only', file, '--entries', String(N)], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`the reading process failed: ${child.stderr}`);
  const read = JSON.parse(child.stdout);
  rows.push(['read through reader(), folder by folder', `${read.ms.toFixed(0)} ms (${((read.ms / N) * 1000).toFixed(2)} µs/entry)`]);
  rows.push(['  heap: before reading / peak / after', `${mib(read.heapBefore)} / ${mib(read.heapPeak)} / ${mib(read.heapAfter)} (peak counts young garbage)`]);
  rows.push(['  RSS: before reading / peak', `${mib(read.rssBefore)} / ${mib(read.rssPeak)} (whole process)`]);
  const { store } = await RecordStore.load(file, SRC, REP);

  // A pass with 100 changes: journal lines, fdatasync'ed.
  t0 = performance.now();
  for (let i = 0; i < 100; i++) store.set(pathOf((i * 997) % N), { ...entryOf((i * 997) % N), size: 42 + i });
  await store.commit();
  rows.push(['append 100 changes (+ fdatasync)', `${ms(t0)}, ${statSync(`${file}.journal`).size} bytes`]);

  // A compaction of the whole record with a journal of 10,000 changes (a small memory cap makes
  // the checkpoint compact, whatever the record's size).
  {
    const { store: s } = await RecordStore.load(file, SRC, REP, { journalMemoryMax: 9_999 });
    for (let i = 0; i < 10_000; i++) s.set(pathOf((i * 101) % N), { ...entryOf((i * 101) % N), size: 3 });
    base = settled();
    peak = new Peak().start();
    t0 = performance.now();
    const ino = statSync(file).ino;
    await s.checkpoint();
    if (statSync(file).ino === ino) throw new Error('the checkpoint did not compact');
    rows.push(['compaction, 10,000 changes (merge + fsync + rename)', `${ms(t0)}, peak heap +${mib(peak.stop().heap - base.heapUsed)}`]);
  }

  return rows;
}

/** The heap one journalled change holds, with its path and entry (what the journal's memory cap bounds); measured first, on a quiet heap. */
async function heapPerChange() {
  if (!gc) return 'n/a (run with --expose-gc)';
  const K = 40_000; // under the memory cap: nothing is compacted
  const file = path.join(dir, 'heap.record');
  const { store } = await RecordStore.load(file, SRC, REP);
  await store.commit();
  const before = settled().heapUsed;
  for (let i = 0; i < K; i++) store.set(pathOf(i), entryOf(i));
  await store.checkpoint(); // appended: what stays is the journal in memory
  const after = settled().heapUsed;
  return `${((after - before) / K).toFixed(0)} bytes`;
}

if (o['read-only']) {
  await readOnly(o['read-only'], sizes[0] ?? 0);
  process.exit(0);
}

try {
  process.stdout.write(`record cost (format 2), node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown cpu'}, hashes ${o['no-hash'] ? 'not stored' : 'stored (sha256)'}\n`);
  process.stdout.write(`  heap per journalled change (with its path and entry)  ${await heapPerChange()}\n\n`);
  for (const N of sizes) {
    const rows = await measure(N);
    const w = Math.max(...rows.map((r) => r[0].length));
    for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(w)}  ${v}\n`);
    process.stdout.write('\n');
  }
} finally {
  if (!o.dir) rmSync(dir, { recursive: true, force: true });
}
