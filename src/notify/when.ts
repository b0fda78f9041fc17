import { unreachable } from '../errors.js';
import type { PassReport } from '../sync/types.js';
import type { NotifyOn } from './options.js';

/** The number of changes a pass made (or, in a dry run, would make). */
export function changesOf(r: Pick<PassReport, 'copy' | 'update' | 'move' | 'delete' | 'mkdir' | 'rmdir' | 'symlink' | 'attrs'>): number {
  return r.copy + r.update + r.move + r.delete + r.mkdir + r.rmdir + r.symlink + r.attrs;
}

/** Whether a pass is reported under `--notify-on`: `errors` = errors or a refusal; `changes` also any change; `always` every pass. */
export function shouldNotify(on: NotifyOn, r: PassReport): boolean {
  const bad = r.outcome === 'errors' || r.outcome === 'refused';
  switch (on) {
    case 'errors':
      return bad;
    case 'changes':
      return bad || changesOf(r) > 0;
    case 'always':
      return true;
    default:
      return unreachable(on);
  }
}
