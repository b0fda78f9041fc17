import type { PassReport } from '../sync/types.js';

/** What identifies a job in a notification. */
export interface JobInfo {
  readonly job: string;
  readonly source: string;
  readonly replica: string;
}

/** The pass summary a notification carries: the `pass complete` line's fields, plus job, source and replica, and when it ended. */
export type PassSummary = Omit<PassReport, 'reason'> & JobInfo & { readonly time: number };

/** The summary of one pass (its `reason` stays out, as in the `pass complete` line). */
export function passSummary(r: PassReport, job: JobInfo, time: number): PassSummary {
  const { reason: _reason, ...line } = r;
  return { job: job.job, source: job.source, replica: job.replica, time, ...line };
}
