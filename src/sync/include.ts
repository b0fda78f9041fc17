import { createRequire } from 'node:module';
import type { Ignore, Options } from 'ignore';

/** The --include whitelist: which paths it keeps, matched or on the way to a match. */
export interface Includes {
  /** True for a path a pattern matches (or lies below a matched folder), and for a folder that may lead to one. */
  included(rel: string, isDir: boolean): boolean;
  /** True for a folder that is in only because it may lead to a match (not matched itself). */
  onTheWay(rel: string): boolean;
}

type IgnoreFactory = (options?: Options) => Ignore;

/**
 * One include pattern, cut into the folder names that lead to what it matches: `docs/*\/a.txt`
 * is reached through a folder matching `docs`, then one matching `*`. A pattern without an
 * inner slash (`*.jpg`) matches at any depth, so every folder may lead to a match; `**` does
 * the same from where it stands. Each name is matched by `ignore` itself (`/<glob>`), so a
 * folder on the way is found by exactly the globbing that will match the path below it.
 */
class Route {
  /** null: any folder may lead to a match. */
  private readonly steps: (Ignore | null)[] | null;

  constructor(pattern: string, ignore: IgnoreFactory) {
    const body = pattern.replace(/\/+$/, '');
    const anchored = body.includes('/');
    const parts = body.replace(/^\//, '').split('/');
    // The last part names what is matched, not a folder on the way.
    this.steps = anchored ? parts.slice(0, -1).map((p) => (p.includes('**') ? null : ignore().add(`/${p}`))) : null;
  }

  /** True when a folder at `rel` may hold something the pattern matches. */
  leadsThrough(rel: string): boolean {
    if (this.steps === null) return true;
    const names = rel.split('/');
    for (let i = 0; i < names.length; i++) {
      if (i >= this.steps.length) return false;
      const step = this.steps[i]!;
      if (step === null) return true;
      if (!step.ignores(names[i]!)) return false;
    }
    return true;
  }
}

/** Builds the whitelist from gitignore-syntax patterns; null when none is given (everything is included). */
export function makeIncludes(patterns: readonly string[]): Includes | null {
  const clean = patterns.map((p) => p.replace(/\r$/, '')).filter((p) => p.trim() !== '' && !p.startsWith('#'));
  if (clean.length === 0) return null;
  // Loaded only when there are patterns, as for the excludes.
  const ignore = createRequire(import.meta.url)('ignore') as IgnoreFactory;
  const matcher = ignore({ allowRelativePaths: true }).add(clean);
  // A negated pattern narrows what is matched; it leads nowhere.
  const routes = clean.filter((p) => !p.startsWith('!')).map((p) => new Route(p, ignore));
  const leads = (rel: string): boolean => routes.some((r) => r.leadsThrough(rel));
  return {
    included: (rel, isDir) => matcher.ignores(isDir ? `${rel}/` : rel) || (isDir && leads(rel)),
    onTheWay: (rel) => !matcher.ignores(`${rel}/`) && leads(rel),
  };
}
