import path from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { closePool, syncOnce } from '../helpers/pass.js';
import { cleanupTemps, mirrorDiff, tempDir, writeTree } from '../helpers/tree.js';

afterEach(cleanupTemps);
afterAll(closePool);

it('--jobs 32 with a stop signal copies everything and warns about nothing (no abort-listener leak warning)', async () => {
  const d = tempDir();
  const src = path.join(d, 'src');
  const dst = path.join(d, 'dst');
  const spec: Record<string, string> = {};
  for (let i = 0; i < 200; i++) spec[`f${i}`] = `file ${i}`.repeat(1 + (i % 50));
  writeTree(src, { a: spec, b: { ...spec } });
  const warnings: string[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(`${w.name}: ${w.message}`);
  };
  process.on('warning', onWarning);
  try {
    const { report } = await syncOnce({ source: src, replica: dst, jobs: 32 }, { signal: new AbortController().signal });
    // Warnings are emitted on the next tick: give them one.
    await new Promise((r) => setImmediate(r));
    expect(report).toMatchObject({ outcome: 'ok', copy: 400, errors: 0 });
  } finally {
    process.off('warning', onWarning);
  }
  expect(warnings).toEqual([]);
  expect(mirrorDiff(src, dst)).toEqual([]);
});
