#!/usr/bin/env node
// Daemon benchmarks (run `npm run build` first; `node bench/daemon.js --help` for options):
//
// (a) Memory over many short passes. The contract's --interval has whole seconds only, so
//     1000 scheduled passes of the CLI would take 1000 s. Instead this runs the daemon's own
//     parts, imported from dist/ and wired as src/main.ts wires them (file logger, lock, record,
//     hash pool, engine, runSchedule), with a 1 ms interval, in this process; each pass copies
//     one changed file, so the record journal and its compaction are exercised too (the record
//     is loaded with a compaction threshold of 200 journal lines instead of 10,000, so that a
//     compaction comes every hundred passes or so rather than never in a run). It prints
//     VmRSS (from /proc/self/status) after a garbage collection, V8 heap figures and the count
//     of active handles at passes 10 … 1000 (counted from `pass complete` lines in the log).
// (b) Watch latency: the built CLI (`bin/foldersync.js --watch -i 1h`) on a generated tree of
//     100,000 files (100 files a folder). 50 times: write a new file into a random folder and
//     poll the replica every 2 ms until it appears. Prints the median and the 95th percentile,
//     and the daemon's VmRSS while it watches that tree.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'foldersync.js');

const { values: opt } = parseArgs({
  options: {
    only: { type: 'string' },
    passes: { type: 'string', default: '1000' },
    'interval-ms': { type: 'string', default: '1' },
    files: { type: 'string', default: '100000' },
    'per-folder': { type: 'string', default: '100' },
    writes: { type: 'string', default: '50' },
    samples: { type: 'string', default: '10,100,250,500,750,1000' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (opt.help) {
  process.stdout.write(`usage: node bench/daemon.js [--only rss|watch] [--passes 1000] [--interval-ms 1] [--samples 10,100,...]
                           [--files 100000] [--per-folder 100] [--writes 50] [--dir DIR] [--keep]
`);
  process.exit(0);
}
if (!existsSync(path.join(ROOT, 'dist', 'main.js'))) {
  process.stderr.write('bench/daemon.js: dist/ is missing; run `npm run build` first\n');
  process.exit(2);
}

/** @param {string} text @param {string} name */
function count(text, name) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench/daemon.js: --${name} ${JSON.stringify(text)}: expected a positive whole number\n`);
    process.exit(2);
  }
  return n;
}

/** VmRSS of a process in MiB, from /proc/<pid>/status. @param {number | 'self'} pid */
function rssMiB(pid) {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** @param {number[]} xs @param {number} q */
function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? Number.NaN;
}

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A module of dist/, untyped (dist has no declarations). @param {string} rel @returns {Promise<any>} */
const dist = (rel) => import(path.join(ROOT, 'dist', rel));

/** @param {string} base */
function workDir(base) {
  const parent = opt.dir ?? os.tmpdir();
  mkdirSync(parent, { recursive: true });
  return mkdtempSync(path.join(parent, base));
}

/** (a) Many short passes in-process; returns the samples. */
async function rssOverPasses() {
  const passes = count(opt.passes, 'passes');
  const intervalMs = count(opt['interval-ms'], 'interval-ms');
  v8.setFlagsFromString('--expose-gc');
  /** @type {() => void} */
  const gc = vm.runInNewContext('gc');
  const [{ createLogging }, { acquireLock }, { runSchedule }, { createEngine }, { HashPool }, { RecordStore }] = await Promise.all(
    ['logger.js', 'lock.js', 'scheduler.js', 'sync/engine.js', 'sync/hash-pool.js', 'sync/record.js'].map(dist),
  );
  const d = workDir('foldersync-bench-rss-');
  const src = path.join(d, 'src');
  const dst = path.join(d, 'dst');
  const logs = path.join(d, 'logs');
  for (let f = 0; f < 10; f++) {
    mkdirSync(path.join(src, `d${f}`), { recursive: true });
    for (let i = 0; i < 20; i++) writeFileSync(path.join(src, `d${f}`, `f${i}`), `file ${f}/${i}\n`.repeat(10));
  }
  const settings = { source: src, replica: dst, excludes: [], deleteExcluded: false, checksum: false, hash: 'sha256', maxDelete: null, allowEmptySource: false, jobs: 8, dryRun: false };
  const logging = createLogging({ level: 'info', logDir: logs, stdout: devNull(), stderr: process.stderr });
  const lock = await acquireLock(dst);
  const { store } = await RecordStore.load(path.join(d, 'record'), src, dst, { journalMin: 200 });
  const pool = new HashPool();
  const engine = createEngine(settings, { log: logging.log, store, pool });
  const stop = new AbortController();
  const logFile = path.join(logs, 'foldersync.log');
  const completed = () => (readFileSync(logFile, 'utf8').match(/"msg":"pass complete"/g) ?? []).length;
  /** @type {{pass: number, rssMiB: number, oldMiB: number, youngMiB: number, handles: number}[]} */
  const samples = [];
  const at = new Set([...opt.samples.split(',').map((x) => count(x, 'samples')).filter((x) => x <= passes), passes]);
  let n = 0;
  const t0 = performance.now();
  await runSchedule({
    intervalMs,
    stop: stop.signal,
    runPass: async () => {
      const r = await engine.runPass({});
      logging.flush();
      n++;
      // Something to do each pass: one file changes (a copy, a record line, compaction now and then).
      writeFileSync(path.join(src, `d${n % 10}`, `f${n % 20}`), `changed at pass ${n}\n`);
      if (at.has(n)) {
        gc();
        const space = (/** @type {string} */ name) => v8.getHeapSpaceStatistics().find((x) => x.space_name === name);
        samples.push({
          pass: completed(),
          rssMiB: rssMiB('self'),
          oldMiB: (space('old_space')?.space_used_size ?? Number.NaN) / 2 ** 20,
          youngMiB: (space('new_space')?.space_size ?? Number.NaN) / 2 ** 20,
          handles: process.getActiveResourcesInfo().length,
        });
      }
      if (n >= passes) stop.abort();
      return r;
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  await pool.close();
  await lock.release();
  logging.flush();
  if (!opt.keep) rmSync(d, { recursive: true, force: true });
  return { passes: n, seconds, samples };
}

/** A stream that drops everything (the console side of the logger). */
const devNull = () => new Writable({ write: (_chunk, _enc, done) => done() });

/** (b) Watch latency on a big tree, through the real CLI. */
async function watchLatency() {
  const files = count(opt.files, 'files');
  const perFolder = count(opt['per-folder'], 'per-folder');
  const writes = count(opt.writes, 'writes');
  const d = workDir('foldersync-bench-watch-');
  const src = path.join(d, 'src');
  const dst = path.join(d, 'dst');
  const folders = Math.ceil(files / perFolder);
  const tGen = performance.now();
  for (let f = 0; f < folders; f++) {
    const dir = path.join(src, `d${String(f).padStart(4, '0')}`);
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < perFolder && f * perFolder + i < files; i++) writeFileSync(path.join(dir, `f${i}`), `${f}/${i}\n`);
  }
  const genSeconds = (performance.now() - tGen) / 1000;
  const home = path.join(d, 'home');
  mkdirSync(home);
  const child = spawn(process.execPath, [BIN, '-s', src, '-r', dst, '-i', '1h', '--watch', '-l', path.join(d, 'logs')], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, TMPDIR: home, XDG_STATE_HOME: path.join(home, 'state') },
  });
  let out = '';
  child.stdout.on('data', (/** @type {Buffer} */ b) => {
    out += b.toString();
    if (out.length > 1 << 16) out = out.slice(-4096); // only the latest lines matter
  });
  let ready = false;
  let firstPass = false;
  child.stdout.on('data', () => {
    ready ||= out.includes('watching the source for changes');
    firstPass ||= /pass (complete|errors)/.test(out);
  });
  const tStart = performance.now();
  /** @param {() => boolean} cond @param {number} ms @param {string} what */
  const until = async (cond, ms, what) => {
    const t = performance.now();
    while (!cond()) {
      if (child.exitCode !== null) throw new Error(`the daemon exited (${child.exitCode}) while waiting for ${what}`);
      if (performance.now() - t > ms) throw new Error(`timed out waiting for ${what}`);
      await sleep(2);
    }
    return performance.now() - t;
  };
  try {
    await until(() => firstPass, 600_000, 'the first full pass');
    const firstPassSeconds = (performance.now() - tStart) / 1000;
    await until(() => ready, 600_000, 'the watcher to be ready');
    const readySeconds = (performance.now() - tStart) / 1000;
    await sleep(500);
    /** @type {number[]} */
    const latencies = [];
    for (let w = 0; w < writes; w++) {
      const f = Math.floor(Math.random() * folders);
      const rel = path.join(`d${String(f).padStart(4, '0')}`, `new-${w}`);
      writeFileSync(path.join(src, rel), `written ${w}\n`);
      const t = performance.now();
      await until(() => existsSync(path.join(dst, rel)), 30_000, `${rel} in the replica`);
      latencies.push(performance.now() - t);
      await sleep(50);
    }
    const rss = rssMiB(/** @type {number} */ (child.pid));
    // Between passes: the daemon gives a pass's memory back once it has been idle for 6 s.
    await sleep(10_000);
    const idleRss = rssMiB(/** @type {number} */ (child.pid));
    child.stdin.write('quit\n');
    await until(() => child.exitCode !== null, 30_000, 'exit after quit');
    return { files, folders, genSeconds, firstPassSeconds, readySeconds, latencies, rss, idleRss, exitCode: child.exitCode };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    if (!opt.keep) rmSync(d, { recursive: true, force: true });
  }
}

const fmt = (/** @type {number} */ x, digits = 1) => x.toFixed(digits);

if (opt.only === undefined || opt.only === 'rss') {
  const r = await rssOverPasses();
  process.stdout.write(`(a) ${r.passes} scheduled passes (in-process, interval ${opt['interval-ms']} ms, one changed file each) in ${fmt(r.seconds)} s\n`);
  process.stdout.write('    pass   VmRSS MiB   old-space used MiB   young-generation size MiB   active handles\n');
  for (const s of r.samples) {
    process.stdout.write(`    ${String(s.pass).padStart(4)}   ${fmt(s.rssMiB).padStart(9)}   ${fmt(s.oldMiB, 2).padStart(18)}   ${fmt(s.youngMiB).padStart(25)}   ${String(s.handles).padStart(14)}\n`);
  }
  process.stdout.write('    (VmRSS after a full GC; its steps follow V8 growing the young generation 8 -> 16 -> 32 MiB; old space is what would leak)\n');
}
if (opt.only === undefined || opt.only === 'watch') {
  const r = await watchLatency();
  process.stdout.write(
    `(b) --watch on ${r.files} files in ${r.folders} folders (generated in ${fmt(r.genSeconds)} s; first full pass done after ${fmt(r.firstPassSeconds)} s, watcher ready after ${fmt(r.readySeconds)} s)\n`,
  );
  process.stdout.write(
    `    ${r.latencies.length} new files, write -> in replica: median ${fmt(quantile(r.latencies, 0.5), 0)} ms, p95 ${fmt(quantile(r.latencies, 0.95), 0)} ms, max ${fmt(Math.max(...r.latencies), 0)} ms\n`,
  );
  process.stdout.write(`    daemon VmRSS right after the last pass: ${fmt(r.rss)} MiB; idle between passes (10 s later): ${fmt(r.idleRss)} MiB; exit code after quit: ${r.exitCode}\n`);
}
