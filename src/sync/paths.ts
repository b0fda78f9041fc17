import path from 'node:path';

/** Temp names foldersync writes in the replica; anything matching is ours to remove. */
export const TMP_RE = /^\.foldersync-[^/]*\.tmp$/;

/**
 * Where the planner's model of the replica sets aside a file that stands in the way of a
 * folder rename (a reserved temp name at the root: no scanned entry can have it).
 */
export function asideName(n: number): string {
  return `.foldersync-aside-${n}.tmp`;
}

/** A fresh temp name for a sibling of some replica path. */
export function tmpName(): string {
  return `.foldersync-${process.pid.toString(36)}-${Math.random().toString(36).slice(2, 10)}.tmp`;
}

/** Joins a root and a relative '/'-path into an OS path. */
export function abs(root: string, rel: string): string {
  return rel === '' ? root : path.join(root, rel);
}

/** The parent of a relative path ('' for top-level entries). */
export function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

/** The last component of a relative path. */
export function baseOf(rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}

/** Joins relative path components. */
export function joinRel(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** Number of components: depth('a/b') === 2. */
export function depth(rel: string): number {
  let n = 1;
  for (let i = 0; i < rel.length; i++) if (rel.charCodeAt(i) === 47) n++;
  return n;
}

/** True when `rel` is `dir` itself or lies inside it. */
export function isWithin(rel: string, dir: string): boolean {
  return dir === '' || rel === dir || (rel.startsWith(dir) && rel.charCodeAt(dir.length) === 47);
}

/** All ancestors of a relative path, nearest last: 'a/b/c' → ['a', 'a/b']. */
export function ancestors(rel: string): string[] {
  const out: string[] = [];
  for (let i = rel.indexOf('/'); i >= 0; i = rel.indexOf('/', i + 1)) out.push(rel.slice(0, i));
  return out;
}

/** Two modification times are equal to the millisecond (timestamps pass through doubles). */
export function sameMtime(a: number, b: number): boolean {
  return Math.abs(a - b) < 1;
}

/** Plain code-unit order: deterministic and locale-free. */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The order a pass walks a tree in, folder by folder (each folder's entries by name, then its
 * subfolders in that order), which the record is stored in too: code-unit order with '/' below
 * every other character, so a folder's descendants follow it before its next sibling.
 */
export function cmpWalk(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    if (ca === 47) return -1;
    if (cb === 47) return 1;
    return ca - cb;
  }
  return a.length - b.length;
}
