// Turns benchmark results into one markdown table plus the machine it ran on.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/**
 * First line of a command's output, or null when it is not installed.
 * @param {string} cmd
 * @param {string[]} args
 */
function firstLine(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? (r.stdout.split('\n')[0] ?? '').trim().replace(/\s+/g, ' ') : null;
}

/**
 * @typedef {{cpu: string, cores: number, ramGiB: number, kernel: string, fs: string, node: string, rsync: string | null, rclone: string | null}} Machine
 */

/**
 * The machine: cpu, cores, RAM, the work folder's filesystem, and tool versions.
 * @param {string} workDir
 * @returns {Machine}
 */
export function machine(workDir) {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu;
  } catch {
    // not Linux: os.cpus() is good enough
  }
  const df = spawnSync('df', ['-T', workDir], { encoding: 'utf8' });
  const fsType = df.status === 0 ? (df.stdout.trim().split('\n')[1]?.split(/\s+/)[1] ?? '?') : '?';
  return {
    cpu,
    cores: os.availableParallelism(),
    ramGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    fs: fsType,
    node: process.version,
    rsync: firstLine('rsync', ['--version']),
    rclone: firstLine('rclone', ['version']),
  };
}

/** @param {number | null} ms */
const sec = (ms) => (ms == null ? '—' : `${(ms / 1000).toFixed(ms < 10_000 ? 3 : 1)} s`);
/** @param {number | null} kib */
const mib = (kib) => (kib == null ? '—' : `${(kib / 1024).toFixed(0)} MB`);
/**
 * a / b as `0.63×`, or a dash when either is unknown.
 * @param {number | null} a
 * @param {number | null} b
 */
export const ratio = (a, b) => (a == null || b == null || b <= 0 ? '—' : `${(a / b).toFixed(2)}×`);

/**
 * @typedef {object} Row
 * @property {string} dataset
 * @property {string} scenario
 * @property {'time' | 'rss'} unit
 * @property {number | null} fs foldersync's median
 * @property {number | null} rsync
 * @property {number | null} rclone
 * @property {string} target
 * @property {boolean | null} met
 */

/**
 * Renders rows as one markdown table: medians per tool and foldersync's ratio to each other tool.
 * @param {Row[]} rows
 */
export function table(rows) {
  const head = '| dataset | scenario | foldersync | rsync | rclone | fs / rsync | fs / rclone | target | met |';
  const sep = '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | :---: |';
  const lines = rows.map((r) => {
    const f = r.unit === 'rss' ? mib : sec;
    const met = r.met == null ? '' : r.met ? 'yes' : '**no**';
    return `| ${r.dataset} | ${r.scenario} | ${f(r.fs)} | ${f(r.rsync)} | ${f(r.rclone)} | ${ratio(r.fs, r.rsync)} | ${ratio(r.fs, r.rclone)} | ${r.target ?? ''} | ${met} |`;
  });
  return [head, sep, ...lines].join('\n');
}

/**
 * The machine as a markdown list.
 * @param {Machine} m
 */
export function machineText(m) {
  return [
    `- CPU: ${m.cpu}, ${m.cores} cores; RAM ${m.ramGiB} GiB; ${m.kernel}`,
    `- work folder filesystem: ${m.fs}`,
    `- node ${m.node}; ${m.rsync ?? 'rsync not installed'}; ${m.rclone ?? 'rclone not installed'}`,
  ].join('\n');
}
