import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { RecordStore } from '../../src/sync/record.js';
import { runCli, type Spawned, spawnCli } from '../helpers/cli.js';
import { cleanupTemps, mirrorDiff, tempDir } from '../helpers/tree.js';
import { type Rng, rng, seedFor, sleep, tempLeftovers } from './fault-kit.js';
import { recordProblems } from '../helpers/record.js';

const ACTION_LINE = /^(copy|update|move|delete|mkdir|rmdir|symlink|attrs) /gm;
const MB = 1 << 20;

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** Every regular file under a tree, relative paths. */
function filesUnder(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const n of readdirSync(path.join(root, rel))) {
    const r = rel ? `${rel}/${n}` : n;
    const st = lstatSync(path.join(root, r));
    if (st.isDirectory()) out.push(...filesUnder(root, r));
    else if (st.isFile()) out.push(r);
  }
  return out;
}

function dirsUnder(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const n of readdirSync(path.join(root, rel))) {
    const r = rel ? `${rel}/${n}` : n;
    if (lstatSync(path.join(root, r)).isDirectory()) out.push(r, ...dirsUnder(root, r));
  }
  return out;
}

/** A source tree whose every written version is remembered, so a replica file can be checked against them all. */
class Source {
  /** Hashes of every content any source file ever had. */
  readonly versions = new Set<string>();
  private n = 0;

  constructor(
    readonly root: string,
    private readonly r: Rng,
  ) {}

  write(rel: string, data: Buffer | string): void {
    mkdirSync(path.dirname(path.join(this.root, rel)), { recursive: true });
    writeFileSync(path.join(this.root, rel), data);
    this.versions.add(sha(readFileSync(path.join(this.root, rel))));
  }

  small(tag: string): string {
    return `${tag} #${this.n++} ${'.'.repeat(this.r.int(300))}\n`;
  }

  /** 20 MB that differ from every other version (a seeded block, stamped every MB). */
  big(tag: string): Buffer {
    const block = Buffer.alloc(MB);
    for (let i = 0; i < MB; i += 4) block.writeUInt32LE((this.r.next() * 2 ** 32) >>> 0, i);
    const out = Buffer.alloc(20 * MB);
    for (let i = 0; i < 20; i++) {
      block.copy(out, i * MB);
      out.write(`${tag} #${this.n} part ${i}`, i * MB);
    }
    this.n++;
    return out;
  }

  /** Random edits between rounds: rewrites, appends, creates, deletes, renames, chmods, a big rewrite. */
  edit(round: number): string[] {
    const r = this.r;
    const done: string[] = [];
    const files = filesUnder(this.root).filter((f) => !f.startsWith('big/'));
    const dirs = dirsUnder(this.root).filter((d) => d !== 'big');
    for (let i = r.int(30); i > 0; i--) this.write(r.pick(files), this.small(`rewrite r${round}`));
    for (let i = r.int(10); i > 0; i--) {
      const f = r.pick(files);
      if (!existsSync(path.join(this.root, f))) continue;
      appendFileSync(path.join(this.root, f), `appended r${round}\n`);
      this.versions.add(sha(readFileSync(path.join(this.root, f))));
    }
    for (let i = r.int(20); i > 0; i--) this.write(`${r.pick(dirs)}/new-r${round}-${i}.txt`, this.small(`new r${round}`));
    for (let i = r.int(20); i > 0; i--) rmSync(path.join(this.root, r.pick(files)), { force: true });
    for (let i = r.int(4); i > 0; i--) {
      const f = r.pick(files);
      if (existsSync(path.join(this.root, f))) renameSync(path.join(this.root, f), path.join(this.root, `${r.pick(dirs)}/moved-r${round}-${i}.txt`));
    }
    for (let i = r.int(5); i > 0; i--) {
      const f = r.pick(files);
      if (existsSync(path.join(this.root, f))) chmodSync(path.join(this.root, f), r.pick([0o600, 0o644, 0o755, 0o444]));
    }
    if (r.next() < 0.3) {
      const top = dirs.filter((d) => !d.includes('/') && existsSync(path.join(this.root, d)));
      if (top.length > 0) {
        const d = r.pick(top);
        renameSync(path.join(this.root, d), path.join(this.root, `${d}-r${round}`));
        done.push(`renamed folder ${d}`);
      }
    }
    if (r.next() < 0.35) {
      const b = `big/large-${r.int(3)}.bin`;
      this.write(b, this.big(`r${round}`));
      done.push(`rewrote ${b}`);
    }
    return done;
  }
}

/** Lists replica files whose content no source file ever had: a torn or invented file. */
function torn(replica: string, versions: Set<string>): string[] {
  // A pass killed before it created the replica left nothing to check.
  if (!existsSync(replica)) return [];
  return filesUnder(replica)
    .filter((f) => !/\.foldersync-.*\.tmp$/.test(f) && !f.split('/').some((c) => /^\.foldersync-.*\.tmp$/.test(c)))
    .filter((f) => !versions.has(sha(readFileSync(path.join(replica, f)))));
}

/** Resolves once `n` action lines have appeared on the child's stdout (or it exited). */
function afterActions(run: Spawned, n: number): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if ((run.stdout().match(ACTION_LINE)?.length ?? 0) >= n) done();
    };
    const done = (): void => {
      run.child.stdout?.off('data', check);
      run.child.off('exit', done);
      resolve();
    };
    run.child.stdout?.on('data', check);
    run.child.on('exit', done);
    check();
  });
}

function noActions(stdout: string): string[] {
  return stdout.match(ACTION_LINE) ?? [];
}

afterEach(cleanupTemps);

describe('kill -9 at random moments', () => {
  it('many killed passes over thousands of files and 3 x 20 MB, then one clean pass: exact mirror, no temp file, a usable record', async () => {
    const seed = seedFor('kill/random-moments');
    const r = rng(seed);
    const d = tempDir('fs-kill-');
    const src = new Source(`${d}/src`, r);
    const dst = `${d}/dst`;
    const state = `${d}/state/pair.record`;
    const args = ['-s', src.root, '-r', dst, '--once', '--state', state];
    for (let i = 0; i < 3000; i++) src.write(`d${String(i % 60).padStart(2, '0')}/s${i % 7}/f${i}.txt`, src.small('initial'));
    for (let i = 0; i < 3; i++) src.write(`big/large-${i}.bin`, src.big('initial'));

    const started = performance.now();
    const rounds = Number(process.env.FOLDERSYNC_KILL_ROUNDS ?? 24);
    let killed = 0;
    let played = 0;
    let lastMs = 3000;
    // Bounded in time too, so a slow machine plays fewer rounds instead of timing out.
    for (let round = 0; round < rounds && performance.now() - started < 25_000; round++, played++) {
      const edits = round === 0 ? ['initial tree'] : src.edit(round);
      const run = spawnCli(args, { home: d });
      const t0 = performance.now();
      // Half the kills wait for the n-th change line (inside execution), half are a random delay
      // anywhere in a pass (start-up, listing, hashing, copying, the record).
      const how = r.next() < 0.5 ? { after: 1 + r.int(40), ms: r.int(30) } : { after: 0, ms: r.int(Math.max(50, lastMs)) };
      if (how.after > 0) await afterActions(run, how.after);
      await sleep(how.ms);
      const wasRunning = run.child.exitCode === null;
      run.child.kill('SIGKILL');
      const code = await run.exited();
      if (!wasRunning || code !== 128 + 9) {
        lastMs = performance.now() - t0;
        expect([0, 1], `round ${round} (seed ${seed}): ${run.stderr()}`).toContain(code);
      } else killed++;
      const bad = torn(dst, src.versions);
      expect(bad, `round ${round} (seed ${seed}, ${JSON.stringify(how)}, ${edits.join(', ')}): torn replica files`).toEqual([]);
    }
    expect(killed, `seed ${seed}: too few passes were killed`).toBeGreaterThan(played / 3);

    const clean = await runCli(args, { home: d, timeoutMs: 60_000 });
    expect(clean.code, clean.stderr).toBe(0);
    expect(mirrorDiff(src.root, dst)).toEqual([]);
    expect(tempLeftovers(dst)).toEqual([]);
    expect(await recordProblems(state, src.root, dst)).toEqual([]);
    const again = await runCli(args, { home: d });
    expect(again.code).toBe(0);
    expect(noActions(again.stdout)).toEqual([]);
    console.log(`kill/random-moments: ${killed} of ${played} passes killed, ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }, 90_000);

  it('killed while the record is written (a big compaction after many changes): the record loads, the next pass completes it, then zero actions', async () => {
    const seed = seedFor('kill/record-write');
    const r = rng(seed);
    const d = tempDir('fs-killrec-');
    const src = `${d}/src`;
    const dst = `${d}/dst`;
    const state = `${d}/state/pair.record`;
    const args = ['-s', src, '-r', dst, '--once', '--state', state];
    const N = 2000;
    const paths = Array.from({ length: N }, (_, i) => `d${i % 50}/f${i}.txt`);
    for (const [i, p] of paths.entries()) {
      mkdirSync(path.dirname(path.join(src, p)), { recursive: true });
      writeFileSync(path.join(src, p), `file ${i}\n`);
    }
    expect((await runCli(args, { home: d, timeoutMs: 60_000 })).code).toBe(0);

    let mtime = 1_600_000_000;
    const touchAll = (): void => {
      mtime += 100;
      for (const p of paths) utimesSync(path.join(src, p), mtime, mtime);
    };
    let compactionsHit = 0;
    let appendsTorn = 0;
    const rounds = 5;
    const started = performance.now();
    let played = 0;
    // Bounded in time too (after the journal round), so a slow machine plays fewer rounds.
    for (let round = 0; round < rounds && (round < 2 || performance.now() - started < 20_000); round++, played++) {
      // The journal grown past the 10,000 lines a commit tolerates (the record's own entries,
      // written again: what it says does not change), then a pass of N updates: it ends with a
      // compaction (a streamed rewrite of the base), and that is where the kill aims.
      const journal = round === 1;
      if (journal) {
        const { store } = await RecordStore.load(state, src, dst);
        const all = store.readAll();
        for (let lines = 0; lines <= 10_000; lines += all.size) {
          for (const [p, e] of all) store.set(p, e);
          await store.checkpoint();
        }
        touchAll();
      } else {
        // Or no record at all and one change: the pass verifies every file and writes a whole
        // new record right after its one action line (the journal of the removed record goes too).
        rmSync(state, { force: true });
        writeFileSync(path.join(src, paths[r.int(N)]!), `changed in round ${round}\n`);
      }
      const journalFile = `${state}.journal`;
      const before = statSync(journalFile, { throwIfNoEntry: false });
      const run = spawnCli(args, { home: d });
      await afterActions(run, journal ? N : 1);
      await sleep(r.int(25));
      run.child.kill('SIGKILL');
      await run.exited();
      const after = statSync(journalFile, { throwIfNoEntry: false });
      const leftovers = readdirSync(path.dirname(state)).filter((n) => n !== path.basename(state) && n !== path.basename(journalFile));
      if (leftovers.length > 0) compactionsHit++;
      if (after && after.size > (before?.size ?? 0) && !readFileSync(journalFile, 'utf8').endsWith('\n')) appendsTorn++;
      expect(leftovers.length, `a pile of record temp files: ${leftovers.join(', ')}`).toBeLessThanOrEqual(1);
      // The record, whatever state the kill left it in, loads (a warning at worst) ...
      const loaded = await RecordStore.load(state, src, dst);
      expect(loaded.store.readAll().size).toBeLessThanOrEqual(N + 50);
      // ... and the next pass finishes the job without copying what is already there.
      const next = await runCli(args, { home: d, timeoutMs: 60_000 });
      expect(next.code, next.stderr).toBe(0);
      expect(mirrorDiff(src, dst)).toEqual([]);
      expect(tempLeftovers(dst)).toEqual([]);
      expect(await recordProblems(state, src, dst)).toEqual([]);
      const again = await runCli(args, { home: d });
      expect(noActions(again.stdout)).toEqual([]);
    }
    console.log(`kill/record-write: the kill left a record temp file in ${compactionsHit} of ${played} rounds, a torn append in ${appendsTorn}`);
    unlinkSync(state);
  }, 90_000);
});
