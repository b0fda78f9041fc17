/** Burst a throttle allows after a pause: a quarter second's worth of bytes. */
const BURST_S = 0.25;

/**
 * A token bucket for `--bwlimit`: every chunk sent to or read from a remote tree takes its
 * bytes from it first, so all copies of that tree together stay under the rate.
 */
export class Throttle {
  /** When the bytes taken so far may all have been sent, in ms (performance.now()). */
  private due = 0;

  constructor(readonly bytesPerSecond: number) {}

  /** Waits until `n` more bytes fit under the rate. */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    const now = performance.now();
    this.due = Math.max(this.due, now - BURST_S * 1000) + (n / this.bytesPerSecond) * 1000;
    const wait = this.due - now;
    if (wait <= 0) return;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, wait);
      const onAbort = (): void => {
        clearTimeout(t);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** Parses `--bwlimit`: bytes per second from `10M`, `500K`, `1G` or a bare number of KiB (rsync's unit). */
export function parseRate(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)i?B?$/i.exec(text.trim());
  if (!m) return null;
  const unit = (m[2] ?? '').toUpperCase();
  const mult = unit === 'G' ? 1 << 30 : unit === 'M' ? 1 << 20 : 1 << 10;
  const v = Math.round(Number(m[1]) * mult);
  return v > 0 ? v : null;
}
