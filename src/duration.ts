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
