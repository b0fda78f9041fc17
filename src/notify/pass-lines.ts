/** Lines kept per kind before only their number is: a mail lists the first ones. */
export const LINES_KEPT = 1_000;

/** The change and error lines of what happened (bounded), with how many more there were. */
export interface Lines {
  readonly changes: string[];
  moreChanges: number;
  readonly errors: string[];
  moreErrors: number;
}

/** No lines yet. */
export function emptyLines(): Lines {
  return { changes: [], moreChanges: 0, errors: [], moreErrors: 0 };
}

/** Appends `from` to `into`, keeping the first LINES_KEPT of each kind and counting the rest. */
export function mergeLines(into: Lines, from: Lines): void {
  for (const c of from.changes) pushBounded(into.changes, c, () => into.moreChanges++);
  for (const e of from.errors) pushBounded(into.errors, e, () => into.moreErrors++);
  into.moreChanges += from.moreChanges;
  into.moreErrors += from.moreErrors;
}

function pushBounded(list: string[], line: string, over: () => void): void {
  if (list.length < LINES_KEPT) list.push(line);
  else over();
}

/**
 * Gathers a pass's change and error lines as the tally counts them (the Tally's sink), bounded:
 * a pass of a million copies keeps the first thousand lines and a number.
 */
export class PassLines {
  private lines = emptyLines();

  /** One change, as its log line says it. */
  change(line: string): void {
    pushBounded(this.lines.changes, line, () => this.lines.moreChanges++);
  }

  /** One error, as its log line says it. */
  error(line: string): void {
    pushBounded(this.lines.errors, line, () => this.lines.moreErrors++);
  }

  /** The lines gathered since the last take, and a fresh start. */
  take(): Lines {
    const l = this.lines;
    this.lines = emptyLines();
    return l;
  }
}
