import pLimit from 'p-limit';
import { describe } from '../errors.js';
import type { Listed } from '../trees/tree.js';
import type { Filter } from '../sync/filter.js';
import { takeSource } from '../sync/march.js';
import { cmp } from '../sync/paths.js';
import type { Entry, HashAlgo, PathIssue } from '../sync/types.js';
import { type CheckRules, type What, compareEntries } from './compare.js';
import type { CheckTree } from './trees.js';

/** One difference between the trees, as `check` prints it. */
export interface Finding {
  readonly path: string;
  /** missing: only in the source; extra: only in the replica; differs: in both, `what` differs. */
  readonly status: 'missing' | 'extra' | 'differs';
  readonly what: readonly What[];
}

/** A path of either tree that could not be read: the check is then incomplete. */
export interface AuditIssue extends PathIssue {
  readonly side: 'source' | 'replica';
}

/** What an audit reads and how it compares. */
export interface AuditInput {
  readonly source: CheckTree;
  readonly replica: CheckTree;
  readonly filter: Filter | undefined;
  readonly rules: CheckRules;
  /** --checksum: compare the content of every file of equal size on both sides, in this hash. */
  readonly checksum: HashAlgo | null;
  /** Files hashed at once (each pair is two hashes, one per side, run together). */
  readonly hashConcurrency: number;
  readonly onFinding: (f: Finding) => void;
  readonly onIssue: (i: AuditIssue) => void;
}

/** What an audit counted. */
export interface AuditCounts {
  missing: number;
  extra: number;
  differs: number;
  sourceEntries: number;
  replicaEntries: number;
  hashed: number;
  hashedBytes: number;
  issues: number;
}

/** A name of one folder with its entry on each side (a replica fifo or socket is `special`). */
interface Pair {
  readonly s: Entry | undefined;
  readonly r: Entry | undefined;
  readonly rSpecial: boolean;
}

/** Reads of a file that kept changing before its content is reported unreadable. */
const HASH_TRIES = 3;

/**
 * Walks both trees folder by folder in the walk's order (each folder's entries by name, each
 * folder's subtree right after it: `cmpWalk` order) and hands over every difference as it is
 * found, so the output is sorted by path and memory holds only the folders on the current path.
 * Excluded paths are left out on both sides, as in a pass. Reads only. Throws when a root
 * cannot be listed.
 */
export async function audit(inp: AuditInput): Promise<AuditCounts> {
  const counts: AuditCounts = { missing: 0, extra: 0, differs: 0, sourceEntries: 0, replicaEntries: 0, hashed: 0, hashedBytes: 0, issues: 0 };
  const limit = pLimit(Math.max(1, inp.hashConcurrency));
  const issue = (i: AuditIssue): void => {
    counts.issues++;
    inp.onIssue(i);
  };
  // --include: source-only folders walked only on the way to the includes, outermost first. A
  // pass creates such a folder only once something below it is mirrored, so each is reported
  // missing just before the first difference found below it, and not at all without one.
  const ways: Finding[] = [];
  const report = (f: Finding): void => {
    for (const w of ways.splice(0)) {
      counts.missing++;
      inp.onFinding(w);
    }
    counts[f.status]++;
    inp.onFinding(f);
  };

  /** Lists the sides that have a folder at `dir`; merges by name. */
  const pairsOf = async (dir: string, inSource: boolean, inReplica: boolean): Promise<Pair[]> => {
    const [sl, rl] = await Promise.all([inSource ? inp.source.reader.list(dir) : null, inReplica ? inp.replica.reader.list(dir) : null]);
    const src: Listed[] = [];
    if (sl) {
      const taken = takeSource(sl, inp.filter);
      for (const i of taken.issues) issue({ ...i, side: 'source' });
      src.push(...taken.items);
    }
    const rep: Listed[] = [];
    if (rl) for (const i of rl.issues) issue({ ...i, side: 'replica' });
    // A folder one side could not list says nothing of what it holds: the other side's
    // entries there are neither missing nor extra, only unchecked (the issue says so).
    if (sl?.issues.some((i) => i.path === dir) || rl?.issues.some((i) => i.path === dir)) return [];
    if (rl) {
      for (const it of rl.items) if (!inp.filter?.excluded(it.e.path, it.e.kind === 'dir' && !it.special)) rep.push(it);
      rep.sort((a, b) => cmp(a.name, b.name));
    }
    counts.sourceEntries += src.length;
    counts.replicaEntries += rep.length;
    const pairs: Pair[] = [];
    let i = 0;
    let j = 0;
    while (i < src.length || j < rep.length) {
      const a = src[i];
      const b = rep[j];
      const order = a === undefined ? 1 : b === undefined ? -1 : cmp(a.name, b.name);
      pairs.push({ s: order <= 0 ? a!.e : undefined, r: order >= 0 ? b!.e : undefined, rSpecial: order >= 0 && b!.special === true });
      if (order <= 0) i++;
      if (order >= 0) j++;
    }
    return pairs;
  };

  /** The content of one file on both sides, hashed at once: equal, different, or unknown (unreadable or gone). */
  const sameContent = async (rel: string): Promise<boolean | undefined> => {
    const algo = inp.checksum!;
    const one = async (tree: CheckTree, side: AuditIssue['side']): Promise<string | undefined> => {
      for (let t = 0; t < HASH_TRIES; t++) {
        let r: Awaited<ReturnType<CheckTree['hash']>>;
        try {
          r = await tree.hash(rel, algo);
        } catch (err) {
          issue({ path: rel, op: 'read', message: describe(err), side });
          return undefined;
        }
        // A file gone since it was listed has no content to compare; the next check sees it missing.
        if (r.status === 'gone') return undefined;
        if (r.status === 'ok') {
          counts.hashed++;
          counts.hashedBytes += r.bytes;
          return r.hash;
        }
      }
      issue({ path: rel, op: 'read', message: 'it kept changing while it was read', side });
      return undefined;
    };
    const [hs, hr] = await Promise.all([one(inp.source, 'source'), one(inp.replica, 'replica')]);
    return hs === undefined || hr === undefined ? undefined : hs === hr;
  };

  /** What differs for one pair (hashing when --checksum asks and sizes agree); null when nothing does. */
  const verdict = async (p: Pair): Promise<Finding | null> => {
    const { s, r } = p;
    if (!r) return { path: s!.path, status: 'missing', what: [] };
    if (!s) return { path: r.path, status: 'extra', what: [] };
    const what = p.rSpecial ? (['type'] as What[]) : compareEntries(s, r, inp.rules);
    if (inp.checksum && !p.rSpecial && s.kind === 'file' && r.kind === 'file' && s.size === r.size) {
      if ((await limit(() => sameContent(s.path))) === false) what.push('content');
    }
    return what.length ? { path: s.path, status: 'differs', what } : null;
  };

  const walk = async (dir: string, inSource: boolean, inReplica: boolean): Promise<void> => {
    const pairs = await pairsOf(dir, inSource, inReplica);
    // The folder's verdicts at once (its hashes run in parallel), then printed in order, each
    // folder's subtree right after it.
    const verdicts = await Promise.all(pairs.map(verdict));
    for (let k = 0; k < pairs.length; k++) {
      const p = pairs[k]!;
      const f = verdicts[k];
      const sDir = p.s?.kind === 'dir';
      const rDir = p.r?.kind === 'dir' && !p.rSpecial;
      const way = f?.status === 'missing' && sDir && inp.filter?.onTheWay(f.path) === true;
      if (way) ways.push(f);
      else if (f) report(f);
      if (sDir || rDir) await walk((p.s ?? p.r)!.path, sDir, rDir);
      // Still held: nothing below it would be mirrored, so a pass would not create it either.
      if (way && ways.at(-1) === f) ways.pop();
    }
  };

  await walk('', true, true);
  return counts;
}
