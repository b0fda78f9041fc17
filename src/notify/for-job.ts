import type { Logger } from 'pino';
import type { TallySink } from '../sync/tally.js';
import type { PassReport } from '../sync/types.js';
import { Notifier } from './notifier.js';
import type { NotifySettings } from './options.js';
import { PassLines } from './pass-lines.js';
import type { JobInfo } from './summary.js';

/** A job's notifications as its passes use them: the sink for its engine, one call after each pass, and close. */
export interface JobNotifications {
  /** Give to the job's engine (EngineDeps.sink): its tally reports each change and error here. */
  readonly sink: TallySink;
  /** After each pass of the job (returns at once). */
  afterPass(report: PassReport): void;
  /** When the job ends: see Notifier.close. */
  close(hurry?: boolean): Promise<void>;
}

/** Wires one job's notifications (a job runs one pass at a time, so one line collector serves all its passes). */
export function jobNotifications(settings: NotifySettings, job: JobInfo, log: Logger): JobNotifications {
  const lines = new PassLines();
  const notifier = new Notifier(settings, job, { log });
  return {
    sink: lines,
    afterPass: (report) => notifier.afterPass(report, lines.take()),
    close: (hurry) => notifier.close(hurry),
  };
}
