import { mtimeEq } from '../sync/fs-rules.js';
import type { Entry } from '../sync/types.js';

/** What can differ between two entries at one path, in the order a line names them. */
export type What = 'type' | 'size' | 'mtime' | 'mode' | 'target' | 'content';

/** What the comparison respects of the two filesystems (the pass's rules, read-only subset). */
export interface CheckRules {
  /** Mtimes this close (ms) are equal. */
  readonly windowMs: number;
  /** The replica keeps permission bits: a mode difference is a difference. */
  readonly modes: boolean;
}

/**
 * Compares one source entry with the replica entry at the same path, by the contract's rules:
 * files by size, mtime (within the window) and mode; folders by mode only (a pass restores their
 * mtimes, but every write below a folder moves it, so it says nothing about the mirror); links
 * by target. Content is not looked at here: that needs hashes (see audit.ts).
 */
export function compareEntries(s: Entry, r: Entry, rules: CheckRules): What[] {
  if (s.kind !== r.kind) return ['type'];
  const out: What[] = [];
  switch (s.kind) {
    case 'file':
      if (s.size !== r.size) out.push('size');
      if (!mtimeEq(rules, s.mtimeMs, r.mtimeMs)) out.push('mtime');
      if (rules.modes && s.mode !== r.mode) out.push('mode');
      return out;
    case 'dir':
      if (rules.modes && s.mode !== r.mode) out.push('mode');
      return out;
    case 'symlink':
      if (s.target !== r.target) out.push('target');
      return out;
  }
}
