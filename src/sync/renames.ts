import type { Diff, MoveDecision, Need } from './decisions.js';
import { type FsRules, devKey, mtimeEq } from './fs-rules.js';
import { asideName, baseOf, cmp, depth, isWithin, parentOf, sameMtime } from './paths.js';
import type { Entry, FileRecord, HashAlgo, RecordEntry } from './types.js';
import type { VEntry, VTree } from './vtree.js';

/** What rename matching reads of the planner: its model of the replica, and how it compares and hashes. */
export interface RenameContext {
  readonly tree: VTree;
  readonly src: ReadonlyMap<string, Entry>;
  readonly record: FileRecord;
  readonly rules: FsRules;
  /** The hash algorithm in use: a recorded hash of another one is no hash. */
  readonly algo: HashAlgo;
  /** Replica paths below a source folder that could not be listed (or kept): never a rename's source. */
  isProtected(path: string): boolean;
  /** The source file's hash: known, or asked for (undefined until computed; '' = unreadable). */
  srcHash(s: Entry): string | undefined;
  /** The replica file's hash, likewise. */
  repHash(v: VEntry): string | undefined;
}

/**
 * Rename matching, as rclone's trackrenames: which replica entries are renamed rather than
 * copied again. Folders by the inode the record knew (and by the file moves that share a
 * folder suffix), files by identity first, then by size and content; case-only renames on
 * folding replicas. Decisions are applied to the planner's model as they are made, and kept
 * in order for emit. Pure, like the planner.
 */
export class Renames {
  /** Source identity (device:inode) → record path, for record paths whose source entry is gone. */
  private readonly released = new Map<string, string>();
  /** Folder renames, in the order they were applied to the model. */
  readonly dirMoves: MoveDecision[] = [];
  /** Case-only renames on a case-insensitive replica, in the order they were applied. */
  readonly caseMoves: MoveDecision[] = [];
  private asides = 0;

  constructor(
    private readonly c: RenameContext,
    inScope: (p: string) => boolean,
  ) {
    // Renumbered source inodes (a remount) say nothing about identity: no rename is found by them.
    if (c.rules.srcIno) {
      for (const [p, rec] of c.record) {
        if (!inScope(p)) continue;
        const s = c.src.get(p);
        if (s && s.kind === rec.kind && this.sameSource(s, rec)) continue;
        this.released.set(`${rec.sDev}:${rec.sIno}`, p);
      }
    }
  }

  private get tree(): VTree {
    return this.c.tree;
  }

  private get src(): ReadonlyMap<string, Entry> {
    return this.c.src;
  }

  private get record(): FileRecord {
    return this.c.record;
  }

  private get rules(): FsRules {
    return this.c.rules;
  }

  private isProtected(path: string): boolean {
    return this.c.isProtected(path);
  }

  private srcHash(s: Entry): string | undefined {
    return this.c.srcHash(s);
  }

  private repHash(v: VEntry): string | undefined {
    return this.c.repHash(v);
  }

  /** The source entry is, by device and inode, the one the record line was made from. */
  sameSource(s: Entry, rec: RecordEntry): boolean {
    return s.ino === rec.sIno && devKey(this.rules, s.dev) === rec.sDev;
  }

  private idKey(s: Entry): string {
    return `${devKey(this.rules, s.dev)}:${s.ino}`;
  }

  /** Replica mtimes against source or recorded ones: equal within the modify window. */
  private eq(a: number, b: number): boolean {
    return mtimeEq(this.rules, a, b);
  }

  /**
   * On a replica that folds case (or Unicode form), a replica entry spelt differently from the
   * source entry it stands for is that entry: rename it to the source's spelling, first, so it is
   * compared like any other. Otherwise the copy under the new spelling would replace it and the
   * delete of the old spelling would then remove the copy.
   */
  caseRenames(fold: (p: string) => string, wanted: ReadonlyMap<string, string>): void {
    const origs = [...this.tree.paths()].filter((p) => !this.src.has(p) && wanted.has(fold(p)));
    origs.sort((a, b) => depth(a) - depth(b) || cmp(a, b));
    for (const orig of origs) {
      const cur = this.tree.whereIs(orig);
      if (cur === undefined || this.src.has(cur) || this.isProtected(cur)) continue;
      const to = wanted.get(fold(cur));
      if (to === undefined || to === cur || this.tree.get(to) !== undefined) continue;
      // Where folders cannot be renamed, the engine has left such a folder out (see caseConflicts).
      if (this.rules.folderRenames === false && this.tree.get(cur)?.e.kind === 'dir') continue;
      this.tree.move(cur, to);
      this.caseMoves.push({ orig, to });
    }
  }

  /** A source folder whose inode the record knew under another path is that folder, renamed. */
  dirMovesByIdentity(): void {
    const dirs = [...this.src.values()].filter((e) => e.kind === 'dir');
    dirs.sort((a, b) => depth(a.path) - depth(b.path) || cmp(a.path, b.path));
    const moves: MoveDecision[] = [];
    for (const s of dirs) {
      const recPath = this.released.get(this.idKey(s));
      if (recPath === undefined) continue;
      const rec = this.record.get(recPath)!;
      const cur = this.tree.whereIs(recPath);
      if (rec.kind !== 'dir' || cur === undefined) continue;
      const v = this.tree.get(cur)!;
      if (v.e.kind !== 'dir' || (this.rules.repIno && v.e.ino !== rec.rIno)) continue;
      moves.push({ orig: v.orig, to: s.path });
    }
    // A folder that moves away goes before any folder moves into the place it leaves (`mv a b/a;
    // mv c a`): moved first, the newcomer would be carried along inside it.
    const done = new Set<MoveDecision>();
    const apply = (m: MoveDecision, busy: Set<MoveDecision>): void => {
      if (done.has(m) || busy.has(m)) return;
      busy.add(m);
      for (const o of moves) {
        const at = o === m || done.has(o) ? undefined : this.tree.whereIs(o.orig);
        if (at !== undefined && isWithin(m.to, at)) apply(o, busy);
      }
      done.add(m);
      this.applyDirMove(m.orig, m.to);
    };
    for (const m of moves) apply(m, new Set());
  }

  /** Renames a replica folder in the model, if that is still possible and safe. */
  applyDirMove(orig: string, to: string): boolean {
    const from = this.tree.whereIs(orig);
    if (from === undefined || from === to || isWithin(to, from) || isWithin(from, to)) return false;
    if (this.isProtected(from) || this.tree.get(to)?.e.kind === 'dir') return false;
    if (this.src.get(from)?.kind === 'dir' && this.src.get(from)?.ino === this.tree.get(from)?.e.ino) return false;
    const occupant = this.tree.get(to);
    // A file in the way may be wanted elsewhere (a folder and a file swapping names): set it
    // aside in the model, where it stays a move candidate; emit stages it on disk likewise.
    if (occupant?.e.kind === 'file') this.tree.move(to, asideName(this.asides++));
    else if (occupant) this.tree.removeTree(to);
    this.tree.move(from, to);
    this.dirMoves.push({ orig, to });
    return true;
  }

  /** Pairs files wanted in the source with replica files nobody needs where they are. */
  matchFiles(d: Diff): MoveDecision[] {
    const moves: MoveDecision[] = [];
    const wanted = new Set(d.needs.map((n) => n.s.path));
    const freed = new Set<string>();
    const bySize = new Map<number, string[]>();
    for (const p of this.tree.paths()) {
      const v = this.tree.get(p)!;
      if (v.e.kind !== 'file' || this.isProtected(p)) continue;
      const s = this.src.get(p);
      if (s && s.kind === 'file' && !wanted.has(p)) continue;
      freed.add(p);
      if (v.e.size > 0) {
        const list = bySize.get(v.e.size);
        if (list) list.push(p);
        else bySize.set(v.e.size, [p]);
      }
    }
    for (const list of bySize.values()) list.sort(cmp);
    const used = new Set<string>();
    // Renames the record proves come first: a content match must not take their replica file
    // (and costs hashing), e.g. `cp x y; mv x z` moves x to z and copies y.
    const byContent: Need[] = [];
    for (const need of d.needs) {
      const s = need.s;
      const byId = this.matchByIdentity(s, freed, used);
      if (byId === undefined) {
        byContent.push(need);
        continue;
      }
      used.add(byId.path);
      const orig = this.tree.get(byId.path)!.orig;
      moves.push(byId.hash === undefined ? { orig, to: s.path } : { orig, to: s.path, hash: byId.hash });
    }
    for (const { s, type } of byContent) {
      if (s.size === 0) continue;
      // A file changed in place is only worth hashing against replica files of its size that
      // also have its mtime: a rename keeps the mtime, an edit does not (without this, editing
      // 1 % of a tree hashes most edited files against each other's old versions).
      const sameTime = (c: string): boolean => type === 'copy' || this.eq(this.tree.get(c)!.e.mtimeMs, s.mtimeMs);
      const cands = (bySize.get(s.size) ?? []).filter((c) => c !== s.path && !used.has(c) && sameTime(c));
      if (cands.length === 0) continue;
      const hs = this.srcHash(s);
      const hrs = cands.map((c) => this.repHash(this.tree.get(c)!));
      if (hs === undefined || hs === '') continue;
      const i = hrs.indexOf(hs);
      if (i < 0) continue;
      const c = cands[i]!;
      used.add(c);
      moves.push({ orig: this.tree.get(c)!.orig, to: s.path, hash: hs });
    }
    return moves;
  }

  /**
   * True when the source file at this path is, by its inode, the file the record mirrored at
   * another path (files swapped or rotated with equal sizes and mtimes): size and mtime prove
   * nothing then, and the rename is found by identity.
   */
  cameFromElsewhere(s: Entry, rec: RecordEntry | undefined): boolean {
    if (rec === undefined || this.sameSource(s, rec)) return false;
    const prev = this.released.get(this.idKey(s));
    if (prev === undefined || prev === s.path) return false;
    const old = this.record.get(prev)!;
    return old.kind === 'file' && old.size === s.size && sameMtime(old.mtimeMs, s.mtimeMs);
  }

  /** A renamed file keeps its inode: the record says where its replica copy is. */
  private matchByIdentity(s: Entry, freed: Set<string>, used: Set<string>): { path: string; hash?: string } | undefined {
    const recPath = this.released.get(this.idKey(s));
    if (recPath === undefined) return undefined;
    const rec = this.record.get(recPath)!;
    if (rec.kind !== 'file' || rec.size !== s.size || !sameMtime(rec.mtimeMs, s.mtimeMs)) return undefined;
    const cur = this.tree.whereIs(recPath);
    if (cur === undefined || cur === s.path || !freed.has(cur) || used.has(cur)) return undefined;
    const r = this.tree.get(cur)!.e;
    const intact = (!this.rules.repIno || r.ino === rec.rIno) && r.ctimeMs === rec.rCtimeMs && r.size === rec.size && this.eq(r.mtimeMs, rec.mtimeMs);
    if (!intact) return undefined;
    return rec.hash !== undefined && rec.algo === this.c.algo ? { path: cur, hash: rec.hash } : { path: cur };
  }

  /** File moves that share a folder suffix reveal a renamed folder: rename it once instead. */
  inferDirMoves(moves: MoveDecision[]): MoveDecision[] {
    const votes = new Map<string, { orig: string; to: string; n: number }>();
    for (const m of moves) {
      const from = this.tree.whereIs(m.orig)!;
      let fo = parentOf(from);
      let to = parentOf(m.to);
      let best: [string, string] | undefined;
      while (fo !== '' && to !== '') {
        if (this.canRenameDir(fo, to)) best = [fo, to];
        if (baseOf(fo) !== baseOf(to)) break;
        fo = parentOf(fo);
        to = parentOf(to);
      }
      if (!best) continue;
      const key = `${best[0]}\0${best[1]}`;
      const cur = votes.get(key);
      if (cur) cur.n++;
      else votes.set(key, { orig: this.tree.get(best[0])!.orig, to: best[1], n: 1 });
    }
    return [...votes.values()].sort((a, b) => b.n - a.n || cmp(a.to, b.to));
  }

  private canRenameDir(from: string, to: string): boolean {
    return (
      this.tree.get(from)?.e.kind === 'dir' &&
      this.src.get(from)?.kind !== 'dir' &&
      this.src.get(to)?.kind === 'dir' &&
      this.tree.get(to)?.e.kind !== 'dir' &&
      !this.isProtected(from)
    );
  }
}
