import { unreachable } from './errors.js';
import type { PassReport } from './sync/types.js';

/** Exit codes, as in the contract. */
export const EXIT = Object.freeze({ ok: 0, errors: 1, usage: 2, refused: 3, locked: 4, aborted: 130 });

/** Maps a pass's outcome to the process exit code. */
export function exitCodeFor(r: PassReport | undefined): number {
  if (!r) return EXIT.ok;
  switch (r.outcome) {
    case 'ok':
      return EXIT.ok;
    case 'errors':
      return EXIT.errors;
    case 'refused':
      return EXIT.refused;
    case 'aborted':
      return EXIT.aborted;
    default:
      return unreachable(r.outcome);
  }
}

/** The most severe of several exit codes (a hard abort, then 4 > 2 > 3 > 1 > 0). */
export function worstCode(codes: readonly number[]): number {
  const rank: readonly number[] = [EXIT.ok, EXIT.errors, EXIT.refused, EXIT.usage, EXIT.locked, EXIT.aborted];
  return codes.reduce((a, b) => (rank.indexOf(b) > rank.indexOf(a) ? b : a), EXIT.ok as number);
}
