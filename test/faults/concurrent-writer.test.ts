import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { type FSWatcher, existsSync, readFileSync, readdirSync, watch } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { cleanupTemps, mirrorDiff, tempDir } from '../helpers/tree.js';
import { seedFor, tempLeftovers } from './fault-kit.js';

/*
 * The writer runs in its own process, truly concurrent with the spawned CLI. It changes a file
 * only with ONE write() call: a rewrite opens with O_TRUNC and writes the whole new content, an
 * append writes at the end. Every version is a list of segments [version, length] whose bytes
 * `seg()` regenerates, so the test can rebuild any version the writer produced and tell a
 * complete version from a torn mix. Between truncate and the end of the write the file holds a
 * prefix of the new version: a copy of that (a stat-stable prefix, only possible when the
 * writer stalls inside write()) is a state the source really held and is counted, not failed;
 * a mix of two versions is a torn copy and fails the test.
 */
const SEG = String.raw`(rel, v, len) => { const line = (rel + ' v' + v + ' ').padEnd(63, '.') + '\n'; return Buffer.from(line.repeat(Math.ceil(len / 64) + 1)).subarray(0, len); }`;

const WRITER = String.raw`
import { createHash } from 'node:crypto';
import { openSync, writeSync, closeSync, mkdirSync, ftruncateSync } from 'node:fs';
import path from 'node:path';
const [dir, seedText, msText] = process.argv.slice(1);
let a = Number(seedText) >>> 0;
const rnd = () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const int = (n) => Math.floor(rnd() * n);
const seg = ${SEG};
const content = new Map();
const segs = new Map();
let v = 0;
const log = (rel) => process.stdout.write(JSON.stringify({ rel, hash: createHash('sha256').update(content.get(rel)).digest('hex'), segs: segs.get(rel) }) + '\n');
const once = (rel, flags, buf) => { const fd = openSync(path.join(dir, rel), flags); try { if (writeSync(fd, buf) !== buf.length) throw new Error('short write'); } finally { closeSync(fd); } };
const rewrite = (rel, len) => { const b = seg(rel, ++v, len); once(rel, 'w', b); content.set(rel, b); segs.set(rel, [[v, len]]); };
mkdirSync(path.join(dir, 'sub'), { recursive: true });
const names = ['a.bin', 'b.bin', 'c.bin', 'sub/d.bin', 'sub/e.bin', 'sub/f.txt', 'g.txt', 'h.txt', 'sub/i.bin'];
for (const rel of names) { rewrite(rel, 4096 + int(3 << 20)); log(rel); }
// The hot file grows by 256 KiB appends back to back, and at 16 MiB starts again from empty
// with the other of two streams: it changes every few microseconds, so its copies keep going
// stale. Every state it ever has is a prefix of stream 1 or of stream 2; a copy that straddles
// a restart mixes the two and is torn.
mkdirSync(path.join(dir, 'hot'));
const HOT = [seg('hot/hot.bin', 1, 16 << 20), seg('hot/hot.bin', 2, 16 << 20)];
let hotStream = 0;
once('hot/hot.bin', 'w', HOT[0].subarray(0, 1 << 20));
process.stdout.write('ready\n');
let end = Date.now() + Number(msText);
process.stdin.on('data', () => { end = 0; });
let hotLen = 1 << 20;
const hotFd = openSync(path.join(dir, 'hot/hot.bin'), 'r+');
const hot = () => {
  if (Date.now() > end) return;
  if (hotLen >= 16 << 20) { ftruncateSync(hotFd, 0); hotLen = 0; hotStream = 1 - hotStream; }
  hotLen += writeSync(hotFd, HOT[hotStream], hotLen, 256 << 10, hotLen);
  setImmediate(hot);
};
setImmediate(hot);
const step = () => {
  if (Date.now() > end) { process.stdout.write('done\n'); process.stdin.destroy(); return; }
  const rel = names[int(names.length)];
  if (int(2) === 0) rewrite(rel, 1 + int(3 << 20));
  else {
    const extra = seg(rel, ++v, 1 + int(20000));
    once(rel, 'a', extra);
    content.set(rel, Buffer.concat([content.get(rel), extra]));
    segs.set(rel, [...segs.get(rel), [v, extra.length]]);
  }
  log(rel);
  setTimeout(step, int(8));
};
step();
`;

const seg = (rel: string, v: number, len: number): Buffer => {
  const line = `${`${rel} v${v} `.padEnd(63, '.')}\n`;
  return Buffer.from(line.repeat(Math.ceil(len / 64) + 1)).subarray(0, len);
};
const build = (rel: string, segs: [number, number][]): Buffer => Buffer.concat(segs.map(([v, len]) => seg(rel, v, len)));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** One version the writer produced. */
interface Version {
  hash: string;
  segs: [number, number][];
}

/** How a replica copy relates to what the writer produced. */
type Verdict = 'complete' | 'prefix' | 'torn';

function judge(rel: string, data: Buffer, versions: Version[]): Verdict {
  if (rel === 'hot/hot.bin') {
    const prefixOf = (k: number): boolean => {
      const stream = seg(rel, k, 16 << 20);
      return data.length <= stream.length && stream.subarray(0, data.length).equals(data);
    };
    return prefixOf(1) || prefixOf(2) ? 'complete' : 'torn';
  }
  const h = sha(data);
  if (versions.some((x) => x.hash === h)) return 'complete';
  for (const x of versions) {
    const full = build(rel, x.segs);
    if (data.length < full.length && full.subarray(0, data.length).equals(data)) return 'prefix';
  }
  return 'torn';
}

function replicaFiles(root: string, rel = ''): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const d of readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) for (const [k, b] of replicaFiles(root, r)) out.set(k, b);
    else if (d.isFile()) out.set(r, readFileSync(path.join(root, r)));
  }
  return out;
}

afterEach(cleanupTemps);

describe('files written while they are copied', () => {
  it('no replica file is ever a torn mix of versions; stale copies are detected and redone; the last pass is exact', async () => {
    const seed = seedFor('concurrent-writer');
    const d = tempDir('fs-writer-');
    const src = `${d}/src`;
    const dst = `${d}/dst`;
    const args = ['-s', src, '-r', dst, '--once', '--state', `${d}/state.record`];
    const writer = spawn(process.execPath, ['--input-type=module', '-e', WRITER, src, String(seed), '30000'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let errText = '';
    writer.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    writer.stderr.on('data', (b: Buffer) => {
      errText += b.toString();
    });
    const finished = new Promise<void>((resolve, reject) => {
      writer.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer exited ${code}: ${errText}`))));
    });
    const t0 = Date.now();
    while (!/^ready$/m.test(out)) {
      if (Date.now() - t0 > 20_000) throw new Error(`the writer never got ready: ${errText}`);
      await new Promise((r) => setTimeout(r, 10));
    }

    // Each replica file is read right after each pass; the verdicts wait until every version is known.
    const seen: { pass: number; rel: string; data: Buffer }[] = [];
    let passes = 0;
    let keptChanging = 0;
    // Every copy attempt of the hot file makes a new temp name in the replica's hot/ folder:
    // more names than passes means a stale copy was thrown away and redone.
    const attempts = new Set<string>();
    let watcher: FSWatcher | undefined;
    let watchedPasses = 0;
    // Passes run back to back while the writer writes; it is told to stop after the fourth.
    while (!/^done$/m.test(out) && passes < 4) {
      const res = await runCli(args, { home: d, timeoutMs: 20_000 });
      passes++;
      if (watcher) watchedPasses++;
      else if (existsSync(`${dst}/hot`)) {
        watcher = watch(`${dst}/hot`, (_event, name) => {
          if (name && /^\.foldersync-.*\.tmp$/.test(String(name))) attempts.add(String(name));
        });
      }
      expect(res.code, res.stderr).toBe(0);
      keptChanging += (res.stderr.match(/kept changing/g) ?? []).length;
      expect(tempLeftovers(dst)).toEqual([]);
      for (const [rel, data] of replicaFiles(dst)) seen.push({ pass: passes, rel, data });
    }
    writer.stdin.end('stop\n');
    await finished;
    watcher?.close();

    const versions = new Map<string, Version[]>();
    for (const line of out.split('\n')) {
      if (!line.startsWith('{')) continue;
      const x = JSON.parse(line) as Version & { rel: string };
      versions.set(x.rel, [...(versions.get(x.rel) ?? []), { hash: x.hash, segs: x.segs }]);
    }
    const count = { complete: 0, prefix: 0, torn: 0 };
    const torn: string[] = [];
    const prefixes: string[] = [];
    for (const s of seen) {
      const v = judge(s.rel, s.data, versions.get(s.rel) ?? []);
      count[v]++;
      if (v === 'torn') torn.push(`after pass ${s.pass}: ${s.rel} (${s.data.length} bytes) mixes versions`);
      if (v === 'prefix') prefixes.push(`${s.rel} (${s.data.length} bytes)`);
    }
    expect(torn, `seed ${seed}`).toEqual([]);
    expect(passes).toBe(4);
    // The hot file changes all the time: its copies go stale and are retried (and, when every
    // retry is stale too, the pass says the file kept changing).
    expect(keptChanging + Math.max(0, attempts.size - watchedPasses), 'no stale copy was ever detected and redone').toBeGreaterThan(0);

    const last = await runCli(args, { home: d, timeoutMs: 20_000 });
    expect(last.code, last.stderr).toBe(0);
    expect(mirrorDiff(src, dst)).toEqual([]);
    const written = [...versions.values()].reduce((n, xs) => n + xs.length, 0);
    console.log(
      `concurrent-writer: ${written} versions written (plus the hot file's), ${passes} passes while writing, ${keptChanging} "kept changing" warnings, ${attempts.size} copy attempts of the hot file in ${watchedPasses} passes; replica files seen: ${count.complete} complete, ${count.prefix} stalled-write prefixes ${prefixes.join(', ')}, ${count.torn} torn`,
    );
  }, 60_000);
});
