// Runs inside a piscina worker thread: plain JavaScript so the same file serves the
// TypeScript sources under test and the built dist/.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat } from 'node:fs/promises';

/**
 * Hashes one file by streaming it (constant memory), and tells whether it stayed the same
 * version throughout: size, mtime, ctime and inode before and after reading.
 * @param {{ path: string, algo: string }} task
 * @returns {Promise<{ status: 'ok', hash: string, bytes: number, size: number, mtimeMs: number, ctimeMs: number, ino: number } | { status: 'gone' } | { status: 'changed' }>}
 */
export default async function hashTask({ path, algo }) {
  let pre;
  try {
    pre = await lstat(path);
  } catch (err) {
    const code = /** @type {NodeJS.ErrnoException} */ (err).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { status: 'gone' };
    throw err;
  }
  if (!pre.isFile()) return { status: 'changed' };
  const h = createHash(algo);
  let bytes = 0;
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  for await (const chunk of stream) {
    bytes += chunk.length;
    h.update(chunk);
  }
  const post = await lstat(path).catch(() => null);
  if (!post) return { status: 'gone' };
  if (post.size !== pre.size || post.mtimeMs !== pre.mtimeMs || post.ctimeMs !== pre.ctimeMs || post.ino !== pre.ino || bytes !== pre.size) {
    return { status: 'changed' };
  }
  return { status: 'ok', hash: h.digest('hex'), bytes, size: pre.size, mtimeMs: pre.mtimeMs, ctimeMs: pre.ctimeMs, ino: pre.ino };
}
