import type { ReplicaWriter } from '../trees/tree.js';
import type { ActionResult } from './execute.js';
import type { LinkGroups } from './link-groups.js';

/**
 * A new link changes its inode's change time, which every name of it shows: the record lines
 * of the groups a pass linked into are taken again from the replica, so the next pass finds
 * them unchanged (and reads nothing). Members that are gone are left to the next pass.
 */
export async function relearnLinked(links: LinkGroups, writer: ReplicaWriter, learn: (r: Extract<ActionResult, { status: 'ok' }>) => void): Promise<void> {
  for (const src of links.touchedMembers()) {
    try {
      const rep = await writer.stat(src.path);
      if (rep.kind === 'file') learn({ action: { type: 'attrs', path: src.path, src, kind: 'file' }, status: 'ok', rep, src, bytes: 0 });
    } catch {
      // gone or unreadable: the next pass sees it as it is
    }
  }
}
