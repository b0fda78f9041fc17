#!/usr/bin/env node
// What a daemon of many jobs costs between passes (run `npm run build` first):
// `node bench/jobs.js [--jobs 10] [--files 10000] [--per-folder 100] [--idle-s 30] [--dir DIR] [--keep]`.
// Generates JOBS sources of FILES small files each, writes a config file of JOBS jobs (interval
// 1h), starts the built CLI with --config, waits for every job's first pass (the first copy),
// then, with every job idle, samples the daemon's VmRSS and its CPU time (utime+stime from
// /proc/PID/stat) for IDLE seconds. Prints the first-copy time, RSS after the passes, and the
// CPU used while idle; then the same after a `sync` of every job (a no-change pass each).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'foldersync.js');
const { values: opt } = parseArgs({
  options: {
    jobs: { type: 'string', default: '10' },
    files: { type: 'string', default: '10000' },
    'per-folder': { type: 'string', default: '100' },
    'idle-s': { type: 'string', default: '30' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const JOBS = Number(opt.jobs);
const FILES = Number(opt.files);
const PER = Number(opt['per-folder']);
const IDLE = Number(opt['idle-s']);
const base = opt.dir ?? mkdtempSync(path.join(os.tmpdir(), 'fs-bench-jobs-'));

const lines = ['defaults:', '  interval: 1h', `  log-dir: ${path.join(base, 'logs')}`, 'jobs:'];
for (let j = 0; j < JOBS; j++) {
  const src = path.join(base, `src${j}`);
  for (let f = 0; f < FILES; f++) {
    const d = path.join(src, `d${Math.floor(f / PER)}`);
    if (f % PER === 0) mkdirSync(d, { recursive: true });
    writeFileSync(path.join(d, `f${f}.txt`), `job ${j} file ${f}\n`);
  }
  lines.push(`  job${j}: {source: ${src}, replica: ${path.join(base, `dst${j}`)}}`);
}
const config = path.join(base, 'jobs.yaml');
writeFileSync(config, `${lines.join('\n')}\n`);

const env = { ...process.env, XDG_STATE_HOME: path.join(base, 'state'), XDG_RUNTIME_DIR: path.join(base, 'run'), TMPDIR: base };
const child = spawn(process.execPath, [BIN, '--config', config], { env, stdio: ['pipe', 'ignore', 'inherit'] });
const log = path.join(base, 'logs', 'foldersync.log');
const passes = () => {
  try {
    return readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('"msg":"pass complete"')).length;
  } catch {
    return 0;
  }
};
/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rssMB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]) / 1024;
const cpuS = () => {
  const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // clock ticks: 100 a second on Linux
};
/** @param {number} n @param {string} label */
async function waitPasses(n, label) {
  const t0 = Date.now();
  while (passes() < n) {
    if (Date.now() - t0 > 30 * 60_000) throw new Error(`timed out waiting for ${label}`);
    await sleep(100);
  }
  return (Date.now() - t0) / 1000;
}
/** @param {string} label */
async function idle(label) {
  await sleep(3_000); // hash workers exit when idle (2 s); let the heap settle
  const rss0 = rssMB();
  const cpu0 = cpuS();
  let peak = rss0;
  for (let s = 0; s < IDLE; s++) {
    await sleep(1_000);
    peak = Math.max(peak, rssMB());
  }
  const cpu = cpuS() - cpu0;
  // The daemon gives a pass's heap back once no pass has run for 6 s: the RSS at the end is what it holds idle.
  console.log(`${label}: RSS ${rss0.toFixed(0)} MB 3 s after, ${rssMB().toFixed(0)} MB ${IDLE + 3} s after (peak while idle ${peak.toFixed(0)} MB), CPU while idle ${(cpu * 1000).toFixed(0)} ms over ${IDLE} s (${((cpu / IDLE) * 100).toFixed(3)}% of a core)`);
}
try {
  console.log(`${JOBS} jobs x ${FILES} files (${PER} a folder) in ${base}`);
  const first = await waitPasses(JOBS, 'the first passes');
  console.log(`first copy of all jobs: ${first.toFixed(1)} s`);
  await idle('after the first copy');
  child.stdin.write('sync\n');
  const again = await waitPasses(2 * JOBS, 'the no-change passes');
  console.log(`a no-change pass of every job (sync): ${again.toFixed(1)} s`);
  await idle('after a no-change pass of each');
} finally {
  child.stdin.write('quit\n');
  await new Promise((r) => child.once('close', r));
  if (!opt.keep && !opt.dir) rmSync(base, { recursive: true, force: true });
}
