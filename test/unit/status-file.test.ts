import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobStatus } from '../../src/jobs/job.js';
import { statusProm, writeStatusFile } from '../../src/status-file.js';
import { emptyCounts } from '../../src/sync/types.js';
import { cleanupTemps, tempDir } from '../helpers/tree.js';

afterEach(cleanupTemps);

const ended = 1_800_000_000_000;
const jobs: JobStatus[] = [
  {
    name: 'photos',
    source: '/home/ann/Photos',
    replica: '/mnt/nas/photos',
    state: 'idle',
    lastPass: { ...emptyCounts(), copy: 2, update: 1, bytes: 2048, errors: 0, outcome: 'ok', durationMs: 1500, dryRun: false, endedAt: ended },
    lastSuccessAt: ended,
    problem: null,
    nextPassAt: ended + 3600_000,
  },
  { name: 'usb"1', source: '/s', replica: '/r', state: 'paused', lastPass: null, lastSuccessAt: null, problem: { kind: 'locked', message: 'x' }, nextPassAt: null },
];

describe('status file', () => {
  it('Prometheus text: per job, last success, duration, changes by kind, errors, outcome, bytes', () => {
    const text = statusProm(jobs);
    const lines = text.trimEnd().split('\n');
    // Every line is a comment or `name{labels} number`.
    for (const l of lines) expect(l).toMatch(/^(# (HELP|TYPE) foldersync_\w+ .+|foldersync_\w+\{job="(?:[^"\\]|\\.)*"(,\w+="\w+")?\} -?[\d.e+]+)$/);
    expect(lines).toContain('foldersync_last_success_timestamp_seconds{job="photos"} 1800000000');
    expect(lines).toContain('foldersync_last_success_timestamp_seconds{job="usb\\"1"} 0');
    expect(lines).toContain('foldersync_last_pass_duration_seconds{job="photos"} 1.5');
    expect(lines).toContain('foldersync_last_pass_changes{job="photos",action="copy"} 2');
    expect(lines).toContain('foldersync_last_pass_changes{job="photos",action="update"} 1');
    expect(lines).toContain('foldersync_last_pass_errors{job="photos"} 0');
    expect(lines).toContain('foldersync_last_pass_bytes{job="photos"} 2048');
    expect(lines).toContain('foldersync_last_pass_outcome{job="photos",outcome="ok"} 1');
    expect(lines).toContain('foldersync_last_pass_outcome{job="usb\\"1",outcome="not_run"} 1');
    expect(lines).toContain('foldersync_job_paused{job="usb\\"1"} 1');
    expect(lines.filter((l) => l.startsWith('# TYPE')).length).toBe(new Set(lines.filter((l) => l.startsWith('# TYPE'))).size);
  });

  it('is written atomically: JSON, or Prometheus text for a .prom name, and no temp file is left', () => {
    const d = tempDir('fs-status-');
    writeStatusFile(path.join(d, 'status.json'), jobs);
    writeStatusFile(path.join(d, 'foldersync.prom'), jobs);
    expect(readdirSync(d).sort()).toEqual(['foldersync.prom', 'status.json']);
    const json = JSON.parse(readFileSync(path.join(d, 'status.json'), 'utf8')) as { jobs: Record<string, unknown>[] };
    expect(json.jobs[0]).toMatchObject({
      name: 'photos',
      state: 'idle',
      lastPass: { copy: 2, update: 1, bytes: 2048, outcome: 'ok', durationMs: 1500, time: new Date(ended).toISOString() },
      nextPassAt: new Date(ended + 3600_000).toISOString(),
    });
    expect(json.jobs[1]).toMatchObject({ name: 'usb"1', state: 'paused', lastPass: null, nextPassAt: null, problem: 'x' });
    expect(readFileSync(path.join(d, 'foldersync.prom'), 'utf8')).toBe(statusProm(jobs));
  });
});
