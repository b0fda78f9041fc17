import { lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { RecordStore } from '../../src/sync/record.js';
import type { RecordEntry } from '../../src/sync/types.js';

/**
 * Lists every way the record on disk disagrees with the replica: a replica entry without a
 * record line, a record line for a path that is not there, or one whose replica inode, kind,
 * size or mtime is not what the replica holds (mtimes within `windowMs`, for a replica on a
 * filesystem that keeps coarser times). Empty when the record tells the truth. The one record
 * checker of the test suite.
 */
export async function recordProblems(statePath: string, source: string, replica: string, windowMs = 0): Promise<string[]> {
  const { store, warning } = await RecordStore.load(statePath, source, replica);
  const record = store.readAll();
  const read = store.takeWarning();
  const problems: string[] = [warning, read].filter((w) => w !== undefined).map((w) => `warning: ${w}`);
  const seen = new Set<string>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(replica, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(path.join(replica, r));
      seen.add(r);
      const rec = record.get(r);
      const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
      if (!rec) problems.push(`no record line for replica ${kind} ${r}`);
      else {
        if (rec.kind !== kind) problems.push(`${r}: recorded as ${rec.kind}, is ${kind}`);
        if (rec.rIno !== st.ino) problems.push(`${r}: recorded inode ${rec.rIno}, replica has ${st.ino}`);
        if (kind === 'file' && rec.size !== st.size) problems.push(`${r}: recorded size ${rec.size}, replica has ${st.size}`);
        const off = Math.abs(rec.mtimeMs - st.mtimeMs);
        if (kind !== 'symlink' && off >= 1 && off > windowMs) problems.push(`${r}: recorded mtime ${rec.mtimeMs}, replica has ${st.mtimeMs}`);
      }
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  for (const p of record.keys()) if (!seen.has(p)) problems.push(`record line for ${p}, which the replica does not have`);
  return problems;
}

/** A record entry with every field set, distinct per `i`, with fractional times. */
export function sampleEntry(i: number, extra: Partial<RecordEntry> = {}): RecordEntry {
  return {
    kind: 'file',
    size: i * 7,
    mtimeMs: 1_700_000_000_000 + i + 0.123456,
    mode: 0o644,
    rIno: 10_000 + i,
    rCtimeMs: 1_700_000_000_500.9875 + i,
    sIno: 20_000 + i,
    sDev: 2049,
    sCtimeMs: 1_700_000_000_900.5 + i,
    hash: (i % 256).toString(16).padStart(2, '0').repeat(32),
    algo: 'sha256',
    ...extra,
  };
}
