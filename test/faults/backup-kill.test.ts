import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawnCli } from '../helpers/cli.js';
import { closePool, syncOnce } from '../helpers/pass.js';
import { cleanupTemps, mirrorDiff, tempDir } from '../helpers/tree.js';
import { rng, seedFor, sleep, tempLeftovers } from './fault-kit.js';

afterEach(cleanupTemps);
afterAll(closePool);

const FILES = 1200;
const ROUNDS = 4;

const name = (i: number): string => `d${i % 12}/f${i}.txt`;
const v1 = (i: number): string => `version one of ${i}\n`;
const v2 = (i: number): string => `version two of ${i}, a little longer\n`;
const notVersions = (p: string): boolean => p === '.versions' || p.startsWith('.versions/');

/** Every content an old version of `rel` has under any stamp folder (`rel`, or `rel~N` from a second pass in the same second). */
function keptVersions(versions: string, rel: string): string[] {
  if (!existsSync(versions)) return [];
  const out: string[] = [];
  for (const stamp of readdirSync(versions)) {
    const dir = path.join(versions, stamp, path.dirname(rel));
    if (!existsSync(dir)) continue;
    for (const n of readdirSync(dir)) if (n === path.basename(rel) || n.startsWith(`${path.basename(rel)}~`)) out.push(readFileSync(path.join(dir, n), 'utf8'));
  }
  return out;
}

function readOrNull(p: string): string | null {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}

describe('kill -9 during backup renames', () => {
  it('leaves every old version either in the replica or in the backup folder; the next pass completes the mirror', async () => {
    const seed = seedFor('backup-kill');
    const r = rng(seed);
    let cutMidway = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const d = tempDir('fs-bkill-');
      const src = path.join(d, 'src');
      const dst = path.join(d, 'dst');
      const state = path.join(d, 'record');
      const versions = path.join(dst, '.versions');
      for (let i = 0; i < FILES; i++) {
        mkdirSync(path.dirname(path.join(src, name(i))), { recursive: true });
        writeFileSync(path.join(src, name(i)), v1(i));
      }
      expect((await syncOnce({ source: src, replica: dst, state })).report.errors).toBe(0);
      // A third deleted, a third rewritten, and one folder removed whole.
      const fate = (i: number): 'delete' | 'update' | 'keep' => (i % 12 === 11 || i % 3 === 0 ? 'delete' : i % 3 === 1 ? 'update' : 'keep');
      for (let i = 0; i < FILES; i++) {
        if (i % 12 === 11) continue;
        if (fate(i) === 'delete') rmSync(path.join(src, name(i)));
        else if (fate(i) === 'update') writeFileSync(path.join(src, name(i)), v2(i));
      }
      rmSync(path.join(src, 'd11'), { recursive: true });

      const args = ['-s', src, '-r', dst, '--once', '--state', state, '--backup-dir', '.versions', '--jobs', '4'];
      const run = spawnCli(args, { home: d });
      await run.waitFor(/^backup /m, 20_000).catch(() => undefined);
      await sleep(r.int(20));
      run.child.kill('SIGKILL');
      await run.exited(20_000);

      // Whatever the kill interrupted: no old version is lost, none is torn.
      let moved = 0;
      let left = 0;
      for (let i = 0; i < FILES; i++) {
        if (fate(i) === 'keep') continue;
        const here = readOrNull(path.join(dst, name(i)));
        const kept = keptVersions(versions, name(i));
        expect([v1(i), v2(i), null], `seed ${seed} round ${round}: ${name(i)} torn`).toContain(here);
        for (const k of kept) expect(k, `seed ${seed} round ${round}: backup of ${name(i)} torn`).toBe(v1(i));
        expect(here === v1(i) || kept.length > 0, `seed ${seed} round ${round}: the old version of ${name(i)} is lost`).toBe(true);
        if (kept.length > 0) moved++;
        else left++;
      }
      cutMidway += moved > 0 && left > 0 ? 1 : 0;

      const clean = spawnCli(args, { home: d });
      expect(await clean.exited(30_000), clean.stderr()).toBe(0);
      expect(mirrorDiff(src, dst, notVersions), `seed ${seed} round ${round}`).toEqual([]);
      expect(tempLeftovers(dst)).toEqual([]);
      for (let i = 0; i < FILES; i++) {
        if (fate(i) !== 'keep') expect(keptVersions(versions, name(i)), `seed ${seed} round ${round}: ${name(i)}`).toContain(v1(i));
      }
      cleanupTemps();
    }
    console.log(`backup-kill: ${cutMidway} of ${ROUNDS} kills landed between two backups`);
    expect(cutMidway, `seed ${seed}: no kill landed while old versions were being moved`).toBeGreaterThan(0);
  }, 180_000);
});
