// Runs one command and measures it: wall time, the peak RSS that `/usr/bin/time` reports, and
// optionally the sum of the peaks of every process in its tree (rsync runs as three processes).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const TIME = '/usr/bin/time';

/**
 * True when a command can be found on PATH.
 * @param {string} cmd
 */
export function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Flushes dirty pages and drops the page cache; false when not permitted (then caches stay warm). */
export function dropCaches() {
  spawnSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    return false;
  }
}

/**
 * Direct children of a process (Linux /proc; empty when the process is gone).
 * @param {number} pid
 * @returns {number[]}
 */
function children(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * A process's peak resident set size so far (VmHWM), in KiB; 0 when it is gone.
 * @param {number} pid
 */
function hwmKiB(pid) {
  try {
    const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * @typedef {object} Measured
 * @property {number} ms wall time, process start to exit
 * @property {number | null} code exit code
 * @property {number | null} cpuMs user + system CPU time of the whole process tree
 * @property {number | null} maxRssKiB the largest single process's peak RSS (time -v)
 * @property {number | null} treeRssKiB sum of each process's peak RSS (only with poll)
 * @property {number | null} processes processes seen in the tree (only with poll)
 * @property {string} stderr the first 20,000 characters of stderr
 */

/**
 * Runs `cmd args` under `/usr/bin/time`. maxRssKiB is what `time -v` calls "Maximum resident
 * set size": the largest single process of the tree (wait4 rusage), not a sum. With `poll`, the
 * tree is sampled every 20 ms and treeRssKiB is the sum over its processes of each one's peak
 * (VmHWM); the sampling costs a little CPU, so only the memory scenario uses it.
 * @param {string} cmd
 * @param {string[]} args
 * @param {{poll?: boolean, env?: NodeJS.ProcessEnv}} [opts]
 * @returns {Promise<Measured>}
 */
export function measure(cmd, args, { poll = false, env } = {}) {
  const useTime = existsSync(TIME);
  const out = path.join(os.tmpdir(), `bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const argv = useTime ? ['-f', '%M %U %S', '-o', out, cmd, ...args] : args;
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(useTime ? TIME : cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], env: env ?? process.env });
    let stderr = '';
    child.stderr.on('data', (d) => {
      if (stderr.length < 20_000) stderr += d;
    });
    /** @type {Map<number, number>} */
    const peaks = new Map();
    const sample = () => {
      const stack = child.pid === undefined ? [] : children(child.pid);
      for (let pid = stack.pop(); pid !== undefined; pid = stack.pop()) {
        peaks.set(pid, Math.max(peaks.get(pid) ?? 0, hwmKiB(pid)));
        stack.push(...children(pid));
      }
    };
    const timer = poll ? setInterval(sample, 20) : undefined;
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (timer) clearInterval(timer);
      let maxRssKiB = null;
      let cpuMs = null;
      if (useTime && existsSync(out)) {
        // A non-zero exit makes time write "Command exited with non-zero status N" first.
        const [rss, user, sys] = (readFileSync(out, 'utf8').trim().split('\n').pop() ?? '').split(' ').map(Number);
        maxRssKiB = rss || null;
        cpuMs = user === undefined || sys === undefined ? null : Math.round((user + sys) * 1000);
        rmSync(out, { force: true });
      }
      const treeRssKiB = poll ? [...peaks.values()].reduce((a, b) => a + b, 0) : null;
      resolve({ ms, code, cpuMs, maxRssKiB, treeRssKiB, processes: poll ? peaks.size : null, stderr });
    });
  });
}

/**
 * The median of a list of numbers, ignoring nulls (null for an empty list).
 * @param {(number | null)[]} xs
 * @returns {number | null}
 */
export function median(xs) {
  /** @type {number[]} */
  const v = [];
  for (const x of xs) if (typeof x === 'number' && Number.isFinite(x)) v.push(x);
  v.sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? /** @type {number} */ (v[m]) : (/** @type {number} */ (v[m - 1]) + /** @type {number} */ (v[m])) / 2;
}
