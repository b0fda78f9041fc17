import type { AuditCounts, Finding } from './audit.js';

const MARK: Record<Finding['status'], string> = { missing: '+', extra: '-', differs: '~' };

/**
 * A path as one text line can hold it: control characters and backslashes as C escapes
 * (`\n`, `\t`, `\x1b`, `\\`), so a name with a newline cannot pass for two lines. `--json`
 * gives the exact name.
 */
export function shownPath(p: string): string {
  return p.replace(/[\x00-\x1f\x7f\\]/g, (c) => {
    if (c === '\\') return '\\\\';
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    if (c === '\r') return '\\r';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/** The contract's text line for a difference: `+ PATH`, `- PATH`, `~ PATH (size, mtime)`. */
export function textLine(f: Finding): string {
  const what = f.status === 'differs' ? ` (${f.what.join(', ')})` : '';
  return `${MARK[f.status]} ${shownPath(f.path)}${what}`;
}

/** The contract's JSON line for a difference. */
export function jsonLine(f: Finding): string {
  return JSON.stringify({ path: f.path, status: f.status, what: f.what });
}

/** The summary `check` writes on stderr. */
export function summaryLine(c: AuditCounts, durationMs: number): string {
  const diffs = c.missing + c.extra + c.differs;
  const verdict = diffs === 0 ? 'identical' : `${diffs} difference${diffs === 1 ? '' : 's'} (${c.missing} only in the source, ${c.extra} only in the replica, ${c.differs} differ)`;
  const unread = c.issues > 0 ? `; ${c.issues} path${c.issues === 1 ? '' : 's'} could not be read, the check is incomplete` : '';
  const hashed = c.hashed > 0 ? `, ${c.hashed} files hashed (${(c.hashedBytes / 1e6).toFixed(1)} MB)` : '';
  return `check: ${verdict}${unread}; ${c.sourceEntries} entries in the source, ${c.replicaEntries} in the replica${hashed}, ${(durationMs / 1000).toFixed(2)} s`;
}
