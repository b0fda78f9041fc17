import type { Entry } from './types.js';

/*
 * The typed contract between deciding (plan.ts) and ordering (emit.ts): what the planner decided
 * on its model of the replica, handed over as data. Neither side imports the other's code.
 */

/** A file whose content is wanted at `s.path`. */
export interface Need {
  readonly s: Entry;
  readonly type: 'copy' | 'update';
}

/** A replica entry that will be renamed: `orig` is its scan path (its identity), `to` its new path. */
export interface MoveDecision {
  readonly orig: string;
  readonly to: string;
  /** Content hash of the moved file, when known: it stays valid across the rename. */
  readonly hash?: string;
}

/** What the source wants that the (virtual) replica does not have. */
export interface Diff {
  readonly needs: Need[];
  readonly mkdirs: Entry[];
  readonly links: Entry[];
  readonly attrs: { s: Entry; hash?: string }[];
  readonly verified: { path: string; src: Entry; rep: Entry; hash?: string }[];
}
