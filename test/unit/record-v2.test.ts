import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { cmpWalk, parentOf } from '../../src/sync/paths.js';
import { type RecordReader, RecordStore, type RecordTuning } from '../../src/sync/record.js';
import type { RecordEntry } from '../../src/sync/types.js';
import { cleanupTemps, tempDir } from '../helpers/tree.js';
import { sampleEntry } from '../helpers/record.js';

afterEach(cleanupTemps);

const SRC = '/tmp/source-of-test';
const REP = '/tmp/replica-of-test';

const entry = sampleEntry;

/** The base order: folders by cmpWalk, then names by code unit. */
function baseOrder(a: string, b: string): number {
  const byDir = cmpWalk(parentOf(a), parentOf(b));
  if (byDir !== 0) return byDir;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Every folder that holds an entry of `paths`, in walk order. */
function foldersOf(paths: Iterable<string>): string[] {
  return [...new Set([...paths].map(parentOf))].sort(cmpWalk);
}

/** Reads the whole record through folder(), asking every `ask`-th folder and letting the others pass: [path, entry, how] in reading order. */
function walk(r: RecordReader, folders: string[], ask: (i: number) => boolean): [string, RecordEntry, 'folder' | 'passed'][] {
  const out: [string, RecordEntry, 'folder' | 'passed'][] = [];
  const passed = (p: string, e: RecordEntry): void => {
    out.push([p, e, 'passed']);
  };
  folders.forEach((dir, i) => {
    if (!ask(i)) return;
    for (const [name, e] of r.folder(dir, passed)) out.push([dir === '' ? name : `${dir}/${name}`, e, 'folder']);
  });
  r.finish(passed);
  return out;
}

/** Entries through JSON and back: the record keeps no undefined fields. */
function plain(m: Map<string, RecordEntry>): Map<string, RecordEntry> {
  return new Map([...m].map(([k, v]) => [k, JSON.parse(JSON.stringify(v)) as RecordEntry]));
}

/** Names that sort in surprising ways next to one another, or that need escaping. */
const TREE: string[] = [
  'a',
  'a b',
  'a.txt',
  'a/x',
  'a/x/deep',
  'a/y',
  'a b/inner',
  'a.txt-dir/z',
  'b',
  '\u00e9t\u00e9',
  'e\u0301te\u0301',
  'e\u0301te\u0301/child',
  'emoji 😀/file',
  'lone\ud800surrogate',
  'new\nline/in\nfolder',
  '~tilde',
  ' lead',
  'A',
  'a/x/deep/deeper/deepest',
];

describe('record format 2: the base is in walk order', () => {
  it('writes groups by folder in cmpWalk order and names in code-unit order', async () => {
    const file = path.join(tempDir(), 'r.record');
    const { store } = await RecordStore.load(file, SRC, REP);
    for (const [i, p] of [...TREE].reverse().entries()) store.set(p, entry(i));
    await store.commit();
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    expect(JSON.parse(lines[0]!)).toEqual({ foldersync: 2, source: SRC, replica: REP, entries: TREE.length });
    const groups: string[] = [];
    const order: string[] = [];
    for (const l of lines.slice(1)) {
      const a = JSON.parse(l) as unknown[];
      if (a[0] === '/' && a.length === 2) groups.push(a[1] as string);
      else order.push(groups.at(-1) === '' ? (a[0] as string) : `${groups.at(-1)}/${a[0] as string}`);
    }
    expect(groups).toEqual(foldersOf(TREE));
    expect(order).toEqual([...TREE].sort(baseOrder));
  });

  it('folder() hands each folder its entries, passed() those of folders not asked, finish() the rest, all in walk order', async () => {
    const file = path.join(tempDir(), 'r.record');
    const { store } = await RecordStore.load(file, SRC, REP);
    for (const [i, p] of TREE.entries()) store.set(p, entry(i));
    await store.commit();
    const want = new Map(TREE.map((p, i) => [p, entry(i)]));
    const folders = foldersOf(TREE);
    // 'emoji' before 'e\u0301te\u0301': code units, 'm' (0x6d) < U+0301.
    expect(folders).toEqual(['', 'a', 'a/x', 'a/x/deep/deeper', 'a b', 'a.txt-dir', 'emoji 😀', 'e\u0301te\u0301', 'new\nline']);
    for (const every of [1, 2, 3, 1000]) {
      const got = walk(store.reader(), folders, (i) => i % every === 0);
      expect(new Map(got.map(([p, e]) => [p, e]))).toEqual(want);
      expect(got.map(([p]) => p)).toEqual([...TREE].sort(baseOrder));
      for (const [p, , how] of got) expect(how === 'folder').toBe(folders.indexOf(parentOf(p)) % every === 0);
    }
    // Folders that hold nothing may be asked too (the walk asks every folder it lists).
    const r = store.reader();
    const passed: string[] = [];
    expect([...r.folder('', (p) => passed.push(p)).keys()]).toEqual([' lead', 'A', 'a', 'a b', 'a.txt', 'b', 'e\u0301te\u0301', 'lone\ud800surrogate', '~tilde', '\u00e9t\u00e9']);
    expect([...r.folder('a', (p) => passed.push(p)).keys()]).toEqual(['x', 'y']);
    expect(r.folder('a/nothing', (p) => passed.push(p)).size).toBe(0);
    expect([...r.folder('a.txt-dir', (p) => passed.push(p)).keys()]).toEqual(['z']);
    expect(passed).toEqual(['a/x/deep', 'a/x/deep/deeper/deepest', 'a b/inner']);
    expect(() => r.folder('a', () => undefined)).toThrow(/walk order/);
    r.close();
  });

  it('subtree() yields a folder and everything below it, skipping the rest', async () => {
    const file = path.join(tempDir(), 'r.record');
    const { store } = await RecordStore.load(file, SRC, REP);
    for (const [i, p] of TREE.entries()) store.set(p, entry(i));
    await store.commit();
    store.set('a/x/new', entry(100)); // in the journal: laid over the base
    store.delete('a/y');
    const r = store.reader();
    expect([...r.subtree('a')].map(([p]) => p)).toEqual(['a/x', 'a/x/deep', 'a/x/new', 'a/x/deep/deeper/deepest']);
    expect([...r.subtree('e\u0301te\u0301')].map(([p]) => p)).toEqual(['e\u0301te\u0301/child']);
    expect([...r.subtree('new\nline')].map(([p]) => p)).toEqual(['new\nline/in\nfolder']);
    expect(() => r.folder('zzz', () => undefined)).toThrow(/mix/);
    r.close();
    const all = store.reader();
    expect([...all.subtree('')].map(([p]) => p).sort()).toEqual([...TREE.filter((p) => p !== 'a/y'), 'a/x/new'].sort());
    all.close();
  });
});

describe('record format 2: the journal laid over the base', () => {
  /** The record after: put in a new folder, delete, overwrite, re-put of a deleted path. */
  async function changed(file: string, tuning?: RecordTuning): Promise<{ store: RecordStore; want: Map<string, RecordEntry> }> {
    const { store } = await RecordStore.load(file, SRC, REP, tuning);
    const want = new Map(TREE.map((p, i) => [p, entry(i)]));
    for (const [p, e] of want) store.set(p, e);
    await store.commit();
    const changes: [string, RecordEntry | null][] = [
      ['brand/new/folder/file', entry(200)], // folders the base does not have
      ['a/x/aa', entry(201)], // between existing names
      ['a/x/deep', null], // a delete hides the base entry
      ['a b', entry(202, { kind: 'dir' })], // overwrite
      ['0 first', entry(203)], // before every root name
      ['\uffff last', entry(204)],
      ['not/there', null], // a delete of an unknown path is harmless
      ['b', null],
      ['b', entry(205)], // deleted, then put again
      ['a.txt', entry(206)],
      ['a.txt', null], // put, then deleted
    ];
    for (const [p, e] of changes) {
      if (e) {
        store.set(p, e);
        want.set(p, e);
      } else {
        store.delete(p);
        want.delete(p);
      }
    }
    return { store, want };
  }

  it('in memory, from the journal file, and after a compaction', async () => {
    const file = path.join(tempDir(), 'r.record');
    const { store, want } = await changed(file);
    const check = (s: RecordStore): void => {
      expect(plain(s.readAll())).toEqual(plain(want));
      const got = walk(s.reader(), foldersOf(want.keys()), () => true);
      expect(got.map(([p]) => p)).toEqual([...want.keys()].sort(baseOrder));
      expect(s.size).toBe(want.size); // exact once the changed folders were read
      expect(s.takeWarning()).toBeUndefined();
    };
    check(store);
    const base = readFileSync(file);
    await store.commit();
    expect(readFileSync(file).equals(base)).toBe(true); // journalled, not rewritten
    const reloaded = await RecordStore.load(file, SRC, REP);
    expect(reloaded.warning).toBeUndefined();
    check(reloaded.store);
    const compacting = await RecordStore.load(file, SRC, REP, { journalMin: 1 });
    await compacting.store.commit();
    expect(existsSync(`${file}.journal`)).toBe(false);
    check(compacting.store);
    check((await RecordStore.load(file, SRC, REP)).store);
  });

  it('a reader sees the record as it was when made, while changes go on', async () => {
    const file = path.join(tempDir(), 'r.record');
    const { store, want } = await changed(file);
    const r = store.reader();
    store.set('a/x/later', entry(300));
    store.delete('brand/new/folder/file');
    store.set('zz/new folder', entry(301));
    const got = walk(r, foldersOf(want.keys()), () => true);
    expect(new Map(got.map(([p, e]) => [p, e]))).toEqual(want);
  });

  it('a crash between the compaction rename and the journal removal leaves the same content', async () => {
    const d = tempDir();
    const file = path.join(d, 'r.record');
    const { store, want } = await changed(file);
    await store.checkpoint();
    const journal = `${file}.journal`;
    copyFileSync(journal, `${d}/journal.copy`);
    const compacting = await RecordStore.load(file, SRC, REP, { journalMin: 1 });
    await compacting.store.commit();
    expect(existsSync(journal)).toBe(false);
    // The journal as the crash would have left it, next to the new base.
    copyFileSync(`${d}/journal.copy`, journal);
    const after = await RecordStore.load(file, SRC, REP);
    expect(after.warning).toBeUndefined();
    expect(plain(after.store.readAll())).toEqual(plain(want));
    expect(after.store.takeWarning()).toBeUndefined();
    // And the record goes on from there: more changes, a compaction, the same again.
    after.store.set('after/crash', entry(400));
    want.set('after/crash', entry(400));
    await after.store.commit();
    expect(plain((await RecordStore.load(file, SRC, REP)).store.readAll())).toEqual(plain(want));
  });
});

describe('record format 2: damage found while reading', () => {
  it('a damaged line mid-base: the entries before it are kept, a warning is taken once, the next commit rewrites', async () => {
    const file = path.join(tempDir(), 'r.record');
    const { store } = await RecordStore.load(file, SRC, REP);
    const paths = Array.from({ length: 30 }, (_, i) => `d${Math.floor(i / 10)}/f${String(i % 10).padStart(2, '0')}`);
    for (const [i, p] of paths.entries()) store.set(p, entry(i));
    await store.commit();
    const lines = readFileSync(file, 'utf8').split('\n');
    // Line 1 header, 2 group d0, 3..12 its entries, 13 group d1, 14 = d1/f00, 15 = d1/f01.
    expect(JSON.parse(lines[12]!)).toEqual(['/', 'd1']);
    lines[14] = `${lines[14]!.slice(0, 20)}#garbage`;
    writeFileSync(file, lines.join('\n'));

    const loaded = await RecordStore.load(file, SRC, REP);
    expect(loaded.warning).toBeUndefined(); // the header and journal are all a load reads
    const s = loaded.store;
    s.set('d2/new', entry(99)); // a journal change past the damage still shows
    const got = walk(s.reader(), foldersOf([...paths, 'd2/new']), () => true);
    expect(got.map(([p]) => p)).toEqual([...paths.slice(0, 11), 'd2/new']);
    expect(s.takeWarning()).toBe(`record ${file} is damaged at line 15; keeping the entries before it and rebuilding the rest`);
    expect(s.takeWarning()).toBeUndefined();
    // Read again: the same entries, and no second warning.
    expect([...s.readAll().keys()].sort()).toEqual([...paths.slice(0, 11), 'd2/new'].sort());
    expect(s.takeWarning()).toBeUndefined();
    expect(s.size).toBe(12);
    const ino = statSync(file).ino;
    await s.commit(); // a single change, but the base is damaged: rewritten
    expect(statSync(file).ino).not.toBe(ino);
    const healed = await RecordStore.load(file, SRC, REP);
    expect([...healed.store.readAll().keys()].sort()).toEqual([...paths.slice(0, 11), 'd2/new'].sort());
    expect(healed.store.takeWarning()).toBeUndefined();
  });

  it('a name out of order within a folder is damage too', async () => {
    const file = path.join(tempDir(), 'r.record');
    const { store } = await RecordStore.load(file, SRC, REP);
    for (const [i, p] of ['a', 'b', 'c', 'd'].entries()) store.set(p, entry(i));
    await store.commit();
    const lines = readFileSync(file, 'utf8').split('\n');
    [lines[3], lines[4]] = [lines[4]!, lines[3]!]; // b and c swapped
    writeFileSync(file, lines.join('\n'));
    const { store: s } = await RecordStore.load(file, SRC, REP);
    expect([...s.readAll().keys()]).toEqual(['a', 'c']);
    expect(s.takeWarning()).toMatch(/damaged at line 5;/);
  });

  it('a base removed under a running store is rebuilt from memory at the next save', async () => {
    const file = path.join(tempDir(), 'r.record');
    const { store } = await RecordStore.load(file, SRC, REP);
    store.set('a', entry(1));
    await store.commit();
    store.set('b', entry(2));
    await store.checkpoint();
    writeFileSync(file, 'not a record\n');
    expect([...store.readAll().keys()]).toEqual(['b']);
    expect(store.takeWarning()).toMatch(/damaged at line 1/);
    store.set('c', entry(3));
    await store.checkpoint(); // no usable base: a whole new one, never a journal on top of garbage
    expect([...(await RecordStore.load(file, SRC, REP)).store.readAll().keys()]).toEqual(['b', 'c']);
  });
});

describe('record format 2: a hard stop while a save is under way', () => {
  /** Starts `save`, lets it get going, then records one more change and flushes synchronously, as a hard stop does. */
  async function stopDuring(store: RecordStore, save: Promise<void>): Promise<void> {
    await new Promise((r) => setTimeout(r, 5));
    store.set('during', entry(999));
    store.flushSync();
    await save.catch(() => undefined);
  }

  it('during the first save (a whole base): the flushed base stands, with every change', async () => {
    const file = path.join(tempDir(), 'r.record');
    const { store } = await RecordStore.load(file, SRC, REP);
    for (let i = 0; i < 50_000; i++) store.set(`d${i % 10}/f${i}`, entry(i));
    await stopDuring(store, store.commit());
    const { store: again, warning } = await RecordStore.load(file, SRC, REP);
    expect(warning).toBeUndefined();
    const all = again.readAll();
    expect(all.size).toBe(50_001);
    expect(all.get('during')).toEqual(entry(999));
    expect(again.takeWarning()).toBeUndefined();
  });

  it('during a compaction: the flushed journal is kept and read over whichever base won', async () => {
    const file = path.join(tempDir(), 'r.record');
    const { store } = await RecordStore.load(file, SRC, REP, { journalMin: 1 });
    for (let i = 0; i < 50_000; i++) store.set(`d${i % 10}/f${i}`, entry(i));
    await store.commit();
    for (let i = 0; i < 50_000; i += 2) store.set(`d${i % 10}/f${i}`, entry(i, { size: 1 }));
    await stopDuring(store, store.commit());
    const { store: again, warning } = await RecordStore.load(file, SRC, REP);
    expect(warning).toBeUndefined();
    const all = again.readAll();
    expect(all.size).toBe(50_001);
    expect(all.get('during')).toEqual(entry(999));
    expect(all.get('d2/f2')?.size).toBe(1);
    expect(all.get('d3/f3')?.size).toBe(21);
    // Nothing is lost either when the store goes on after the stop.
    store.set('after', entry(1000));
    await store.commit();
    const third = (await RecordStore.load(file, SRC, REP)).store.readAll();
    expect(third.size).toBe(50_002);
    expect(third.get('during')).toEqual(entry(999));
  });
});

describe('record format 2: migration from format 1', () => {
  it('reads a format-1 file once and writes it as a sorted base', async () => {
    const d = tempDir();
    const file = path.join(d, 'r.record');
    const names = ['z', 'new\nline', 'lone\ud800surrogate', 'dir/sub dir/deep;file\n', 'a/b', 'a', 'a b', 'emoji 😀', '["+","x"]', '{"foldersync":1}'];
    const want = new Map<string, RecordEntry>();
    const v1: string[] = [JSON.stringify({ foldersync: 1, source: SRC, replica: REP })];
    const put = (p: string, e: RecordEntry): void => {
      v1.push(JSON.stringify(['+', p, e.kind[0], e.size, e.mtimeMs, e.mode, e.rIno, e.rCtimeMs, e.sIno, e.sDev, e.sCtimeMs, e.hash ?? 0, e.algo ?? 0, e.target ?? 0]));
      want.set(p, e);
    };
    for (const [i, n] of names.entries()) put(n, entry(i));
    put('link\n', { kind: 'symlink', size: 0, mtimeMs: 1.5, mode: 0o777, rIno: 1, rCtimeMs: 2, sIno: 3, sDev: 0, sCtimeMs: 5, target: 'tar\nget' });
    put('md5', entry(50, { hash: 'd41d8cd98f00b204e9800998ecf8427e', algo: 'md5' }));
    put('z', entry(60)); // a later put wins
    v1.push(JSON.stringify(['-', 'a b']));
    want.delete('a b');
    v1.push(JSON.stringify(['-', 'never there']));
    writeFileSync(file, `${v1.join('\n')}\n`);
    writeFileSync(`${file}.journal`, `${JSON.stringify(['+', 'stale', 'f', 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0])}\n`); // not format 1's

    const { store, warning, info } = await RecordStore.load(file, SRC, REP);
    expect(warning).toBeUndefined();
    expect(info).toBe(`record ${file} migrated to format 2 (${want.size} entries)`);
    expect(existsSync(`${file}.journal`)).toBe(false);
    expect(existsSync(`${file}.tmp`)).toBe(false);
    expect(JSON.parse(readFileSync(file, 'utf8').split('\n')[0]!)).toEqual({ foldersync: 2, source: SRC, replica: REP, entries: want.size });
    expect(plain(store.readAll())).toEqual(plain(want));
    expect(store.size).toBe(want.size);
    const again = await RecordStore.load(file, SRC, REP);
    expect(again.info).toBeUndefined();
    expect(again.warning).toBeUndefined();
    expect(plain(again.store.readAll())).toEqual(plain(want));
    expect(walk(again.store.reader(), foldersOf(want.keys()), () => true).map(([p]) => p)).toEqual([...want.keys()].sort(baseOrder));
  });

  it('a damaged format-1 file keeps the entries before the damage', async () => {
    const file = path.join(tempDir(), 'r.record');
    const lines = [JSON.stringify({ foldersync: 1, source: SRC, replica: REP })];
    for (let i = 0; i < 5; i++) lines.push(JSON.stringify(['+', `p${i}`, 'f', i, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]));
    lines.splice(4, 0, 'garbage');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const { store, warning, info } = await RecordStore.load(file, SRC, REP);
    expect(warning).toMatch(/damaged at line 5/);
    expect(info).toMatch(/migrated to format 2 \(3 entries\)/);
    expect([...store.readAll().keys()]).toEqual(['p0', 'p1', 'p2']);
  });
});

describe('record format 2: random changes against a Map', () => {
  /** One step of the property: a change, a save, or the store dropped and loaded again. */
  type Op =
    | { op: 'set'; path: string; v: number }
    | { op: 'delete'; path: string }
    | { op: 'checkpoint' | 'commit' | 'flush' | 'reload' | 'crash' | 'read' };

  const name = fc.constantFrom('a', 'a b', 'a.txt', 'b', 'A', '\u00e9', 'e\u0301', 'x\ny', '\ud800', '😀', ' ', '~');
  const pathArb = fc.array(name, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('/'));
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 10, arbitrary: fc.record({ op: fc.constant('set' as const), path: pathArb, v: fc.nat(1000) }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('delete' as const), path: pathArb }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constantFrom('checkpoint' as const, 'commit' as const, 'flush' as const, 'reload' as const, 'crash' as const, 'read' as const) }) },
  );

  it('readAll and a folder()-walk equal the model through checkpoints, commits, reloads and crashes', async () => {
    const d = tempDir();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 60 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 4 }), async (ops, journalMin, every) => {
        const file = path.join(d, `r${run++}.record`);
        const tuning: RecordTuning = { journalMin, journalMemoryMax: journalMin * 2 };
        let { store } = await RecordStore.load(file, SRC, REP, tuning);
        const model = new Map<string, RecordEntry>();
        let saved = new Map<string, RecordEntry>();
        const check = (): void => {
          expect(plain(store.readAll())).toEqual(plain(model));
          expect(store.size).toBe(model.size);
          const folders = foldersOf([...model.keys(), 'no such/folder']);
          const got = walk(store.reader(), folders, (i) => i % every === 0);
          expect(got.map(([p]) => p)).toEqual([...model.keys()].sort(baseOrder));
          expect(new Map(got.map(([p, e]) => [p, e]))).toEqual(model);
          expect(store.takeWarning()).toBeUndefined();
        };
        for (const o of ops) {
          switch (o.op) {
            case 'set':
              store.set(o.path, entry(o.v));
              model.set(o.path, entry(o.v));
              break;
            case 'delete':
              store.delete(o.path);
              model.delete(o.path);
              break;
            case 'checkpoint':
              await store.checkpoint();
              saved = new Map(model);
              break;
            case 'commit':
              await store.commit();
              saved = new Map(model);
              break;
            case 'flush':
              store.flushSync();
              saved = new Map(model);
              break;
            case 'reload':
            case 'crash': {
              if (o.op === 'reload') {
                await store.commit();
                saved = new Map(model);
              }
              const loaded = await RecordStore.load(file, SRC, REP, tuning);
              expect(loaded.warning).toBeUndefined();
              store = loaded.store;
              model.clear();
              for (const [p, e] of saved) model.set(p, e);
              break;
            }
            case 'read':
              check();
              break;
          }
          if (model.size > 0) expect(store.size).toBeGreaterThan(0);
        }
        check();
        await store.commit();
        check();
        store = (await RecordStore.load(file, SRC, REP, tuning)).store;
        check();
        expect(existsSync(`${file}.tmp`)).toBe(false);
      }),
      { numRuns: Number(process.env.FOLDERSYNC_PROPERTY_RUNS ?? 100) },
    );
  }, 120_000);
});
