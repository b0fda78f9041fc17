import type { FileEntryWithStats } from 'ssh2';
import { ConnectionLost } from '../remote/errors.js';
import type { RemoteEnd } from '../remote/remote-end.js';
import { isGone } from '../errors.js';
import { TMP_RE, cmp, joinRel } from '../sync/paths.js';
import type { Entry } from '../sync/types.js';
import { issueOf } from './local.js';
import { sftpEntry } from './sftp-entry.js';
import type { FolderListing, Listed, TreeReader } from './tree.js';

/** Folder listings requested ahead of the walk: enough to keep the link busy, few enough to bound memory. */
const READ_AHEAD = 16;

/**
 * A folder on another machine, read over SFTP: one `readdir` per folder carries every entry's
 * attributes (no stat round trip per file); only symlinks cost a `readlink` each. A dropped
 * connection is never an "unreadable folder": it throws, so the pass ends instead of taking
 * a half listing for the truth.
 */
export class SftpTree implements TreeReader {
  /** Listings of folders asked for ahead of the walk (see readAhead). */
  private readonly ahead = new Map<string, Promise<FolderListing>>();

  constructor(private readonly end: RemoteEnd) {}

  /** The location as the user wrote it. */
  get root(): string {
    return this.end.text;
  }

  /** Lists one folder (attributes from readdir, link targets read alongside); its subfolders are asked for ahead. */
  async list(dir: string): Promise<FolderListing> {
    const early = this.ahead.get(dir);
    this.ahead.delete(dir);
    const l = await (early ?? this.listNow(dir));
    this.readAhead(l);
    return l;
  }

  /**
   * Starts listing the first subfolders of a folder just listed: a walk goes into them next,
   * and a listing is several round trips (open, read, close) that would otherwise wait on one
   * another, folder after folder. At most READ_AHEAD listings are held ahead.
   */
  private readAhead(l: FolderListing): void {
    const dirs = l.items.filter((i) => i.e.kind === 'dir').map((i) => i.e.path);
    dirs.sort(cmp);
    for (const d of dirs) {
      if (this.ahead.size >= READ_AHEAD) break;
      if (this.ahead.has(d)) continue;
      const p = this.listNow(d);
      // One the walk never asks for (excluded, or the walk ended) must not be an unhandled rejection.
      p.catch(() => undefined);
      this.ahead.set(d, p);
    }
  }

  private async listNow(dir: string): Promise<FolderListing> {
    const out: FolderListing = { items: [], stale: [], issues: [] };
    const io = this.end.sftp;
    let names: FileEntryWithStats[];
    try {
      names = await io.readdir(this.end.abs(dir));
    } catch (err) {
      if (dir === '' || err instanceof ConnectionLost) throw err;
      if (!isGone(err)) out.issues.push(issueOf(dir, 'readdir', err));
      return out;
    }
    await Promise.all(
      names.map(async ({ filename: name, attrs }) => {
        const rel = joinRel(dir, name);
        if (TMP_RE.test(name)) {
          out.stale.push(rel);
          return;
        }
        let listed: Listed;
        if (attrs.isSymbolicLink()) {
          try {
            listed = { name, e: sftpEntry(rel, attrs, await io.readlink(this.end.abs(rel)))! };
          } catch (err) {
            if (err instanceof ConnectionLost) throw err;
            if (isGone(err)) return;
            listed = { name, e: sftpEntry(rel, attrs)!, linkError: issueOf(rel, 'readlink', err) };
          }
        } else {
          const e = sftpEntry(rel, attrs);
          listed = e ? { name, e } : { name, special: true, e: { path: rel, kind: 'file', size: -1, mtimeMs: 0, ctimeMs: 0, mode: attrs.mode & 0o7777, ino: 0, dev: 0 } };
        }
        out.items.push(listed);
      }),
    );
    return out;
  }

  /** lstats one path. */
  stat(rel: string): Promise<Entry | null> {
    return sftpStat(this.end, rel);
  }
}

/** lstats a remote path into an Entry (with its target for a link); null when gone or special. */
export async function sftpStat(end: RemoteEnd, rel: string): Promise<Entry | null> {
  const p = end.abs(rel);
  try {
    const a = await end.sftp.lstat(p);
    return sftpEntry(rel, a, a.isSymbolicLink() ? await end.sftp.readlink(p) : undefined);
  } catch (err) {
    if (isGone(err)) return null;
    throw err;
  }
}
