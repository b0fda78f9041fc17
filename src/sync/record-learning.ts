import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { describe, unreachable } from '../errors.js';
import type { ActionResult } from './execute.js';
import { devKey } from './fs-rules.js';
import type { RecordStore } from './record.js';
import { type ScanScope, scopeTest } from './scope.js';
import type { Entry, FileRecord, HashAlgo, Plan, RecordEntry, Snapshot } from './types.js';

/** Changes or seconds after which what the record learnt is made durable mid-pass. */
const CHECKPOINT_EVERY = 5_000;
const CHECKPOINT_MS = 10_000;

/** A result that changed the replica. */
type Done = Extract<ActionResult, { status: 'ok' }>;

/**
 * What the record learns from one pass: each result as it lands (so a pass cut short keeps
 * what it did), checkpoints on a cadence, and at the end what was found in sync and which
 * paths are gone.
 */
export class RecordLearner {
  private saving: Promise<void> = Promise.resolve();
  private lastSave = performance.now();

  constructor(
    private readonly store: RecordStore,
    /** The record lines this pass read for the paths it plans for (settled paths are not among them and never change). */
    private readonly known: FileRecord,
    private readonly algo: HashAlgo,
    /** The source root's device (entries on it are recorded with device 0). */
    private readonly srcRootDev: number,
    /** The hash computed this pass for the source version a copy used, if any. */
    private readonly copiedHash: (path: string, src: Entry | undefined) => string | undefined,
    private readonly log: Logger,
  ) {}

  /** Teaches the record what an action made true, and checkpoints when due. */
  learn(r: Done, replica: Snapshot): void {
    const { store, algo } = this;
    const a = r.action;
    const line = (src: Entry, rep: Entry, hash: string | undefined): RecordEntry => recordOf(src, rep, hash, algo, this.srcRootDev);
    switch (a.type) {
      case 'copy':
      case 'update':
        store.set(a.path, line(r.src ?? a.src, r.rep!, this.copiedHash(a.path, r.src)));
        break;
      case 'move':
        store.delete(a.from);
        // A set-aside or a respelling proves nothing about content: the plan's own checks record those paths.
        if (!a.stage && !a.nameOnly) store.set(a.path, line(a.src, r.rep!, a.hash));
        break;
      case 'mkdir':
      case 'symlink':
        store.set(a.path, line(a.src, r.rep!, undefined));
        break;
      case 'attrs': {
        const rep = r.rep ?? replica.entries.get(a.path);
        if (rep) store.set(a.path, line(a.src, rep, a.hash ?? this.known.get(a.path)?.hash));
        break;
      }
      case 'delete':
      case 'rmdir':
        store.delete(a.path);
        break;
      default:
        unreachable(a);
    }
    if (store.unsaved >= CHECKPOINT_EVERY || performance.now() - this.lastSave > CHECKPOINT_MS) {
      this.lastSave = performance.now();
      this.saving = this.saving.then(() => store.checkpoint()).catch((err: unknown) => {
        this.log.warn({ path: store.file, err: describe(err) }, `could not save the record checkpoint: ${describe(err)}`);
      });
    }
  }

  /** Ends the pass: records entries found in sync, forgets paths no longer in the source (within the scope), saves. */
  async commit(p: Plan, source: Snapshot, scope: ScanScope): Promise<void> {
    const store = this.store;
    for (const v of p.verified) store.set(v.path, recordOf(v.src, v.rep, v.hash, this.algo, this.srcRootDev));
    const inScope = scopeTest(scope);
    const gone: string[] = [];
    for (const k of this.known.keys()) if (!source.entries.has(k) && inScope(k)) gone.push(k);
    for (const k of gone) store.delete(k);
    await this.save();
  }

  /** Makes everything learnt durable (the end of a pass). */
  async save(): Promise<void> {
    await this.saving;
    await this.store.commit();
  }
}

/**
 * Builds the record line for an entry made true: source identity, replica identity, content.
 * Entries on the source root's device are recorded with device 0 (see FsRules.srcRootDev).
 */
export function recordOf(src: Entry, rep: Entry, hash: string | undefined, algo: HashAlgo, srcRootDev = -1): RecordEntry {
  const e: RecordEntry = {
    kind: src.kind,
    size: src.size,
    mtimeMs: src.mtimeMs,
    mode: src.mode,
    rIno: rep.ino,
    rCtimeMs: rep.ctimeMs,
    sIno: src.ino,
    sDev: devKey({ srcRootDev }, src.dev),
    sCtimeMs: src.ctimeMs,
  };
  return {
    ...e,
    ...(src.target !== undefined ? { target: src.target } : {}),
    ...(hash && src.kind === 'file' ? { hash, algo } : {}),
  };
}
