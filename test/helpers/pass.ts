import { Writable } from 'node:stream';
import path from 'node:path';
import pino from 'pino';
import { createEngine, type SyncSettings } from '../../src/sync/engine.js';
import { HashPool } from '../../src/sync/hash-pool.js';
import { RecordStore } from '../../src/sync/record.js';
import type { PassRequest } from '../../src/sync/engine.js';
import type { PassReport } from '../../src/sync/types.js';
import type { Trees } from '../../src/trees/factory.js';

/** One parsed log line. */
export type LogLine = Record<string, unknown> & { msg: string; level: number };

/** Settings for an in-process pass; everything but source and replica has the CLI's default. */
export type PassSettings = Partial<SyncSettings> & { source: string; replica: string; state?: string };

let sharedPool: HashPool | undefined;

/** The hash pool shared by in-process passes of one test file (closed by closePool). */
export function pool(): HashPool {
  sharedPool ??= new HashPool(2);
  return sharedPool;
}

/** Stops the shared hash pool (call from afterAll). */
export async function closePool(): Promise<void> {
  await sharedPool?.close();
  sharedPool = undefined;
}

/**
 * Runs one real pass in-process, with a record at `state` (default: beside the replica, in the
 * same temp folder) and every log line captured.
 */
export async function syncOnce(settings: PassSettings, req: PassRequest = {}, trees?: Trees): Promise<{ report: PassReport; lines: LogLine[]; store: RecordStore }> {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as LogLine);
      done();
    },
  });
  const log = pino({ level: 'trace', base: undefined }, sink);
  const statePath = settings.state ?? path.join(path.dirname(settings.replica), `${path.basename(settings.replica)}.record`);
  const { store } = await RecordStore.load(statePath, settings.source, settings.replica);
  const full: SyncSettings = {
    excludes: [],
    deleteExcluded: false,
    checksum: false,
    hash: 'sha256',
    maxDelete: null,
    allowEmptySource: false,
    jobs: 4,
    dryRun: false,
    ...settings,
  };
  const report = await createEngine(full, { log, store, pool: pool(), ...(trees ? { trees } : {}) }).runPass(req);
  return { report, lines, store };
}

/** The log lines of a pass that describe changes (`action` set). */
export function actions(lines: LogLine[]): { action: string; path: string; from?: string }[] {
  return lines.filter((l) => typeof l.action === 'string').map((l) => ({ action: l.action as string, path: l.path as string, ...(l.from ? { from: l.from as string } : {}) }));
}

/** The total number of changes a report counts. */
export function changeCount(r: PassReport): number {
  return r.copy + r.update + r.move + r.delete + r.mkdir + r.rmdir + r.symlink + r.attrs;
}
