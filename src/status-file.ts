import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { JobStatus } from './jobs/job.js';
import type { ActionName } from './sync/types.js';

/** The counts of a pass that are changes to the replica. */
export const CHANGE_KEYS: readonly ActionName[] = ['copy', 'update', 'move', 'delete', 'mkdir', 'rmdir', 'symlink', 'attrs'];

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Pure: the daemon's status as the contract's JSON object (times as ISO 8601 text). */
export function statusJson(jobs: readonly JobStatus[]): string {
  const out = {
    jobs: jobs.map((j) => {
      const { endedAt, ...pass } = j.lastPass ?? { endedAt: null };
      return {
        name: j.name,
        state: j.state,
        source: j.source,
        replica: j.replica,
        lastPass: j.lastPass ? { ...pass, time: iso(endedAt) } : null,
        lastSuccessAt: iso(j.lastSuccessAt),
        problem: j.problem?.message ?? null,
        nextPassAt: iso(j.nextPassAt),
      };
    }),
  };
  return `${JSON.stringify(out, null, 2)}\n`;
}

/** A Prometheus label value, escaped. */
const label = (s: string): string => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/**
 * Pure: the status in Prometheus text format, for node_exporter's textfile collector. Per job:
 * last success time, last pass time, duration, changes by kind, errors, bytes, state.
 */
export function statusProm(jobs: readonly JobStatus[]): string {
  const lines: string[] = [];
  const metric = (name: string, help: string, type: 'gauge', rows: [string, number][]): void => {
    if (rows.length === 0) return;
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of rows) lines.push(`${name}{${labels}} ${v}`);
  };
  const job = (j: JobStatus): string => `job="${label(j.name)}"`;
  const passed = jobs.filter((j) => j.lastPass !== null);
  metric('foldersync_last_success_timestamp_seconds', 'End of the last pass that succeeded (0: none yet).', 'gauge', jobs.map((j) => [job(j), (j.lastSuccessAt ?? 0) / 1000]));
  metric('foldersync_last_pass_timestamp_seconds', 'End of the last pass, whatever its outcome.', 'gauge', passed.map((j) => [job(j), j.lastPass!.endedAt / 1000]));
  metric('foldersync_last_pass_duration_seconds', 'How long the last pass took.', 'gauge', passed.map((j) => [job(j), j.lastPass!.durationMs / 1000]));
  metric(
    'foldersync_last_pass_changes',
    'Changes the last pass made to the replica, by kind.',
    'gauge',
    passed.flatMap((j) => CHANGE_KEYS.map((k): [string, number] => [`${job(j)},action="${k}"`, j.lastPass![k]])),
  );
  metric('foldersync_last_pass_errors', 'Entries that failed in the last pass.', 'gauge', passed.map((j) => [job(j), j.lastPass!.errors]));
  metric(
    'foldersync_last_pass_outcome',
    'The last pass outcome (1 for the one it had): ok, errors, refused, aborted; not_run when the replica was locked or unreachable.',
    'gauge',
    jobs.flatMap((j) => {
      const had = j.problem ? 'not_run' : j.lastPass?.outcome;
      return had ? (['ok', 'errors', 'refused', 'aborted', 'not_run'] as const).map((o): [string, number] => [`${job(j)},outcome="${o}"`, o === had ? 1 : 0]) : [];
    }),
  );
  metric('foldersync_last_pass_bytes', 'Bytes the last pass copied.', 'gauge', passed.map((j) => [job(j), j.lastPass!.bytes]));
  metric('foldersync_job_paused', '1 while the job is paused.', 'gauge', jobs.map((j) => [job(j), j.state === 'paused' ? 1 : 0]));
  return `${lines.join('\n')}\n`;
}

/**
 * Writes the status to `file` atomically (a temp file in the same folder renamed over it), so a
 * reader never sees half of it: Prometheus text when the name ends in `.prom`, JSON otherwise.
 */
export function writeStatusFile(file: string, jobs: readonly JobStatus[]): void {
  const text = file.endsWith('.prom') ? statusProm(jobs) : statusJson(jobs);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}
