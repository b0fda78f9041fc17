import { isWithin, parentOf } from './paths.js';

/**
 * Which part of a tree a pass looks at: whole subtrees (`deep`) and single folder listings
 * (`shallow`). A watch nudge gives a partial scope; everything else is the full one. This file
 * is the one definition of "full", "nothing" and "which paths a scope speaks for".
 */
export interface ScanScope {
  readonly deep: readonly string[];
  readonly shallow: readonly string[];
}

/** The whole tree. */
export const FULL_SCOPE: ScanScope = Object.freeze({ deep: Object.freeze(['']), shallow: Object.freeze([]) });

/** Nothing: no change was seen. */
export const NO_SCOPE: ScanScope = Object.freeze({ deep: Object.freeze([]), shallow: Object.freeze([]) });

/** True when the scope covers the whole tree (a deep listing of the root). */
export function isFull(scope: ScanScope): boolean {
  return scope.deep.includes('');
}

/** True when the scope covers nothing. */
export function isNothing(scope: ScanScope): boolean {
  return scope.deep.length === 0 && scope.shallow.length === 0;
}

/** Which paths a scope's listing speaks for: everything below a deep path, the children of a shallow one. */
export function scopeTest(scope: ScanScope): (p: string) => boolean {
  if (isFull(scope)) return () => true;
  const shallow = new Set(scope.shallow);
  return (p) => shallow.has(parentOf(p)) || scope.deep.some((d) => isWithin(p, d));
}
