import { ancestors } from './paths.js';
import type { Action } from './types.js';

/**
 * Pure: a plan as it runs with --backup-dir. A folder the plan removes with everything in it
 * becomes one recursive delete (which the executor turns into one rename into the backup
 * folder) instead of a delete per entry and an rmdir per folder; everything else is unchanged.
 * Only folders whose content all goes are removed by the plan (rmdir needs them empty), so the
 * one rename moves exactly what would have been deleted.
 */
export function forBackup(actions: readonly Action[]): Action[] {
  const removed = actions.filter((a): a is Extract<Action, { type: 'rmdir' }> => a.type === 'rmdir');
  if (removed.length === 0) return [...actions];
  const paths = new Set(removed.map((a) => a.path));
  // The outermost removed folders: each one rename.
  const tops = new Set([...paths].filter((p) => !ancestors(p).some((x) => paths.has(x))));
  const under = (p: string): boolean => ancestors(p).some((x) => tops.has(x));
  const out: Action[] = [];
  for (const a of actions) {
    if ((a.type === 'delete' || a.type === 'rmdir') && under(a.path)) continue;
    if (a.type === 'rmdir' && tops.has(a.path)) {
      out.push({ type: 'delete', path: a.path, kind: 'dir', recursive: true, ...(a.orig !== undefined ? { orig: a.orig } : {}) });
      continue;
    }
    out.push(a);
  }
  return out;
}
