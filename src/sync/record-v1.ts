import { createReadStream } from 'node:fs';
import { parseJournalLine } from './record-codec.js';
import type { FileRecord } from './types.js';

/**
 * Format 1, read once to migrate it: a header line `{"foldersync":1,"source":…,"replica":…}`,
 * then `["+", path, …fields]` puts and `["-", path]` deletes (the lines the format-2 journal
 * still uses), replayed in order into one Map. Only migration reads this, so holding the whole
 * record in memory happens once, the way format 1 always did.
 */
export interface V1Record {
  readonly record: FileRecord;
  /** Set when a line is malformed: the entries before it are kept. */
  readonly warning?: string;
}

/** Reads a format-1 record whose header the caller has checked. */
export async function readV1(file: string): Promise<V1Record> {
  const record: FileRecord = new Map();
  let n = 0;
  let warning: string | undefined;
  await eachLine(file, (line) => {
    n++;
    if (n === 1) return true;
    const change = parseJournalLine(line);
    if (change === undefined) {
      warning = `record ${file} is damaged at line ${n}; keeping the entries before it and rebuilding the rest`;
      return false;
    }
    const [p, e] = change;
    if (e === null) record.delete(p);
    else record.set(p, e);
    return true;
  });
  return { record, ...(warning ? { warning } : {}) };
}

/** Calls `take` with each line of a file (without its newline) until it returns false. */
async function eachLine(file: string, take: (line: string) => boolean): Promise<void> {
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  let rest = '';
  try {
    for await (const chunk of stream) {
      const text = rest + (chunk as string);
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        if (!take(text.slice(start, nl))) return;
        start = nl + 1;
      }
      rest = text.slice(start);
    }
    if (rest !== '') take(rest);
  } finally {
    stream.destroy();
  }
}
