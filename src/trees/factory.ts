import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { RemoteEnd } from '../remote/remote-end.js';
import { RemoteHasher } from '../remote/remote-hash.js';
import type { FilterSpec } from '../sync/filter.js';
import type { FsRules } from '../sync/fs-rules.js';
import type { RootId } from '../sync/guards.js';
import type { HashPool, HashResult } from '../sync/hash-pool.js';
import type { InFlight } from '../sync/in-flight.js';
import { abs } from '../sync/paths.js';
import type { HashAlgo } from '../sync/types.js';
import type { KnownFilesystems } from './known-fs.js';
import { LocalTree } from './local.js';
import { LocalReplica } from './local-replica.js';
import { type FsTraits, guessTraits } from './probe.js';
import { SftpTree } from './sftp.js';
import { SftpReplica } from './sftp-replica.js';
import { guessSftpTraits, probeSftp } from './sftp-probe.js';
import { SftpSourceFiles } from './sftp-source.js';
import { LocalSourceFiles } from './source-files.js';
import { ThreadedTree } from './threaded.js';
import type { ReplicaWriter, TreeReader } from './tree.js';

/** What a pass's replica writer is given by the pass. */
export interface WriterOptions {
  /** Settled once both trees are listed, before anything is written (a getter). */
  readonly rules: FsRules;
  readonly inFlight: InFlight;
  readonly signal?: AbortSignal;
  /** --backup-dir (absolute, or inside the replica for a remote one) and this pass's stamp folder name. */
  readonly backup?: { readonly dir: string; readonly stamp: string };
}

/** The replica's traits and whether they were just measured (worth a log line). */
export interface TraitsFound {
  readonly traits: FsTraits;
  readonly fresh: boolean;
  readonly probeError?: unknown;
}

/**
 * The two trees of a source/replica pair, whatever they are: the engine gets every reader,
 * writer, hash and filesystem fact from here, so a folder on another machine is one more kind
 * of tree, not another engine. Lives as long as the run (a remote one holds its connections).
 */
export class Trees {
  private remoteTraits: FsTraits | undefined;
  private readonly hashers = new Map<RemoteEnd, RemoteHasher>();

  constructor(
    readonly source: string,
    readonly replica: string,
    private readonly pool: HashPool,
    /** The source's connection, when it is on another machine. */
    private readonly srcEnd: RemoteEnd | null = null,
    /** The replica's connection, when it is on another machine. */
    private readonly repEnd: RemoteEnd | null = null,
  ) {}

  /** Two local folders (the tests' and the benchmarks' default). */
  static local(source: string, replica: string, pool: HashPool): Trees {
    return new Trees(source, replica, pool);
  }

  /** The replica is on another machine (watch passes list it whole, it is probed over SFTP). */
  get remoteReplica(): boolean {
    return this.repEnd !== null;
  }

  /** Which sides have inode numbers that identify files (SFTP carries none). */
  get inodes(): { readonly src: boolean; readonly rep: boolean } {
    return { src: this.srcEnd === null, rep: this.repEnd === null };
  }

  /** Opens (again) what a pass needs: the connections that dropped since the last pass, with backoff. */
  async connect(signal?: AbortSignal): Promise<void> {
    await this.srcEnd?.connect(signal);
    await this.repEnd?.connect(signal);
  }

  /** Why a connection of this pair dropped, or null. */
  lost(): Error | null {
    return this.srcEnd?.lost() ?? this.repEnd?.lost() ?? null;
  }

  /** The source tree's reading side. */
  sourceReader(): TreeReader {
    return this.srcEnd ? new SftpTree(this.srcEnd) : new LocalTree(this.source);
  }

  /**
   * The replica tree's reading side; a big local one is listed by a worker thread on the other
   * core while this one lists the source (`stop` ends it).
   */
  replicaReader(big: boolean, filter: readonly string[] | FilterSpec): { tree: TreeReader; stop(): void } {
    if (this.repEnd) return { tree: new SftpTree(this.repEnd), stop: () => undefined };
    const threaded = big ? ThreadedTree.start(this.replica, filter) : null;
    return { tree: threaded ?? new LocalTree(this.replica), stop: () => threaded?.stop() };
  }

  /** The replica's writing side for one pass. */
  writer(o: WriterOptions): ReplicaWriter {
    if (this.repEnd) {
      const source = this.srcEnd ? new SftpSourceFiles(this.srcEnd) : new LocalSourceFiles(this.source);
      // A remote replica's backup folder lies inside it (see checkBackup).
      const backup = o.backup ? { backup: { rel: path.relative(this.replica, o.backup.dir).split(path.sep).join('/'), stamp: o.backup.stamp } } : {};
      return new SftpReplica(this.repEnd, { source, get rules() { return o.rules; }, ...(o.signal ? { signal: o.signal } : {}), ...backup });
    }
    return new LocalReplica(this.replica, {
      source: this.source,
      get rules() {
        return o.rules;
      },
      inFlight: o.inFlight,
      ...(o.signal ? { signal: o.signal } : {}),
      ...(this.srcEnd ? { from: new SftpSourceFiles(this.srcEnd) } : {}),
      ...(o.backup ? { backup: o.backup } : {}),
    });
  }

  /** The identity of the folder the source root leads to, or null when it cannot be reached. */
  async sourceRoot(): Promise<RootId | null> {
    const end = this.srcEnd;
    if (end) {
      // No inode numbers over SFTP: the root is "the same" while it is a reachable folder.
      try {
        const st = await end.sftp.lstat(end.root);
        if (st.isDirectory()) return { dev: 0, ino: 0 };
        return st.isSymbolicLink() && (await end.sftp.lstat(await end.sftp.realpath(end.root))).isDirectory() ? { dev: 0, ino: 0 } : null;
      } catch {
        return null;
      }
    }
    try {
      const st = await stat(this.source);
      return { dev: st.dev, ino: st.ino };
    } catch {
      return null;
    }
  }

  /** What the replica's filesystem keeps: a local one by its device (see KnownFilesystems), a remote one probed once per run. */
  async replicaTraits(known: KnownFilesystems, dryRun: boolean): Promise<TraitsFound> {
    const end = this.repEnd;
    if (!end) return known.replicaTraits(this.replica, dryRun);
    if (this.remoteTraits?.probed) return { traits: this.remoteTraits, fresh: false };
    if (dryRun) {
      const fresh = this.remoteTraits === undefined;
      this.remoteTraits = guessSftpTraits();
      return { traits: this.remoteTraits, fresh };
    }
    try {
      this.remoteTraits = await probeSftp(end);
      return { traits: this.remoteTraits, fresh: true };
    } catch (err) {
      if (end.lost()) throw end.lost();
      return { traits: guessSftpTraits(), fresh: true, probeError: err };
    }
  }

  /**
   * What either tree's filesystem is guessed to keep, without writing anything (for a check,
   * which writes no probe file): a local one by its mount type, a remote one as a POSIX SFTP
   * server keeping whole seconds, as a dry run assumes.
   */
  guessedTraits(side: 'src' | 'rep'): Promise<FsTraits> {
    const end = side === 'src' ? this.srcEnd : this.repEnd;
    return end ? Promise.resolve(guessSftpTraits()) : guessTraits(side === 'src' ? this.source : this.replica);
  }

  /** Hashes one file of either tree (a remote one on its server when it can). */
  hash(side: 'src' | 'rep', rel: string, algo: HashAlgo, signal?: AbortSignal): Promise<HashResult> {
    const end = side === 'src' ? this.srcEnd : this.repEnd;
    if (!end) return this.pool.hash(abs(side === 'src' ? this.source : this.replica, rel), algo, signal);
    let h = this.hashers.get(end);
    if (!h) {
      h = new RemoteHasher(end);
      this.hashers.set(end, h);
    }
    return h.hash(rel, algo, signal);
  }

  /** Closes the connections; idempotent. */
  close(): void {
    this.srcEnd?.close();
    this.repEnd?.close();
  }
}
