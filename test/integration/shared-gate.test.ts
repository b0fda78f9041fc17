import path from 'node:path';
import pLimit from 'p-limit';
import pino from 'pino';
import { afterAll, afterEach, expect, it } from 'vitest';
import { createEngine } from '../../src/sync/engine.js';
import type { Gate } from '../../src/sync/execute.js';
import { RecordStore } from '../../src/sync/record.js';
import { closePool, pool } from '../helpers/pass.js';
import { cleanupTemps, mirrorDiff, tempDir, writeTree } from '../helpers/tree.js';

afterEach(cleanupTemps);
afterAll(closePool);

it('jobs of one daemon share one bound on file operations: two passes of --jobs 16 never have more than the gate in flight', async () => {
  const d = tempDir();
  const files: Record<string, string> = {};
  for (let i = 0; i < 150; i++) files[`f${i}`] = `file ${i}\n`.repeat(50 + i);
  const limit = pLimit(3);
  let inFlight = 0;
  let most = 0;
  // The daemon's gate, counting what it lets through.
  const gate: Gate = (fn) =>
    limit(async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      try {
        return await fn();
      } finally {
        inFlight--;
      }
    });
  const log = pino({ level: 'silent' });
  const passes = ['one', 'two'].map(async (name) => {
    const src = path.join(d, `src-${name}`);
    const dst = path.join(d, `dst-${name}`);
    writeTree(src, { a: files, b: { ...files } });
    const { store } = await RecordStore.load(path.join(d, `${name}.record`), src, dst);
    const settings = { source: src, replica: dst, excludes: [], deleteExcluded: false, checksum: false, hash: 'sha256' as const, maxDelete: null, allowEmptySource: false, jobs: 16, dryRun: false };
    const report = await createEngine(settings, { log, store, pool: pool(), gate }).runPass();
    return { src, dst, report };
  });
  for (const { src, dst, report } of await Promise.all(passes)) {
    expect(report).toMatchObject({ outcome: 'ok', copy: 300, errors: 0 });
    expect(mirrorDiff(src, dst)).toEqual([]);
  }
  expect(most).toBe(3);
});
