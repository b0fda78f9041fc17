import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanupTemps, mirrorDiff, tempDir, writeTree } from '../helpers/tree.js';
import { changeCount, closePool, syncOnce } from '../helpers/pass.js';

afterEach(cleanupTemps);
afterAll(closePool);

describe('helpers', () => {
  it('a pass mirrors a small tree, and a second pass does nothing', async () => {
    const d = tempDir();
    writeTree(`${d}/src`, { a: 'x', sub: { b: 'yy', empty: {} }, l: { $symlink: 'a' } });
    const first = await syncOnce({ source: `${d}/src`, replica: `${d}/dst` });
    expect(first.report.outcome).toBe('ok');
    expect(mirrorDiff(`${d}/src`, `${d}/dst`)).toEqual([]);
    const second = await syncOnce({ source: `${d}/src`, replica: `${d}/dst` });
    expect(changeCount(second.report)).toBe(0);
  });
});
