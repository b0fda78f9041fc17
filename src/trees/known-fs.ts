import { stat } from 'node:fs/promises';
import { keepsInodes, mountOf } from './mounts.js';
import { type FsTraits, guessTraits, probeReplica } from './probe.js';

/**
 * What one run has learnt about its filesystems. The replica is probed once per filesystem
 * device and the answer kept for the daemon's life (a pass costs no probe unless the replica
 * was remounted on another device); a source's timestamp step is read off its listings, and
 * once any entry shows finer digits, it is known to be fine for good.
 */
export class KnownFilesystems {
  private replica: { readonly dev: number; readonly traits: FsTraits } | undefined;
  private readonly sourceSteps = new Map<number, number>();
  private readonly sourceInodes = new Map<number, boolean>();
  private warnedWeak = false;
  private window: number | undefined;

  /**
   * The replica's traits and whether they were just measured (then worth a log line). A dry
   * run, or a replica that does not exist yet, is not written to: its traits are guessed from
   * the mount type, and measured by the first real pass.
   */
  async replicaTraits(root: string, dryRun: boolean): Promise<{ traits: FsTraits; fresh: boolean; probeError?: unknown }> {
    let dev: number | undefined;
    try {
      dev = (await stat(root)).dev;
    } catch {
      dev = undefined;
    }
    if (dev !== undefined && this.replica?.dev === dev && (this.replica.traits.probed || dryRun)) return { traits: this.replica.traits, fresh: false };
    if (dryRun || dev === undefined) return this.remember(dev, await guessTraits(root));
    try {
      return this.remember(dev, await probeReplica(root));
    } catch (err) {
      // A replica the probe cannot write in (read-only, full, no permission) may still need
      // nothing written this pass: guess, say why, and probe again next pass.
      return { ...this.remember(dev, await guessTraits(root)), probeError: err };
    }
  }

  private remember(dev: number | undefined, traits: FsTraits): { traits: FsTraits; fresh: boolean } {
    if (dev !== undefined) this.replica = { dev, traits };
    return { traits, fresh: true };
  }

  /** The source's timestamp step on this device, as far as its listings have shown it (`seen`: this one's, see observedResolutionMs; 0 until they tell). */
  sourceStepMs(dev: number, seen: number | undefined): number {
    const known = this.sourceSteps.get(dev);
    if (known === 0) return 0;
    if (seen === undefined) return known ?? 0;
    const step = known === undefined ? seen : Math.min(known, seen);
    this.sourceSteps.set(dev, step);
    return step;
  }

  /** Whether the source's filesystem (on this device) keeps inode numbers across a remount, from its mount type. */
  async sourceKeepsInodes(dev: number, root: string): Promise<boolean> {
    let keeps = this.sourceInodes.get(dev);
    if (keeps === undefined) {
      keeps = keepsInodes(await mountOf(root));
      this.sourceInodes.set(dev, keeps);
    }
    return keeps;
  }

  /** True when the modify window differs from the last pass's (the first pass included): worth a log line. */
  windowChanged(ms: number): boolean {
    const changed = this.window !== ms;
    this.window = ms;
    return changed;
  }

  /** True the first time per run: the weak-drift warning is said once. */
  firstWeakWarning(): boolean {
    if (this.warnedWeak) return false;
    this.warnedWeak = true;
    return true;
  }
}
