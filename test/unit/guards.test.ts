import { describe, expect, it } from 'vitest';
import { emptySource, sourceVanished, tooManyDeletes } from '../../src/sync/guards.js';

/* The pre-flight refusals, from small tables: each says stop (and why) or go on. */

describe('sourceVanished', () => {
  it.each([
    { before: { dev: 1, ino: 2 }, after: { dev: 1, ino: 2 }, stop: false },
    { before: { dev: 1, ino: 2 }, after: { dev: 1, ino: 3 }, stop: true },
    { before: { dev: 1, ino: 2 }, after: { dev: 9, ino: 2 }, stop: true },
    { before: { dev: 1, ino: 2 }, after: null, stop: true },
    { before: null, after: null, stop: true },
  ])('$before -> $after: stop $stop', ({ before, after, stop }) => {
    const r = sourceVanished('/src', before, after);
    expect(r !== null).toBe(stop);
    if (r) expect(r).toMatchObject({ outcome: 'errors', reason: 'source vanished', path: '/src' });
  });
});

describe('emptySource', () => {
  it.each([
    { source: 0, replica: 5, allow: false, stop: true },
    { source: 0, replica: 5, allow: true, stop: false },
    { source: 0, replica: 0, allow: false, stop: false },
    { source: 1, replica: 5, allow: false, stop: false },
  ])('source $source, replica $replica, allowed $allow: stop $stop', ({ source, replica, allow, stop }) => {
    const r = emptySource('/src', { source, replica }, allow);
    expect(r !== null).toBe(stop);
    if (r) {
      expect(r.outcome).toBe('refused');
      expect(r.message).toMatch(/^refused: the source \/src is empty but the replica has 5 entries .*--allow-empty-source/);
    }
  });
});

describe('tooManyDeletes', () => {
  it.each([
    { max: null, deletes: 1000, entries: 10, stop: false },
    { max: { count: 2, percent: false }, deletes: 2, entries: 10, stop: false },
    { max: { count: 2, percent: false }, deletes: 3, entries: 10, stop: true },
    { max: { count: 0, percent: false }, deletes: 1, entries: 10, stop: true },
    { max: { count: 0, percent: false }, deletes: 0, entries: 10, stop: false },
    { max: { count: 50, percent: true }, deletes: 5, entries: 10, stop: false },
    { max: { count: 50, percent: true }, deletes: 6, entries: 10, stop: true },
    { max: { count: 10, percent: true }, deletes: 1, entries: 9, stop: true },
  ])('max $max, $deletes deletes of $entries: stop $stop', ({ max, deletes, entries, stop }) => {
    const r = tooManyDeletes('/dst', max, deletes, entries);
    expect(r !== null).toBe(stop);
    if (r) expect(r).toMatchObject({ outcome: 'refused', path: '/dst', message: expect.stringMatching(/^refused: the pass would delete \d+ entries, more than --max-delete/) });
  });
});
