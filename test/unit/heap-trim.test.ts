import v8 from 'node:v8';
import { describe, expect, it, vi } from 'vitest';
import { HeapTrim } from '../../src/heap-trim.js';

const young = (): number => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;

describe('HeapTrim', () => {
  it('shrinks the young generation a pass grew, once allocation has been quiet', async () => {
    // A pass's worth of short-lived objects, some surviving a while: the young generation grows.
    let keep: object[][] = [];
    for (let r = 0; r < 400 && young() < 8 << 20; r++) {
      keep.push(Array.from({ length: 20_000 }, (_, i) => ({ i, s: `x${i}` })));
      if (keep.length > 4) keep.shift();
    }
    keep = [];
    expect(young()).toBeGreaterThanOrEqual(8 << 20);
    // V8 judges allocation by the last 5 seconds: a daemon trims after 6 s of quiet.
    await new Promise((r) => setTimeout(r, 5_500));
    const trim = new HeapTrim();
    await trim.trim();
    expect(young()).toBeLessThanOrEqual(2 << 20);
  }, 20_000);

  it('trims 6 s after the last pass ends; a pass starting meanwhile, or close(), cancels it', () => {
    vi.useFakeTimers();
    try {
      class Counting extends HeapTrim {
        trims = 0;
        override trim(): Promise<void> {
          this.trims++;
          return Promise.resolve();
        }
      }
      const t = new Counting();
      t.busy(false);
      vi.advanceTimersByTime(3_000);
      t.busy(true);
      vi.advanceTimersByTime(10_000);
      expect(t.trims).toBe(0);
      t.busy(false);
      vi.advanceTimersByTime(5_900);
      expect(t.trims).toBe(0);
      vi.advanceTimersByTime(200);
      expect(t.trims).toBe(1);
      t.busy(false);
      t.close();
      t.close();
      vi.advanceTimersByTime(10_000);
      expect(t.trims).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });
});
