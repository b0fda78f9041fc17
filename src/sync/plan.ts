import type { Diff, MoveDecision, Need } from './decisions.js';
import { emit } from './emit.js';
import { EXACT_RULES, type FsRules, devKey, mtimeEq } from './fs-rules.js';
import { asideName, baseOf, cmp, depth, isWithin, parentOf, sameMtime } from './paths.js';
import {
  type Entry,
  type FileRecord,
  type HashAlgo,
  type HashMap,
  type Plan,
  type RecordEntry,
  type Side,
  type Snapshot,
  hashKey,
} from './types.js';
import { type VEntry, VTree } from './vtree.js';

/** Options that change what the planner decides. */
export interface PlanOptions {
  readonly checksum: boolean;
  readonly deleteExcluded: boolean;
  readonly algo: HashAlgo;
}

/** Everything the planner looks at; it reads no disk. */
export interface PlanInput {
  readonly source: Snapshot;
  readonly replica: Snapshot;
  readonly record: FileRecord;
  readonly hashes: HashMap;
  readonly options: PlanOptions;
  /** For a partial (watch) pass: which record paths the snapshots speak for. Default: all. */
  readonly inScope?: (path: string) => boolean;
  /** What the two filesystems keep (modify window, modes, inode numbers, name folding). Default: exact. */
  readonly rules?: FsRules;
  /** Replica paths left exactly as they are, with everything below them (an error said why). */
  readonly kept?: readonly string[];
}

const MAX_ROUNDS = 6;

/**
 * Decides what a pass does: which replica entries to rename, create, rewrite, fix and delete.
 * Pure: same input, same plan. When it needs a content hash it does not have, it lists it in
 * `missing` and decides conservatively; the engine hashes and asks again.
 */
export function plan(input: PlanInput): Plan {
  return new Planner(input).run();
}

class Planner {
  private readonly src: Map<string, Entry>;
  private readonly record: FileRecord;
  private readonly hashes: HashMap;
  private readonly opts: PlanOptions;
  private readonly tree: VTree;
  private readonly rules: FsRules;
  /** Case-only renames on a case-insensitive replica, in the order they were applied to the model. */
  private readonly caseMoves: MoveDecision[] = [];
  /** Source identity (dev:ino) → record path, for record paths whose source entry is gone. */
  private readonly released = new Map<string, string>();
  private readonly missing = new Map<string, { side: Side; path: string }>();
  private readonly dirMoves: MoveDecision[] = [];
  private asides = 0;
  /** Source paths that could not be listed: nothing of the replica below them is touched. */
  private readonly protect: string[];

  constructor(private readonly input: PlanInput) {
    this.src = input.source.entries;
    this.record = input.record;
    this.hashes = input.hashes;
    this.opts = input.options;
    this.tree = new VTree(input.replica.entries.values());
    this.rules = input.rules ?? EXACT_RULES;
    this.protect = [...input.source.issues.map((i) => i.path), ...(input.kept ?? [])];
    const inScope = input.inScope ?? (() => true);
    // Renumbered source inodes (a remount) say nothing about identity: no rename is found by them.
    if (this.rules.srcIno) {
      for (const [p, rec] of this.record) {
        if (!inScope(p)) continue;
        const s = this.src.get(p);
        if (s && s.kind === rec.kind && this.sameSource(s, rec)) continue;
        this.released.set(`${rec.sDev}:${rec.sIno}`, p);
      }
    }
  }

  /** The source entry is, by device and inode, the one the record line was made from. */
  private sameSource(s: Entry, rec: RecordEntry): boolean {
    return s.ino === rec.sIno && devKey(this.rules, s.dev) === rec.sDev;
  }

  private idKey(s: Entry): string {
    return `${devKey(this.rules, s.dev)}:${s.ino}`;
  }

  /** Replica mtimes against source or recorded ones: equal within the modify window. */
  private eq(a: number, b: number): boolean {
    return mtimeEq(this.rules, a, b);
  }

  run(): Plan {
    if (this.rules.fold) this.caseRenames(this.rules.fold);
    const folderRenames = this.rules.folderRenames !== false;
    if (folderRenames) this.dirMovesByIdentity();
    for (let round = 0; ; round++) {
      const diff = this.diff();
      const fileMoves = this.matchFiles(diff);
      const inferred = round < MAX_ROUNDS && folderRenames ? this.inferDirMoves(fileMoves) : [];
      let applied = 0;
      for (const m of inferred) if (this.applyDirMove(m.orig, m.to)) applied++;
      if (applied === 0) {
        return emit({
          source: this.input.source,
          replica: this.input.replica,
          diff,
          caseMoves: this.caseMoves,
          folderRenames,
          ...(this.rules.fold ? { fold: this.rules.fold } : {}),
          dirMoves: this.dirMoves,
          fileMoves,
          deleteExcluded: this.opts.deleteExcluded,
          protect: this.input.source.issues.map((i) => i.path),
          kept: this.input.kept ?? [],
          missing: [...this.missing.values()],
        });
      }
    }
  }

  private isProtected(path: string): boolean {
    return this.protect.some((p) => isWithin(path, p));
  }

  /**
   * On a replica that folds case (or Unicode form), a replica entry spelt differently from the
   * source entry it stands for is that entry: rename it to the source's spelling, first, so it is
   * compared like any other. Otherwise the copy under the new spelling would replace it and the
   * delete of the old spelling would then remove the copy.
   */
  private caseRenames(fold: (p: string) => string): void {
    const wanted = new Map<string, string>();
    for (const p of this.src.keys()) wanted.set(fold(p), p);
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
  private dirMovesByIdentity(): void {
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
  private applyDirMove(orig: string, to: string): boolean {
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

  private diff(): Diff {
    const d: Diff = { needs: [], mkdirs: [], links: [], attrs: [], verified: [] };
    for (const s of this.src.values()) {
      const v = this.tree.get(s.path);
      if (!v || v.e.kind !== s.kind) {
        const type = v ? 'update' : 'copy';
        if (s.kind === 'dir') d.mkdirs.push(s);
        else if (s.kind === 'symlink') d.links.push(s);
        else d.needs.push({ s, type });
        continue;
      }
      const rec = this.record.get(v.orig);
      if (s.kind === 'file') {
        const verdict = this.compareFile(s, v, rec);
        if (verdict.differs) {
          d.needs.push({ s, type: 'update' });
          continue;
        }
        if (this.modeDiffers(s, v)) d.attrs.push(verdict.hash === undefined ? { s } : { s, hash: verdict.hash });
        else if (this.outdated(rec, s, v, verdict.hash)) d.verified.push(verified(s, v, verdict.hash));
      } else if (s.kind === 'dir') {
        if (this.modeDiffers(s, v) || !this.eq(v.e.mtimeMs, s.mtimeMs)) d.attrs.push({ s });
        else if (this.outdated(rec, s, v, undefined)) d.verified.push(verified(s, v, undefined));
      } else if (v.e.target !== s.target) {
        d.links.push(s);
      } else if (this.outdated(rec, s, v, undefined)) {
        d.verified.push(verified(s, v, undefined));
      }
    }
    const byDepth = (a: Entry, b: Entry): number => depth(a.path) - depth(b.path) || cmp(a.path, b.path);
    d.mkdirs.sort(byDepth);
    d.needs.sort((a, b) => cmp(a.s.path, b.s.path));
    return d;
  }

  /** Permission bits differ, where the replica keeps them at all. */
  private modeDiffers(s: Entry, v: VEntry): boolean {
    return this.rules.modes && v.e.mode !== s.mode;
  }

  /** Size and mtime decide, unless --checksum asks for content or the replica file was touched behind our back. */
  private compareFile(s: Entry, v: VEntry, rec: RecordEntry | undefined): { differs: boolean; hash?: string } {
    if (s.size !== v.e.size || !this.eq(s.mtimeMs, v.e.mtimeMs)) return { differs: true };
    if (this.cameFromElsewhere(s, rec)) return { differs: true };
    // Inside an automatic window the record still knows the exact source mtime it copied: a
    // source edit a few hundred milliseconds after a copy is an edit, not rounding.
    if (this.rules.exactSource && rec?.kind === 'file' && v.orig === s.path && !sameMtime(rec.mtimeMs, s.mtimeMs)) return { differs: true };
    const drifted = rec !== undefined && rec.kind === 'file' && ((this.rules.repIno && rec.rIno !== v.e.ino) || rec.rCtimeMs !== v.e.ctimeMs);
    if (!this.opts.checksum && !drifted) {
      const hs = this.knownSrcHash(s);
      return hs === undefined ? { differs: false } : { differs: false, hash: hs };
    }
    const hs = this.srcHash(s);
    const hr = this.repHash(v);
    if (hs === undefined || hr === undefined) return { differs: false };
    if (hs === '' || hr === '' || hs !== hr) return { differs: true };
    return { differs: false, hash: hs };
  }

  /** Pairs files wanted in the source with replica files nobody needs where they are. */
  private matchFiles(d: Diff): MoveDecision[] {
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
  private cameFromElsewhere(s: Entry, rec: RecordEntry | undefined): boolean {
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
    return rec.hash !== undefined && rec.algo === this.opts.algo ? { path: cur, hash: rec.hash } : { path: cur };
  }

  /** File moves that share a folder suffix reveal a renamed folder: rename it once instead. */
  private inferDirMoves(moves: MoveDecision[]): MoveDecision[] {
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

  /** The recorded hash if the source file is provably unchanged since, else undefined. */
  private knownSrcHash(s: Entry): string | undefined {
    const rec = this.record.get(s.path);
    if (
      rec?.kind === 'file' &&
      rec.hash !== undefined &&
      rec.algo === this.opts.algo &&
      (!this.rules.srcIno || this.sameSource(s, rec)) &&
      rec.size === s.size &&
      rec.sCtimeMs === s.ctimeMs &&
      sameMtime(rec.mtimeMs, s.mtimeMs)
    ) {
      return rec.hash;
    }
    // Most passes hash nothing: skip building a key per file just to miss an empty map.
    return this.hashes.size === 0 ? undefined : this.hashes.get(hashKey('src', s.path));
  }

  /** The source file's hash: recorded, computed this pass, or asked for ('' = could not be read). */
  private srcHash(s: Entry): string | undefined {
    const h = this.knownSrcHash(s);
    if (h === undefined) this.want('src', s.path);
    return h;
  }

  /** The replica file's hash, by its scan path. */
  private repHash(v: VEntry): string | undefined {
    const rec = this.record.get(v.orig);
    if (
      rec?.kind === 'file' &&
      rec.hash !== undefined &&
      rec.algo === this.opts.algo &&
      (!this.rules.repIno || rec.rIno === v.e.ino) &&
      rec.rCtimeMs === v.e.ctimeMs &&
      rec.size === v.e.size &&
      this.eq(rec.mtimeMs, v.e.mtimeMs)
    ) {
      return rec.hash;
    }
    const h = this.hashes.get(hashKey('rep', v.orig));
    if (h === undefined) this.want('rep', v.orig);
    return h;
  }

  private want(side: Side, path: string): void {
    this.missing.set(hashKey(side, path), { side, path });
  }

  /** True when the record line for a path no longer describes what is there (new inode numbers included: the record learns them). */
  private outdated(rec: RecordEntry | undefined, s: Entry, v: VEntry, hash: string | undefined): boolean {
    if (!rec || v.orig !== s.path) return true;
    if (rec.kind !== s.kind || rec.mode !== s.mode || !this.sameSource(s, rec)) return true;
    // A replica folder or link replaced by an identical one by hand is in sync, but the record
    // must learn its new inode: folder renames are only trusted on the recorded one.
    if (rec.rIno !== v.e.ino) return true;
    return outdatedContent(rec, s, v, hash);
  }
}

/** The kind-specific part of `outdated`: link target, folder mtime, or a file's version on both sides. */
function outdatedContent(rec: RecordEntry, s: Entry, v: VEntry, hash: string | undefined): boolean {
  if (s.kind === 'symlink') return rec.target !== s.target;
  if (s.kind === 'dir') return !sameMtime(rec.mtimeMs, s.mtimeMs);
  return (
    rec.size !== s.size ||
    !sameMtime(rec.mtimeMs, s.mtimeMs) ||
    rec.sCtimeMs !== s.ctimeMs ||
    rec.rCtimeMs !== v.e.ctimeMs ||
    (hash !== undefined && rec.hash !== hash)
  );
}

function verified(s: Entry, v: VEntry, hash: string | undefined): Diff['verified'][number] {
  return hash === undefined ? { path: s.path, src: s, rep: v.e } : { path: s.path, src: s, rep: v.e, hash };
}

