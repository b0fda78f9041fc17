import type { Attributes } from 'ssh2';
import { mtimeMsOf } from '../remote/sftp-io.js';
import type { Entry, EntryKind } from '../sync/types.js';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** The kind of entry SFTP attributes describe; null for fifos, sockets and devices. */
export function kindOf(a: Attributes): EntryKind | null {
  switch (a.mode & S_IFMT) {
    case S_IFREG:
      return 'file';
    case S_IFDIR:
      return 'dir';
    case S_IFLNK:
      return 'symlink';
    default:
      return null;
  }
}

/**
 * SFTP attributes as an Entry. SFTP has no inode numbers, devices or change times: every
 * entry has inode and device 0 and its mtime as its ctime, so drift shows by size and mtime.
 */
export function sftpEntry(rel: string, a: Attributes, target?: string): Entry | null {
  const kind = kindOf(a);
  if (kind === null) return null;
  const mtimeMs = mtimeMsOf(a);
  const e: Entry = { path: rel, kind, size: kind === 'dir' ? 0 : a.size, mtimeMs, ctimeMs: mtimeMs, mode: a.mode & 0o7777, ino: 0, dev: 0 };
  return target === undefined ? e : { ...e, target };
}
