import { performance } from 'node:perf_hooks';
import type { PassReport } from './sync/types.js';

/** What wakes the scheduler early besides a stop: a watch nudge. */
export interface Nudges {
  /** Resolves when a nudge arrives (or never); once `signal` fires the caller stops waiting. */
  next(signal: AbortSignal): Promise<void>;
}

/** The scheduler's view of the world. */
export interface ScheduleOptions {
  readonly intervalMs: number;
  /**
   * A full pass (kind 'interval') or a nudged one (kind 'nudge'). May resolve to undefined
   * when there turned out to be nothing to do.
   */
  readonly runPass: (kind: 'interval' | 'nudge') => Promise<PassReport | undefined>;
  /** Graceful stop: no new pass starts once it fires; the pass in flight finishes. */
  readonly stop: AbortSignal;
  readonly nudges?: Nudges;
  /** Monotonic clock in ms (default performance.now: wall-clock jumps do not move the schedule). */
  readonly now?: () => number;
}

/** setTimeout's largest delay; longer waits are slept in pieces. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The one loop that owns time: a full pass at once, then one every interval measured from the
 * previous full pass's start; a pass that outlasts the interval is followed at once by the
 * next. Nudged passes run in between and do not move the schedule. Passes never overlap:
 * this loop awaits each one. Returns the last pass's report.
 */
export async function runSchedule(o: ScheduleOptions): Promise<PassReport | undefined> {
  const now = o.now ?? (() => performance.now());
  let last: PassReport | undefined;
  while (!o.stop.aborted) {
    const started = now();
    last = (await o.runPass('interval')) ?? last;
    const due = started + o.intervalMs;
    while (!o.stop.aborted) {
      const wait = due - now();
      if (wait <= 0) break;
      const woke = await sleep(wait, o.stop, o.nudges);
      if (woke !== 'nudge' || o.stop.aborted) continue;
      last = (await o.runPass('nudge')) ?? last;
    }
  }
  return last;
}

/** Waits for the time to pass, a stop, or a nudge; removes its timer and listeners either way. */
async function sleep(ms: number, stop: AbortSignal, nudges?: Nudges): Promise<'time' | 'stop' | 'nudge'> {
  if (stop.aborted) return 'stop';
  const cancel = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onStop: (() => void) | undefined;
  try {
    return await Promise.race<'time' | 'stop' | 'nudge'>([
      new Promise((resolve) => {
        timer = setTimeout(() => resolve('time'), Math.min(ms, MAX_TIMER_MS));
      }),
      new Promise((resolve) => {
        onStop = () => resolve('stop');
        stop.addEventListener('abort', onStop, { once: true });
      }),
      ...(nudges ? [nudges.next(cancel.signal).then(() => 'nudge' as const)] : []),
    ]);
  } finally {
    clearTimeout(timer);
    if (onStop) stop.removeEventListener('abort', onStop);
    cancel.abort();
  }
}
