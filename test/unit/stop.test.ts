import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { installStop } from '../../src/stop.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('installStop', () => {
  it.each(['quit', 'exit', 'q', ' QUIT ', 'Exit\r', '\tq  '])('%j on stdin stops gracefully', async (word) => {
    const stdin = new PassThrough();
    const stop = installStop({ stdin });
    try {
      stdin.write(`${word}\n`);
      await tick();
      expect(stop.graceful.aborted).toBe(true);
      expect(stop.hard.aborted).toBe(false);
      expect(stop.reason()?.toLowerCase()).toBe(word.trim().toLowerCase());
    } finally {
      stop.dispose();
    }
  });

  it('other lines and the end of stdin do not stop', async () => {
    const stdin = new PassThrough();
    const stop = installStop({ stdin });
    try {
      stdin.write('quitx\nqq\n\nplease quit\nq u i t\n');
      stdin.end();
      await tick();
      await tick();
      expect(stop.graceful.aborted).toBe(false);
    } finally {
      stop.dispose();
    }
  });

  it('SIGTERM stops gracefully, a second SIGINT hard, SIGHUP reopens; dispose removes every listener', async () => {
    const before = ['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => process.listenerCount(s));
    const seen: string[] = [];
    let hups = 0;
    const stop = installStop({ stdin: null, onHup: () => hups++, onSignal: (w) => seen.push(w) });
    process.emit('SIGHUP', 'SIGHUP');
    expect(hups).toBe(1);
    expect(stop.graceful.aborted).toBe(false);
    process.emit('SIGTERM', 'SIGTERM');
    expect(stop.graceful.aborted).toBe(true);
    expect(stop.hard.aborted).toBe(false);
    process.emit('SIGINT', 'SIGINT'); // the first SIGINT after a graceful stop is the "second" one
    expect(stop.hard.aborted).toBe(true);
    expect(seen).toEqual(['SIGTERM', 'second SIGINT']);
    stop.dispose();
    stop.dispose();
    expect(['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => process.listenerCount(s))).toEqual(before);
  });

  it('one SIGINT is graceful, the next one hard', () => {
    const stop = installStop({ stdin: null });
    try {
      process.emit('SIGINT', 'SIGINT');
      expect([stop.graceful.aborted, stop.hard.aborted]).toEqual([true, false]);
      expect(stop.reason()).toBe('SIGINT');
      process.emit('SIGINT', 'SIGINT');
      expect(stop.hard.aborted).toBe(true);
    } finally {
      stop.dispose();
    }
  });
});
