import { UsageError } from './errors.js';

const UNITS = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Parses `1h30m`, `45s`, `2d`, `1d2h3m4s` or a bare number of seconds into milliseconds. */
export function parseDuration(text: string, option = '--interval'): number {
  const t = text.trim();
  let seconds: number;
  if (/^\d+$/.test(t)) {
    seconds = Number(t);
  } else {
    const m = UNITS.exec(t);
    if (!m || t === '') {
      throw new UsageError(`${option} ${JSON.stringify(text)}: expected ##d##h##m##s (e.g. 1h30m, 45s, 2d) or whole seconds`);
    }
    const [, d = '0', h = '0', min = '0', s = '0'] = m;
    seconds = Number(d) * 86_400 + Number(h) * 3_600 + Number(min) * 60 + Number(s);
  }
  if (!Number.isSafeInteger(seconds) || seconds <= 0) throw new UsageError(`${option} ${JSON.stringify(text)}: must be at least one second`);
  if (seconds > 366 * 86_400) throw new UsageError(`${option} ${JSON.stringify(text)}: at most 366 days`);
  return seconds * 1000;
}

const WINDOW = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/;

/**
 * Parses a `--modify-window`: `auto` (null: what the filesystems keep), `0` (exact), a bare
 * number of seconds, or `2s`, `500ms`, `1s500ms`, `1h` (FAT drives that shift by an hour with
 * daylight saving time). At most one day.
 */
export function parseWindow(text: string, option = '--modify-window'): number | null {
  const t = text.trim();
  if (t === 'auto') return null;
  let ms: number;
  if (/^\d+$/.test(t)) ms = Number(t) * 1000;
  else {
    const m = WINDOW.exec(t);
    if (!m || t === '') throw new UsageError(`${option} ${JSON.stringify(text)}: expected auto, 0, or a duration such as 2s, 500ms, 1s500ms`);
    const [, h = '0', min = '0', s = '0', msPart = '0'] = m;
    ms = Number(h) * 3_600_000 + Number(min) * 60_000 + Number(s) * 1000 + Number(msPart);
  }
  if (!Number.isSafeInteger(ms) || ms > 86_400_000) throw new UsageError(`${option} ${JSON.stringify(text)}: at most one day`);
  return ms;
}

/** Formats milliseconds for humans: 5400000 → "1h30m". */
export function formatDuration(ms: number): string {
  let s = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  if (s > 0 || parts.length === 0) parts.push(`${s}s`);
  return parts.join('');
}
