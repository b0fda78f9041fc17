// plan() under filesystem rules (src/sync/fs-rules.ts): the modify window, modes not kept,
// exactSource (the record's exact source mtime inside an automatic window), case-only renames on
// a folding replica, and source inodes not trusted after a remount (srcIno false).
import { describe, expect, it } from 'vitest';
import { EXACT_RULES, type FsRules } from '../../src/sync/fs-rules.js';
import { plan } from '../../src/sync/plan.js';
import { type Entry, type FileRecord, type Plan, type RecordEntry, type Snapshot, hashKey } from '../../src/sync/types.js';

// Entries by hand, each with its own inode unless one is given, so nothing looks like a rename.
let nextIno = 1000;
const T = 1_700_000_000_000;

function file(path: string, size = 5, mtimeMs = T, mode = 0o644, ino = nextIno++): Entry {
  return { path, kind: 'file', size, mtimeMs, ctimeMs: mtimeMs + 7, mode, ino, dev: 1 };
}
function dir(path: string, mode = 0o755, mtimeMs = T): Entry {
  return { path, kind: 'dir', size: 0, mtimeMs, ctimeMs: mtimeMs, mode, ino: nextIno++, dev: 1 };
}
function snap(entries: Entry[], root: string): Snapshot {
  return { root, entries: new Map(entries.map((e) => [e.path, e])), issues: [], excluded: new Map(), stale: [], skipped: [] };
}
/** The record line foldersync would have written after mirroring `s` to `r` (source mtime kept). */
function line(s: Entry, r: Entry, extra: Partial<RecordEntry> = {}): RecordEntry {
  return { kind: s.kind, size: s.size, mtimeMs: s.mtimeMs, mode: s.mode, rIno: r.ino, rCtimeMs: r.ctimeMs, sIno: s.ino, sDev: s.dev, sCtimeMs: s.ctimeMs, ...extra };
}

interface Case {
  readonly name: string;
  readonly src: Entry[];
  readonly rep: Entry[];
  readonly record?: [path: string, line: RecordEntry][];
  readonly rules?: Partial<FsRules>;
  /** Expected actions in order: "type path", or "move from -> path" with " (name only)" for nameOnly moves. */
  readonly want: string[];
}

function run(c: Case): Plan {
  return plan({
    source: snap(c.src, '/src'),
    replica: snap(c.rep, '/rep'),
    record: new Map(c.record ?? []) as FileRecord,
    hashes: new Map(),
    options: { checksum: false, deleteExcluded: false, algo: 'sha256' },
    rules: { ...EXACT_RULES, ...c.rules },
  });
}

function show(p: Plan): string[] {
  return p.actions.map((a) => (a.type === 'move' ? `move ${a.from} -> ${a.path}${a.nameOnly ? ' (name only)' : ''}` : `${a.type} ${a.path}`));
}

const lower = (p: string): string => p.toLowerCase();

/** A source file renamed from `old` to `new` (same inode), its replica copy still at `old` as the record says. */
function renamedSource(): { src: Entry[]; rep: Entry[]; record: [string, RecordEntry][] } {
  const s = file('new', 9, T, 0o644, 4242);
  const r = file('old', 9, T, 0o644, 7777);
  return { src: [s], rep: [r], record: [['old', line({ ...s, path: 'old' }, r)]] };
}

/** Source edited 300 ms after the copy; the replica (2 s steps) holds the copy's rounded mtime. */
function editedInsideWindow(recordedSrcMtime: number): { src: Entry[]; rep: Entry[]; record: [string, RecordEntry][] } {
  const s = file('a', 5, T + 300, 0o644, 5001);
  const r = file('a', 5, T, 0o644, 6001);
  return { src: [s], rep: [r], record: [['a', line(s, r, { mtimeMs: recordedSrcMtime })]] };
}

const cases: Case[] = [
  // The modify window.
  { name: 'window 2 s: replica 1.5 s newer is equal', src: [file('a', 5, T)], rep: [file('a', 5, T + 1500)], rules: { windowMs: 2000 }, want: [] },
  { name: 'window 2 s: replica 1.5 s older is equal', src: [file('a', 5, T)], rep: [file('a', 5, T - 1500)], rules: { windowMs: 2000 }, want: [] },
  { name: 'window 2 s: replica 2.5 s off is an update', src: [file('a', 5, T)], rep: [file('a', 5, T + 2500)], rules: { windowMs: 2000 }, want: ['update a'] },
  { name: 'window 2 s: a size difference is an update whatever the mtime', src: [file('a', 6, T)], rep: [file('a', 5, T)], rules: { windowMs: 2000 }, want: ['update a'] },
  { name: 'no window: 1.5 s off is an update', src: [file('a', 5, T)], rep: [file('a', 5, T + 1500)], want: ['update a'] },
  { name: 'window 2 s: a folder 1.5 s off needs no attrs', src: [dir('d', 0o755, T)], rep: [dir('d', 0o755, T + 1500)], rules: { windowMs: 2000 }, want: [] },
  { name: 'window 2 s: a folder 2.5 s off gets attrs', src: [dir('d', 0o755, T)], rep: [dir('d', 0o755, T + 2500)], rules: { windowMs: 2000 }, want: ['attrs d'] },

  // Permission bits.
  { name: 'modes kept: a mode difference is attrs', src: [file('a', 5, T, 0o600)], rep: [file('a', 5, T, 0o644)], want: ['attrs a'] },
  { name: 'modes:false: a file mode difference is no action', src: [file('a', 5, T, 0o600)], rep: [file('a', 5, T, 0o644)], rules: { modes: false }, want: [] },
  { name: 'modes:false: a folder mode difference is no action', src: [dir('d', 0o700)], rep: [dir('d', 0o755)], rules: { modes: false }, want: [] },
  { name: 'modes:false: a folder mtime difference still is attrs', src: [dir('d', 0o700, T + 5000)], rep: [dir('d', 0o755, T)], rules: { modes: false }, want: ['attrs d'] },
  { name: 'modes:false: content differences still update', src: [file('a', 6, T, 0o600)], rep: [file('a', 5, T, 0o644)], rules: { modes: false }, want: ['update a'] },

  // exactSource: the record's exact source mtime catches an edit inside an automatic window.
  { name: 'exactSource: a source edited 300 ms after the copy is an update', ...editedInsideWindow(T), rules: { windowMs: 2000, exactSource: true }, want: ['update a'] },
  { name: 'without exactSource the same edit is inside the window', ...editedInsideWindow(T), rules: { windowMs: 2000 }, want: [] },
  {
    name: 'exactSource: a source mtime as recorded, replica rounded within the window, is equal',
    ...editedInsideWindow(T + 300),
    rules: { windowMs: 2000, exactSource: true },
    want: [],
  },

  // Case-only renames on a folding replica.
  { name: 'fold: a case-only rename is one move, nothing deleted', src: [file('README.txt')], rep: [file('readme.TXT')], rules: { fold: lower }, want: ['move readme.TXT -> README.txt (name only)'] },
  { name: 'no fold: a copy and a delete', src: [file('README.txt')], rep: [file('readme.TXT')], want: ['copy README.txt', 'delete readme.TXT'] },
  {
    name: 'fold: a folder renamed in case moves once, its files with it',
    src: [dir('docs'), file('docs/a.txt'), file('docs/b.txt')],
    rep: [dir('Docs'), file('Docs/a.txt'), file('Docs/b.txt')],
    rules: { fold: lower },
    want: ['move Docs -> docs (name only)'],
  },
  {
    name: 'fold: a case-only rename of an edited file is moved, then updated',
    src: [file('README.txt', 6)],
    rep: [file('readme.TXT', 5)],
    rules: { fold: lower },
    want: ['move readme.TXT -> README.txt (name only)', 'update README.txt'],
  },
  {
    name: 'fold: a spelling already right is left alone',
    src: [file('README.txt')],
    rep: [file('README.txt')],
    rules: { fold: lower },
    want: [],
  },

  // Source inode numbers after a remount.
  { name: 'srcIno: a source file whose inode the record knew at another path is moved', ...renamedSource(), want: ['move old -> new'] },
  { name: 'srcIno false: the same file is not moved by identity', ...renamedSource(), rules: { srcIno: false }, want: ['copy new', 'delete old'] },
];

describe('plan() under filesystem rules, from a table', () => {
  it.each(cases)('$name', (c) => {
    expect(show(run(c))).toEqual(c.want);
  });

  it('a case-only rename carries nameOnly, the source entry, and no delete', () => {
    const p = run(cases.find((c) => c.name.startsWith('fold: a case-only rename is'))!);
    expect(p.actions).toHaveLength(1);
    const m = p.actions[0]!;
    expect(m.type).toBe('move');
    if (m.type !== 'move') return;
    expect(m).toMatchObject({ from: 'readme.TXT', path: 'README.txt', kind: 'file', nameOnly: true });
    expect(m.src.path).toBe('README.txt');
    expect(m.stage).toBeUndefined();
    expect(p.deleteCount).toBe(0);
  });

  it('srcIno false: with no hashes to match by content, it asks for them instead of guessing', () => {
    const p = run(cases.find((c) => c.name.startsWith('srcIno false'))!);
    expect(p.missing.map((m) => `${m.side} ${m.path}`).sort()).toEqual(['rep old', 'src new']);
    const byId = run(cases.find((c) => c.name.startsWith('srcIno: a source'))!);
    expect(byId.missing).toEqual([]);
  });

  it('srcIno false: a content match still finds the rename once the hashes are known', () => {
    const c = cases.find((x) => x.name.startsWith('srcIno false'))!;
    const p = plan({
      source: snap(c.src, '/src'),
      replica: snap(c.rep, '/rep'),
      record: new Map(c.record ?? []),
      hashes: new Map([
        [hashKey('src', 'new'), 'h1'],
        [hashKey('rep', 'old'), 'h1'],
      ]),
      options: { checksum: false, deleteExcluded: false, algo: 'sha256' },
      rules: { ...EXACT_RULES, srcIno: false },
    });
    expect(show(p)).toEqual(['move old -> new']);
  });
});

describe('plan() where folders cannot be renamed (fusefat) and on folding replicas', () => {
  it('a source folder renamed (inode kept, recorded) becomes file moves, mkdir and rmdir, never a folder move', () => {
    const sd = dir('new');
    const sf = file('new/f', 9, T, 0o644, 5151);
    const rd = dir('old');
    const rf = file('old/f', 9, T, 0o644, 6161);
    const record: [string, RecordEntry][] = [
      ['old', line({ ...sd, path: 'old' }, rd)],
      ['old/f', line({ ...sf, path: 'old/f' }, rf)],
    ];
    const withRenames = show(run({ name: '', src: [sd, sf], rep: [rd, rf], record, want: [] }));
    expect(withRenames).toContain('move old -> new');
    const without = show(run({ name: '', src: [sd, sf], rep: [rd, rf], record, rules: { folderRenames: false }, want: [] }));
    expect(without.filter((a) => a.startsWith('move'))).toEqual(['move old/f -> new/f']);
    expect(without).toContain('mkdir new');
    expect(without).toContain('rmdir old');
  });

  it('a folder standing where a file must go is deleted whole, not set aside under a temp name', () => {
    const s = file('x', 3);
    const rd = dir('x');
    const rf = file('x/inner', 4);
    const withRenames = show(run({ name: '', src: [s], rep: [rd, rf], want: [] }));
    expect(withRenames.some((a) => a.includes('.foldersync-stage-'))).toBe(true);
    const without = run({ name: '', src: [s], rep: [rd, rf], rules: { folderRenames: false }, want: [] });
    expect(show(without).some((a) => a.includes('.foldersync-stage-'))).toBe(false);
    expect(without.actions[0]).toMatchObject({ type: 'delete', path: 'x', kind: 'dir', recursive: true });
    expect(show(without)).toContain('update x');
  });

  it('on a folding replica, a replica path that folds onto a source path is never deleted as extra', () => {
    const sd = dir('Photos');
    const rd = dir('photos');
    const p = run({ name: '', src: [sd], rep: [rd], rules: { folderRenames: false, fold: lower }, want: [] });
    expect(show(p).filter((a) => a.startsWith('rmdir') || a.startsWith('delete'))).toEqual([]);
  });

  it('kept replica paths (a case conflict the engine reported) are left alone with everything below them', () => {
    const rd = dir('photos');
    const rf = file('photos/a.jpg');
    const p = plan({
      source: snap([], '/src'),
      replica: snap([rd, rf], '/rep'),
      record: new Map() as FileRecord,
      hashes: new Map(),
      options: { checksum: false, deleteExcluded: false, algo: 'sha256' },
      rules: { ...EXACT_RULES, folderRenames: false, fold: lower },
      kept: ['photos'],
    });
    expect(p.actions).toEqual([]);
    expect(p.deletesWithheld).toBe(false);
  });
});
