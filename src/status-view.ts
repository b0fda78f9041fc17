import type { JobStatus } from './jobs/job.js';
import { CHANGE_KEYS } from './status-file.js';

/** A span of time for a person: 45s, 12m, 3h5m, 2d4h. */
export function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d${h % 24}h` : `${d}d`;
}

/** A moment relative to now: "in 12m", "3m ago", "now". */
export function relative(at: number, now: number): string {
  const d = at - now;
  if (Math.abs(d) < 1000) return 'now';
  return d > 0 ? `in ${span(d)}` : `${span(-d)} ago`;
}

/** Pure: the `status` reply, one aligned line per job under a header. */
export function statusTable(jobs: readonly JobStatus[], now: number): string {
  if (jobs.length === 0) return 'no jobs';
  const rows = [['JOB', 'STATE', 'LAST PASS', 'OUTCOME', 'CHANGES', 'NEXT PASS']];
  for (const j of jobs) {
    const p = j.lastPass;
    const outcome = j.problem ? `not run: ${j.problem.kind}` : (p?.outcome ?? '-');
    const changes = p ? String(CHANGE_KEYS.reduce((n, k) => n + p[k], 0)) : '-';
    const next = j.state === 'paused' ? 'paused' : j.nextPassAt === null ? '-' : relative(j.nextPassAt, now);
    rows.push([j.name, j.state, p ? relative(p.endedAt, now) : 'never', outcome, changes, next]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')).join('\n');
}
