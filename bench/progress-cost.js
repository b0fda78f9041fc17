#!/usr/bin/env node
// What the progress line costs a pass: the same passes (a first copy, then a pass that copies a
// tenth of the files again) run in this process with a progress line drawn on a terminal-like
// sink from the first millisecond, and without one, alternately. Prints the median durations and
// the time the line itself spent drawing (measured inside ConsoleProgress), as a share of a pass.
// Uses the built dist/ (npm run build).
//
//   node bench/progress-cost.js [--files 20000] [--runs 5]
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import pino from 'pino';

const dist = new URL('../dist/', import.meta.url);
const { createEngine } = await import(new URL('sync/engine.js', dist).href);
const { HashPool } = await import(new URL('sync/hash-pool.js', dist).href);
const { RecordStore } = await import(new URL('sync/record.js', dist).href);
const { ConsoleProgress } = await import(new URL('console-progress.js', dist).href);

const { values: o } = parseArgs({ options: { files: { type: 'string', default: '20000' }, runs: { type: 'string', default: '5' } } });
const files = Number(o.files);
const runs = Number(o.runs);
const root = mkdtempSync(path.join(os.tmpdir(), 'fs-progress-cost-'));
const src = path.join(root, 'src');
for (let i = 0; i < files; i++) {
  const d = path.join(src, `d${i % 100}`);
  if (i < 100) mkdirSync(d, { recursive: true });
  writeFileSync(path.join(d, `f${i}`), 'x'.repeat(i % 500));
}

const pool = new HashPool();
const log = pino({ level: 'warn' }, new Writable({ write: (_c, _e, done) => done() }));
/** A terminal that throws what it gets away. */
const term = { columns: 120, write: () => true };

/** @param {string} replica @param {boolean} withProgress */
async function pass(replica, withProgress) {
  const { store } = await RecordStore.load(`${replica}.record`, src, replica);
  const progress = withProgress ? new ConsoleProgress(term, 0) : undefined;
  const settings = { source: src, replica, excludes: [], deleteExcluded: false, checksum: false, hash: 'sha256', maxDelete: null, allowEmptySource: false, jobs: 8, dryRun: false };
  progress?.begin();
  const report = await createEngine(settings, { log, store, pool, ...(progress ? { progress } : {}) }).runPass();
  const drawMs = progress?.end() ?? 0;
  return { ms: report.durationMs, drawMs };
}

const median = (/** @type {number[]} */ xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
/** @type {Record<'first' | 'again', { on: number[]; off: number[]; draw: number[] }>} */
const rows = { first: { on: [], off: [], draw: [] }, again: { on: [], off: [], draw: [] } };
for (let r = 0; r < runs; r++) {
  for (const on of r % 2 === 0 ? [true, false] : [false, true]) {
    const replica = path.join(root, `dst-${r}-${on}`);
    const a = await pass(replica, on);
    for (let i = 0; i < files; i += 10) utimesSync(path.join(src, `d${i % 100}`, `f${i}`), 1e6 + r, 1e6 + r + (on ? 1 : 2));
    const b = await pass(replica, on);
    rows.first[on ? 'on' : 'off'].push(a.ms);
    rows.again[on ? 'on' : 'off'].push(b.ms);
    if (on) {
      rows.first.draw.push(a.drawMs);
      rows.again.draw.push(b.drawMs);
    }
    rmSync(replica, { recursive: true, force: true });
    rmSync(`${replica}.record`, { force: true });
  }
}
for (const [name, r] of Object.entries(rows)) {
  const on = median(r.on);
  const off = median(r.off);
  const draw = median(r.draw);
  console.log(`${name === 'first' ? 'first copy' : 'a tenth copied again'} of ${files} files: ${off} ms without, ${on} ms with a progress line; drawing took ${draw.toFixed(1)} ms (${((100 * draw) / on).toFixed(2)} % of the pass)`);
}
await pool.close();
rmSync(root, { recursive: true, force: true });
