import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/console.js';
import type { JobStatus } from '../../src/jobs/job.js';
import { relative, span, statusTable } from '../../src/status-view.js';
import { emptyCounts } from '../../src/sync/types.js';

describe('parseCommand', () => {
  const cases: [string, ReturnType<typeof parseCommand>][] = [
    ['', null],
    ['   ', null],
    ['status', { kind: 'status' }],
    ['  STATUS  ', { kind: 'status' }],
    ['Sync', { kind: 'sync', jobs: [] }],
    ['sync photos docs', { kind: 'sync', jobs: ['photos', 'docs'] }],
    ['PAUSE photos', { kind: 'pause', jobs: ['photos'] }],
    ['resume', { kind: 'resume', jobs: [] }],
    ['add usb -s \'/home/ann/My Docs\' -r "/mnt/usb/my docs" -i 1h', { kind: 'add', name: 'usb', words: ['-s', '/home/ann/My Docs', '-r', '/mnt/usb/my docs', '-i', '1h'] }],
    ['add', { kind: 'bad', why: 'usage: add NAME -s SRC -r DST [-i DURATION] [options]' }],
    ['add -s a -r b', { kind: 'bad', why: 'usage: add NAME -s SRC -r DST [-i DURATION] [options]' }],
    ['remove photos', { kind: 'remove', name: 'photos' }],
    ['remove', { kind: 'bad', why: 'usage: remove NAME' }],
    ['remove a b', { kind: 'bad', why: 'usage: remove NAME' }],
    ['help', { kind: 'help' }],
    ['help me', { kind: 'bad', why: 'help takes no arguments' }],
    ['quit', { kind: 'quit', word: 'quit' }],
    [' Exit ', { kind: 'quit', word: 'exit' }],
    ['Q', { kind: 'quit', word: 'q' }],
    ['quit now', { kind: 'bad', why: 'quit takes no arguments' }],
    ['launch', { kind: 'bad', why: 'unknown command "launch" (type help for the list)' }],
  ];
  for (const [line, want] of cases) it(JSON.stringify(line), () => expect(parseCommand(line)).toEqual(want));
});

describe('times for a person', () => {
  it('spans and relative moments', () => {
    expect([45_000, 60_000, 12 * 60_000 + 5_000, 3 * 3600_000, 3 * 3600_000 + 5 * 60_000, 50 * 3600_000, 48 * 3600_000].map(span)).toEqual(['45s', '1m', '12m', '3h', '3h5m', '2d2h', '2d']);
    expect(relative(1_000_000 + 12 * 60_000, 1_000_000)).toBe('in 12m');
    expect(relative(1_000_000 - 3 * 60_000, 1_000_000)).toBe('3m ago');
    expect(relative(1_000_200, 1_000_000)).toBe('now');
  });
});

describe('statusTable', () => {
  const now = 1_800_000_000_000;
  const job = (o: Partial<JobStatus> & { name: string }): JobStatus => ({ source: '/s', replica: '/r', state: 'idle', lastPass: null, lastSuccessAt: null, problem: null, nextPassAt: null, ...o });
  it('aligns one line per job under a header', () => {
    const pass = { ...emptyCounts(), copy: 3, delete: 2, errors: 1, outcome: 'errors' as const, durationMs: 10, dryRun: false, endedAt: now - 180_000 };
    const text = statusTable(
      [
        job({ name: 'photos', state: 'running', lastPass: pass, nextPassAt: now + 12 * 60_000 }),
        job({ name: 'docs', state: 'paused', nextPassAt: null }),
        job({ name: 'build-output', problem: { kind: 'locked', message: 'x' }, nextPassAt: now + 30_000 }),
      ],
      now,
    );
    expect(text.split('\n')).toEqual([
      'JOB           STATE    LAST PASS  OUTCOME          CHANGES  NEXT PASS',
      'photos        running  3m ago     errors           5        in 12m',
      'docs          paused   never      -                -        paused',
      'build-output  idle     never      not run: locked  -        in 30s',
    ]);
    expect(statusTable([], now)).toBe('no jobs');
  });
});
