import type { PassReport } from './sync/types.js';

/** What wakes the scheduler early besides a stop: a watch nudge. */
export interface Nudges {
  /** Resolves when a nudge arrives (or never); `signal` cancels the wait. */
  next(signal: AbortSignal): Promise<void>;
}

/** The scheduler's view of the world. */
export interface ScheduleOptions {
  readonly intervalMs: number;
  /** A full pass (kind 'interval') or a nudged one (kind 'nudge'). */
  readonly runPass: (kind: 'interval' | 'nudge') => Promise<PassReport>;
  /** Graceful stop: no new pass starts once it fires. */
  readonly stop: AbortSignal;
  readonly nudges?: Nudges;
  /** Injected clock, for tests. */
  readonly now?: () => number;
}

/**
 * The one loop that owns time: a full pass at once, then one every interval measured from the
 * previous full pass's start; a pass that outlasts the interval is followed at once by the
 * next. Nudged passes run in between. Passes never overlap: this loop awaits each one.
 */
export async function runSchedule(o: ScheduleOptions): Promise<PassReport | undefined> {
  const now = o.now ?? Date.now;
  let last: PassReport | undefined;
  while (!o.stop.aborted) {
    const started = now();
    last = await o.runPass('interval');
    const due = started + o.intervalMs;
    while (!o.stop.aborted) {
      const wait = due - now();
      if (wait <= 0) break;
      const woke = await sleep(wait, o.stop, o.nudges);
      if (woke !== 'nudge' || o.stop.aborted) continue;
      last = await o.runPass('nudge');
    }
  }
  return last;
}

/** Waits for the time to pass, a stop, or a nudge; cleans up its timer and listeners. */
async function sleep(ms: number, stop: AbortSignal, nudges?: Nudges): Promise<'time' | 'stop' | 'nudge'> {
  if (stop.aborted) return 'stop';
  const cancel = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onStop: (() => void) | undefined;
  try {
    return await Promise.race<'time' | 'stop' | 'nudge'>([
      new Promise((resolve) => {
        // setTimeout caps at 2^31-1 ms; the caller loops until the real deadline.
        timer = setTimeout(() => resolve('time'), Math.min(ms, 2_147_483_647));
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
