// parseWindow (src/duration.ts): the values --modify-window takes (auto, 0, bare seconds, h/m/s/ms
// durations up to one day) and the UsageError, naming the option, for everything else.
import { describe, expect, it } from 'vitest';
import { parseWindow } from '../../src/duration.js';
import { UsageError } from '../../src/errors.js';

describe('parseWindow()', () => {
  const accepted: [text: string, want: number | null][] = [
    ['auto', null],
    ['0', 0],
    ['2', 2000],
    ['2s', 2000],
    ['500ms', 500],
    ['1s500ms', 1500],
    ['1h', 3_600_000],
    ['1m', 60_000],
    ['1m30s', 90_000],
    ['1h1m1s1ms', 3_661_001],
    ['0s', 0],
    ['0ms', 0],
    [' 2s ', 2000],
    ['86400', 86_400_000],
    ['24h', 86_400_000],
    ['1439m60s', 86_400_000],
  ];
  it.each(accepted)('accepts %j', (text, want) => {
    expect(parseWindow(text)).toBe(want);
  });

  const rejected: [text: string, why: RegExp][] = [
    ['-1', /expected auto/],
    ['1.5s', /expected auto/],
    ['abc', /expected auto/],
    ['2d', /expected auto/],
    ['', /expected auto/],
    ['   ', /expected auto/],
    ['1ms2s', /expected auto/],
    ['2s1h', /expected auto/],
    ['AUTO', /expected auto/],
    ['2 s', /expected auto/],
    ['86401', /at most one day/],
    ['25h', /at most one day/],
    ['24h1ms', /at most one day/],
    ['1441m', /at most one day/],
    ['99999999999999999999', /at most one day/],
  ];
  it.each(rejected)('rejects %j', (text, why) => {
    let err: unknown;
    try {
      parseWindow(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    const message = (err as UsageError).message;
    expect(message).toMatch(/^--modify-window /);
    expect(message).toContain(JSON.stringify(text));
    expect(message).toMatch(why);
  });

  it('names the option it is given', () => {
    expect(() => parseWindow('x', '--other')).toThrow(/^--other "x"/);
  });
});
