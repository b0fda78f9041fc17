import { type Config, isInside } from '../config.js';

/** A job and the part of its configuration the daemon checks across jobs. */
export interface NamedConfig {
  readonly name: string;
  readonly config: Pick<Config, 'source' | 'replica'>;
}

/** A problem between two jobs, charged to `name`'s `replica`. */
export interface Conflict {
  readonly name: string;
  readonly message: string;
}

/**
 * Pure: the jobs that would write into one replica, or into another job's source (which would
 * then copy its own output back and forth). Each pair is reported once, on the later job.
 */
export function conflicts(jobs: readonly NamedConfig[]): Conflict[] {
  const out: Conflict[] = [];
  jobs.forEach((j, i) => {
    for (const [k, other] of jobs.entries()) {
      if (k === i) continue;
      if (k < i && other.config.replica === j.config.replica) {
        out.push({ name: j.name, message: `${j.config.replica} is also the replica of job "${other.name}"` });
      } else if (isInside(j.config.replica, other.config.source)) {
        out.push({ name: j.name, message: `${j.config.replica} is inside the source of job "${other.name}" (${other.config.source})` });
      }
    }
  });
  return out;
}
