import type { Action, ActionName, PassReport } from './types.js';

/** The user-visible name of an action (staging moves have none). */
export function actionName(a: Action): ActionName | null {
  if (a.type === 'move' && a.stage) return null;
  return a.type;
}

/**
 * The paths a user sees for an action: where the scan found the entry, not the temp name it may
 * have been set aside under during the pass (`from` only for moves).
 */
export function shownPaths(a: Action): { path: string; from?: string } {
  if (a.type === 'move') return { path: a.path, from: a.orig ?? a.from };
  return { path: 'orig' in a && a.orig ? a.orig : a.path };
}

/** The one human line for an action: "copy a/b.txt", "move old -> new". */
export function describeAction(a: Action, dryRun: boolean): string {
  const { path, from } = shownPaths(a);
  const what = from === undefined ? `${a.type} ${path}` : `move ${from} -> ${path}`;
  return dryRun ? `would ${what}` : what;
}

/** The counts a person reads first, in the order they care about ("3 copied, 1 error"; "no changes"). */
export function describeCounts(c: Pick<PassReport, 'copy' | 'update' | 'move' | 'symlink' | 'mkdir' | 'attrs' | 'delete' | 'rmdir' | 'backup' | 'errors'>): string {
  const parts: string[] = [];
  const add = (n: number, word: string): void => {
    if (n > 0) parts.push(`${n} ${word}`);
  };
  add(c.copy, 'copied');
  add(c.update, 'updated');
  add(c.move, 'moved');
  add(c.symlink, 'linked');
  add(c.mkdir, 'folders created');
  add(c.attrs, 'attributes fixed');
  add(c.delete, 'deleted');
  add(c.rmdir, 'folders removed');
  add(c.backup, 'old versions kept');
  add(c.errors, c.errors === 1 ? 'error' : 'errors');
  return parts.length ? parts.join(', ') : 'no changes';
}

/** The human summary of a pass, for the console. */
export function describeReport(r: Pick<PassReport, keyof PassReport>): string {
  const changes = describeCounts(r);
  const mb = (r.bytes / 1e6).toFixed(1);
  return `${r.dryRun ? 'dry run ' : ''}pass ${r.outcome === 'ok' ? 'complete' : r.outcome}: ${changes}; ${mb} MB copied, ${r.hashed} files hashed, ${(r.durationMs / 1000).toFixed(2)} s`;
}
