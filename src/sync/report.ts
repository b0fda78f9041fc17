import type { Action, ActionName, PassReport } from './types.js';

/** The user-visible name of an action (staging moves have none). */
export function actionName(a: Action): ActionName | null {
  if (a.type === 'move' && a.stage) return null;
  return a.type;
}

/** The one human line for an action: "copy a/b.txt", "move old -> new". */
export function describeAction(a: Action, dryRun: boolean): string {
  const what = a.type === 'move' ? `move ${a.orig ?? a.from} -> ${a.path}` : `${a.type} ${'orig' in a && a.orig ? a.orig : a.path}`;
  return dryRun ? `would ${what}` : what;
}

/** The human summary of a pass, for the console. */
export function describeReport(r: Pick<PassReport, keyof PassReport>): string {
  const parts: string[] = [];
  const add = (n: number, word: string): void => {
    if (n > 0) parts.push(`${n} ${word}`);
  };
  add(r.copy, 'copied');
  add(r.update, 'updated');
  add(r.move, 'moved');
  add(r.symlink, 'linked');
  add(r.mkdir, 'folders created');
  add(r.attrs, 'attributes fixed');
  add(r.delete, 'deleted');
  add(r.rmdir, 'folders removed');
  add(r.errors, 'errors');
  const changes = parts.length ? parts.join(', ') : 'no changes';
  const mb = (r.bytes / 1e6).toFixed(1);
  return `${r.dryRun ? 'dry run ' : ''}pass ${r.outcome === 'ok' ? 'complete' : r.outcome}: ${changes}; ${mb} MB copied, ${r.hashed} files hashed, ${(r.durationMs / 1000).toFixed(2)} s`;
}
