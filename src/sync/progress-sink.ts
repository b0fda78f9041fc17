/** The phases a progress line names. */
export type ProgressPhase = 'listing' | 'hashing' | 'copying';

/**
 * Where a pass reports how far it got, for a progress line: plain counters, called often, so
 * an implementation must cost next to nothing per call (the drawing happens on its own timer).
 */
export interface ProgressSink {
  /** The pass moved on to another phase. */
  phase(p: ProgressPhase): void;
  /** About how many entries the listing will find, both trees together (from the record); 0: unknown. */
  expected(entries: number): void;
  /** `n` more entries were listed (either tree). */
  listed(n: number): void;
  /** More work was planned: `files` copies totalling `bytes`. */
  planned(files: number, bytes: number): void;
  /** One planned copy is done (or will not be done this pass), with the bytes it copied. */
  copied(bytes: number): void;
  /** One file was read whole to hash it. */
  hashed(bytes: number): void;
}
