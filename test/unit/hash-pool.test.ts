import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, cpSync, mkdirSync, openSync, mkdtempSync, renameSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HashPool, type HashResult, defaultHashThreads } from '../../src/sync/hash-pool.js';
import { cleanupTemps, tempDir } from '../helpers/tree.js';

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist');
const GiB = 1024 ** 3;

const pools: HashPool[] = [];
/** A pool closed after the test file, whatever happens. */
function newPool(threads = 2): HashPool {
  const p = new HashPool(threads);
  pools.push(p);
  return p;
}

afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  cleanupTemps();
});

const hex = (algo: string, data: Buffer | string): string => createHash(algo).update(data).digest('hex');

describe('hash pool', () => {
  afterEach(cleanupTemps);

  it('is sized from the core count', () => {
    expect(defaultHashThreads()).toBeGreaterThanOrEqual(1);
    expect(new HashPool().threadCount).toBe(0); // no worker before the first file
  });

  it('hashes 500 files at once, sha256 and md5, exactly as node:crypto does', async () => {
    const d = tempDir();
    const files: { p: string; data: Buffer }[] = [];
    for (let i = 0; i < 500; i++) {
      // Sizes around the stream's chunk boundaries too, and an empty file.
      const data = Buffer.alloc(i === 7 ? (1 << 20) + 1 : i * 37, i % 251);
      const p = path.join(d, `f${i}`);
      writeFileSync(p, data);
      files.push({ p, data });
    }
    const pool = newPool(2);
    let peakThreads = 0;
    const watch = setInterval(() => {
      peakThreads = Math.max(peakThreads, pool.threadCount);
    }, 2);
    try {
      for (const algo of ['sha256', 'md5'] as const) {
        const results = await Promise.all(files.map((f) => pool.hash(f.p, algo)));
        results.forEach((r, i) => {
          const f = files[i]!;
          expect(r).toMatchObject({ status: 'ok', hash: hex(algo, f.data), bytes: f.data.length, size: f.data.length });
        });
      }
    } finally {
      clearInterval(watch);
    }
    expect(peakThreads).toBeGreaterThan(0);
    expect(peakThreads).toBeLessThanOrEqual(2);
  });

  it('reports a file that vanished as gone, and a folder or symlink as not a file', async () => {
    const d = tempDir();
    mkdirSync(`${d}/dir`);
    writeFileSync(`${d}/real`, 'x');
    const pool = newPool(1);
    expect(await pool.hash(`${d}/missing`, 'sha256')).toEqual({ status: 'gone' });
    expect(await pool.hash(`${d}/dir`, 'sha256')).toEqual({ status: 'changed' });
    expect((await pool.hash(`${d}/real`, 'sha256')).status).toBe('ok');
  });

  it('reports a file written while it is read as changed, never a hash', async () => {
    const d = tempDir();
    const p = `${d}/busy`;
    // Large enough that reading takes many milliseconds; sparse, so it costs no disk.
    writeFileSync(p, '');
    truncateSync(p, 64 * 1024 ** 2);
    writeFileSync(`${d}/warm`, 'w');
    const pool = newPool(1);
    await pool.hash(`${d}/warm`, 'md5'); // start the worker first, so the race below is about reading
    const zeros = hex('sha256', Buffer.alloc(64 * 1024 ** 2));
    let t = 1_600_000_000;
    const outcomes: string[] = [];
    // A race by nature: on a starved machine a read may slip between two touches, so try a few
    // times. Whatever comes back must be 'changed' or the true hash, and 'changed' must show up.
    for (let attempt = 0; attempt < 5 && !outcomes.includes('changed'); attempt++) {
      const busy = pool.hash(p, 'sha256');
      let done = false;
      const toucher = (async () => {
        while (!done) {
          utimesSync(p, t, t++);
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      const r = await busy.finally(() => {
        done = true;
      });
      await toucher;
      if (r.status === 'ok') expect(r.hash).toBe(zeros);
      else expect(r).toEqual({ status: 'changed' });
      outcomes.push(r.status);
    }
    expect(outcomes).toContain('changed');

    // A file replaced by another (a new inode) while it is read is not that file's hash either.
    writeFileSync(`${d}/other`, 'other');
    const swapped = pool.hash(p, 'sha256');
    await new Promise((r) => setTimeout(r, 5));
    renameSync(`${d}/other`, p);
    const r2: HashResult = await swapped;
    expect(['changed', 'ok']).toContain(r2.status);
    if (r2.status === 'ok') expect(r2.hash).toBe(hex('sha256', 'other')); // it read only the new file
  });

  describe('a 1 GiB file', () => {
    let big = '';
    beforeAll(() => {
      // Not a tempDir(): the afterEach cleanup must not remove it between the tests that share it.
      big = path.join(mkdtempSync(path.join(tmpdir(), 'fs-hash-big-')), 'big.bin');
      // Sparse: instant to create and no disk used; a few real bytes so it is not all zeros.
      const fd = openSync(big, 'w');
      closeSync(fd);
      truncateSync(big, GiB);
      const fh = openSync(big, 'r+');
      writeSync(fh, Buffer.from('head'), 0, 4, 0);
      writeSync(fh, Buffer.from('middle'), 0, 6, GiB / 2);
      writeSync(fh, Buffer.from('tail'), 0, 4, GiB - 4);
      closeSync(fh);
    });
    afterAll(() => rmSync(path.dirname(big), { recursive: true, force: true }));

    it('aborting rejects at once, and the pool still works afterwards', async () => {
      const pool = newPool(1);
      const ac = new AbortController();
      let abortedAt = 0;
      const pending = pool.hash(big, 'sha256', ac.signal);
      setTimeout(() => {
        abortedAt = performance.now();
        ac.abort();
      }, 50);
      await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
      expect(abortedAt).toBeGreaterThan(0); // it was still reading when aborted…
      expect(performance.now() - abortedAt).toBeLessThan(1000); // …and gave up at once
      const d = tempDir();
      writeFileSync(`${d}/small`, 'still works');
      expect(await pool.hash(`${d}/small`, 'sha256')).toMatchObject({ status: 'ok', hash: hex('sha256', 'still works') });
      // An already aborted signal never starts the work.
      await expect(pool.hash(big, 'sha256', AbortSignal.abort())).rejects.toMatchObject({ name: 'AbortError' });
    });

    it('is hashed by streaming: the right hash, with little memory', async () => {
      const pool = newPool(1);
      const rss0 = process.memoryUsage.rss();
      let peak = rss0;
      const watch = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage.rss());
      }, 10);
      const r = await pool.hash(big, 'sha256').finally(() => clearInterval(watch));
      // The expected hash, built from the file's layout rather than by reading it (cheaper than
      // sha256sum on a 2-core runner, and independent of how the worker reads).
      const want = createHash('sha256');
      const zeros = Buffer.alloc(1 << 20);
      const put = (pos: number, data: Buffer): number => {
        for (let left = pos - at; left > 0; left -= zeros.length) want.update(left >= zeros.length ? zeros : zeros.subarray(0, left));
        want.update(data);
        return pos + data.length;
      };
      let at = 0;
      at = put(0, Buffer.from('head'));
      at = put(GiB / 2, Buffer.from('middle'));
      at = put(GiB - 4, Buffer.from('tail'));
      expect(at).toBe(GiB);
      expect(r).toEqual({ status: 'ok', hash: want.digest('hex'), bytes: GiB, size: GiB, mtimeMs: expect.any(Number), ctimeMs: expect.any(Number), ino: expect.any(Number) });
      // Reading 1 GiB must not hold it: the stream reads 1 MiB chunks. Leave room for a worker
      // thread's own heap and the test runner.
      expect(peak - rss0).toBeLessThan(128 * 1024 ** 2);
    }, 60_000);
  });

  it('close() ends every worker, is idempotent, and a later hash starts a fresh pool', async () => {
    const d = tempDir();
    writeFileSync(`${d}/a`, 'a');
    const pool = newPool(2);
    await Promise.all([pool.hash(`${d}/a`, 'sha256'), pool.hash(`${d}/a`, 'md5')]);
    expect(pool.threadCount).toBeGreaterThan(0);
    await pool.close();
    expect(pool.threadCount).toBe(0);
    await pool.close();
    expect(pool.threadCount).toBe(0);
    expect(await pool.hash(`${d}/a`, 'md5')).toMatchObject({ status: 'ok', hash: hex('md5', 'a') });
    await pool.close();
    expect(pool.threadCount).toBe(0);
  });

  it('keeps no process alive: a script exits by itself after close, and even without it once idle', async () => {
    const d = tempDir();
    // A private copy of the built code: a rebuild of dist/ meanwhile cannot tear it.
    cpSync(DIST, `${d}/dist`, { recursive: true });
    symlinkSync(path.join(DIST, '../node_modules'), `${d}/node_modules`);
    writeFileSync(`${d}/data`, 'some data');
    const script = (close: boolean): string => {
      const p = `${d}/use-${close}.mjs`;
      writeFileSync(
        p,
        `import { HashPool } from ${JSON.stringify(pathToFileURL(`${d}/dist/sync/hash-pool.js`).href)};
const pool = new HashPool(2);
const rs = await Promise.all([1, 2, 3, 4].map(() => pool.hash(${JSON.stringify(`${d}/data`)}, 'sha256')));
process.stdout.write(rs[0].hash + ' ' + pool.threadCount + '\\n');
${close ? 'await pool.close(); process.stdout.write(pool.threadCount + "\\n");' : ''}
`,
      );
      return p;
    };
    const exits = (file: string, ms: number): Promise<{ code: number | null; out: string; ms: number }> =>
      new Promise((resolve, reject) => {
        const t0 = performance.now();
        const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (b: Buffer) => {
          out += b.toString();
        });
        child.stderr.on('data', (b: Buffer) => {
          out += b.toString();
        });
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`${file} was still running after ${ms} ms: ${out}`));
        }, ms);
        child.on('exit', (code) => {
          clearTimeout(t);
          resolve({ code, out, ms: performance.now() - t0 });
        });
      });
    const [closed, idle] = await Promise.all([exits(script(true), 10_000), exits(script(false), 10_000)]);
    expect(closed.code).toBe(0);
    expect(closed.out).toMatch(new RegExp(`^${hex('sha256', 'some data')} [12]\\n0\\n$`));
    expect(idle.code).toBe(0);
    expect(idle.out).toMatch(new RegExp(`^${hex('sha256', 'some data')} [12]\\n$`));
  }, 20_000);
});
