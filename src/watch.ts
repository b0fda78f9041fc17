import path from 'node:path';
import type { Logger } from 'pino';
import { DEFAULTS } from './config.js';
import { describe, errCode } from './errors.js';
import type { Nudges } from './scheduler.js';
import { makeFilter } from './sync/filter.js';
import { TMP_RE, ancestors, parentOf } from './sync/paths.js';
import { NO_SCOPE, type ScanScope } from './sync/scope.js';
import { FolderWatchers } from './watch-folders.js';

/** More changed paths than this in one burst: rescan everything instead. */
const MAX_SCOPED_PATHS = 2_000;


/** A running watcher: a nudge source for the scheduler that also says what changed. */
export interface Watcher extends Nudges {
  /** Settles once the initial crawl is done and every folder is watched (never rejects). */
  readonly ready: Promise<void>;
  /**
   * Takes the changed paths seen so far and forgets them (and any pending nudge): the
   * changed paths and their parent folders as a scan scope, `undefined` when too much changed
   * to list (rescan everything), or an empty scope when nothing changed.
   */
  takeScope(): ScanScope | undefined;
  /** Stops watching; idempotent. */
  close(): Promise<void>;
}

/**
 * Watches the source's folders (FolderWatchers, through chokidar) and turns bursts of events
 * into one nudge: after a quiet period, or at the latest after a maximum wait so a tree that is
 * always busy still syncs. The
 * watcher is only a hint; the interval pass stays a full rescan that catches what it missed.
 * Its failures (inotify limits, vanished folders) are warnings, never fatal. Returns at once;
 * the initial crawl of a big tree runs alongside the first pass.
 */
export function startWatch(
  cfg: { readonly source: string; readonly excludes: readonly string[] },
  log: Logger,
  timing: { quietMs: number; maxWaitMs: number; maxPaths?: number } = { quietMs: DEFAULTS.watchQuietMs, maxWaitMs: DEFAULTS.watchMaxWaitMs },
): Watcher {
  const maxPaths = timing.maxPaths ?? MAX_SCOPED_PATHS;
  const filter = makeFilter(cfg.excludes);
  const changed = new Set<string>();
  let overflow = false;
  let fired = false;
  let waiter: (() => void) | undefined;
  let quiet: NodeJS.Timeout | undefined;
  let maxWait: NodeJS.Timeout | undefined;
  let closed = false;

  const clearTimers = (): void => {
    clearTimeout(quiet);
    clearTimeout(maxWait);
    quiet = maxWait = undefined;
  };

  const fire = (): void => {
    clearTimers();
    if (closed || (changed.size === 0 && !overflow)) return;
    fired = true;
    const w = waiter;
    waiter = undefined;
    w?.();
  };

  const onEvent = (event: string, abs: string): void => {
    const rel = path.relative(cfg.source, abs).split(path.sep).join('/');
    if (rel.startsWith('..') || path.isAbsolute(rel)) return;
    log.trace({ event, path: rel }, `watch: ${event} ${rel || '.'}`);
    if (changed.size >= maxPaths) overflow = true;
    else changed.add(rel);
    clearTimeout(quiet);
    quiet = setTimeout(fire, timing.quietMs);
    maxWait ??= setTimeout(fire, timing.maxWaitMs);
  };

  /** Our own temp files and excluded paths never nudge. */
  const skip = (abs: string): boolean => {
    const rel = path.relative(cfg.source, abs).split(path.sep).join('/');
    if (rel === '' || rel.startsWith('..')) return false;
    if (TMP_RE.test(path.basename(abs))) return true;
    // Directory-only patterns are checked again by the scan; here a cheap hint is enough.
    return !filter.empty && (filter.excluded(rel, false) || filter.excluded(rel, true));
  };
  // One warning per kind of failure: past the inotify limit every further folder fails the same way.
  const warned = new Map<string, number>();
  const onError = (err: unknown): void => {
    const code = errCode(err) ?? 'other';
    const seen = warned.get(code) ?? 0;
    warned.set(code, seen + 1);
    if (seen > 0) {
      log.debug({ err: describe(err) }, `watch: ${describe(err)}`);
      return;
    }
    const hint = code === 'ENOSPC' ? ' (the inotify watch limit is reached: raise fs.inotify.max_user_watches)' : code === 'EMFILE' ? ' (too many open files: raise the limit)' : '';
    const at = typeof (err as { path?: unknown })?.path === 'string' ? path.relative(cfg.source, (err as { path: string }).path) : '';
    log.warn({ ...(at ? { path: at } : {}), err: describe(err) }, `watch${at ? ` ${at}` : ''}: ${describe(err)}${hint}; changes there are still picked up by the interval pass`);
  };

  // Only folders are watched: a folder's inotify watch already reports every change to the
  // entries in it (as a raw event naming the entry). One watch per file would cost ~6 KB of
  // memory and one inotify watch each: 640 MB and 100,000 watches for 100,000 files.
  const folders = new FolderWatchers({ skip, onEvent, onRaw: (event, abs) => onEvent(`raw ${event}`, abs), onError });
  const ready = folders.add(cfg.source).then(
    () => {
      if (!closed) log.info({ path: cfg.source }, 'watching the source for changes');
    },
    (err: unknown) => onError(err),
  );

  return {
    ready,
    next: (signal) =>
      new Promise<void>((resolve) => {
        if (fired) {
          fired = false;
          resolve();
          return;
        }
        if (signal.aborted) return;
        const done = (): void => {
          signal.removeEventListener('abort', onAbort);
          fired = false;
          resolve();
        };
        const onAbort = (): void => {
          if (waiter === done) waiter = undefined;
        };
        waiter = done;
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    takeScope: () => {
      const paths = [...changed];
      const all = overflow;
      changed.clear();
      overflow = false;
      fired = false;
      clearTimers();
      // The root itself changed (or too much did): only a full rescan can say what.
      if (all || paths.includes('')) return undefined;
      if (paths.length === 0) return NO_SCOPE;
      const deep = outermost(paths);
      return { deep, shallow: [...new Set(deep.map(parentOf))] };
    },
    close: async () => {
      if (closed) return;
      closed = true;
      clearTimers();
      waiter = undefined;
      await folders.close();
    },
  };
}

/** Drops the paths that lie inside another one of them: a deep scan of a folder covers its content. */
function outermost(paths: readonly string[]): string[] {
  const all = new Set(paths);
  return paths.filter((p) => !ancestors(p).some((a) => all.has(a)));
}
