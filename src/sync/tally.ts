import type { Logger } from 'pino';
import { actionName, describeAction, shownPaths } from './report.js';
import { type Action, type PassCounts, emptyCounts } from './types.js';

/** What an error line carries besides its message: the path, the operation and the OS's reason. */
export interface ErrorFields {
  readonly path?: string;
  readonly from?: string;
  readonly op?: string;
  readonly side?: 'replica';
  readonly err?: string;
}

/** Who else hears of each change and error the tally counts (a notification's bounded list). */
export interface TallySink {
  change(line: string): void;
  error(line: string): void;
}

/**
 * A pass's counts and the log lines that go with them. Every per-path failure goes through
 * `error` (counted and logged in one place, restic's `arch.error`), and every change through
 * `change`, whether it was made or, in a dry run, only planned: the two cannot disagree.
 */
export class Tally {
  readonly counts: PassCounts = emptyCounts();

  constructor(
    private readonly log: Logger,
    private readonly dryRun: boolean,
    private readonly sink?: TallySink,
  ) {}

  /** The one error hook: one more error, and one line at level error. */
  error(fields: ErrorFields, message: string): void {
    this.counts.errors++;
    this.log.error(fields, message);
    this.sink?.error(message);
  }

  /** A change to the replica (made, or planned in a dry run): counted under its name, one line (naming the file it was hard-linked to, if so). Set-asides are not changes. */
  change(a: Action, bytes: number, linkedTo?: string): void {
    const name = actionName(a);
    if (name === null) {
      this.log.debug({ path: a.path, ...(a.type === 'move' ? { from: a.from } : {}) }, `set aside ${a.type === 'move' ? a.from : a.path}`);
      return;
    }
    this.counts[name]++;
    this.counts.bytes += bytes;
    const line = `${describeAction(a, this.dryRun)}${linkedTo === undefined ? '' : ` (hard link to ${linkedTo})`}`;
    const link = linkedTo === undefined ? {} : { link: linkedTo };
    this.log.info({ action: name, ...shownPaths(a), ...link, ...(bytes ? { bytes } : {}), ...(this.dryRun ? { dryRun: true } : {}) }, line);
    this.sink?.change(line);
  }

  /** An old version moved into the backup folder before `a` deleted or replaced it: counted, one line. */
  backup(a: Action, stamp: string): void {
    const { path } = shownPaths(a);
    this.counts.backup++;
    this.log.info({ action: 'backup', path, to: `${stamp}/${path}` }, `backup ${path}`);
    this.sink?.change(`backup ${path}`);
  }

  /** A file read whole to hash it. */
  hashed(bytes: number): void {
    this.counts.hashed++;
    this.counts.hashedBytes += bytes;
  }

  /** `errors` once anything failed, else `ok`. */
  outcome(): 'ok' | 'errors' {
    return this.counts.errors > 0 ? 'errors' : 'ok';
  }
}
