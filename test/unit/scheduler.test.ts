import { getEventListeners } from 'node:events';
import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { type Nudges, runSchedule } from '../../src/scheduler.js';
import { installStop } from '../../src/stop.js';
import { createEngine } from '../../src/sync/engine.js';
import { RecordStore } from '../../src/sync/record.js';
import { type PassReport, emptyCounts } from '../../src/sync/types.js';
import { startWatch } from '../../src/watch.js';
import { closePool, pool } from '../helpers/pass.js';
import { cleanupTemps, mirrorDiff, tempDir, writeTree } from '../helpers/tree.js';

afterEach(() => {
  vi.useRealTimers();
  cleanupTemps();
});
afterAll(closePool);

const report = (outcome: PassReport['outcome'] = 'ok'): PassReport => ({ ...emptyCounts(), outcome, durationMs: 0, dryRun: false });

/** A nudge source the test fires by hand. */
function manualNudges(): Nudges & { fire(): void } {
  let pending = false;
  let waiter: (() => void) | undefined;
  return {
    fire: () => {
      pending = true;
      const w = waiter;
      waiter = undefined;
      if (w) {
        pending = false;
        w();
      }
    },
    next: (signal) =>
      new Promise<void>((resolve) => {
        if (pending) {
          pending = false;
          resolve();
          return;
        }
        waiter = resolve;
        signal.addEventListener('abort', () => {
          if (waiter === resolve) waiter = undefined;
        });
      }),
  };
}

/**
 * Fake passes on fake timers: each takes the next duration from the list, records when it
 * started and how many passes ran at once, and stops the schedule after the last one.
 */
function fakePasses(durations: number[], stop: AbortController) {
  const starts: { kind: string; at: number }[] = [];
  let active = 0;
  let maxActive = 0;
  let i = 0;
  const t0 = Date.now();
  const runPass = async (kind: 'interval' | 'nudge'): Promise<PassReport> => {
    starts.push({ kind, at: Date.now() - t0 });
    active++;
    maxActive = Math.max(maxActive, active);
    const ms = durations[i++] ?? 0;
    await new Promise((r) => setTimeout(r, ms));
    active--;
    if (i >= durations.length) stop.abort();
    return report();
  };
  return { runPass, starts, maxActive: () => maxActive };
}

describe('runSchedule', () => {
  it('starts the first pass at once, the next one interval after the previous start, and a late one at once', async () => {
    vi.useFakeTimers();
    const stop = new AbortController();
    const f = fakePasses([100, 1500, 100, 100], stop);
    const done = runSchedule({ intervalMs: 1000, stop: stop.signal, runPass: f.runPass, now: () => Date.now() });
    await vi.advanceTimersByTimeAsync(10_000);
    await done;
    // 0 → 1000 (one interval after the start, not after the end at 100); the 1500 ms pass
    // ends at 2500, past its due time of 2000, so the next starts at once; then 2500 + 1000.
    expect(f.starts.map((s) => s.at)).toEqual([0, 1000, 2500, 3500]);
    expect(f.maxActive()).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a graceful stop between passes returns at once; during a pass it lets the pass finish and starts no other', async () => {
    vi.useFakeTimers();
    const stop = new AbortController();
    let passes = 0;
    const done = runSchedule({
      intervalMs: 3_600_000,
      stop: stop.signal,
      now: () => Date.now(),
      runPass: async () => {
        passes++;
        return report();
      },
    });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(passes).toBe(1);
    stop.abort();
    // No timer needs to fire for the loop to end.
    await expect(done).resolves.toMatchObject({ outcome: 'ok' });
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);

    const stop2 = new AbortController();
    let finished = false;
    let calls = 0;
    const done2 = runSchedule({
      intervalMs: 100,
      stop: stop2.signal,
      now: () => Date.now(),
      runPass: async () => {
        calls++;
        await new Promise((r) => setTimeout(r, 500));
        finished = true;
        return report('errors');
      },
    });
    await vi.advanceTimersByTimeAsync(200);
    stop2.abort();
    expect(finished).toBe(false);
    await vi.advanceTimersByTimeAsync(400);
    await expect(done2).resolves.toMatchObject({ outcome: 'errors' });
    expect(finished).toBe(true);
    expect(calls).toBe(1);
  });

  it('a nudge runs a pass between interval passes without moving the schedule, never overlapping', async () => {
    vi.useFakeTimers();
    const stop = new AbortController();
    const nudges = manualNudges();
    const f = fakePasses([50, 50, 300, 50, 50], stop);
    const done = runSchedule({ intervalMs: 1000, stop: stop.signal, runPass: f.runPass, nudges, now: () => Date.now() });
    await vi.advanceTimersByTimeAsync(300);
    nudges.fire(); // while sleeping: a nudged pass at once
    await vi.advanceTimersByTimeAsync(400); // 700
    nudges.fire(); // a long nudged pass (300 ms), 700..1000
    await vi.advanceTimersByTimeAsync(100); // 800: mid-pass
    nudges.fire(); // arrives during a pass: waits for it, never overlaps
    await vi.advanceTimersByTimeAsync(2_000);
    await done;
    expect(f.starts).toEqual([
      { kind: 'interval', at: 0 },
      { kind: 'nudge', at: 300 },
      { kind: 'nudge', at: 700 },
      { kind: 'interval', at: 1000 }, // due at 1000: the interval pass comes first
      { kind: 'nudge', at: 1050 },
    ]);
    expect(f.maxActive()).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps the last real report when a nudged pass had nothing to do', async () => {
    vi.useFakeTimers();
    const stop = new AbortController();
    const nudges = manualNudges();
    let n = 0;
    const done = runSchedule({
      intervalMs: 1000,
      stop: stop.signal,
      nudges,
      now: () => Date.now(),
      runPass: async (kind) => {
        n++;
        if (kind === 'nudge') {
          stop.abort();
          return undefined;
        }
        return report('refused');
      },
    });
    await vi.advanceTimersByTimeAsync(10);
    nudges.fire();
    await vi.advanceTimersByTimeAsync(10);
    await expect(done).resolves.toMatchObject({ outcome: 'refused' });
    expect(n).toBe(2);
  });

  it('real short intervals: passes start on schedule within tolerant bounds', async () => {
    const stop = new AbortController();
    const starts: number[] = [];
    const t0 = performance.now();
    await runSchedule({
      intervalMs: 50,
      stop: stop.signal,
      runPass: async () => {
        starts.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, starts.length === 2 ? 80 : 5));
        if (starts.length === 5) stop.abort();
        return report();
      },
    });
    const gaps = starts.slice(1).map((s, i) => s - starts[i]!);
    // 50 after each start; the second pass (80 ms) outlasts it and is followed at once.
    expect(gaps[0]).toBeGreaterThanOrEqual(49);
    expect(gaps[0]).toBeLessThan(90);
    expect(gaps[1]).toBeGreaterThanOrEqual(79);
    expect(gaps[1]).toBeLessThan(120);
    expect(gaps[2]).toBeGreaterThanOrEqual(49);
  });
});

describe('the daemon parts over many real passes', () => {
  it('leave no timers, handles or listeners behind, and the replica stays a mirror', async () => {
    const d = tempDir();
    const src = path.join(d, 'src');
    const dst = path.join(d, 'dst');
    writeTree(src, { a: 'x', sub: { b: 'y' } });
    const settings = { source: src, replica: dst, excludes: [], deleteExcluded: false, checksum: false, hash: 'sha256' as const, maxDelete: null, allowEmptySource: false, jobs: 4, dryRun: false };
    const log = pino({ level: 'silent' });
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    const listenersBefore = signals.map((s) => process.listenerCount(s));
    const resourcesBefore = process.getActiveResourcesInfo().length;

    const stdin = new PassThrough();
    const stop = installStop({ stdin });
    const watcher = startWatch({ source: src, excludes: [] }, log, { quietMs: 5, maxWaitMs: 20 });
    await watcher.ready;
    const { store } = await RecordStore.load(path.join(d, 'record'), src, dst);
    const engine = createEngine(settings, { log, store, pool: pool() });
    const samples: number[] = [];
    let passes = 0;
    await runSchedule({
      intervalMs: 1,
      stop: stop.graceful,
      nudges: watcher,
      runPass: async (kind) => {
        const scope = watcher.takeScope();
        const r = await engine.runPass({ signal: stop.hard, ...(kind === 'nudge' && scope ? { scope } : {}) });
        passes++;
        appendFileSync(path.join(src, 'sub', 'b'), 'z'); // something to do every pass
        // A leak grows with every pass; a handle of an operation still in flight does not, so
        // compare the fewest seen over a window early on with the fewest over a window late on.
        const n = process.getActiveResourcesInfo().length;
        if (passes >= 11 && passes <= 30) samples[0] = Math.min(samples[0] ?? n, n);
        if (passes >= 101 && passes <= 120) samples[1] = Math.min(samples[1] ?? n, n);
        if (passes === 120) writeFileSync(path.join(src, 'last'), 'done');
        if (passes === 121) stdin.write('quit\n');
        return r;
      },
    });
    // The last pass of the loop ran before the last write: one more catches up.
    await engine.runPass({});
    expect(stop.reason()).toBe('quit');
    expect(mirrorDiff(src, dst)).toEqual([]);
    // A leak of one handle per pass would show ~90 more here; 2 of slack absorbs an fs request or
    // timer that happens to be in flight at every sample of a window on a loaded machine.
    expect(samples[1], `resources late: ${process.getActiveResourcesInfo().join(', ')}`).toBeLessThanOrEqual(samples[0]! + 2);
    await watcher.close();
    await watcher.close(); // idempotent
    stop.dispose();
    await closePool();
    expect(signals.map((s) => process.listenerCount(s))).toEqual(listenersBefore);
    expect(getEventListeners(stop.graceful, 'abort')).toHaveLength(0);
    // Closed handles go away within a few turns of the loop (longer on a loaded machine): poll, bounded.
    const deadline = Date.now() + 2_000;
    while (process.getActiveResourcesInfo().length > resourcesBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(process.getActiveResourcesInfo().length, `left: ${process.getActiveResourcesInfo().join(', ')}`).toBeLessThanOrEqual(resourcesBefore);
  });
});
