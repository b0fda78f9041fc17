import { execFileSync } from 'node:child_process';
import { lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** A small seeded PRNG (mulberry32): the same seed replays the same faults. */
export interface Rng {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** One element of a non-empty array. */
  pick<T>(xs: readonly T[]): T;
}

/** Builds a PRNG from a seed. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { seed, next, int: (n) => Math.floor(next() * n), pick: (xs) => xs[Math.floor(next() * xs.length)]! };
}

/** The seed for a fault test: FOLDERSYNC_SEED when set (to replay a failure), else a fresh one; printed either way. */
export function seedFor(test: string): number {
  const env = process.env.FOLDERSYNC_SEED;
  const seed = env ? Number(env) : Math.floor(Math.random() * 2 ** 31);
  console.log(`${test}: seed ${seed} (replay with FOLDERSYNC_SEED=${seed})`);
  return seed;
}

/** Every `.foldersync-*.tmp` name (files, links or staged folders) anywhere under a tree. */
export function tempLeftovers(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(path.join(root, rel));
    } catch {
      return;
    }
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      if (/^\.foldersync-.*\.tmp$/.test(n)) out.push(r);
      else if (lstatSync(path.join(root, r)).isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

/** Mounts a tmpfs of `size` (e.g. '2m') at `dir`; false when this machine does not allow it. */
export function tryMountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Unmounts `dir` (lazily, so a test never hangs on a busy mount); best effort. */
export function unmount(dir: string): void {
  try {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
  } catch {
    // not mounted (any more): nothing to undo
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
