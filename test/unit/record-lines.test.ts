import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LineReader } from '../../src/sync/record-lines.js';

describe('LineReader', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'fs-lines-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Every line the reader returns, with its state after each. */
  const readAll = (text: string | Buffer): { lines: string[]; offsets: number[]; terminated: boolean[] } => {
    const file = path.join(dir, 'f');
    writeFileSync(file, text);
    const r = new LineReader(openSync(file, 'r'));
    const out = { lines: [] as string[], offsets: [] as number[], terminated: [] as boolean[] };
    try {
      for (let l = r.next(); l !== undefined; l = r.next()) {
        out.lines.push(l);
        out.offsets.push(r.offset);
        out.terminated.push(r.terminated);
      }
    } finally {
      r.close();
    }
    return out;
  };

  it('splits lines across chunk boundaries, with byte offsets, and UTF-8 cut by a boundary intact', () => {
    // 70,000 short lines (several 64 KiB chunks), each with a 3-byte and a 4-byte character.
    const lines = Array.from({ length: 70_000 }, (_, i) => `["€${i}😀"]`);
    const got = readAll(`${lines.join('\n')}\n`);
    expect(got.lines).toEqual(lines);
    expect(got.offsets.at(-1)).toBe(Buffer.byteLength(`${lines.join('\n')}\n`));
    expect(got.terminated.every(Boolean)).toBe(true);
  });

  it('returns a line longer than a chunk whole, and the lines around it', () => {
    const long = 'x'.repeat(300_000);
    expect(readAll(`a\n${long}\nb\n`).lines).toEqual(['a', long, 'b']);
  });

  it('returns a last line without a newline as not terminated', () => {
    const got = readAll('a\nb');
    expect(got.lines).toEqual(['a', 'b']);
    expect(got.terminated).toEqual([true, false]);
    expect(got.offsets).toEqual([2, 2]);
  });

  it('ends at a runaway line (over 1 MiB): returned empty, as the last line', () => {
    const got = readAll(`a\n${'y'.repeat((1 << 20) + 70_000)}\nb\n`);
    expect(got.lines).toEqual(['a', '']);
    expect(got.terminated).toEqual([true, false]);
  });

  it('reads an empty file as no lines', () => {
    expect(readAll('').lines).toEqual([]);
  });
});
