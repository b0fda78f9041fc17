import path from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import type { Logger } from 'pino';
import { DEFAULTS } from './config.js';
import { describe } from './errors.js';
import type { Nudges } from './scheduler.js';
import { makeFilter } from './sync/filter.js';
import { TMP_RE, parentOf } from './sync/paths.js';
import type { ScanScope } from './sync/scan.js';

/** More changed paths than this in one burst: rescan everything instead. */
const MAX_SCOPED_PATHS = 2_000;

/** A running watcher: a nudge source for the scheduler that also says what changed. */
export interface Watcher extends Nudges {
  /** The changed paths since the last call, as a scan scope (undefined: rescan everything). */
  takeScope(): ScanScope | undefined;
  /** Stops watching; idempotent. */
  close(): Promise<void>;
}

/**
 * Watches the source with chokidar and turns bursts of events into one nudge: after a quiet
 * period, or at the latest after a maximum wait so a tree that is always busy still syncs. The
 * watcher is only a hint; the interval pass stays a full rescan that catches what it missed.
 * Its failures (inotify limits, vanished folders) are warnings, never fatal.
 */
export async function startWatch(
  cfg: { readonly source: string; readonly excludes: readonly string[] },
  log: Logger,
  timing: { quietMs: number; maxWaitMs: number } = { quietMs: DEFAULTS.watchQuietMs, maxWaitMs: DEFAULTS.watchMaxWaitMs },
): Promise<Watcher> {
  const filter = makeFilter(cfg.excludes);
  const changed = new Set<string>();
  let overflow = false;
  let fired = false;
  let waiter: (() => void) | undefined;
  let quiet: NodeJS.Timeout | undefined;
  let maxWait: NodeJS.Timeout | undefined;

  const fire = (): void => {
    clearTimeout(quiet);
    clearTimeout(maxWait);
    quiet = maxWait = undefined;
    fired = true;
    const w = waiter;
    waiter = undefined;
    w?.();
  };

  const onEvent = (event: string, abs: string): void => {
    const rel = path.relative(cfg.source, abs).split(path.sep).join('/');
    if (rel.startsWith('..')) return;
    log.trace({ event, path: rel }, `watch: ${event} ${rel}`);
    if (changed.size >= MAX_SCOPED_PATHS) overflow = true;
    else changed.add(rel);
    clearTimeout(quiet);
    quiet = setTimeout(fire, timing.quietMs);
    maxWait ??= setTimeout(fire, timing.maxWaitMs);
  };

  const ignored = (abs: string): boolean => {
    const rel = path.relative(cfg.source, abs).split(path.sep).join('/');
    if (rel === '' || rel.startsWith('..')) return false;
    if (TMP_RE.test(path.basename(abs))) return true;
    // Directory-only patterns are checked again by the scan; here a cheap hint is enough.
    return !filter.empty && (filter.excluded(rel, false) || filter.excluded(rel, true));
  };

  const w: FSWatcher = watch(cfg.source, { ignoreInitial: true, followSymlinks: false, ignored, alwaysStat: false });
  w.on('all', onEvent);
  w.on('error', (err: unknown) => {
    log.warn({ err: describe(err) }, `watch: ${describe(err)}; changes are still picked up by the interval pass (raise fs.inotify.max_user_watches if the limit was reached)`);
  });
  await new Promise<void>((resolve) => w.once('ready', () => resolve()));
  log.debug({ path: cfg.source }, 'watching the source for changes');

  let closed = false;
  return {
    next: (signal) =>
      new Promise<void>((resolve) => {
        if (fired) {
          fired = false;
          resolve();
          return;
        }
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
      if (all || paths.length === 0) return undefined;
      const shallow = new Set(paths.map(parentOf));
      return { deep: paths, shallow: [...shallow] };
    },
    close: async () => {
      if (closed) return;
      closed = true;
      clearTimeout(quiet);
      clearTimeout(maxWait);
      await w.close();
    },
  };
}
