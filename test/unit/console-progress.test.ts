import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { ConsoleProgress } from '../../src/console-progress.js';

/** A terminal that keeps what it is sent. */
function terminal(columns = 200): { columns: number; writes: string[]; write(s: string): boolean } {
  const writes: string[] = [];
  return { columns, writes, write: (s: string) => writes.push(s) > 0 };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('ConsoleProgress', () => {
  it('says the phase, the counts of the total, the rate and the time left', () => {
    const p = new ConsoleProgress(terminal(), 0);
    p.begin();
    try {
      p.expected(1000);
      p.listed(250);
      expect(p.text(performance.now())).toMatch(/^listing: 250 of about 1,000 listed, [\d,]+\/s, \d+:\d\d left$/);
      p.phase('hashing');
      p.hashed(2_500_000);
      expect(p.text(performance.now())).toMatch(/^hashing: 1 files, 2\.5 MB, [\d.]+ [kMGT]?B\/s, 250 listed$/);
      p.phase('copying');
      p.planned(4, 4_000_000);
      p.copied(1_000_000);
      expect(p.text(performance.now() + 1000)).toMatch(/^copying: 1\/4 files, 1\.0 MB\/4\.0 MB, [\d.]+ [kM]B\/s, \d+:\d\d left, 250 listed$/);
    } finally {
      p.end();
    }
  });

  it('draws nothing before its delay, at most 10 times a second after it, and erases the line when told and at the end', async () => {
    const quiet = terminal();
    const late = new ConsoleProgress(quiet, 60_000);
    late.begin();
    late.listed(5);
    await sleep(300);
    late.end();
    expect(quiet.writes).toEqual([]);

    const t = terminal();
    const p = new ConsoleProgress(t, 0);
    p.begin();
    const started = performance.now();
    // A counter that changes all the time: every tick has something new to draw.
    const busy = setInterval(() => p.listed(1), 5);
    try {
      await sleep(600);
      const draws = t.writes.filter((w) => w.startsWith('\r\x1b[Klisting'));
      const secs = (performance.now() - started) / 1000;
      expect(draws.length).toBeGreaterThan(0);
      expect(draws.length).toBeLessThanOrEqual(Math.ceil(secs * 10) + 1);
      p.clear();
      expect(t.writes.at(-1)).toBe('\r\x1b[K');
    } finally {
      clearInterval(busy);
      p.end();
    }
    const n = t.writes.length;
    await sleep(250);
    expect(t.writes.length).toBe(n);
  });

  it('never draws wider than the terminal', async () => {
    const t = terminal(30);
    const p = new ConsoleProgress(t, 0);
    p.begin();
    p.listed(123_456_789);
    await sleep(250);
    p.end();
    for (const w of t.writes) expect(w.replace('\r\x1b[K', '').length).toBeLessThanOrEqual(29);
    expect(t.writes.length).toBeGreaterThan(0);
  });
});
