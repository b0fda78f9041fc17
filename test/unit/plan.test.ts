import { describe, expect, it } from 'vitest';
import { plan } from '../../src/sync/plan.js';
import { type Entry, type HashMap, type PathIssue, type Plan, type Snapshot, hashKey } from '../../src/sync/types.js';

// A tiny builder: entries by hand, each with its own inode so nothing looks like a rename.
let nextIno = 1000;
const T = 1_700_000_000_000;

function file(path: string, size = 1, mtimeMs = T, mode = 0o644): Entry {
  return { path, kind: 'file', size, mtimeMs, ctimeMs: mtimeMs, mode, ino: nextIno++, dev: 1 };
}
function dir(path: string, mode = 0o755, mtimeMs = T): Entry {
  return { path, kind: 'dir', size: 0, mtimeMs, ctimeMs: mtimeMs, mode, ino: nextIno++, dev: 1 };
}
function link(path: string, target: string): Entry {
  return { path, kind: 'symlink', size: target.length, mtimeMs: T, ctimeMs: T, mode: 0o777, ino: nextIno++, dev: 1, target };
}
function snap(entries: Entry[], extra: { excluded?: Entry[]; issues?: PathIssue[]; root?: string } = {}): Snapshot {
  return {
    root: extra.root ?? '/x',
    entries: new Map(entries.map((e) => [e.path, e])),
    issues: extra.issues ?? [],
    excluded: new Map((extra.excluded ?? []).map((e) => [e.path, e])),
    stale: [],
    skipped: [],
  };
}

interface Case {
  readonly name: string;
  readonly src: Entry[];
  readonly rep: Entry[];
  readonly repExcluded?: Entry[];
  readonly srcIssues?: PathIssue[];
  readonly deleteExcluded?: boolean;
  readonly checksum?: boolean;
  readonly hashes?: [side: 'src' | 'rep', path: string, hash: string][];
  /** Expected actions in order: "type path" or "move from -> path". */
  readonly want: string[];
  readonly deleteCount?: number;
  readonly withheld?: boolean;
  readonly missing?: string[];
}

function run(c: Case): Plan {
  const hashes: HashMap = new Map((c.hashes ?? []).map(([side, p, h]) => [hashKey(side, p), h]));
  return plan({
    source: snap(c.src, { issues: c.srcIssues ?? [], root: '/src' }),
    replica: snap(c.rep, { excluded: c.repExcluded ?? [], root: '/rep' }),
    record: new Map(),
    hashes,
    options: { checksum: c.checksum ?? false, deleteExcluded: c.deleteExcluded ?? false, algo: 'sha256' },
  });
}

function show(p: Plan): string[] {
  return p.actions.map((a) => (a.type === 'move' ? `move ${a.from} -> ${a.path}` : `${a.type} ${a.path}`));
}

const STAGE = '.foldersync-stage-0.tmp';

const cases: Case[] = [
  { name: 'nothing to do on equal trees', src: [file('a'), dir('d')], rep: [file('a'), dir('d')], want: [] },
  { name: 'new file', src: [file('a')], rep: [], want: ['copy a'] },
  { name: 'new folder with a file, folder first', src: [dir('d'), file('d/x')], rep: [], want: ['mkdir d', 'copy d/x'] },
  { name: 'new empty nested folders, parents first', src: [dir('a/b'), dir('a')], rep: [], want: ['mkdir a', 'mkdir a/b'] },
  { name: 'new symlink', src: [link('l', 'a/b')], rep: [], want: ['symlink l'] },
  { name: 'update by size', src: [file('a', 2)], rep: [file('a', 1)], want: ['update a'] },
  { name: 'update by mtime (same size)', src: [file('a', 5, T + 1000)], rep: [file('a', 5, T)], want: ['update a'] },
  { name: 'mtime within the same millisecond is equal', src: [file('a', 5, T + 0.4)], rep: [file('a', 5, T)], want: [] },
  { name: 'file mode only: attrs, no data copied', src: [file('a', 5, T, 0o600)], rep: [file('a', 5, T, 0o644)], want: ['attrs a'] },
  { name: 'folder mtime only: attrs', src: [dir('d', 0o755, T + 5000)], rep: [dir('d', 0o755, T)], want: ['attrs d'] },
  { name: 'folder mode only: attrs', src: [dir('d', 0o555)], rep: [dir('d', 0o755)], want: ['attrs d'] },
  {
    name: 'folder attrs are fixed deepest first, after file attrs',
    src: [dir('a', 0o700), dir('a/b', 0o700), file('a/f', 1, T, 0o600)],
    rep: [dir('a'), dir('a/b'), file('a/f')],
    want: ['attrs a/f', 'attrs a/b', 'attrs a'],
  },
  { name: 'symlink retarget', src: [link('l', 'new')], rep: [link('l', 'old')], want: ['symlink l'] },
  { name: 'delete a file', src: [file('keep')], rep: [file('keep'), file('gone')], want: ['delete gone'], deleteCount: 1 },
  { name: 'delete a symlink (never followed)', src: [file('keep')], rep: [file('keep'), link('l', '/etc')], want: ['delete l'], deleteCount: 1 },
  {
    name: 'delete a tree: files first, then folders deepest first',
    src: [file('keep')],
    rep: [file('keep'), dir('t'), file('t/a', 3), dir('t/s'), file('t/s/b', 4), dir('t/s/u'), link('t/l', 'x')],
    want: ['delete t/a', 'delete t/l', 'delete t/s/b', 'rmdir t/s/u', 'rmdir t/s', 'rmdir t'],
    deleteCount: 6,
  },
  {
    name: 'file -> folder: the file is deleted before the folder is made',
    src: [dir('x'), file('x/y', 2)],
    rep: [file('x', 1)],
    want: ['delete x', 'mkdir x', 'copy x/y'],
  },
  {
    name: 'folder -> file: the folder is set aside, the file put in place, the old tree removed',
    src: [file('x', 1)],
    rep: [dir('x'), file('x/y', 2)],
    want: [`move x -> ${STAGE}`, 'update x', `delete ${STAGE}/y`, `rmdir ${STAGE}`],
  },
  { name: 'file -> symlink: replaced atomically by the link', src: [link('a', 't')], rep: [file('a', 3)], want: ['symlink a'] },
  { name: 'symlink -> file: replaced atomically by the copy', src: [file('a', 3)], rep: [link('a', 't')], want: ['update a'] },
  {
    name: 'symlink -> folder: the link is deleted, never followed',
    src: [dir('a'), file('a/f', 2)],
    rep: [link('a', '/somewhere')],
    want: ['delete a', 'mkdir a', 'copy a/f'],
  },
  {
    name: 'folder -> symlink: the folder is set aside and removed after',
    src: [link('a', 'elsewhere')],
    rep: [dir('a'), file('a/f', 2)],
    want: [`move a -> ${STAGE}`, 'symlink a', `delete ${STAGE}/f`, `rmdir ${STAGE}`],
  },
  {
    name: 'phases in order: mkdir, copies and links, deletes, attrs',
    src: [dir('n'), file('n/f', 2), file('u', 9), link('l', 'x'), file('m', 1, T, 0o600), dir('old2', 0o700)],
    rep: [file('u', 8), file('m', 1), file('z'), dir('old'), dir('old2')],
    want: ['mkdir n', 'copy n/f', 'update u', 'symlink l', 'delete z', 'rmdir old', 'attrs m', 'attrs old2'],
  },
  { name: 'excluded replica entries are kept', src: [file('a')], rep: [file('a')], repExcluded: [file('x.log'), dir('cache')], want: [] },
  {
    name: 'excluded replica entries are deleted with --delete-excluded',
    src: [file('a')],
    rep: [file('a')],
    repExcluded: [file('x.log'), dir('cache')],
    deleteExcluded: true,
    want: ['delete cache', 'delete x.log'],
    deleteCount: 2,
  },
  {
    name: 'a folder holding an excluded entry is not removed',
    src: [file('a')],
    rep: [file('a'), dir('d'), file('d/k'), dir('d/e')],
    repExcluded: [file('d/e/x.log')],
    want: ['delete d/k'],
  },
  {
    name: '...unless the excluded entry goes too',
    src: [file('a')],
    rep: [file('a'), dir('d'), file('d/k')],
    repExcluded: [file('d/x.log')],
    deleteExcluded: true,
    want: ['delete d/x.log', 'delete d/k', 'rmdir d'],
  },
  {
    name: 'deletes are withheld when the source listing is incomplete; copies still happen',
    src: [dir('ok'), file('ok/new')],
    rep: [dir('ok'), file('gone'), dir('unreadable'), file('unreadable/f')],
    srcIssues: [{ path: 'unreadable', op: 'readdir', message: 'permission denied (EACCES)', code: 'EACCES' }],
    want: ['copy ok/new'],
    deleteCount: 0,
    withheld: true,
  },
  {
    name: 'checksum: missing hashes are requested, nothing decided yet',
    src: [file('a', 4)],
    rep: [file('a', 4)],
    checksum: true,
    want: [],
    missing: ['src a', 'rep a'],
  },
  {
    name: 'checksum: equal hashes, nothing to do',
    src: [file('a', 4)],
    rep: [file('a', 4)],
    checksum: true,
    hashes: [
      ['src', 'a', 'h1'],
      ['rep', 'a', 'h1'],
    ],
    want: [],
    missing: [],
  },
  {
    name: 'checksum: different hashes with equal size and mtime, update',
    src: [file('a', 4)],
    rep: [file('a', 4)],
    checksum: true,
    hashes: [
      ['src', 'a', 'h1'],
      ['rep', 'a', 'h2'],
    ],
    want: ['update a'],
    missing: [],
  },
  {
    name: 'without checksum, equal size and mtime are trusted (no hash asked)',
    src: [file('a', 4)],
    rep: [file('a', 4)],
    want: [],
    missing: [],
  },
  {
    name: 'same accented name in NFC and NFD: two distinct paths',
    src: [file('caf\u00e9', 1), file('cafe\u0301', 2)],
    rep: [file('caf\u00e9', 1)],
    want: ['copy cafe\u0301'],
  },
];

describe('plan() from a table', () => {
  it.each(cases)('$name', (c) => {
    const p = run(c);
    expect(show(p)).toEqual(c.want);
    if (c.deleteCount !== undefined) expect(p.deleteCount).toBe(c.deleteCount);
    expect(p.deletesWithheld).toBe(c.withheld ?? false);
    if (c.missing !== undefined) expect(p.missing.map((m) => `${m.side} ${m.path}`).sort()).toEqual([...c.missing].sort());
  });

  it('is pure: the same input gives the same plan', () => {
    const c = cases.find((x) => x.name.startsWith('phases'))!;
    expect(show(run(c))).toEqual(show(run(c)));
  });

  it('staged moves are marked as such, and tree deletes keep their scan path', () => {
    const p = run(cases.find((x) => x.name.startsWith('folder -> file'))!);
    const stage = p.actions[0]!;
    expect(stage.type === 'move' && stage.stage).toBe(true);
    const del = p.actions.find((a) => a.type === 'delete')!;
    expect(del.type === 'delete' && del.orig).toBe('x/y');
  });
});
