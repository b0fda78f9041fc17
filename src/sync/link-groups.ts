import type { FolderListing, TreeReader } from '../trees/tree.js';
import type { CopyOutcome } from '../trees/tree.js';
import type { Filter } from './filter.js';
import { cmp, parentOf } from './paths.js';
import type { Action, Entry } from './types.js';

/** How a copy of a group member was made: copied, or linked to a member already in place. */
export type PlacedCopy = CopyOutcome & { readonly linkedTo?: string };

/**
 * -H: the source's hard-link groups (files with one inode and several names) and what their
 * names are in the replica. It learns both from the listings a pass makes anyway (only files
 * the source lists with more than one link are kept, so a tree without hard links costs one
 * comparison per file), turns the copies of a group into one copy and links to it, and at the
 * end of a pass names the replica files that are not linked as their source files are.
 */
export class LinkGroups {
  /** Source identity (dev:ino) → its names, with their source entries. */
  private readonly groups = new Map<string, Map<string, Entry>>();
  private readonly keyOf = new Map<string, string>();
  /** A member's replica inode, as listed or as made this pass. */
  private readonly repIno = new Map<string, number>();
  /** Per group: the member whose replica file holds the content (or the copy that will). */
  private readonly leaders = new Map<string, string | Promise<void>>();
  /** Groups a pass linked into: their members' record lines are refreshed (a link changes the inode's ctime). */
  private readonly touched = new Set<string>();
  /** Members made links to their leader without any change of content. */
  private readonly relinking = new Set<string>();
  /** The files of the source folder listed last (the replica's same folder is listed right after it). */
  private lastFiles = new Map<string, Entry>();
  /** Replica files with other names that their source files do not have: each gets a file of its own. */
  private readonly strays = new Map<string, Entry>();
  /** Source folders by path, as listed: a relink's folder gets its mtime back, though the plan never looked at it. */
  private readonly dirs = new Map<string, Entry>();

  constructor(private readonly filter: Filter | undefined) {}

  /** The source tree, its listings observed. */
  source(tree: TreeReader): TreeReader {
    return this.observed(tree, (l) => {
      this.lastFiles = new Map();
      for (const it of l.items) {
        if (it.e.kind === 'dir' && !it.special) this.dirs.set(it.e.path, it.e);
        if (it.e.kind === 'file' && !it.special) this.lastFiles.set(it.e.path, it.e);
        if (it.nlink === undefined || it.nlink < 2 || it.special || this.filter?.excluded(it.e.path, false)) continue;
        const key = `${it.e.dev}:${it.e.ino}`;
        let g = this.groups.get(key);
        if (g === undefined) {
          g = new Map();
          this.groups.set(key, g);
        }
        g.set(it.e.path, it.e);
        this.keyOf.set(it.e.path, key);
      }
    });
  }

  /** The replica tree, its listings observed (each folder is listed after the source's, so its members are known). */
  replica(tree: TreeReader): TreeReader {
    return this.observed(tree, (l) => {
      for (const it of l.items) {
        if (it.e.kind !== 'file' || it.special) continue;
        if (this.keyOf.has(it.e.path)) this.repIno.set(it.e.path, it.e.ino);
        else if ((it.nlink ?? 1) > 1) {
          // Linked in the replica, alone in the source: a chmod of one name would change the other.
          const src = this.lastFiles.get(it.e.path);
          if (src !== undefined && !this.filter?.excluded(src.path, false)) this.strays.set(it.e.path, src);
        }
      }
    });
  }

  /**
   * Before the plan runs: members the plan leaves alone already hold the content in the
   * replica, and the one whose replica inode most members share leads its group. Returns the
   * updates that link the other members already there to it (a replica mirrored without -H,
   * a file linked over in the source): they copy nothing, and keep no old version.
   */
  prime(copied: ReadonlySet<string>): Action[] {
    const relinks: Action[] = [];
    for (const [key, g] of this.groups) {
      if (g.size < 2 || this.leaders.has(key)) continue;
      const tally = new Map<number, number>();
      for (const p of g.keys()) {
        const ino = this.repIno.get(p);
        if (ino !== undefined && !copied.has(p)) tally.set(ino, (tally.get(ino) ?? 0) + 1);
      }
      let best: string | undefined;
      let bestCount = 0;
      for (const p of [...g.keys()].sort(cmp)) {
        const ino = this.repIno.get(p);
        const n = ino === undefined || copied.has(p) ? 0 : (tally.get(ino) ?? 0);
        if (n > bestCount) {
          best = p;
          bestCount = n;
        }
      }
      if (best === undefined) continue;
      this.leaders.set(key, best);
      const ino = this.repIno.get(best);
      for (const [p, src] of g) {
        const have = this.repIno.get(p);
        if (copied.has(p) || have === undefined || have === ino) continue;
        this.relinking.add(p);
        relinks.push({ type: 'update', path: p, src });
      }
    }
    for (const [p, src] of this.strays) {
      if (copied.has(p)) continue;
      this.relinking.add(p);
      relinks.push({ type: 'update', path: p, src });
    }
    return relinks.sort((a, b) => cmp(a.path, b.path));
  }

  /** The source folders that hold the files `prime` relinks or copies apart (their replica mtimes are restored). */
  relinkFolders(): Map<string, Entry> {
    const out = new Map<string, Entry>();
    for (const p of this.relinking) {
      const dir = parentOf(p);
      const e = this.dirs.get(dir);
      if (e !== undefined) out.set(dir, e);
    }
    return out;
  }

  /** True for a file whose replica copy holds the content already and is only linked, or copied apart (nothing to keep of it). */
  unchanged(path: string): boolean {
    return this.relinking.has(path);
  }

  /**
   * Puts a group member in place: linked to its group's leader when there is one (a copy in
   * flight is waited for), else copied, the copy then leading. A link that fails is a copy.
   */
  async place(path: string, copy: () => Promise<CopyOutcome>, link: (leader: string) => Promise<Entry>): Promise<PlacedCopy> {
    const key = this.keyOf.get(path);
    if (key === undefined || (this.groups.get(key)?.size ?? 0) < 2) return copy();
    for (;;) {
      const held = this.leaders.get(key);
      if (held instanceof Promise) {
        await held;
        continue;
      }
      if (held !== undefined && held !== path) {
        try {
          const rep = await link(held);
          this.made(path, key, rep.ino);
          return { kind: 'done', src: this.groups.get(key)!.get(path)!, rep, linkedTo: held };
        } catch (err) {
          // A name that holds the content already stays as it is (and says why); another is copied.
          if (this.relinking.has(path)) throw err;
          return this.copied(path, key, await copy());
        }
      }
      // No member in place yet: this copy leads; the others wait for it, then link to it.
      let settle: () => void = () => undefined;
      this.leaders.set(key, new Promise<void>((r) => (settle = r)));
      try {
        const out = this.copied(path, key, await copy());
        if (out.kind === 'done') this.leaders.set(key, path);
        else this.leaders.delete(key);
        return out;
      } catch (err) {
        this.leaders.delete(key);
        throw err;
      } finally {
        settle();
      }
    }
  }

  private copied(path: string, key: string, out: CopyOutcome): CopyOutcome {
    if (out.kind === 'done') this.made(path, key, out.rep.ino);
    return out;
  }

  /** Records a member's replica file as made this pass (a copy or a link). */
  made(path: string, key = this.keyOf.get(path), ino?: number): void {
    if (key === undefined) return;
    if (ino !== undefined) this.repIno.set(path, ino);
    this.touched.add(key);
  }

  /** True once this pass made a replica file of some group. */
  get changed(): boolean {
    return this.touched.size > 0;
  }

  /** The members of every group a pass linked into (or copied into), with their source entries. */
  *touchedMembers(): Iterable<Entry> {
    for (const key of this.touched) {
      const g = this.groups.get(key);
      if (g && g.size > 1) yield* g.values();
    }
  }

  private observed(tree: TreeReader, see: (l: FolderListing) => void): TreeReader {
    return {
      root: tree.root,
      list: async (dir) => {
        const l = await tree.list(dir);
        see(l);
        return l;
      },
      stat: (rel) => tree.stat(rel),
    };
  }
}
