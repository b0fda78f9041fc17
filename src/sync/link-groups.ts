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
  /** Source folders by path, as listed: a relink's folder gets its mtime back, though the plan never looked at it. */
  private readonly dirs = new Map<string, Entry>();

  constructor(private readonly filter: Filter | undefined) {}

  /** The source tree, its listings observed. */
  source(tree: TreeReader): TreeReader {
    return this.observed(tree, (l) => {
      for (const it of l.items) {
        if (it.e.kind === 'dir' && !it.special) this.dirs.set(it.e.path, it.e);
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
      if (this.keyOf.size === 0) return;
      for (const it of l.items) if (it.e.kind === 'file' && !it.special && this.keyOf.has(it.e.path)) this.repIno.set(it.e.path, it.e.ino);
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
    return relinks.sort((a, b) => cmp(a.path, b.path));
  }

  /** The source folders that hold the members `prime` relinks (their replica mtimes are restored). */
  relinkFolders(): Map<string, Entry> {
    const out = new Map<string, Entry>();
    for (const p of this.relinking) {
      const dir = parentOf(p);
      const e = this.dirs.get(dir);
      if (e !== undefined) out.set(dir, e);
    }
    return out;
  }

  /** True for a member whose replica file already holds the content and only becomes a link (nothing to keep of it). */
  relinks(path: string): boolean {
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
