import type { Diff, MoveDecision } from './decisions.js';
import { ancestors, cmp, depth, isWithin, joinRel, parentOf } from './paths.js';
import type { Action, Entry, EntryKind, Plan, Side, Snapshot } from './types.js';
import { VTree } from './vtree.js';

/** What the planner decided, to be put in a safe order. */
export interface EmitInput {
  readonly source: Snapshot;
  readonly replica: Snapshot;
  readonly diff: Diff;
  /** Case-only renames (replicas that fold names): applied before everything else. */
  readonly caseMoves: readonly MoveDecision[];
  readonly dirMoves: readonly MoveDecision[];
  readonly fileMoves: readonly MoveDecision[];
  readonly deleteExcluded: boolean;
  /** False where folders cannot be renamed: a folder in the way is deleted, not set aside. */
  readonly folderRenames: boolean;
  /**
   * On a replica that folds names: true for a replica path that folds onto a source path. It
   * is that source entry's replica (the same name there), never deleted as extra.
   */
  readonly foldsOntoSource?: (path: string) => boolean;
  /** Source paths that could not be listed. */
  readonly protect: readonly string[];
  /** Replica paths left as they are, with everything below them. */
  readonly kept: readonly string[];
  readonly missing: { side: Side; path: string }[];
}

const STAGE_RE = /(^|\/)\.foldersync-stage-\d+\.tmp(\/|$)/;

/**
 * Replays the decisions on a fresh model of the replica and writes them down in execution
 * order: folder renames, new folders, file renames, content, deletions (deepest first), then
 * attributes. Whenever a target path is occupied by something still needed elsewhere (a swap)
 * or by a folder, the occupant is first set aside under a temp name, so no rename ever
 * overwrites data that a later step needs.
 */
export function emit(inp: EmitInput): Plan {
  const src = inp.source.entries;
  const tree = new VTree(inp.replica.entries.values());
  const actions: Action[] = [];
  const pending = new Set<string>([...inp.caseMoves, ...inp.dirMoves, ...inp.fileMoves].map((m) => m.orig));
  const withheld = inp.source.issues.length > 0;
  let staged = 0;
  let deleteCount = 0;

  const place = (path: string, s: Entry): void => {
    tree.removeTree(path);
    tree.put(path, { e: s, orig: path, placed: true });
  };

  /** Makes `path` free for an entry of `kind`. */
  const clear = (path: string, kind: EntryKind): void => {
    const v = tree.get(path);
    if (!v) return;
    const needed = tree.hasWithin(path, (x) => !x.placed && pending.has(x.orig));
    if (v.e.kind === 'dir' && !inp.folderRenames) {
      // Renaming it aside would lose what is in it (fusefat): it goes, and anything of it
      // wanted elsewhere is copied there again (a failed move, redone by the next pass).
      actions.push({ type: 'delete', path, kind: 'dir', recursive: true });
      deleteCount++;
      tree.removeTree(path);
    } else if (v.e.kind === 'dir' || needed) {
      const tmp = joinRel(parentOf(path), `.foldersync-stage-${staged++}.tmp`);
      actions.push({ type: 'move', from: path, path: tmp, kind: v.e.kind, src: v.e, stage: true });
      tree.move(path, tmp);
    } else if (kind === 'dir') {
      actions.push({ type: 'delete', path, kind: v.e.kind });
      deleteCount++;
      tree.removeTree(path);
    } else {
      // A file or link is replaced atomically by the rename that puts the new one in place.
      tree.removeTree(path);
    }
  };

  const ensureParents = (path: string): void => {
    for (const a of ancestors(path)) {
      if (tree.get(a)?.e.kind === 'dir') continue;
      const s = src.get(a);
      if (!s) return;
      clear(a, 'dir');
      actions.push({ type: 'mkdir', path: a, src: s });
      place(a, s);
    }
  };

  if (inp.deleteExcluded && !withheld) {
    for (const e of [...inp.replica.excluded.values()].sort((a, b) => cmp(a.path, b.path))) {
      actions.push(e.kind === 'dir' ? { type: 'delete', path: e.path, kind: 'dir', recursive: true } : { type: 'delete', path: e.path, kind: e.kind });
      deleteCount++;
    }
  }

  const move = (m: MoveDecision, kind: EntryKind, nameOnly = false): void => {
    const hash = m.hash;
    pending.delete(m.orig);
    if (tree.whereIs(m.orig) === undefined) return;
    ensureParents(m.to);
    clear(m.to, kind);
    const from = tree.whereIs(m.orig);
    const s = src.get(m.to);
    if (from === undefined || !s || isWithin(m.to, from)) return;
    actions.push({
      type: 'move',
      from,
      path: m.to,
      kind,
      src: s,
      ...(hash === undefined ? {} : { hash }),
      ...(from !== m.orig ? { orig: m.orig } : {}),
      ...(nameOnly ? { nameOnly } : {}),
    });
    tree.move(from, m.to);
    if (kind === 'file' && !nameOnly) place(m.to, s);
  };

  for (const m of inp.caseMoves) {
    const at = tree.whereIs(m.orig);
    if (at !== undefined) move(m, tree.get(at)!.e.kind, true);
  }
  // In the planner's order: each folder rename was decided on the model as the earlier ones left it.
  for (const m of inp.dirMoves) move(m, 'dir');

  for (const s of inp.diff.mkdirs) {
    if (tree.get(s.path)?.e.kind === 'dir') continue;
    ensureParents(s.path);
    clear(s.path, 'dir');
    actions.push({ type: 'mkdir', path: s.path, src: s });
    place(s.path, s);
  }

  for (const m of inp.fileMoves) move(m, 'file');
  const movedTo = new Set(inp.fileMoves.map((m) => m.to));

  for (const n of inp.diff.needs) {
    if (movedTo.has(n.s.path)) continue;
    ensureParents(n.s.path);
    clear(n.s.path, 'file');
    actions.push({ type: n.type, path: n.s.path, src: n.s });
    place(n.s.path, n.s);
  }
  for (const s of inp.diff.links) {
    ensureParents(s.path);
    clear(s.path, 'symlink');
    actions.push({ type: 'symlink', path: s.path, src: s });
    place(s.path, s);
  }

  // Folders that hold excluded entries stay, unless those entries go too.
  const pinned = new Set<string>();
  if (!inp.deleteExcluded) for (const x of inp.replica.excluded.keys()) for (const a of ancestors(x)) pinned.add(a);

  const files: Action[] = [];
  const dirs: { path: string; orig: string }[] = [];
  let withheldAny = false;
  for (const p of tree.paths()) {
    if (src.has(p) || inp.foldsOntoSource?.(p) || inp.kept.some((k) => isWithin(p, k))) continue;
    const v = tree.get(p)!;
    const isStaged = STAGE_RE.test(p);
    if (!isStaged && (withheld || inp.protect.some((x) => isWithin(p, x)))) {
      withheldAny = true;
      continue;
    }
    const orig = !v.placed && v.orig !== p ? v.orig : undefined;
    if (v.e.kind === 'dir') {
      if (v.placed || !pinned.has(v.orig)) dirs.push({ path: p, orig: orig ?? p });
    } else {
      files.push(orig === undefined ? { type: 'delete', path: p, kind: v.e.kind } : { type: 'delete', path: p, kind: v.e.kind, orig });
    }
  }
  files.sort((a, b) => cmp(a.path, b.path));
  dirs.sort((a, b) => depth(b.path) - depth(a.path) || cmp(a.path, b.path));
  actions.push(...files);
  for (const d of dirs) actions.push(d.orig === d.path ? { type: 'rmdir', path: d.path } : { type: 'rmdir', path: d.path, orig: d.orig });
  deleteCount += files.length + dirs.length;

  const attrs = inp.diff.attrs.filter((x) => x.s.kind !== 'dir');
  const dirAttrs = inp.diff.attrs.filter((x) => x.s.kind === 'dir').sort((a, b) => depth(b.s.path) - depth(a.s.path) || cmp(a.s.path, b.s.path));
  for (const { s, hash } of [...attrs, ...dirAttrs]) {
    actions.push(hash === undefined ? { type: 'attrs', path: s.path, src: s, kind: s.kind } : { type: 'attrs', path: s.path, src: s, kind: s.kind, hash });
  }

  return { actions, missing: inp.missing, verified: inp.diff.verified, deleteCount, deletesWithheld: withheldAny };
}
