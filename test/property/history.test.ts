import { appendFileSync, chmodSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempLeftovers } from '../faults/fault-kit.js';
import { recordProblems } from '../helpers/record.js';
import { type Mounted, mountExfat, mountSshfs, requireMounts, startSshd } from '../helpers/mounts.js';
import { changeCount, closePool, syncOnce } from '../helpers/pass.js';
import { type KeptByReplica, cleanupTemps, mirrorDiff, readState, tempDir } from '../helpers/tree.js';

/*
 * Random histories: a small source tree, random edits between passes (on the source, and by
 * hand in the replica), and after EVERY pass the contract's invariants: the replica mirrors the
 * source exactly, no temp file is left, the record describes the replica, nothing outside was
 * touched. Edits name their paths, so a shrunk failure reads as a short script.
 */

const RUNS = Number(process.env.FOLDERSYNC_PROPERTY_RUNS ?? 200);
/** Histories with the replica on a real exFAT filesystem: a tenth as many (each pass goes through FUSE). */
const RUNS_EXFAT = Number(process.env.FOLDERSYNC_PROPERTY_RUNS_EXFAT ?? Math.max(50, Math.round(RUNS / 10)));
const MAX_ENTRIES = 15;

const NAMES = ['a', 'b', 'c'] as const;
const pathArb = fc
  .array(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 3 })
  .map((xs) => xs.join('/'));
/** A shared pool of contents: equal files make move detection by size and hash work for its living. */
const contentArb = fc.constantFrom('', 'x', 'yy', 'zz', 'hello', 'hello world\n', 'x'.repeat(3000), 'y'.repeat(3000), `${'0123456789'.repeat(700)}!`);
const modeArb = fc.constantFrom(0o644, 0o600, 0o755, 0o700, 0o444, 0o555, 0o640);
/** Symlink targets: relative, dangling, absolute; `@canary` is a folder outside both trees. */
const targetArb = fc.constantFrom('a', '../a', 'b/c', 'nowhere', '/', '@canary', '.');

/** One step of a history. `rep-*` edits are hand edits in the replica. */
type Op =
  | { op: 'pass' }
  | { op: 'write' | 'append' | 'rep-write'; path: string; data: string }
  | { op: 'truncate'; path: string; size: number }
  | { op: 'mkdir' | 'rep-mkdir' | 'delete' | 'rep-delete' | 'touch' | 'swap' | 'rep-corrupt'; path: string }
  | { op: 'rename'; path: string; to: string }
  | { op: 'chmod' | 'rep-chmod'; path: string; mode: number }
  | { op: 'symlink' | 'rep-symlink'; path: string; target: string };

const EDITS: { op: Op['op']; weight: number; arbitrary: fc.Arbitrary<Op> }[] = [
  { op: 'write', weight: 4, arbitrary: fc.record({ op: fc.constant('write' as const), path: pathArb, data: contentArb }) },
  { op: 'append', weight: 1, arbitrary: fc.record({ op: fc.constant('append' as const), path: pathArb, data: contentArb }) },
  { op: 'truncate', weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), path: pathArb, size: fc.nat(40) }) },
  { op: 'mkdir', weight: 2, arbitrary: fc.record({ op: fc.constant('mkdir' as const), path: pathArb }) },
  { op: 'rename', weight: 3, arbitrary: fc.record({ op: fc.constant('rename' as const), path: pathArb, to: pathArb }) },
  { op: 'delete', weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), path: pathArb }) },
  { op: 'touch', weight: 1, arbitrary: fc.record({ op: fc.constant('touch' as const), path: pathArb }) },
  { op: 'chmod', weight: 1, arbitrary: fc.record({ op: fc.constant('chmod' as const), path: pathArb, mode: modeArb }) },
  { op: 'symlink', weight: 1, arbitrary: fc.record({ op: fc.constant('symlink' as const), path: pathArb, target: targetArb }) },
  { op: 'swap', weight: 1, arbitrary: fc.record({ op: fc.constant('swap' as const), path: pathArb }) },
  { op: 'rep-write', weight: 1, arbitrary: fc.record({ op: fc.constant('rep-write' as const), path: pathArb, data: contentArb }) },
  { op: 'rep-delete', weight: 1, arbitrary: fc.record({ op: fc.constant('rep-delete' as const), path: pathArb }) },
  { op: 'rep-mkdir', weight: 1, arbitrary: fc.record({ op: fc.constant('rep-mkdir' as const), path: pathArb }) },
  { op: 'rep-chmod', weight: 1, arbitrary: fc.record({ op: fc.constant('rep-chmod' as const), path: pathArb, mode: modeArb }) },
  { op: 'rep-corrupt', weight: 1, arbitrary: fc.record({ op: fc.constant('rep-corrupt' as const), path: pathArb }) },
  { op: 'rep-symlink', weight: 1, arbitrary: fc.record({ op: fc.constant('rep-symlink' as const), path: pathArb, target: targetArb }) },
];

/** Histories made of every edit except the `left out` ones (what a replica's filesystem cannot have). */
function historiesWithout(leftOut: readonly Op['op'][]): fc.Arbitrary<History> {
  const initial: fc.Arbitrary<Op>[] = [
    fc.record({ op: fc.constant('write' as const), path: pathArb, data: contentArb }),
    fc.record({ op: fc.constant('mkdir' as const), path: pathArb }),
    ...(leftOut.includes('symlink') ? [] : [fc.record({ op: fc.constant('symlink' as const), path: pathArb, target: targetArb })]),
  ];
  // Left out by choice, not filtered out after generation: a filter that never passes loops forever.
  const edits = EDITS.filter((e) => !leftOut.includes(e.op)).map(({ weight, arbitrary }) => ({ weight, arbitrary }));
  return fc.record({
    initial: fc.array(fc.oneof(...initial), { maxLength: 12 }),
    steps: fc.array(fc.oneof({ weight: 1, arbitrary: fc.constant<Op>({ op: 'pass' }) }, { weight: 4, arbitrary: fc.oneof(...edits) }), { minLength: 1, maxLength: 24 }),
  });
}

const historyArb = historiesWithout([]);

type History = { initial: Op[]; steps: Op[] };

/** Shrunk counterexamples found by earlier runs: replayed first, every run, as regression tests. */
const FOUND: History[] = [
  // A replica link replaced by hand with an identical one kept its old inode in the record.
  {
    initial: [
      { op: 'mkdir', path: 'a' },
      { op: 'symlink', path: 'b/c/c', target: 'nowhere' },
    ],
    steps: [
      { op: 'delete', path: 'a' },
      { op: 'rep-symlink', path: 'b/c/c', target: 'nowhere' },
    ],
  },
  // Likewise a replica folder deleted and made again by hand (its inode is what folder renames trust).
  {
    initial: [{ op: 'write', path: 'c/a', data: '' }],
    steps: [
      { op: 'rep-delete', path: 'c' },
      { op: 'rep-mkdir', path: 'c' },
      { op: 'rep-write', path: 'a', data: '' },
    ],
  },
  // `mv a b/a; mv c/c a/a`: the folder moving into the place another folder leaves was moved
  // first and carried along with it; a/a and a/a/a ended up missing, their record lines kept.
  {
    initial: [{ op: 'write', path: 'c/c/a', data: '' }],
    steps: [
      { op: 'write', path: 'a/a', data: '' },
      { op: 'pass' },
      { op: 'rename', path: 'a', to: 'b/a' },
      { op: 'rename', path: 'c/c', to: 'a/a' },
    ],
  },
  // Not a product bug: the test once acted through a link to '.' (it must never follow links).
  {
    initial: [{ op: 'symlink', path: 'b/a', target: '.' }],
    steps: [
      { op: 'swap', path: 'b/a/a' },
      { op: 'truncate', path: 'a', size: 0 },
    ],
  },
  // A moved folder whose child folder needed its attributes fixed lost the child's record line.
  {
    initial: [{ op: 'write', path: 'c/c/a', data: '' }],
    steps: [
      { op: 'rep-delete', path: 'c/c/a' },
      { op: 'rename', path: 'c', to: 'a' },
    ],
  },
];

/** One history's folders. */
interface World {
  readonly src: string;
  readonly dst: string;
  readonly state: string;
  readonly canary: string;
  /** What the replica's filesystem keeps: the invariants are checked as far as it can keep things. */
  readonly kept: KeptByReplica;
  /** The replica cannot show link targets that are absolute or climb with '..' (sshfs): the source makes none (hand-made ones in the replica still come). */
  readonly relativeLinksOnly?: boolean;
  /** Distinct mtimes for `touch`, so a touched file never meets an old mtime by chance. */
  clock: number;
}

function kindAt(p: string): 'file' | 'dir' | 'symlink' | 'other' | null {
  try {
    const st = lstatSync(p);
    return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
  } catch {
    return null;
  }
}

function countEntries(root: string): number {
  let n = 0;
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      n++;
      if (kindAt(path.join(d, name)) === 'dir') walk(path.join(d, name));
    }
  };
  walk(root);
  return n;
}

/** Parents of `rel` under `root` exist as real folders (created when missing); false if one is not a folder. */
function parents(root: string, rel: string): boolean {
  const parts = rel.split('/').slice(0, -1);
  let cur = root;
  for (const part of parts) {
    cur = path.join(cur, part);
    const k = kindAt(cur);
    if (k === null) mkdirSync(cur);
    else if (k !== 'dir') return false;
  }
  return true;
}

/** True unless a folder on the way to `rel` is a link (or a file): edits never go through links. */
function direct(root: string, rel: string): boolean {
  const parts = rel.split('/').slice(0, -1);
  let cur = root;
  for (const part of parts) {
    cur = path.join(cur, part);
    const k = kindAt(cur);
    if (k === null) return true;
    if (k !== 'dir') return false;
  }
  return true;
}

/** Applies one edit; returns a readable line, or null when the edit does not apply to this tree. */
function apply(w: World, o: Exclude<Op, { op: 'pass' }>): string | null {
  const onReplica = o.op.startsWith('rep-');
  const root = onReplica ? w.dst : w.src;
  // The test itself must never act through a link (a link to '/' would take it anywhere).
  if (!direct(root, o.path) || (o.op === 'rename' && !direct(w.src, o.to))) return null;
  const p = path.join(root, o.path);
  const k = kindAt(p);
  const full = !onReplica && countEntries(w.src) >= MAX_ENTRIES;
  const target = 'target' in o ? (o.target === '@canary' ? w.canary : o.target) : '';
  if (o.op === 'symlink' && w.relativeLinksOnly && (target.startsWith('/') || target.split('/').includes('..'))) return null;
  const show = (s: string): string => JSON.stringify(s.length > 12 ? `${s.slice(0, 8)}…(${s.length})` : s);
  switch (o.op) {
    case 'write':
    case 'rep-write':
      if (k === 'dir' || (k === null && full) || !parents(root, o.path)) return null;
      if (k === 'symlink') unlinkSync(p);
      writeFileSync(p, o.data);
      if (onReplica) {
        // A hand edit made at another moment than any source write: a replica file that merely
        // matches in size and in mtime to the millisecond is taken as in sync, by design (no
        // --checksum), and two writes within one millisecond would fake exactly that.
        w.clock += 1_000_123;
        utimesSync(p, w.clock / 1000, w.clock / 1000);
      }
      return `${o.op} ${o.path} ${show(o.data)}`;
    case 'append':
      if (k !== 'file') return null;
      appendFileSync(p, o.data);
      return `append ${o.path} ${show(o.data)}`;
    case 'truncate':
      if (k !== 'file') return null;
      truncateSync(p, o.size);
      return `truncate ${o.path} ${o.size}`;
    case 'mkdir':
    case 'rep-mkdir':
      if (k !== null || full || !parents(root, o.path)) return null;
      mkdirSync(p);
      return `${o.op} ${o.path}`;
    case 'delete':
    case 'rep-delete':
      if (k === null) return null;
      rmSync(p, { recursive: true, force: true });
      return `${o.op} ${o.path}`;
    case 'touch':
      if (k !== 'file' && k !== 'dir') return null;
      w.clock += 1_000_123;
      utimesSync(p, w.clock / 1000, w.clock / 1000);
      return `touch ${o.path} (mtime ${w.clock})`;
    case 'chmod':
    case 'rep-chmod':
      if (k !== 'file' && k !== 'dir') return null;
      chmodSync(p, o.mode);
      return `${o.op} ${o.path} ${o.mode.toString(8)}`;
    case 'rename': {
      const q = path.join(w.src, o.to);
      const kq = kindAt(q);
      if (k === null || o.to === o.path || o.to.startsWith(`${o.path}/`) || o.path.startsWith(`${o.to}/`)) return null;
      if (kq === 'dir' || (kq !== null && k === 'dir')) return null;
      if (!parents(w.src, o.to)) return null;
      renameSync(p, q);
      return `rename ${o.path} -> ${o.to}`;
    }
    case 'symlink':
    case 'rep-symlink':
      if (k === 'dir' || (k === null && full) || !parents(root, o.path)) return null;
      if (k !== null) unlinkSync(p);
      symlinkSync(target, p);
      return `${o.op} ${o.path} -> ${o.target}`;
    case 'swap':
      // The path changes type: file -> folder (with a file in it), folder -> file, link -> file.
      if (k === null) return null;
      rmSync(p, { recursive: true, force: true });
      if (k === 'file') {
        mkdirSync(p);
        writeFileSync(path.join(p, 'a'), 'was a file');
        return `swap ${o.path}: file -> folder with a file`;
      }
      writeFileSync(p, `was a ${k}`);
      return `swap ${o.path}: ${k} -> file`;
    case 'rep-corrupt': {
      // Same size, same mtime, other bytes: only the replica inode's ctime tells.
      if (k !== 'file') return null;
      const st = lstatSync(p);
      if (st.size === 0) return null;
      writeFileSync(p, Buffer.alloc(st.size, 0x21));
      utimesSync(p, st.atime, st.mtime);
      return `rep-corrupt ${o.path} (same size and mtime)`;
    }
  }
}

/** Runs a pass and checks every invariant; throws with the history so far on a violation. */
async function passAndCheck(w: World, log: string[], canaryBefore: string): Promise<void> {
  // An emptied source is a legitimate state here; the safety refusal has its own tests.
  const { report, lines } = await syncOnce({ source: w.src, replica: w.dst, state: w.state, allowEmptySource: true });
  const errors = lines.filter((l) => l.level >= 50).map((l) => `${l.msg}`);
  const problems = [
    ...(report.outcome === 'ok' ? [] : [`pass outcome ${report.outcome}: ${errors.join('; ')}`]),
    ...mirrorDiff(w.src, w.dst, () => false, w.kept),
    ...tempLeftovers(w.dst).map((t) => `temp file left: ${t}`),
    ...(await recordProblems(w.state, w.src, w.dst, w.kept.windowMs)),
    ...(JSON.stringify([...readState(w.canary)]) === canaryBefore ? [] : ['the canary folder outside both trees changed']),
  ];
  log.push(`pass -> ${lines.filter((l) => typeof l.action === 'string').map((l) => `${l.action} ${l.from ? `${l.from}->` : ''}${l.path}`).join(', ') || 'no changes'}`);
  if (problems.length > 0) throw new Error(`after pass ${log.filter((l) => l.startsWith('pass')).length}:\n  ${problems.join('\n  ')}\nhistory:\n  ${log.join('\n  ')}`);
}

afterAll(closePool);

/** Runs `runs` random histories with the replica at `replicaOf(n)`; returns the number of passes checked. */
async function checkHistories(
  runs: number,
  arb: fc.Arbitrary<History>,
  replicaOf: (n: number) => string,
  kept: KeptByReplica & { relativeLinksOnly?: boolean },
  examples: History[],
): Promise<number> {
  let passes = 0;
  let n = 0;
  await fc.assert(
    fc.asyncProperty(arb, async ({ initial, steps }) => {
      const d = tempDir('fs-history-');
      const dst = replicaOf(n++);
      const { relativeLinksOnly, ...keeps } = kept;
      const w: World = { src: `${d}/src`, dst, state: `${d}/state.record`, canary: `${d}/canary`, kept: keeps, clock: 1_500_000_000_000, ...(relativeLinksOnly ? { relativeLinksOnly } : {}) };
      mkdirSync(w.src);
      mkdirSync(w.canary);
      writeFileSync(`${w.canary}/keep`, 'canary');
      const canaryBefore = JSON.stringify([...readState(w.canary)]);
      const log: string[] = [];
      try {
        for (const o of initial) {
          const line = apply(w, o as Exclude<Op, { op: 'pass' }>);
          if (line) log.push(line);
        }
        await passAndCheck(w, log, canaryBefore);
        passes++;
        for (const o of steps) {
          if (o.op === 'pass') {
            await passAndCheck(w, log, canaryBefore);
            passes++;
            continue;
          }
          const line = apply(w, o);
          if (line) log.push(line);
        }
        await passAndCheck(w, log, canaryBefore);
        // And the record is good enough that a pass over an unchanged tree does nothing.
        const again = await syncOnce({ source: w.src, replica: w.dst, state: w.state, allowEmptySource: true });
        passes += 2;
        if (changeCount(again.report) !== 0) throw new Error(`a pass over an unchanged tree made ${changeCount(again.report)} changes\nhistory:\n  ${log.join('\n  ')}`);
      } finally {
        rmSync(dst, { recursive: true, force: true });
        cleanupTemps();
      }
    }),
    { numRuns: runs, endOnFailure: false, examples: examples.map((h) => [h] as [History]) },
  );
  return passes;
}

describe('random histories', () => {
  it(
    `after every pass of ${RUNS} random histories the replica mirrors the source, no temp file is left and the record matches the replica`,
    async () => {
      const t0 = performance.now();
      const passes = await checkHistories(RUNS, historyArb, (n) => `${tempDir('fs-history-dst-')}/dst${n}`, {}, FOUND);
      console.log(`history property: ${RUNS} histories, ${passes} passes checked, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      expect(passes).toBeGreaterThanOrEqual(RUNS * 2);
    },
    Math.max(180_000, RUNS * 1_000),
  );
});

/**
 * The replica on real filesystems: each run leaves out what that filesystem cannot have or
 * show. Not FAT32: fusefat (the only FAT driver a test can mount here) spins at 100 % CPU on
 * some random histories and never answers; its fixed tests in test/fs still run.
 */
const ON_MOUNTS: {
  name: string;
  runs: number;
  tools: string[];
  mount: () => Promise<{ fs: Mounted; stop?: () => Promise<void> }>;
  kept: KeptByReplica & { relativeLinksOnly?: boolean };
  leftOut: Op['op'][];
  why: string;
}[] = [
  {
    name: 'exFAT',
    runs: RUNS_EXFAT,
    tools: ['mount.exfat-fuse', 'mkfs.exfat', 'losetup', 'fusermount'],
    mount: async () => ({ fs: mountExfat(128) }),
    kept: { windowMs: 1000, modes: false },
    leftOut: ['symlink', 'rep-symlink', 'rep-corrupt'],
    why: "exFAT holds no symbolic links, and its change time only repeats the mtime, so a hand edit that keeps size and mtime ('rep-corrupt') is beyond what it lets anyone see",
  },
  {
    name: 'sshfs',
    runs: Math.max(20, Math.round(RUNS_EXFAT / 3)),
    tools: ['sshfs', 'sshd', 'ssh-keygen', 'fusermount'],
    mount: async () => {
      const sshd = await startSshd();
      return { fs: mountSshfs(sshd, `${sshd.home}/remote`), stop: sshd.stop };
    },
    kept: { windowMs: 1000, modes: true, relativeLinksOnly: true },
    leftOut: ['rep-corrupt'],
    why: 'sshfs repeats the mtime as the change time: a same-size, same-mtime hand edit cannot show; it refuses to read back link targets that are absolute or climb with "..", so the source makes none',
  },
];

for (const m of ON_MOUNTS) {
  describe.skipIf(!requireMounts(m.tools))(`random histories with the replica on ${m.name}`, () => {
    let mounted: { fs: Mounted; stop?: () => Promise<void> } | undefined;
    beforeAll(async () => {
      mounted = await m.mount();
    });
    afterAll(async () => {
      mounted?.fs.close();
      await mounted?.stop?.();
    });

    it(
      `after every pass of ${m.runs} random histories the replica mirrors the source as far as ${m.name} keeps it, and a pass over unchanged trees does nothing`,
      async () => {
        const t0 = performance.now();
        const passes = await checkHistories(m.runs, historiesWithout(m.leftOut), (n) => `${mounted!.fs.dir}/h${n}`, m.kept, []);
        console.log(`history property on ${m.name}: ${m.runs} histories, ${passes} passes checked, ${((performance.now() - t0) / 1000).toFixed(1)} s (left out ${m.leftOut.join(', ')}: ${m.why})`);
        expect(passes).toBeGreaterThanOrEqual(m.runs * 2);
      },
      Math.max(180_000, m.runs * 3_000),
    );
  });
}
