import { performance } from 'node:perf_hooks';
import { describe } from '../errors.js';
import { ConnectError } from '../remote/errors.js';
import { makeFilter } from '../sync/filter.js';
import { autoWindowMs } from '../sync/fs-rules.js';
import { HashPool } from '../sync/hash-pool.js';
import { type AuditCounts, type AuditIssue, audit } from './audit.js';
import type { CheckConfig } from './command.js';
import { jsonLine, shownPath, summaryLine, textLine } from './format.js';
import { type CheckTrees, UnlistedRoot, openCheckTrees } from './trees.js';

/** Exit codes of `check`, as in the contract. */
export const CHECK_EXIT = Object.freeze({ identical: 0, differences: 1, incomplete: 2 });

/** Where `check` writes: differences to `out`, errors and the summary to `err`. */
export interface CheckOutput {
  out(line: string): void;
  err(line: string): void;
  /** Writes out anything gathered. */
  flush(): void;
}

/** File pairs hashed at once; the worker pool (one thread per core) takes them as it can. */
const HASHES_IN_FLIGHT = 8;

/** Stdout writes gathered up to this size: a check of a much-changed tree prints thousands of lines. */
const OUT_BATCH = 16 * 1024;

/**
 * Runs `check`: both trees listed and compared, every difference printed in path order, the
 * summary on stderr; returns the exit code. Writes nothing anywhere and takes no lock, so it
 * can run beside a daemon.
 */
export async function runCheck(config: CheckConfig, output: CheckOutput = processOutput()): Promise<number> {
  const t0 = performance.now();
  const pool = new HashPool();
  let trees: CheckTrees | undefined;
  try {
    try {
      trees = await openCheckTrees(config, config.filter, pool);
    } catch (err) {
      // The same line and exit status as a pass that cannot connect: nothing was compared.
      if (!(err instanceof ConnectError)) throw err;
      output.err(`foldersync: ${err.message}`);
      return CHECK_EXIT.incomplete;
    }
    const { source, replica } = trees;
    const [st, rt] = await Promise.all([source.traits(), replica.traits()]);
    const windowMs = config.modifyWindowMs ?? autoWindowMs(rt, st.mtimeResolutionMs);
    const filter = makeFilter(config.filter);
    let counts: AuditCounts;
    try {
      counts = await audit({
        source,
        replica,
        filter: filter.empty ? undefined : filter,
        rules: { windowMs: Number.isFinite(windowMs) ? windowMs : 0, modes: rt.modes },
        checksum: config.checksum ? config.hash : null,
        // Pairs in flight (two hashes each): more than the workers, so none waits for the next
        // small file's round trip; as many as a pass keeps in flight.
        hashConcurrency: HASHES_IN_FLIGHT,
        onFinding: (f) => output.out(config.json ? jsonLine(f) : textLine(f)),
        onIssue: (i) => output.err(issueLine(i)),
      });
    } catch (err) {
      output.err(`foldersync: check: ${rootError(err)}`);
      return CHECK_EXIT.incomplete;
    }
    output.err(summaryLine(counts, performance.now() - t0));
    if (counts.issues > 0) return CHECK_EXIT.incomplete;
    return counts.missing + counts.extra + counts.differs > 0 ? CHECK_EXIT.differences : CHECK_EXIT.identical;
  } finally {
    output.flush();
    trees?.close();
    await pool.close();
  }
}

/** One stderr line for a path that could not be read. */
function issueLine(i: AuditIssue): string {
  return `error: cannot ${i.op} ${i.side} ${shownPath(i.path)}: ${i.message}`;
}

/** Why the walk stopped: a root that could not be listed (named by its side), or a connection that dropped. */
function rootError(err: unknown): string {
  if (err instanceof UnlistedRoot) return `${err.message}: ${describe(err.cause)}`;
  return describe(err);
}

/** Stdout (batched) and stderr of this process; stdout is flushed before every stderr line so the order holds. */
function processOutput(): CheckOutput {
  let pending = '';
  const flush = (): void => {
    if (pending === '') return;
    process.stdout.write(pending);
    pending = '';
  };
  return {
    out: (line) => {
      pending += `${line}\n`;
      if (pending.length >= OUT_BATCH) flush();
    },
    err: (line) => {
      flush();
      process.stderr.write(`${line}\n`);
    },
    flush,
  };
}
