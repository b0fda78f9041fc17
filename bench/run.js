#!/usr/bin/env node
// `npm run bench`: foldersync side by side with rsync and rclone on generated datasets.
// Prints one markdown table of medians and ratios and writes it, with the machine, the command
// and the date, to bench/results/latest.md (raw runs in latest.json). `--help` for options.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateBig, generateMany, modifyOnePercent, prepareRename, renameAndMove } from './gen.js';
import { dropCaches, have, measure, median } from './measure.js';
import { machine, machineText, ratio, table } from './report.js';

/** @typedef {import('./report.js').Row} Row */
/** @typedef {import('./measure.js').Measured} Measured */
/** @typedef {Record<string, number | null>} PerTool medians by tool name */
/**
 * @typedef {object} Dataset
 * @property {string} name
 * @property {string} label
 * @property {string} src
 * @property {(tool: string) => string} dst each tool's replica
 * @property {(tool: string) => string} state foldersync's record (per tool name, only foldersync uses it)
 * @property {string[]} files regular files, for the 1 % edit
 * @property {number} count how many regular files the source holds
 * @property {boolean} readOnly an existing tree: never edited
 */
/** @typedef {{text: string, met: boolean | null}} Target a row's target cell and whether it is met */
/** @typedef {{cmd: string, args: (src: string, dst: string, x: {state: string, renames: boolean}) => string[]}} Tool */

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MiB = 1 << 20;

/** The targets, all on medians of one run of the bench. */
const TARGET = {
  /** Every timed scenario: foldersync ≤ this × rsync. */
  vsRsync: 0.8,
  /** …except the initial copy of the big files: ≤ this × rsync. */
  bigCopyVsRsync: 0.4,
  /** The no-change pass ≤ this × the two-`find` floor. */
  floor: 1.5,
  /** The rename cost (pass minus no-change pass) ≤ this share of rsync's. */
  renameCost: 0.1,
  /** Peak RSS of the initial copy, and of the no-change pass from `rssFiles` files on (below: ≤ rclone). */
  rssMB: 64,
  rssFiles: 100_000,
  /** Peak RSS of the initial copy and of the no-change pass of the million-file run. */
  millionRssMB: 150,
};

const HELP = `usage: npm run bench -- [options]

  --quick              small datasets: 10,000 files and 4 x 64 MiB (a few minutes)
  --datasets <list>    many,big (default both); "tree" is added by --tree
  --tree <path>        also benchmark an existing folder (read only: scenarios 1, 2, 5)
  --scenarios <list>   1,2,3,4,5 (default all)
  --tools <list>       foldersync,rsync,rclone (default: those installed)
  --runs <n>           timed runs per tool and scenario (default 3)
  --files <n>          files in the "many" dataset (default 100000)
  --big-mib <n>        size of each of the 4 big files in MiB (default 512)
  --million            also the scaled run: 1,000,000 files, time and peak RSS of the initial
                       copy and of a no-change pass, and the record's size
  --daemon             also run bench/daemon.js (watch latency, memory after 1000 passes)
  --dir <path>         work folder (default: a new folder under ${os.tmpdir()})
  --keep               keep the work folder
  --skip-verify        do not check that each replica equals the source
  --out <file>         results file (default bench/results/latest.md)
  --bin <file>         the foldersync launcher to run (default: this checkout's bin/foldersync.js)
  --ssh                instead: the remote bench (bench/ssh.js): to a folder over SFTP on a local
                       sshd, vs rsync -e ssh and rclone sftp; --files (default 10000), --big-mib
                       (default 512, one file) and --runs apply; results in bench/results/ssh.md`;

const { values: o } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    datasets: { type: 'string' },
    tree: { type: 'string' },
    scenarios: { type: 'string', default: '1,2,3,4,5' },
    tools: { type: 'string' },
    runs: { type: 'string', default: '3' },
    files: { type: 'string' },
    'big-mib': { type: 'string' },
    million: { type: 'boolean', default: false },
    // Hidden (not in --help), for testing the scaled run on fewer files.
    'million-files': { type: 'string' },
    daemon: { type: 'boolean', default: false },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'skip-verify': { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(HERE, 'results', 'latest.md') },
    bin: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
    ssh: { type: 'boolean', default: false },
  },
});
if (o.help) {
  console.log(HELP);
  process.exit(0);
}
if (o.ssh) {
  // The remote bench is its own run (bench/ssh.js): an sshd, other tools' command lines, other targets.
  const { benchSsh, SSH_RESULTS } = await import('./ssh.js');
  const bin = o.bin ? path.resolve(o.bin) : path.join(HERE, '..', 'bin', 'foldersync.js');
  await benchSsh({ files: Number(o.files) || 10_000, bigMiB: Number(o['big-mib']) || 512, runs: Math.max(1, Number(o.runs) || 3), out: o.out === path.join(HERE, 'results', 'latest.md') ? SSH_RESULTS : o.out, bin, keep: o.keep, ...(o.tools ? { tools: o.tools } : {}), ...(o.datasets ? { datasets: o.datasets } : {}) });
  process.exit(0);
}

const BIN = o.bin ? path.resolve(o.bin) : path.join(HERE, '..', 'bin', 'foldersync.js');
if (!existsSync(path.join(path.dirname(BIN), '..', 'dist', 'main.js'))) {
  console.error('dist/ is missing: run `npm ci` (or `npm run build`) first');
  process.exit(2);
}
const runs = Math.max(1, Number(o.runs) || 3);
const scenarios = new Set(o.scenarios.split(',').map((s) => s.trim()));
const manyFiles = Number(o.files) || (o.quick ? 10_000 : 100_000);
const bigMiB = Number(o['big-mib']) || (o.quick ? 64 : 512);
const millionFiles = Number(o['million-files']) || 1_000_000;
const datasets = (o.datasets ?? 'many,big').split(',').filter(Boolean);
if (o.tree) datasets.push('tree');

/** @type {Record<string, Tool>} */
const TOOLS = {
  foldersync: { cmd: process.execPath, args: (s, d, x) => [BIN, '-s', s, '-r', d, '--once', '--state', x.state] },
  rsync: { cmd: 'rsync', args: (s, d) => ['-a', '--delete', `${s}/`, `${d}/`] },
  rclone: { cmd: 'rclone', args: (s, d, x) => ['sync', '--links', ...(x.renames ? ['--track-renames'] : []), s, d] },
};
const tools = (o.tools ?? 'foldersync,rsync,rclone').split(',').filter((t) => {
  if (!TOOLS[t]) throw new Error(`unknown tool ${t}`);
  if (t === 'foldersync' || have(t)) return true;
  console.log(`note: ${t} is not installed; skipping it`);
  return false;
});

const work = o.dir ? path.resolve(o.dir) : mkdtempSync(path.join(os.tmpdir(), 'foldersync-bench-'));
mkdirSync(work, { recursive: true });
// rclone otherwise looks for (and complains about) a config in $HOME.
const env = { ...process.env, RCLONE_CONFIG: path.join(work, 'rclone.conf') };
/** @param {string} msg */
const log = (msg) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);
/** @type {Record<string, unknown>} */
const raw = {};
/** @type {string[]} */
const notes = [];
/** @type {Row[]} */
const rows = [];
/** @type {Row[]} */
const cpuRows = [];
let coldOk = true;

/**
 * The tools in a different order each run, so no tool always runs first (or right after another).
 * @param {string[]} list
 * @param {number} run
 */
const rotate = (list, run) => [...list.slice(run % list.length), ...list.slice(0, run % list.length)];

/**
 * One run of one tool on its own replica of a dataset.
 * @param {Dataset} ds
 * @param {string} tool
 * @param {{renames?: boolean, poll?: boolean}} [opts]
 */
async function runTool(ds, tool, { renames = false, poll = false } = {}) {
  const t = /** @type {Tool} */ (TOOLS[tool]);
  const argv = t.args(ds.src, ds.dst(tool), { state: ds.state(tool), renames });
  const r = await measure(t.cmd, argv, { env, poll });
  if (r.code !== 0) {
    const msg = `${tool} exited with ${r.code} on ${ds.name}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`;
    log(`WARNING ${msg}`);
    notes.push(msg);
  }
  return r;
}

/**
 * What latest.json keeps of one run.
 * @param {Measured} r
 */
const rawRun = ({ ms, cpuMs, maxRssKiB, treeRssKiB, processes }) => ({ ms: Math.round(ms), cpuMs, maxRssKiB, treeRssKiB, processes });

/**
 * Times `runs` rounds of every tool (rotating the order); `before(run)` edits the source first.
 * @param {Dataset} ds
 * @param {string} key
 * @param {{before?: (run: number) => unknown, renames?: boolean, cold?: boolean, poll?: boolean}} [opts]
 * @returns {Promise<{time: PerTool, cpu: PerTool, rss: PerTool}>}
 */
async function timed(ds, key, { before, renames = false, cold = false, poll = false } = {}) {
  /** @type {Record<string, Measured[]>} */
  const all = Object.fromEntries(tools.map((t) => [t, []]));
  for (let run = 0; run < runs; run++) {
    if (before) before(run);
    for (const tool of rotate(tools, run)) {
      if (cold) {
        rmSync(ds.dst(tool), { recursive: true, force: true });
        rmSync(ds.state(tool), { force: true });
        if (!dropCaches()) coldOk = false;
      }
      const r = await runTool(ds, tool, { renames, poll });
      all[tool]?.push(r);
      const rss = poll ? `, tree RSS ${((r.treeRssKiB ?? 0) / 1024).toFixed(0)} MB` : '';
      log(`${ds.name} ${key} run ${run + 1}/${runs} ${tool}: ${(r.ms / 1000).toFixed(3)} s (cpu ${((r.cpuMs ?? 0) / 1000).toFixed(2)} s), max RSS ${((r.maxRssKiB ?? 0) / 1024).toFixed(0)} MB${rss}`);
    }
  }
  raw[`${ds.name}/${key}`] = Object.fromEntries(tools.map((t) => [t, (all[t] ?? []).map(rawRun)]));
  /** @param {(r: Measured) => number | null} f */
  const med = (f) => Object.fromEntries(tools.map((t) => [t, median((all[t] ?? []).map(f))]));
  return { time: med((r) => r.ms), cpu: med((r) => r.cpuMs), rss: med((r) => (poll ? r.treeRssKiB : r.maxRssKiB)) };
}

/**
 * The floor for a no-change pass: two `find -printf` walks (source and one replica), timed the same way.
 * @param {Dataset} ds
 * @returns {Promise<{ms: number | null, cpuMs: number | null}>}
 */
async function floor(ds) {
  const fmt = '%y %s %T@ %m %p\\n';
  const script = `find "$1" -printf '${fmt}' >/dev/null && find "$2" -printf '${fmt}' >/dev/null`;
  const args = ['-c', script, 'sh', ds.src, ds.dst(tools[0] ?? 'foldersync')];
  await measure('sh', args);
  /** @type {Measured[]} */
  const all = [];
  for (let run = 0; run < runs; run++) all.push(await measure('sh', args));
  raw[`${ds.name}/floor`] = all.map((r) => ({ ms: Math.round(r.ms), cpuMs: r.cpuMs }));
  return { ms: median(all.map((r) => r.ms)), cpuMs: median(all.map((r) => r.cpuMs)) };
}

/**
 * A listing to compare trees: type, size and mtime (whole seconds) of files, link targets.
 * @param {string} root
 * @param {boolean} links include symlinks
 */
function listing(root, links) {
  const r = spawnSync('find', [root, '-mindepth', '1', '-printf', '%y\\t%P\\t%s\\t%Ts\\t%l\\n'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  /** @type {Map<string, string>} */
  const m = new Map();
  for (const line of r.stdout.split('\n')) {
    if (!line) continue;
    const [y = '', p = '', s, t, l] = line.split('\t');
    if (y === 'l' && !links) continue;
    m.set(p, y === 'f' ? `f ${s} ${t}` : y === 'l' ? `l ${l}` : y);
  }
  return m;
}

/**
 * Checks each tool's replica against the source (untimed); differences go in the notes.
 * @param {Dataset} ds
 * @param {string} when
 */
function verify(ds, when) {
  if (o['skip-verify']) return;
  for (const tool of tools) {
    // rclone mirrors links with --links, but keep its check about files and folders.
    const links = tool !== 'rclone';
    const want = listing(ds.src, links);
    const got = listing(ds.dst(tool), links);
    const diffs = [];
    for (const [p, v] of want) if (got.get(p) !== v) diffs.push(`${p}: want ${v}, got ${got.get(p) ?? 'nothing'}`);
    for (const p of got.keys()) if (!want.has(p)) diffs.push(`${p}: extra`);
    if (diffs.length) {
      const msg = `${ds.name} after ${when}: ${tool}'s replica differs from the source in ${diffs.length} paths, e.g. ${diffs.slice(0, 3).join('; ')}`;
      log(`WARNING ${msg}`);
      notes.push(msg);
    }
  }
}

/**
 * An untimed pass of every tool, so the replicas match the source before a timed scenario.
 * @param {Dataset} ds
 */
async function settle(ds) {
  for (const tool of tools) await runTool(ds, tool, { renames: tool === 'rclone' });
}

/**
 * Generates (or points at) a dataset.
 * @param {string} name
 * @returns {Dataset}
 */
function makeDataset(name) {
  const base = path.join(work, name);
  /** @type {Dataset} */
  const ds = {
    name,
    label: name,
    src: path.join(base, 'src'),
    dst: (tool) => path.join(base, `dst-${tool}`),
    state: (tool) => path.join(base, `${tool}.record`),
    files: [],
    count: 0,
    readOnly: false,
  };
  const t0 = Date.now();
  if (name === 'many') {
    ds.files = generateMany(ds.src, { count: manyFiles });
    ds.count = manyFiles;
    ds.label = `many (${manyFiles.toLocaleString('en')} files)`;
  } else if (name === 'big') {
    ds.files = generateBig(ds.src, { count: 4, size: bigMiB * MiB });
    ds.count = 4;
    ds.label = `big (4 × ${bigMiB} MiB)`;
  } else if (name === 'tree' && o.tree) {
    ds.src = path.resolve(o.tree);
    ds.readOnly = true;
    // One byte per regular file: how many the tree holds decides scenario 5's target.
    ds.count = spawnSync('find', [ds.src, '-type', 'f', '-printf', '.'], { encoding: 'utf8', maxBuffer: 1 << 30 }).stdout.length;
    ds.label = `tree ${ds.src}`;
  } else {
    throw new Error(`unknown dataset ${name}`);
  }
  if (!ds.readOnly) log(`generated ${ds.label} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return ds;
}

/**
 * Adds a table row (and its CPU-time twin for time rows).
 * @param {Dataset} ds
 * @param {string} scenario
 * @param {'time' | 'rss'} unit
 * @param {PerTool} values
 * @param {Target} target
 * @param {PerTool} [cpu]
 */
function row(ds, scenario, unit, values, target, cpu) {
  const pick = (/** @type {PerTool} */ v) => ({ fs: v.foldersync ?? null, rsync: v.rsync ?? null, rclone: v.rclone ?? null });
  rows.push({ dataset: ds.label, scenario, unit, ...pick(values), target: target.text, met: target.met });
  if (cpu) cpuRows.push({ dataset: ds.label, scenario, unit, ...pick(cpu), target: '', met: null });
}

/**
 * a ≤ b, or null when either is unknown.
 * @param {number | null | undefined} a
 * @param {number | null | undefined} b
 */
const le = (a, b) => (a == null || b == null ? null : a <= b);

/** @type {Target} */
const NO_TARGET = { text: '', met: null };

/**
 * foldersync ≤ k × a baseline, with the ratio in the cell: `≤ 0.8 × rsync (fs = 0.63×)`.
 * @param {number | null | undefined} fs
 * @param {number} k
 * @param {number | null | undefined} base
 * @param {string} what the baseline's name
 * @returns {Target}
 */
const ratioAtMost = (fs, k, base, what) => ({ text: `≤ ${k} × ${what} (fs = ${ratio(fs ?? null, base ?? null)})`, met: le(fs, base == null ? null : k * base) });

/**
 * A scenario's time target: foldersync ≤ 0.8 × rsync, the big files' initial copy ≤ 0.4 × rsync.
 * @param {Dataset} ds
 * @param {'1' | '2' | '3' | '4'} scenario
 * @param {PerTool} time medians
 */
const vsRsync = (ds, scenario, time) =>
  ratioAtMost(time.foldersync, ds.name === 'big' && scenario === '1' ? TARGET.bigCopyVsRsync : TARGET.vsRsync, time.rsync, 'rsync');

/**
 * A peak RSS ceiling in MB (peaks are in KiB).
 * @param {number | null | undefined} kib
 * @param {number} mb
 * @returns {Target}
 */
const rssAtMost = (kib, mb) => ({ text: `≤ ${mb} MB`, met: le(kib, mb * 1024) });

/**
 * The floor row: two `find` walks, and the no-change pass against them.
 * @param {Dataset} ds
 * @param {number | null | undefined} fs2 foldersync's no-change pass
 * @param {{ms: number | null, cpuMs: number | null}} fl
 */
function floorRow(ds, fs2, fl) {
  const t = ratioAtMost(fs2, TARGET.floor, fl.ms, 'floor');
  row(ds, '2 floor: 2 × find -printf', 'time', { foldersync: fl.ms }, { ...t, text: `fs ${t.text}` }, { foldersync: fl.cpuMs });
}

/**
 * All scenarios on one dataset.
 * @param {string} name
 */
async function benchDataset(name) {
  const ds = makeDataset(name);

  if (scenarios.has('1')) {
    log(`${ds.label}: scenario 1, initial copy`);
    // The timed copies are also the memory runs (polled): a sample costs the bench process about
    // 0.4 ms of CPU every 20 ms (~2 % of one core, the same for every tool), small next to a
    // copy's I/O, while separate polled copies would double the slowest scenario.
    const s1 = await timed(ds, 's1-copy', { cold: true, poll: true });
    row(ds, `1 initial copy (${coldOk ? 'cold cache' : 'warm cache'})`, 'time', s1.time, vsRsync(ds, '1', s1.time), s1.cpu);
    row(ds, '1 peak RSS, initial copy', 'rss', s1.rss, rssAtMost(s1.rss.foldersync, TARGET.rssMB));
    verify(ds, 'scenario 1');
  }
  // The first pass after a copy may still teach the record; the scenarios start from a settled state.
  await settle(ds);
  log(`${ds.label}: scenario 2, no-change pass`);
  const s2 = await timed(ds, 's2-nochange');
  const fl = await floor(ds);
  const fs2 = s2.time.foldersync;
  if (scenarios.has('2')) {
    row(ds, '2 no-change pass', 'time', s2.time, vsRsync(ds, '2', s2.time), s2.cpu);
    floorRow(ds, fs2, fl);
  }

  if (scenarios.has('5')) {
    log(`${ds.label}: scenario 5, peak RSS of a no-change pass`);
    const s5 = await timed(ds, 's5-rss', { poll: true });
    // The MB ceiling is set for 100,000 files; smaller trees are held to rclone instead.
    const fs5 = s5.rss.foldersync;
    const target = ds.count >= TARGET.rssFiles ? rssAtMost(fs5, TARGET.rssMB) : { text: '≤ rclone', met: le(fs5, s5.rss.rclone) };
    row(ds, '5 peak RSS, no-change pass', 'rss', s5.rss, target);
  }

  if (!ds.readOnly && scenarios.has('4')) {
    log(`${ds.label}: scenario 4, 1 % of the files modified`);
    const s4 = await timed(ds, 's4-modify', { before: (run) => modifyOnePercent(ds.src, ds.files, run) });
    row(ds, '4 after modifying 1 % of files', 'time', s4.time, vsRsync(ds, '4', s4.time), s4.cpu);
    verify(ds, 'scenario 4');
  }

  if (name === 'many' && manyFiles < 4000 && scenarios.has('3')) notes.push('scenario 3 needs at least 4,000 files in "many" (a 2,000-file folder to move); skipped.');
  else if (!ds.readOnly && scenarios.has('3')) {
    log(`${ds.label}: scenario 3, renames`);
    prepareRename(ds.src, name);
    await settle(ds);
    const what = name === 'big' ? `rename one ${bigMiB} MiB file` : 'move a 2,000-file folder';
    const s3 = await timed(ds, 's3-rename', { before: (run) => renameAndMove(ds.src, run, name), renames: true });
    row(ds, `3 pass after: ${what}`, 'time', s3.time, vsRsync(ds, '3', s3.time), s3.cpu);
    /** @type {PerTool} */
    const cost = {};
    for (const t of tools) {
      const a = s3.time[t];
      const b = s2.time[t];
      cost[t] = a == null || b == null ? null : Math.max(0, a - b);
    }
    /** @type {PerTool} */
    const cpuCost = {};
    for (const t of tools) {
      const a = s3.cpu[t];
      const b = s2.cpu[t];
      cpuCost[t] = a == null || b == null ? null : Math.max(0, a - b);
    }
    const met = le(cost.foldersync, cost.rsync == null ? null : TARGET.renameCost * cost.rsync);
    row(ds, '3 rename cost (pass − no-change pass)', 'time', cost, { text: `fs ≤ ${TARGET.renameCost * 100} % of rsync`, met }, cpuCost);
    verify(ds, 'scenario 3');
  }
  if (!o.keep) rmSync(path.join(work, name), { recursive: true, force: true });
}

/**
 * The scaled run: 1,000,000 small files (`--million-files` for fewer). The initial copy (one run,
 * cold cache) and the no-change pass (`runs` runs), both polled for peak RSS, and the record's size.
 * foldersync and rsync only.
 */
async function benchMillion() {
  const name = 'million';
  const base = path.join(work, name);
  const own = tools.filter((t) => t !== 'rclone');
  /** @type {Dataset} */
  const ds = {
    name,
    label: `million (${millionFiles.toLocaleString('en')} files)`,
    src: path.join(base, 'src'),
    dst: (t) => path.join(base, `dst-${t}`),
    state: (t) => path.join(base, `${t}.record`),
    files: [],
    count: millionFiles,
    readOnly: false,
  };
  const t0 = Date.now();
  generateMany(ds.src, { count: millionFiles, maxSize: 4096, seed: 3 });
  log(`generated ${ds.label} (0–4 KiB each) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  /** @type {Record<string, Measured>} */
  const copies = {};
  let cold = true;
  for (const tool of own) {
    if (!dropCaches()) cold = false;
    // Polled like scenario 1 of the other datasets (see there).
    const r = await runTool(ds, tool, { poll: true });
    copies[tool] = r;
    log(`million initial copy ${tool}: ${(r.ms / 1000).toFixed(1)} s, tree RSS ${((r.treeRssKiB ?? 0) / 1024).toFixed(0)} MB`);
    await runTool(ds, tool);
  }
  raw['million/s1-copy'] = Object.fromEntries(Object.entries(copies).map(([t, r]) => [t, [rawRun(r)]]));
  /** @type {Record<string, Measured[]>} */
  const passes = {};
  for (const tool of own) {
    /** @type {Measured[]} */
    const all = [];
    passes[tool] = all;
    for (let run = 0; run < runs; run++) {
      const r = await runTool(ds, tool, { poll: true });
      all.push(r);
      log(`million no-change ${tool}: ${(r.ms / 1000).toFixed(2)} s, tree RSS ${((r.treeRssKiB ?? 0) / 1024).toFixed(0)} MB`);
    }
  }
  raw['million/s2-nochange'] = Object.fromEntries(Object.entries(passes).map(([t, all]) => [t, all.map(rawRun)]));
  /**
   * @param {(r: Measured) => number | null} f
   * @returns {PerTool}
   */
  const copy = (f) => Object.fromEntries(Object.entries(copies).map(([t, r]) => [t, f(r)]));
  /**
   * @param {(r: Measured) => number | null} f
   * @returns {PerTool}
   */
  const nochange = (f) => Object.fromEntries(Object.entries(passes).map(([t, all]) => [t, median(all.map(f))]));
  const fl = await floor({ ...ds, dst: () => ds.dst(own[0] ?? 'foldersync') });
  const recordBytes = existsSync(ds.state('foldersync')) ? statSync(ds.state('foldersync')).size : null;
  const copyRss = copy((r) => r.treeRssKiB);
  const time = nochange((r) => r.ms);
  const rss = nochange((r) => r.treeRssKiB);
  row(ds, `1 initial copy (1 run, ${cold ? 'cold cache' : 'warm cache'})`, 'time', copy((r) => r.ms), NO_TARGET, copy((r) => r.cpuMs));
  row(ds, '1 peak RSS, initial copy', 'rss', copyRss, rssAtMost(copyRss.foldersync, TARGET.millionRssMB));
  row(ds, '2 no-change pass', 'time', time, { text: '≤ rsync', met: le(time.foldersync, time.rsync) }, nochange((r) => r.cpuMs));
  floorRow(ds, time.foldersync, fl);
  row(ds, '5 peak RSS, no-change pass', 'rss', rss, rssAtMost(rss.foldersync, TARGET.millionRssMB));
  if (recordBytes != null) {
    raw.millionRecordBytes = recordBytes;
    notes.push(`million: foldersync's record is ${(recordBytes / 1e6).toFixed(1)} MB on disk (${Math.round(recordBytes / millionFiles)} bytes per file).`);
  }
  if (!o.keep) rmSync(base, { recursive: true, force: true });
}

/** The daemon figures come from bench/daemon.js (watch latency, memory after many passes). */
function benchDaemon() {
  const script = path.join(HERE, 'daemon.js');
  if (!existsSync(script)) {
    notes.push('--daemon: bench/daemon.js does not exist yet; watch latency and memory after 1000 passes not measured.');
    return '';
  }
  log('daemon: running bench/daemon.js');
  const small = o.quick ? ['--files', String(manyFiles), '--passes', '200'] : [];
  const r = spawnSync(process.execPath, [script, '--dir', path.join(work, 'daemon'), ...small], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 26,
  });
  process.stdout.write(r.stdout ?? '');
  if (r.status !== 0) notes.push(`bench/daemon.js exited with ${r.status}`);
  return r.stdout ?? '';
}

const started = new Date();
const m = machine(work);
log(`work folder ${work}; ${m.cpu}, ${m.cores} cores, ${m.fs}; tools: ${tools.join(', ')}; ${runs} runs`);
try {
  for (const name of datasets) await benchDataset(name);
  if (o.million) await benchMillion();
  const daemonText = o.daemon ? benchDaemon() : '';
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const about = [
    `Medians of ${runs} runs per tool, tools alternating. Times are wall clock of the whole command (process start to exit).`,
    coldOk ? 'Scenario 1 drops the page cache (sync; echo 3 > /proc/sys/vm/drop_caches) before every run.' : 'Scenario 1 ran with a warm cache: dropping the page cache was not permitted.',
    'Scenarios 2–5 run with a warm cache, each tool on its own replica. foldersync logs at the default level to its console (stdout to /dev/null); rsync and rclone print nothing.',
    "Peak RSS: the sum over the process tree of each process's peak (VmHWM, sampled every 20 ms), scenario 1 during its timed copies, scenario 5 in separate no-change passes; /usr/bin/time -v's \"Maximum resident set size\" is the largest single process (for rsync one of its three processes), see latest.json.",
    "Rename cost: the pass after the rename minus the same tool's no-change pass (rclone: with --track-renames, baseline without).",
    ...notes,
  ];
  const text = [
    '## Benchmark results',
    '',
    table(rows),
    '',
    `Run on ${started.toISOString().slice(0, 10)} with \`${command}\`:`,
    '',
    machineText(m),
    '',
    ...about.map((n) => `- ${n}`),
    '',
    '### CPU time (user + system, all processes), medians',
    '',
    table(cpuRows),
    ...(daemonText ? ['', '### Daemon (bench/daemon.js)', '', daemonText.trim()] : []),
    '',
  ].join('\n');
  console.log(`\n${text}`);
  mkdirSync(path.dirname(o.out), { recursive: true });
  writeFileSync(o.out, text);
  writeFileSync(o.out.replace(/\.md$/, '.json'), `${JSON.stringify({ date: started.toISOString(), command, machine: m, rows, cpuRows, raw }, null, 1)}\n`);
  log(`written ${o.out}`);
} finally {
  if (!o.keep) rmSync(work, { recursive: true, force: true });
}
