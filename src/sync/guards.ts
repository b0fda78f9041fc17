/*
 * The pre-flight refusals of a pass, as pure named checks: the engine gathers the facts, these
 * decide. Each returns why the pass must stop (and what the user reads), or null to go on.
 */

/** A pass that must stop before changing anything: how it ends and the one line that says why. */
export interface Refusal {
  /** `refused` (exit 3: a safety stop) or `errors` (exit 1: the pass could not be trusted). */
  readonly outcome: 'refused' | 'errors';
  /** The short reason kept in the pass report. */
  readonly reason: string;
  /** The line logged at level error, naming the path and what to do. */
  readonly message: string;
  readonly path: string;
}

/** A folder's identity: the same device and inode before and after listing it. */
export interface RootId {
  readonly dev: number;
  readonly ino: number;
}

/**
 * The source was renamed away, unmounted or replaced while it was listed: the listing silently
 * lacks whole folders (they vanished), and trusting it would delete their replica copies.
 */
export function sourceVanished(source: string, before: RootId | null, after: RootId | null): Refusal | null {
  if (before !== null && after !== null && before.dev === after.dev && before.ino === after.ino) return null;
  return {
    outcome: 'errors',
    reason: 'source vanished',
    path: source,
    message: `the source ${source} vanished or was replaced while it was listed (renamed or unmounted?); nothing changed in the replica`,
  };
}

/** An empty source over a non-empty replica is most often an unmounted drive, not a wish to delete everything. */
export function emptySource(source: string, counts: { source: number; replica: number }, allowEmpty: boolean): Refusal | null {
  if (counts.source > 0 || counts.replica === 0 || allowEmpty) return null;
  const why = `the source ${source} is empty but the replica has ${counts.replica} entries (is the source mounted?); nothing deleted. Use --allow-empty-source to mirror an empty source.`;
  return { outcome: 'refused', reason: why, path: source, message: `refused: ${why}` };
}

/** `--max-delete n` or `n%` (of the replica's entries) caps the deletions of one pass. */
export function tooManyDeletes(
  replica: string,
  maxDelete: { readonly count: number; readonly percent: boolean } | null,
  deletes: number,
  replicaEntries: number,
): Refusal | null {
  if (!maxDelete || deletes === 0) return null;
  const limit = maxDelete.percent ? Math.floor((maxDelete.count / 100) * replicaEntries) : maxDelete.count;
  if (deletes <= limit) return null;
  const why = `the pass would delete ${deletes} entries, more than --max-delete ${maxDelete.count}${maxDelete.percent ? '%' : ''} (${limit}); nothing deleted`;
  return { outcome: 'refused', reason: why, path: replica, message: `refused: ${why}` };
}
