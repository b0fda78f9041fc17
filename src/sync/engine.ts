import { performance } from 'node:perf_hooks';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { describe, errCode } from '../errors.js';
import { KnownFilesystems } from '../trees/known-fs.js';
import { Trees } from '../trees/factory.js';
import type { ReplicaWriter } from '../trees/tree.js';
import { type FsTraits, observedResolutionMs } from '../trees/probe.js';
import { sameVersion } from './copy.js';
import { InFlight } from './in-flight.js';
import { type ActionResult, type Gate, execute } from './execute.js';
import { type Filter, makeFilter, passFilterSpec } from './filter.js';
import { EXACT_RULES, type FsRules, autoWindowMs, nameFolding } from './fs-rules.js';
import { type Refusal, type RootId, emptySource, sourceVanished, tooManyDeletes } from './guards.js';
import { renumbered } from './identity.js';
import { RecordLearner } from './record-learning.js';
import { Tally, type TallySink } from './tally.js';
import { forBackup } from './backup-plan.js';
import { counting } from './counting-tree.js';
import { SeedWays, dropEmptyWays } from './ways.js';
import { LinkGroups } from './link-groups.js';
import type { TreeReader } from '../trees/tree.js';
import { relearnLinked } from './link-record.js';
import type { ProgressSink } from './progress-sink.js';
import { type BackupSettings, pruneVersions, stampOf } from './versions.js';
import { caseConflicts, dropSubtrees, findUnplaceable } from './placeable.js';
import type { HashPool } from './hash-pool.js';
import { type Marched, ReplicaUnlistable, type SettleRules, march } from './march.js';
import { cmpWalk, joinRel, parentOf } from './paths.js';
import { plan } from './plan.js';
import type { RecordStore } from './record.js';
import { actionName } from './report.js';
import { scan } from './scan.js';
import { type SeedFolder, type Seeded, seed } from './seed.js';
import { FULL_SCOPE, type ScanScope, isFull, scopeTest } from './scope.js';
import type { Action, Entry, FileRecord, HashAlgo, HashMap, PassOutcome, PassReport, PathIssue, Plan, RecordEntry, Snapshot } from './types.js';
import { emptySnapshot, hashKey } from './types.js';

/** The part of the configuration a pass depends on. */
export interface SyncSettings {
  readonly source: string;
  readonly replica: string;
  readonly excludes: readonly string[];
  readonly deleteExcluded: boolean;
  readonly checksum: boolean;
  readonly hash: HashAlgo;
  readonly maxDelete: { readonly count: number; readonly percent: boolean } | null;
  readonly allowEmptySource: boolean;
  readonly jobs: number;
  readonly dryRun: boolean;
  /** `--modify-window` in ms; null or absent = auto (what the filesystems keep). */
  readonly modifyWindowMs?: number | null;
  /** `--include` patterns (none: everything not excluded). */
  readonly includes?: readonly string[];
  /** `--backup-dir` and `--backup-keep`: old versions kept instead of deleted or overwritten. */
  readonly backup?: BackupSettings | null;
  /** `-H`: files hard-linked together in the source are hard-linked together in the replica. */
  readonly hardLinks?: boolean;
}

/** What a pass uses besides settings. `store` is null only when no record can be kept. */
export interface EngineDeps {
  readonly log: Logger;
  readonly store: RecordStore | null;
  readonly pool: HashPool;
  /** Hears of every change and error the pass's tally counts (for notifications). */
  readonly sink?: TallySink;
  /** The daemon-wide bound on file operations, shared by its jobs. */
  readonly gate?: Gate;
  /** Where the trees are (local folders unless given: see openTrees). */
  readonly trees?: Trees;
  /** Where a progress line reads how far the pass got (a terminal only). */
  readonly progress?: ProgressSink;
}

/** What a pass settles before listing: the replica's traits and what to list. */
interface Prepared {
  readonly traits: FsTraits;
  readonly scope: ScanScope;
}

/** What the walk found to do, and the source root's identity when it was taken. */
interface Walked extends Marched {
  readonly root: RootId;
}

/** A stage that ended the pass hands back its report instead of its result. */
function isReport(x: object): x is PassReport {
  return 'outcome' in x;
}

/** One pass's request: a hard-abort signal and, for watch nudges, which part of the tree to look at. */
export interface PassRequest {
  readonly signal?: AbortSignal;
  readonly scope?: ScanScope;
}

const PLAN_ROUNDS = 4;
/** Creations a first copy queues before applying them: bounds its memory, keeps --jobs busy across small folders. */
const SEED_BATCH = 2_048;
/** Record entries from which the replica is listed in a worker thread (see marchAll). */
const THREADED_MIN = 10_000;

/** Builds the pass runner for one source/replica pair. */
export function createEngine(settings: SyncSettings, deps: EngineDeps): { runPass(req?: PassRequest): Promise<PassReport> } {
  const filter = makeFilter(passFilterSpec(settings));
  const known = new KnownFilesystems();
  const trees = deps.trees ?? Trees.local(settings.source, settings.replica, deps.pool);
  return { runPass: (req = {}) => new Pass(settings, deps, filter, req, known, trees).run() };
}

class Pass {
  private readonly tally: Tally;
  private readonly t0 = performance.now();
  private readonly hashes: HashMap = new Map();
  /** The source version each computed hash belongs to. */
  private readonly hashedVersion = new Map<string, Entry>();
  /** What the record learns from this pass (set once the rules are known; null without a record). */
  private learner: RecordLearner | null = null;
  private readonly inFlight = new InFlight();
  /** Where every change goes: the replica's writing side. */
  private readonly writer: ReplicaWriter;
  /** A dropped connection was reported this pass (the actions after it fail alike, unreported). */
  private lostReported = false;
  /** How the trees compare, once the filesystems are known (set early in the pass). */
  private rules: FsRules = EXACT_RULES;
  /** When the pass started: its backup stamp folder and the age of old versions. */
  private readonly started = new Date();
  /** -H: the source's link groups, learnt from the listings. */
  private readonly links: LinkGroups | null;

  constructor(
    private readonly s: SyncSettings,
    private readonly d: EngineDeps,
    private readonly filter: Filter,
    private readonly req: PassRequest,
    private readonly known: KnownFilesystems,
    private readonly trees: Trees,
  ) {
    this.tally = new Tally(d.log, s.dryRun, d.sink);
    this.links = s.hardLinks ? new LinkGroups(filter.empty ? undefined : filter) : null;
    const pass = this;
    this.writer = trees.writer({
      // Settled once both trees are listed, before anything is written.
      get rules(): FsRules {
        return pass.rules;
      },
      inFlight: this.inFlight,
      ...(req.signal ? { signal: req.signal } : {}),
      ...(s.backup ? { backup: { dir: s.backup.dir, stamp: stampOf(this.started) } } : {}),
    });
  }

  async run(): Promise<PassReport> {
    try {
      return await this.runInner();
    } catch (err) {
      if (this.req.signal?.aborted) {
        this.inFlight.removeAll();
        try {
          this.d.store?.flushSync();
        } catch (e) {
          this.d.log.error({ err: describe(e) }, 'could not save the record');
        }
        return this.finish('aborted', 'pass aborted');
      }
      this.tally.error({ err: describe(err) }, `pass failed: ${describe(err)}`);
      return this.finish('errors', describe(err));
    }
  }

  /** The stages of a pass, in order; each may end the pass early with its report. */
  private async runInner(): Promise<PassReport> {
    const prep = await this.prepare();
    if (isReport(prep)) return prep;
    const stale = await this.emptyReplica(prep);
    if (stale !== null) return this.seedAll(prep, stale);
    const trees = await this.walk(prep);
    if (isReport(trees)) return trees;
    const { source, replica, root } = trees;
    const empty = isFull(prep.scope) ? emptySource(this.s.source, trees.count, this.s.allowEmptySource) : null;
    if (empty) return this.refuse(empty);
    const p = await this.decide(prep, trees);
    const excess = tooManyDeletes(this.s.replica, this.s.maxDelete, p.deleteCount, trees.count.replica);
    if (excess) return this.refuse(excess);
    if (p.deletesWithheld) this.d.log.warn('the source could not be read completely: deletions in the replica are withheld this pass');
    if (this.s.dryRun) {
      for (const a of p.actions) if (actionName(a) !== null) this.tally.change(a, a.type === 'copy' || a.type === 'update' ? a.src.size : 0);
      return this.finish(this.tally.outcome());
    }
    await this.apply(p, source, replica);
    await this.learner?.commit(p, source, prep.scope);
    return this.end(root);
  }

  /** Ends a pass that wrote: an error if the source root vanished or was replaced meanwhile. */
  private async end(root: RootId | null): Promise<PassReport> {
    if (this.trees.lost()) return this.finish(this.tally.outcome());
    if (this.links?.changed && this.learner) {
      const learner = this.learner;
      await relearnLinked(this.links, this.writer, (r) => learner.learn(r, emptySnapshot(this.s.replica)));
      await learner.save();
    }
    const keepMs = this.s.backup?.keepMs;
    if (keepMs) await pruneVersions(this.writer, keepMs, this.started, this.d.log);
    if (root === null || !sameRoot(await this.trees.sourceRoot(), root)) {
      // Copies of a vanished source are skipped as "vanished", which alone would look like success.
      this.tally.error({ path: this.s.source }, `the source ${this.s.source} vanished or was replaced during the pass (renamed or unmounted?); what was not copied yet will be by the next pass`);
    }
    return this.finish(this.tally.outcome());
  }

  /** Ends a pass whose source root could not be listed. */
  private unlistable(err: unknown): PassReport {
    this.tally.error({ path: this.s.source, err: describe(err) }, `cannot list the source ${this.s.source}: ${describe(err)}`);
    return this.finish('errors', 'source not readable');
  }

  /** One error line per source path that could not be read, one warning per special file skipped. */
  private reportSource(issues: readonly PathIssue[], skipped: readonly string[]): void {
    for (const i of issues) this.tally.error({ path: i.path, op: i.op, err: i.message }, `cannot ${i.op} ${i.path}: ${i.message}`);
    for (const p of skipped) this.d.log.warn({ path: p }, `skipped ${p}: not a regular file, folder or symlink`);
  }

  /** Makes the replica root, learns what its filesystem keeps, and settles what the pass lists. */
  private async prepare(): Promise<Prepared | PassReport> {
    try {
      await this.trees.connect(this.req.signal);
    } catch (err) {
      this.req.signal?.throwIfAborted();
      this.tally.error({ err: describe(err) }, describe(err));
      return this.finish('errors', 'cannot connect');
    }
    if (!this.s.dryRun) {
      try {
        await this.writer.ensureRoot();
      } catch (err) {
        this.tally.error({ path: this.s.replica, err: describe(err) }, `cannot create the replica ${this.s.replica}: ${describe(err)}`);
        return this.finish('errors', 'replica not writable');
      }
    }
    const traits = await this.replicaTraits();
    // A replica that folds names needs every sibling of a name to place it: no partial listings.
    // A remote replica is listed whole too: a partial pass lists its scoped folders locally.
    const scope = nameFolding(traits) || this.trees.remoteReplica ? FULL_SCOPE : (this.req.scope ?? FULL_SCOPE);
    return { traits, scope };
  }

  /** Walks both trees (and the record) and reports what could not be read; refuses a source that vanished meanwhile. */
  private async walk(prep: Prepared): Promise<Walked | PassReport> {
    const { s, d } = this;
    const before = await this.trees.sourceRoot();
    let found: Marched;
    try {
      found = isFull(prep.scope) ? await this.marchAll(prep.traits, before?.dev ?? -1) : await this.walkScope(prep.scope);
    } catch (err) {
      this.req.signal?.throwIfAborted();
      if (err instanceof ReplicaUnlistable) throw err.cause;
      return this.unlistable(err);
    }
    const damage = d.store?.takeWarning();
    if (damage !== undefined) d.log.warn({ path: d.store?.file }, damage);
    // A source renamed away or unmounted while it was listed leaves a listing that silently
    // lacks whole folders (they vanished): trusting it would delete their replica copies.
    const vanished = sourceVanished(s.source, before, await this.trees.sourceRoot());
    if (vanished) return this.refuse(vanished);
    const { source, replica } = found;
    this.reportSource(source.issues, source.skipped);
    for (const i of replica.issues) {
      this.tally.error({ path: i.path, op: i.op, err: i.message, side: 'replica' }, `cannot ${i.op} replica ${i.path}: ${i.message}`);
    }
    // sourceVanished refused a root that could not be reached.
    return { ...found, root: before! };
  }

  /** A full pass: both trees and the record streamed together, only differences kept. */
  private async marchAll(traits: FsTraits, srcRootDev: number): Promise<Marched> {
    const explicit = this.s.modifyWindowMs ?? null;
    const fold = nameFolding(traits);
    const settle: SettleRules = {
      windowMs: explicit ?? traits.mtimeResolutionMs,
      modes: traits.modes,
      srcRootDev,
      ...(fold ? { fold } : {}),
      ...(this.s.checksum ? { hashed: this.s.hash } : {}),
    };
    const reader = this.d.store?.reader() ?? null;
    // Each recorded path is about one entry in each tree.
    this.d.progress?.expected(2 * (this.d.store?.size ?? 0));
    // A big replica is listed by a worker thread on the other core while this one lists the
    // source and merges; a small one here (a worker takes ~40 ms to start: 10k entries' worth).
    const replica = this.trees.replicaReader((this.d.store?.size ?? 0) >= THREADED_MIN, passFilterSpec(this.s));
    try {
      return await march({
        source: counting(this.sourceTree(), this.d.progress),
        replica: counting(this.replicaTree(replica.tree), this.d.progress),
        record: reader,
        filter: this.filter.empty ? undefined : this.filter,
        deleteExcluded: this.s.deleteExcluded,
        settle,
        replicaMayBeMissing: this.s.dryRun,
        ...(this.req.signal ? { signal: this.req.signal } : {}),
      });
    } finally {
      reader?.close();
      replica.stop();
    }
  }

  /** A partial (watch) pass: the scoped folders listed whole, with the record lines they speak for. */
  private async walkScope(scope: ScanScope): Promise<Marched> {
    const opts = { filter: this.filter, signal: this.req.signal, scope };
    const source = await scan(this.s.source, opts);
    let replica: Snapshot;
    try {
      replica = await scan(this.s.replica, { ...opts, specials: 'replace' });
    } catch (err) {
      this.req.signal?.throwIfAborted();
      // Only a dry run meets a replica that does not exist yet: it is simply empty.
      if (!(this.s.dryRun && errCode(err) === 'ENOENT')) throw new ReplicaUnlistable(err);
      replica = emptySnapshot(this.s.replica);
    }
    const record = this.d.store ? recordInScope(this.d.store, scope, source, replica) : new Map();
    return {
      source,
      replica,
      record,
      count: { source: source.entries.size, replica: replica.entries.size },
      settled: 0,
      sourceStep: observedResolutionMs(mtimesOf(source)),
    };
  }

  /** Settles this pass's rules, leaves out what the replica cannot hold, and plans (hashing what the plan asks for). */
  private async decide(prep: Prepared, trees: Walked): Promise<Plan> {
    const { source, replica, record } = trees;
    const inScope = isFull(prep.scope) ? undefined : scopeTest(prep.scope);
    this.rules = await this.rulesFor(prep.traits, trees, inScope);
    if (this.d.store) this.learner = new RecordLearner(this.d.store, record, this.s.hash, this.rules.srcRootDev, (path, src) => this.copiedHash(path, src), this.d.log);
    await this.leaveOutUnplaceable(source.entries, prep.traits);
    const kept = this.caseConflicts(source, replica, prep.traits);
    if (this.s.includes?.length) dropEmptyWays(source, replica, (p) => this.filter.onTheWay(p));
    return this.planWithHashes(trees, inScope, kept);
  }

  /** Removes leftover temp files, then has the executor (the only writer) apply the plan. */
  private async apply(p: Plan, source: Snapshot, replica: Snapshot): Promise<void> {
    const writer = this.writer;
    await writer.removeStale(replica.stale);
    for (const t of replica.stale) this.d.log.debug({ path: t }, `removed leftover temp file ${t}`);
    // -H: the names already in the replica that must become links go last, their leaders in place by then.
    const relinks = this.links?.prime(new Set(p.actions.filter((a) => a.type === 'copy' || a.type === 'update').map((a) => a.path))) ?? [];
    const actions = [...(this.s.backup ? forBackup(p.actions) : p.actions), ...relinks];
    planned(this.d.progress, actions);
    await execute(actions, {
      writer,
      sourceDirs: this.links ? new Map([...this.links.relinkFolders(), ...dirsOf(source)]) : dirsOf(source),
      jobs: this.s.jobs,
      ...(this.d.gate ? { gate: this.d.gate } : {}),
      backups: Boolean(this.s.backup),
      ...(this.links ? { links: this.links } : {}),
      ...(this.req.signal ? { signal: this.req.signal } : {}),
      onResult: (r) => this.onResult(r, replica),
    });
  }

  /** The replica's traits (probed once per device and run), logged when newly measured. */
  private async replicaTraits(): Promise<FsTraits> {
    const { traits, fresh, probeError } = await this.trees.replicaTraits(this.known, this.s.dryRun);
    if (probeError !== undefined) {
      this.d.log.warn({ path: this.s.replica, err: describe(probeError) }, `could not ${describe(probeError)}; guessing what it keeps from its mount type (${traits.type})`);
    }
    if (fresh) {
      const { probeMs, ...shown } = traits;
      this.d.log.info({ path: this.s.replica, ...shown, mtimeResolutionMs: shownStep(traits.mtimeResolutionMs), probeMs: Math.round(probeMs * 10) / 10 }, 'replica filesystem');
    }
    if ((!traits.ctime || !traits.stableInodes) && traits.probed && this.known.firstWeakWarning()) {
      const why = [!traits.ctime ? 'its change times only repeat the modification times' : '', !traits.stableInodes ? 'its inode numbers change when it is mounted again' : ''].filter(Boolean).join(' and ');
      this.d.log.warn(
        { path: this.s.replica, type: traits.type },
        `drift detection is weaker on this replica (${traits.type}): ${why}, so a hand edit in the replica that keeps a file's size and modification time goes unnoticed; --checksum compares contents`,
      );
    }
    return traits;
  }

  /** Reports, then leaves out of the source listing, what the replica's filesystem cannot hold (an error each, every pass). */
  private async leaveOutUnplaceable(entries: Map<string, Entry>, traits: FsTraits, listedBelow = true): Promise<void> {
    const unplaceable = findUnplaceable(entries, traits, this.rules.fold);
    for (const u of unplaceable) {
      // A first copy lists one folder at a time: what is below a folder left out is counted for the message.
      const below = listedBelow || entries.get(u.path)?.kind !== 'dir' ? u.below : await this.countBelow(u.path);
      const more = below > 0 ? ` (with the ${below} entries below it)` : '';
      this.tally.error({ path: u.path, op: 'mirror', err: u.reason }, `cannot mirror ${u.path}${more}: ${u.reason}`);
    }
    dropSubtrees(entries, unplaceable.map((u) => u.path));
  }

  /** Source entries below a folder (excluded ones not counted), listed only to be counted. */
  private async countBelow(dir: string): Promise<number> {
    const tree = this.trees.sourceReader();
    let n = 0;
    const stack = [dir];
    for (let d = stack.pop(); d !== undefined; d = stack.pop()) {
      for (const it of (await tree.list(d)).items) {
        if (it.special || it.linkError || this.filter.excluded(it.e.path, it.e.kind === 'dir')) continue;
        n++;
        if (it.e.kind === 'dir') stack.push(it.e.path);
      }
    }
    return n;
  }

  /**
   * Where a folding replica cannot rename folders, a folder spelt differently on the two sides
   * is reported and left alone on both (source subtree out of the listing, replica subtree
   * kept); returns the replica paths to keep.
   */
  private caseConflicts(source: Snapshot, replica: Snapshot, traits: FsTraits): string[] {
    if (!this.rules.fold || traits.folderRenames) return [];
    const conflicts = caseConflicts(source.entries, replica.entries, this.rules.fold);
    for (const c of conflicts) {
      const why = `the replica holds it as ${JSON.stringify(c.replica)}, and folders cannot be renamed safely on ${traits.type}; rename ${JSON.stringify(c.replica)} in the replica by hand`;
      this.tally.error({ path: c.source, op: 'mirror', err: why }, `cannot mirror ${c.source}: ${why}`);
    }
    dropSubtrees(source.entries, conflicts.map((c) => c.source));
    return conflicts.map((c) => c.replica);
  }

  /** The rules the filesystems set: the modify window (logged when it changes) and name folding; inode numbers trusted. */
  private baseRules(traits: FsTraits, srcRootDev: number, sourceStep: number | undefined): FsRules {
    const srcStep = this.known.sourceStepMs(srcRootDev, sourceStep);
    const explicit = this.s.modifyWindowMs ?? null;
    const windowMs = explicit ?? autoWindowMs(traits, srcStep);
    if (this.known.windowChanged(windowMs)) {
      this.d.log.info(
        { modifyWindowMs: shownStep(windowMs), sourceStepMs: srcStep, replicaStepMs: shownStep(traits.mtimeResolutionMs), auto: explicit === null },
        'modify window',
      );
    }
    const fold = nameFolding(traits);
    return {
      windowMs,
      exactSource: explicit === null && windowMs > 0,
      modes: traits.modes,
      srcIno: this.trees.inodes.src,
      repIno: this.trees.inodes.rep,
      srcRootDev,
      folderRenames: traits.folderRenames,
      ...(fold ? { fold } : {}),
    };
  }

  /**
   * A full pass with nothing recorded into a replica that holds nothing (a first copy): the
   * leftover temp files to remove, or null when the pass must march as usual.
   */
  private async emptyReplica(prep: Prepared): Promise<string[] | null> {
    if (!isFull(prep.scope) || (this.d.store !== null && this.d.store.size > 0)) return null;
    try {
      const l = await this.trees.replicaReader(false, []).tree.list('');
      return l.items.length === 0 && l.issues.length === 0 ? l.stale : null;
    } catch (err) {
      return this.s.dryRun && errCode(err) === 'ENOENT' ? [] : null;
    }
  }

  /** A first copy, streamed folder by folder (see seed.ts): nothing to compare, rename or delete. */
  private async seedAll(prep: Prepared, stale: readonly string[]): Promise<PassReport> {
    const root = await this.trees.sourceRoot();
    const explicit = this.s.modifyWindowMs ?? null;
    // The source's step is read off the walk; until then the replica's is the window (copies only use it to spot a restamping rename).
    const fold = nameFolding(prep.traits);
    this.rules = { ...EXACT_RULES, windowMs: explicit ?? prep.traits.mtimeResolutionMs, modes: prep.traits.modes, srcRootDev: root?.dev ?? -1, ...(fold ? { fold } : {}) };
    if (this.d.store && !this.s.dryRun) this.learner = new RecordLearner(this.d.store, new Map(), this.s.hash, this.rules.srcRootDev, () => undefined, this.d.log);
    if (!this.s.dryRun) await this.writer.removeStale(stale);
    const batch = new SeedBatch();
    let seeded: Seeded;
    try {
      seeded = await seed({
        source: counting(this.sourceTree(), this.d.progress),
        filter: this.filter.empty ? undefined : this.filter,
        ...(this.req.signal ? { signal: this.req.signal } : {}),
        onFolder: async (f) => {
          const dirs = await this.seedFolder(f, prep.traits, batch);
          if (batch.size >= SEED_BATCH) await this.applySeed(batch);
          return dirs;
        },
      });
      await this.applySeed(batch);
    } catch (err) {
      this.req.signal?.throwIfAborted();
      return this.unlistable(err);
    }
    this.rules = this.baseRules(prep.traits, this.rules.srcRootDev, seeded.sourceStep);
    await this.learner?.save();
    return this.end(root);
  }

  /** Reports one folder's unreadable and skipped entries, and queues what creates the rest; returns the folders to walk into. */
  private async seedFolder(f: SeedFolder, traits: FsTraits, batch: SeedBatch): Promise<Entry[]> {
    this.reportSource(f.issues, f.skipped);
    await this.leaveOutUnplaceable(f.entries, traits, false);
    if (f.dir) batch.dirs.set(f.dir.path, f.dir);
    const dirs: Entry[] = [];
    for (const e of f.entries.values()) {
      if (e.kind === 'dir') dirs.push(e);
      // --include: a folder only on the way is created once something below it is.
      if (e.kind === 'dir' && this.filter.onTheWay(e.path)) {
        batch.ways.hold(e);
        continue;
      }
      for (const w of batch.ways.release(e.path)) {
        batch.dirs.set(w.path, w);
        batch.push({ type: 'mkdir', path: w.path, src: w });
      }
      if (e.kind === 'dir') {
        batch.dirs.set(e.path, e);
        batch.push({ type: 'mkdir', path: e.path, src: e });
      } else batch.push(e.kind === 'symlink' ? { type: 'symlink', path: e.path, src: e } : { type: 'copy', path: e.path, src: e });
    }
    return dirs;
  }

  /** Applies (or, in a dry run, lists) the queued creations, then empties the batch. */
  private async applySeed(batch: SeedBatch): Promise<void> {
    const { actions, dirs } = batch.take();
    planned(this.d.progress, actions);
    if (this.s.dryRun) {
      for (const a of actions) this.tally.change(a, a.type === 'copy' ? a.src.size : 0);
      return;
    }
    const none = emptySnapshot(this.s.replica);
    await execute(actions, {
      writer: this.writer,
      ...(this.links ? { links: this.links } : {}),
      sourceDirs: dirs,
      jobs: this.s.jobs,
      ...(this.d.gate ? { gate: this.d.gate } : {}),
      ...(this.req.signal ? { signal: this.req.signal } : {}),
      onResult: (r) => this.onResult(r, none),
    });
  }

  /** This pass's comparison rules: the modify window, name folding, and which inode numbers still mean what the record says. */
  private async rulesFor(traits: FsTraits, trees: Walked, inScope?: (p: string) => boolean): Promise<FsRules> {
    const { source, replica, record, settled } = trees;
    const srcRootDev = trees.root.dev;
    const base = this.baseRules(traits, srcRootDev, trees.sourceStep);
    if (!this.d.store || this.d.store.size === 0) return base;
    const srcPerMount = this.trees.inodes.src && !(await this.known.sourceKeepsInodes(srcRootDev, this.s.source));
    const srcRenumbered = renumbered('src', record, source.entries, base, srcPerMount, inScope, settled);
    const repRenumbered = renumbered('rep', record, replica.entries, base, !traits.stableInodes, inScope, settled);
    for (const [side, root, yes] of [['source', this.s.source, srcRenumbered], ['replica', this.s.replica, repRenumbered]] as const) {
      if (yes) this.d.log.info({ path: root }, `the ${side}'s inode numbers changed since the last pass (mounted again?); files are compared by size and time this pass, not re-read`);
    }
    return { ...base, srcIno: base.srcIno && !srcRenumbered, repIno: base.repIno && !repRenumbered };
  }

  /** Plans, hashes what the planner asks for, and plans again until it asks for nothing. */
  private async planWithHashes(trees: Walked, inScope: ((p: string) => boolean) | undefined, kept: readonly string[]): Promise<Plan> {
    const { source, replica, record } = trees;
    const options = { checksum: this.s.checksum, deleteExcluded: this.s.deleteExcluded, algo: this.s.hash };
    const input = { source, replica, record, hashes: this.hashes, options, rules: this.rules, kept, ...(inScope ? { inScope } : {}) };
    let p = plan(input);
    for (let round = 1; round < PLAN_ROUNDS && p.missing.length > 0; round++) {
      await this.hashAll(p.missing, source, replica);
      p = plan(input);
    }
    return p;
  }

  private async hashAll(missing: Plan['missing'], source: Snapshot, replica: Snapshot): Promise<void> {
    const limit = pLimit(8);
    this.d.progress?.phase('hashing');
    await Promise.all(
      missing.map(({ side, path }) =>
        limit(async () => {
          const key = hashKey(side, path);
          try {
            const r = await this.trees.hash(side, path, this.s.hash, this.req.signal);
            if (r.status !== 'ok') {
              this.hashes.set(key, '');
              this.d.log.debug({ path, side }, `${path} ${r.status === 'gone' ? 'vanished' : 'changed'} while it was hashed`);
              return;
            }
            this.hashes.set(key, r.hash);
            const e = (side === 'src' ? source : replica).entries.get(path);
            if (e) this.hashedVersion.set(key, { ...e, size: r.size, mtimeMs: r.mtimeMs, ctimeMs: r.ctimeMs, ino: r.ino });
            this.tally.hashed(r.bytes);
            this.d.progress?.hashed(r.bytes);
          } catch (err) {
            this.req.signal?.throwIfAborted();
            this.hashes.set(key, '');
            this.tally.error({ path, op: 'hash', err: describe(err) }, `cannot hash ${path}: ${describe(err)}`);
          }
        }),
      ),
    );
  }

  private onResult(r: ActionResult, replica: Snapshot): void {
    const a = r.action;
    const log = this.d.log;
    if (a.type === 'copy' || a.type === 'update') this.d.progress?.copied(r.status === 'ok' ? r.bytes : 0);
    if (r.status === 'error') {
      const lost = this.trees.lost();
      if (lost) {
        // Every action after a drop fails the same way: one line says it, not one per file.
        if (!this.lostReported) this.tally.error({ err: lost.message }, `${lost.message}; the pass stopped there, nothing half-written was put in place, and the next pass completes the mirror`);
        this.lostReported = true;
        return;
      }
      this.tally.error({ op: a.type, path: a.path, ...(a.type === 'move' ? { from: a.from } : {}), err: describe(r.error) }, r.error.message);
      return;
    }
    if (r.status === 'skipped') {
      if (r.why === 'changing') log.warn({ path: a.path }, `${a.path} kept changing while it was copied; it will be copied again next pass`);
      else log.debug({ path: a.path }, `${a.path} vanished before it was copied`);
      return;
    }
    if (r.backedUp) this.tally.backup(a, stampOf(this.started));
    this.tally.change(a, r.bytes, r.linkedTo);
    this.learner?.learn(r, replica);
  }

  /** The hash computed this pass for the source version a copy used (a file that changed since was not that version). */
  private copiedHash(path: string, src: Entry | undefined): string | undefined {
    const key = hashKey('src', path);
    const v = this.hashedVersion.get(key);
    return (v && src && sameVersion(v, src) ? this.hashes.get(key) : undefined) || undefined;
  }

  /** The source as a pass walks it (with -H, its link groups noted on the way). */
  private sourceTree(): TreeReader {
    const tree = this.trees.sourceReader();
    return this.links ? this.links.source(tree) : tree;
  }

  /** The replica as a full pass walks it (a worker thread's listing for a big one; with -H, its links noted). */
  private replicaTree(tree: TreeReader): TreeReader {
    return this.links ? this.links.replica(tree) : tree;
  }

  /** Ends the pass before it changed anything, with the refusal's one line. */
  private refuse(r: Refusal): PassReport {
    if (r.outcome === 'errors') this.tally.error({ path: r.path }, r.message);
    else {
      this.d.log.error({ path: r.path }, r.message);
      this.d.sink?.error(r.message);
    }
    return this.finish(r.outcome, r.reason);
  }

  private finish(outcome: PassOutcome, reason?: string): PassReport {
    const report: PassReport = {
      ...this.tally.counts,
      outcome,
      durationMs: Math.round(performance.now() - this.t0),
      dryRun: this.s.dryRun,
      ...(reason ? { reason } : {}),
    };
    const { reason: _r, ...line } = report;
    this.d.log.info(line, outcome === 'aborted' ? 'pass aborted' : 'pass complete');
    return report;
  }
}

/**
 * A first copy's queued creations, and the source folders whose mode and mtime they must
 * restore. Its folders come first (in walk order: each after its parent), then every file and
 * link as one run, so --jobs copies stay in flight across the many small folders of a batch.
 */
class SeedBatch {
  private mkdirs: Action[] = [];
  private writes: Action[] = [];
  dirs = new Map<string, Entry>();
  /** Folders on the way to the includes, created only once something below them is (kept across batches). */
  readonly ways = new SeedWays();

  /** Queues a creation. */
  push(a: Action): void {
    (a.type === 'mkdir' ? this.mkdirs : this.writes).push(a);
  }

  get size(): number {
    return this.mkdirs.length + this.writes.length;
  }

  /** Hands the queue over and starts a new one. */
  take(): { actions: Action[]; dirs: Map<string, Entry> } {
    const out = { actions: [...this.mkdirs, ...this.writes], dirs: this.dirs };
    this.mkdirs = [];
    this.writes = [];
    this.dirs = new Map();
    return out;
  }
}

function sameRoot(a: RootId | null, b: RootId): boolean {
  return a !== null && a.dev === b.dev && a.ino === b.ino;
}

/** A timestamp step for a log line: a filesystem that keeps no set mtime has an infinite one, which JSON cannot hold. */
function shownStep(ms: number): number | string {
  return Number.isFinite(ms) ? ms : 'not kept';
}

function* mtimesOf(s: Snapshot): Iterable<number> {
  for (const e of s.entries.values()) if (e.kind !== 'symlink') yield e.mtimeMs;
}

/**
 * The record lines a partial pass speaks for: those of the listed paths (the scoped folders and
 * the folders above them) and everything the scope covers, read from the record's folders in
 * order without holding the rest.
 */
function recordInScope(store: RecordStore, scope: ScanScope, source: Snapshot, replica: Snapshot): FileRecord {
  const inScope = scopeTest(scope);
  const out: FileRecord = new Map();
  const listed = (p: string): boolean => source.entries.has(p) || replica.entries.has(p);
  const folders = new Set<string>(scope.shallow);
  for (const p of [...source.entries.keys(), ...replica.entries.keys()]) folders.add(parentOf(p));
  const reader = store.reader();
  try {
    const keep = (p: string, e: RecordEntry): void => {
      if (inScope(p) || listed(p)) out.set(p, e);
    };
    for (const dir of [...folders].sort(cmpWalk)) for (const [name, e] of reader.folder(dir, keep)) keep(joinRel(dir, name), e);
    reader.finish(keep);
  } finally {
    reader.close();
  }
  return out;
}

/** Tells a progress line what a run of actions will copy (and that copying has begun). */
function planned(sink: ProgressSink | undefined, actions: readonly Action[]): void {
  if (sink === undefined) return;
  let files = 0;
  let bytes = 0;
  for (const a of actions) {
    if (a.type !== 'copy' && a.type !== 'update') continue;
    files++;
    bytes += a.src.size;
  }
  sink.planned(files, bytes);
  sink.phase('copying');
}

function dirsOf(s: Snapshot): Map<string, Entry> {
  const m = new Map<string, Entry>();
  for (const [p, e] of s.entries) if (e.kind === 'dir') m.set(p, e);
  return m;
}

