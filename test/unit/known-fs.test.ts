import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { KnownFilesystems } from '../../src/trees/known-fs.js';
import { observedResolutionMs } from '../../src/trees/probe.js';
import { cleanupTemps, tempDir } from '../helpers/tree.js';

/*
 * What a run learns about its filesystems: the replica probed once per device (again when the
 * replica turns up on another device), a dry run guessing without writing, and the source's
 * timestamp step only ever getting finer.
 */

const shm = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/fs-known-') : null;
afterAll(() => {
  cleanupTemps();
  if (shm) rmSync(shm, { recursive: true, force: true });
});

describe('KnownFilesystems', () => {
  it('probes a replica once per device, and again when the replica is on another device', async () => {
    const known = new KnownFilesystems();
    const a = tempDir('fs-known-');
    const first = await known.replicaTraits(a, false);
    expect(first.fresh).toBe(true);
    expect(first.traits.probed).toBe(true);
    expect(readdirSync(a)).toEqual([]); // the probe cleaned up after itself
    expect((await known.replicaTraits(a, false)).fresh).toBe(false);
    const b = tempDir('fs-known-');
    expect((await known.replicaTraits(b, false)).fresh).toBe(false); // same device: same answer
    if (shm) {
      const other = await known.replicaTraits(shm, false);
      expect(other.fresh).toBe(true);
      expect(other.traits.type).toBe('tmpfs');
    }
  });

  it('a dry run, or a replica that does not exist yet, is guessed from the mount type and nothing is written', async () => {
    const known = new KnownFilesystems();
    const a = tempDir('fs-known-');
    const dry = await known.replicaTraits(a, true);
    expect(dry.traits.probed).toBe(false);
    expect(readdirSync(a)).toEqual([]);
    const missing = `${a}/not/yet`;
    const guess = await known.replicaTraits(missing, false);
    expect(guess.traits.probed).toBe(false);
    expect(existsSync(missing)).toBe(false);
    // The first real pass on the existing folder measures it.
    mkdirSync(missing, { recursive: true });
    expect((await known.replicaTraits(missing, false)).traits.probed).toBe(true);
  });

  it("the source's step is read off its listings, needs eight distinct mtimes, and only gets finer", () => {
    const known = new KnownFilesystems();
    const seconds = (n: number, step: number): number[] => Array.from({ length: n }, (_, i) => 1_600_000_000_000 + i * step);
    expect(known.sourceStepMs(7, observedResolutionMs(seconds(3, 2000)))).toBe(0); // too few to tell
    expect(known.sourceStepMs(7, observedResolutionMs(seconds(8, 2000)))).toBe(2000);
    expect(known.sourceStepMs(7, observedResolutionMs(seconds(8, 1000)))).toBe(1000);
    expect(known.sourceStepMs(7, observedResolutionMs(seconds(8, 2000)))).toBe(1000); // never coarser again
    expect(known.sourceStepMs(7, observedResolutionMs([1_600_000_000_000.5]))).toBe(0);
    expect(known.sourceStepMs(7, observedResolutionMs(seconds(8, 2000)))).toBe(0);
    expect(known.sourceStepMs(8, observedResolutionMs(seconds(8, 2000)))).toBe(2000); // another device
  });
});
