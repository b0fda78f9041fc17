import type { PassOutcome } from '../sync/types.js';
import { type Lines, emptyLines, mergeLines } from './pass-lines.js';
import type { PassSummary } from './summary.js';

/** Passes one mail lists one by one; a daemon whose mails cannot go out for days counts the rest. */
const PASSES_KEPT = 100;

/** One reported pass: its summary and, for a refusal or a failed pass, why. */
export interface PassNote {
  readonly summary: PassSummary;
  readonly reason?: string;
}

/** What one mail reports: the passes since the last mail that went out, their changes and errors (bounded). */
export class Digest {
  readonly passes: PassNote[] = [];
  morePasses = 0;
  readonly lines: Lines = emptyLines();
  /** The counts of every pass gathered, kept ones or not. */
  readonly totals = { passes: 0, copy: 0, update: 0, move: 0, delete: 0, mkdir: 0, rmdir: 0, symlink: 0, attrs: 0, backup: 0, errors: 0, bytes: 0 };
  private worstOutcome: PassOutcome = 'ok';

  /** Adds one pass with its lines. */
  add(note: PassNote, lines: Lines): void {
    if (this.passes.length < PASSES_KEPT) this.passes.push(note);
    else this.morePasses++;
    mergeLines(this.lines, lines);
    const t = this.totals;
    const s = note.summary;
    t.passes++;
    for (const k of ['copy', 'update', 'move', 'delete', 'mkdir', 'rmdir', 'symlink', 'attrs', 'backup', 'errors', 'bytes'] as const) t[k] += s[k];
    if (SEVERITY[s.outcome] > SEVERITY[this.worstOutcome]) this.worstOutcome = s.outcome;
  }

  /** Adds everything of a later digest (a mail that could not be sent goes out with the next one). */
  absorb(later: Digest): void {
    for (const n of later.passes) {
      if (this.passes.length < PASSES_KEPT) this.passes.push(n);
      else this.morePasses++;
    }
    this.morePasses += later.morePasses;
    mergeLines(this.lines, later.lines);
    for (const k of Object.keys(this.totals) as (keyof Digest['totals'])[]) this.totals[k] += later.totals[k];
    if (SEVERITY[later.outcome] > SEVERITY[this.worstOutcome]) this.worstOutcome = later.outcome;
  }

  /** The most severe outcome among the passes. */
  get outcome(): PassOutcome {
    return this.worstOutcome;
  }

  /** True when no pass was added. */
  get empty(): boolean {
    return this.totals.passes === 0;
  }
}

/** How bad an outcome is, for the subject: a refusal is worst (nothing was mirrored). */
const SEVERITY: Record<PassOutcome, number> = { ok: 0, aborted: 1, errors: 2, refused: 3 };
