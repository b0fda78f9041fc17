import type { Diff } from './decisions.js';
import { emit } from './emit.js';
import { Renames } from './renames.js';
import { EXACT_RULES, type FsRules, mtimeEq } from './fs-rules.js';
import { cmp, depth, isWithin, sameMtime } from './paths.js';
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
  private readonly missing = new Map<string, { side: Side; path: string }>();
  private readonly renames: Renames;
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
    const context = {
      tree: this.tree,
      src: this.src,
      record: this.record,
      rules: this.rules,
      algo: this.opts.algo,
      isProtected: (p: string) => this.isProtected(p),
      srcHash: (e: Entry) => this.srcHash(e),
      repHash: (v: VEntry) => this.repHash(v),
    };
    this.renames = new Renames(context, input.inScope ?? (() => true));
  }

  /** The source entry is, by device and inode, the one the record line was made from. */
  private sameSource(s: Entry, rec: RecordEntry): boolean {
    return this.renames.sameSource(s, rec);
  }

  /** Replica mtimes against source or recorded ones: equal within the modify window. */
  private eq(a: number, b: number): boolean {
    return mtimeEq(this.rules, a, b);
  }

  run(): Plan {
    const r = this.renames;
    // Folded source paths (folded key -> source spelling), once: the case renames and emit's
    // "never delete the replica of a source name" both read it.
    const fold = this.rules.fold;
    const folded = fold ? new Map([...this.src.keys()].map((p) => [fold(p), p])) : undefined;
    if (fold && folded) r.caseRenames(fold, folded);
    const folderRenames = this.rules.folderRenames !== false;
    if (folderRenames) r.dirMovesByIdentity();
    for (let round = 0; ; round++) {
      const diff = this.diff();
      const fileMoves = r.matchFiles(diff);
      const inferred = round < MAX_ROUNDS && folderRenames ? r.inferDirMoves(fileMoves) : [];
      let applied = 0;
      for (const m of inferred) if (r.applyDirMove(m.orig, m.to)) applied++;
      if (applied === 0) {
        return emit({
          source: this.input.source,
          replica: this.input.replica,
          diff,
          caseMoves: r.caseMoves,
          folderRenames,
          ...(fold && folded ? { foldsOntoSource: (p: string) => folded.has(fold(p)) } : {}),
          dirMoves: r.dirMoves,
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
    if (this.renames.cameFromElsewhere(s, rec)) return { differs: true };
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

