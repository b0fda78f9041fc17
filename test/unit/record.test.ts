import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RecordStore } from '../../src/sync/record.js';
import type { RecordEntry } from '../../src/sync/types.js';
import { changeCount, closePool, syncOnce } from '../helpers/pass.js';
import { cleanupTemps, mirrorDiff, tempDir, writeTree } from '../helpers/tree.js';
import { sampleEntry } from '../helpers/record.js';

afterEach(cleanupTemps);
afterAll(closePool);

/** The built code (vitest's globalSetup builds it): the writer process runs plain Node on it. */
const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist');

const entry = sampleEntry;

/** Names no line-based or delimiter-based format survives without escaping. */
const HOSTILE = [
  'new\nline',
  'cr\rreturn',
  'crlf\r\nend',
  'semi;colon',
  '^^^',
  '"double"',
  "'single'",
  'back\\slash',
  'trailing\\',
  'tab\there',
  '\u00e9t\u00e9', // NFC
  'e\u0301te\u0301', // NFD: a different name for the filesystem
  '\u2028line-sep\u2029para-sep',
  'nel\u0085',
  'replacement\ufffd',
  'lone\ud800surrogate',
  'emoji 😀',
  `${'\u00e9'.repeat(127)}a`, // 255 bytes in UTF-8
  '-',
  '+',
  '["+","x"]',
  '{"foldersync":1}',
  ' lead and trail ',
  'dir/sub dir/deep;file\n',
];

const SRC = '/tmp/source-of-test';
const REP = '/tmp/replica-of-test';

describe('record round-trip', () => {
  it('keeps every hostile name and every field, through appends and through a compaction', async () => {
    const file = path.join(tempDir(), 'state', 'r.record');
    const { store, warning } = await RecordStore.load(file, SRC, REP);
    expect(warning).toBeUndefined();
    const want = new Map<string, RecordEntry>();
    for (const [i, n] of HOSTILE.entries()) want.set(n, entry(i));
    want.set('link\nname', { ...entry(99, { kind: 'symlink', target: 'tar\nget;^^^"\\' }), hash: undefined, algo: undefined } as RecordEntry);
    want.set('folder;^^^', { kind: 'dir', size: 0, mtimeMs: 1.5, mode: 0o2755, rIno: 1, rCtimeMs: 2, sIno: 3, sDev: 4, sCtimeMs: 5 });
    want.set('md5 file', entry(7, { hash: 'd41d8cd98f00b204e9800998ecf8427e', algo: 'md5' }));
    for (const [p, e] of want) store.set(p, JSON.parse(JSON.stringify(e)) as RecordEntry);
    await store.commit(); // first save of a new record: a full write

    const clean = (m: Map<string, RecordEntry>): Map<string, RecordEntry> =>
      new Map([...m].map(([k, v]) => [k, JSON.parse(JSON.stringify(v)) as RecordEntry]));
    const again = await RecordStore.load(file, SRC, REP);
    expect(again.warning).toBeUndefined();
    expect(clean(again.store.readAll())).toEqual(clean(want));

    // Journal lines (the base is not rewritten) round-trip too.
    const inoBefore = statSync(file).ino;
    const s2 = again.store;
    s2.set('appended\n;^^^\\"', entry(500));
    s2.delete('semi;colon');
    want.set('appended\n;^^^\\"', entry(500));
    want.delete('semi;colon');
    await s2.commit();
    expect(statSync(file).ino).toBe(inoBefore);
    const third = await RecordStore.load(file, SRC, REP);
    expect(third.warning).toBeUndefined();
    expect(clean(third.store.readAll())).toEqual(clean(want));
    expect(third.store.readAll().get('lone\ud800surrogate')).toBeDefined();
    expect(third.store.takeWarning()).toBeUndefined();

    // And through a compaction that merges the journal into the base.
    for (let i = 0; i < 12_000; i++) third.store.set(`bulk/${i}`, entry(i));
    for (let i = 0; i < 12_000; i++) want.set(`bulk/${i}`, entry(i));
    await third.store.commit();
    expect(statSync(file).ino).not.toBe(inoBefore);
    expect(existsSync(`${file}.journal`)).toBe(false);
    const fourth = await RecordStore.load(file, SRC, REP);
    expect(clean(fourth.store.readAll())).toEqual(clean(want));
    expect(fourth.store.takeWarning()).toBeUndefined();
  });

  it('mirrors real files with hostile names, and the next pass changes and hashes nothing', async () => {
    const d = tempDir();
    const names = [
      'new\nline',
      'cr\rreturn',
      'semi;colon',
      '^^^',
      '"double"',
      "'single'",
      'back\\slash',
      'tab\there',
      '\u00e9t\u00e9',
      'e\u0301te\u0301',
      '\u2028sep',
      'replacement\ufffd',
      'emoji 😀',
      `${'\u00e9'.repeat(127)}a`,
      '-',
      ' spaced ',
    ];
    const spec: Record<string, string | object> = {};
    names.forEach((n, i) => {
      spec[n] = `content ${i}`;
    });
    spec['dir\n;^^^'] = { 'inner\nfile': 'x', [`${'b'.repeat(255)}`]: 'long' };
    spec['link\n'] = { $symlink: 'target\n;^^^' };
    writeTree(`${d}/src`, spec as Parameters<typeof writeTree>[1]);
    expect(readdirSync(`${d}/src`)).toContain('e\u0301te\u0301'); // the filesystem keeps NFC and NFD apart

    const first = await syncOnce({ source: `${d}/src`, replica: `${d}/dst` });
    expect(first.report.outcome).toBe('ok');
    expect(mirrorDiff(`${d}/src`, `${d}/dst`)).toEqual([]);

    const loaded = await RecordStore.load(`${d}/dst.record`, `${d}/src`, `${d}/dst`);
    expect(loaded.warning).toBeUndefined();
    const record = loaded.store.readAll();
    const keys = [...record.keys()].sort();
    expect(keys).toEqual([...names, 'dir\n;^^^', 'dir\n;^^^/inner\nfile', `dir\n;^^^/${'b'.repeat(255)}`, 'link\n'].sort());
    expect(record.get('link\n')?.target).toBe('target\n;^^^');

    const second = await syncOnce({ source: `${d}/src`, replica: `${d}/dst` }, {});
    expect(second.report.outcome).toBe('ok');
    expect(changeCount(second.report)).toBe(0);
    expect(second.report.hashed).toBe(0);
  });

  it('does not crash on a file name that is not valid UTF-8', async () => {
    const d = tempDir();
    writeTree(`${d}/src`, { ok: 'fine', 'also\ufffd': 'real replacement char' });
    const bad = Buffer.concat([Buffer.from(`${d}/src/`), Buffer.from([0x62, 0xff, 0xfe, 0x61])]);
    writeFileSync(bad, 'latin-1 name');
    for (let i = 0; i < 2; i++) {
      const { report } = await syncOnce({ source: `${d}/src`, replica: `${d}/dst` });
      expect(['ok', 'errors']).toContain(report.outcome);
      expect(readFileSync(`${d}/dst/ok`, 'utf8')).toBe('fine');
      expect(readFileSync(`${d}/dst/also\ufffd`, 'utf8')).toBe('real replacement char');
    }
    const loaded = await RecordStore.load(`${d}/dst.record`, `${d}/src`, `${d}/dst`);
    expect(loaded.warning).toBeUndefined();
    expect(loaded.store.readAll().has('ok')).toBe(true);
  });
});

describe('record: a pass writes only its changes, to the journal', () => {
  const tree = (): Parameters<typeof writeTree>[1] => {
    const spec: Record<string, string | object> = { sub: {} };
    for (let i = 0; i < 40; i++) spec[`f${i}`] = `file ${i}`;
    for (let i = 0; i < 10; i++) (spec.sub as Record<string, string>)[`g${i}`] = `sub ${i}`;
    return spec as Parameters<typeof writeTree>[1];
  };

  it('a pass with no changes leaves the record files untouched', async () => {
    const d = tempDir();
    writeTree(`${d}/src`, tree());
    await syncOnce({ source: `${d}/src`, replica: `${d}/dst` });
    /** Size, mtime and inode of the base and of the journal (if any). */
    const stamp = (): unknown[] =>
      [`${d}/dst.record`, `${d}/dst.record.journal`].map((f) => {
        const st = statSync(f, { throwIfNoEntry: false });
        return st ? [st.size, st.mtimeMs, st.ino] : null;
      });
    let before = stamp();
    const same = async (checksum: boolean): Promise<void> => {
      await new Promise((r) => setTimeout(r, 15));
      const { report } = await syncOnce({ source: `${d}/src`, replica: `${d}/dst`, checksum });
      expect(changeCount(report)).toBe(0);
      expect(report.hashed).toBe(0);
      expect(stamp()).toEqual(before);
    };
    await same(false);
    // The first --checksum pass reads everything once and appends what it learnt (the hashes)…
    const learn = await syncOnce({ source: `${d}/src`, replica: `${d}/dst`, checksum: true });
    expect(changeCount(learn.report)).toBe(0);
    expect(learn.report.hashed).toBe(100);
    before = stamp();
    // …after which neither kind of pass reads a file or writes a byte of record.
    await same(true);
    await same(false);
    await same(true);
  });

  it('a small change appends a few journal lines and leaves the base as it was', async () => {
    const d = tempDir();
    writeTree(`${d}/src`, tree());
    await syncOnce({ source: `${d}/src`, replica: `${d}/dst` });
    const old = readFileSync(`${d}/dst.record`);
    const ino = statSync(`${d}/dst.record`).ino;
    expect(existsSync(`${d}/dst.record.journal`)).toBe(false); // a first pass writes a whole base
    writeFileSync(`${d}/src/f3`, 'changed, longer content');
    writeFileSync(`${d}/src/sub/new`, 'new file');
    const { report } = await syncOnce({ source: `${d}/src`, replica: `${d}/dst` });
    expect(report.update).toBe(1);
    expect(report.copy).toBe(1);
    expect(statSync(`${d}/dst.record`).ino).toBe(ino);
    expect(readFileSync(`${d}/dst.record`).equals(old)).toBe(true);
    const added = readFileSync(`${d}/dst.record.journal`, 'utf8').split('\n').filter(Boolean);
    expect(added.length).toBeGreaterThanOrEqual(2);
    expect(added.length).toBeLessThanOrEqual(4); // the two files, and perhaps the folder whose mtime moved
    const loaded = await RecordStore.load(`${d}/dst.record`, `${d}/src`, `${d}/dst`);
    const record = loaded.store.readAll();
    expect(record.size).toBe(52);
    expect(loaded.store.size).toBe(52);
    expect(record.get('f3')?.size).toBe('changed, longer content'.length);
  });

  it('compacts once the journal passes 10,000 lines, and not before', async () => {
    const file = path.join(tempDir(), 'r.record');
    const journal = `${file}.journal`;
    const { store } = await RecordStore.load(file, SRC, REP);
    const N = 1000;
    for (let i = 0; i < N; i++) store.set(`p${i}`, entry(i));
    await store.commit();
    const lines = (f: string): number => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean).length : 0);
    expect(lines(file)).toBe(N + 2); // header, the root's group line, the entries
    expect(lines(journal)).toBe(0);
    let ino = statSync(file).ino;
    let written = 0;
    let compactedAt = -1;
    for (let round = 0; round < 20 && compactedAt < 0; round++) {
      for (let i = 0; i < N; i++) store.set(`p${i}`, entry(i, { size: round }));
      written += N;
      await store.commit();
      if (statSync(file).ino !== ino) compactedAt = written;
      else expect(lines(journal)).toBe(written); // appended, not rewritten
    }
    // A record of 1,000 entries carries up to 10,000 journal lines before a rewrite is worth it.
    expect(compactedAt).toBe(11_000);
    expect(lines(file)).toBe(N + 2);
    expect(existsSync(journal)).toBe(false);
    ino = statSync(file).ino;
    const loaded = await RecordStore.load(file, SRC, REP);
    expect(loaded.warning).toBeUndefined();
    const record = loaded.store.readAll();
    expect(record.size).toBe(N);
    expect(record.get('p4')).toEqual(entry(4, { size: 10 }));
    expect(statSync(file).ino).toBe(ino); // loading never writes
  });

  it('a big record compacts when the journal passes a quarter of it', async () => {
    const file = path.join(tempDir(), 'r.record');
    const { store } = await RecordStore.load(file, SRC, REP);
    for (let i = 0; i < 60_000; i++) store.set(`d${i % 7}/p${i}`, entry(i));
    await store.commit();
    expect(store.size).toBe(60_000);
    const ino = statSync(file).ino;
    for (let i = 0; i < 15_000; i++) store.set(`d${i % 7}/p${i}`, entry(i, { size: 1 }));
    await store.commit(); // journal 15,000 = a quarter: not yet
    expect(statSync(file).ino).toBe(ino);
    expect(store.size).toBe(60_000);
    store.set('d0/p0', entry(0, { size: 2 }));
    await store.commit();
    expect(statSync(file).ino).not.toBe(ino);
    expect(readFileSync(file, 'utf8').split('\n').filter(Boolean).length).toBe(60_008);
    expect(store.size).toBe(60_000);
  });

  it('a long first pass compacts at checkpoints, so the journal in memory stays bounded', async () => {
    const file = path.join(tempDir(), 'r.record');
    const { store } = await RecordStore.load(file, SRC, REP);
    await store.commit(); // an empty base
    const ino = statSync(file).ino;
    for (let i = 0; i < 50_001; i++) {
      store.set(`d${i % 97}/f${i}`, entry(i));
      if (store.unsaved >= 5000) await store.checkpoint();
    }
    expect(statSync(file).ino).toBe(ino); // appended so far
    await store.checkpoint(); // more than 50,000 changes held: compacts
    expect(statSync(file).ino).not.toBe(ino);
    expect(existsSync(`${file}.journal`)).toBe(false);
    expect(store.size).toBe(50_001);
    expect((await RecordStore.load(file, SRC, REP)).store.readAll().size).toBe(50_001);
  });
});

describe('a damaged record is a warning, rebuilt by the next pass', () => {
  /** Mirrors a small tree, damages the record with `damage`, and checks load + the passes after. */
  async function recover(damage: (file: string, d: string) => void, warns: RegExp | null): Promise<void> {
    const d = tempDir();
    const spec: Record<string, string | object> = { sub: { x: 'x', y: 'yy' } };
    for (let i = 0; i < 30; i++) spec[`f${String(i).padStart(2, '0')}`] = `file ${i}`;
    writeTree(`${d}/src`, spec as Parameters<typeof writeTree>[1]);
    const file = `${d}/dst.record`;
    await syncOnce({ source: `${d}/src`, replica: `${d}/dst` });
    // Some appended lines after the first full write, so damage can hit the journal too.
    writeFileSync(`${d}/src/f05`, 'changed content 5');
    writeFileSync(`${d}/src/sub/z`, 'new');
    await syncOnce({ source: `${d}/src`, replica: `${d}/dst` });
    damage(file, d);

    // Damage in the base shows while it is read; at load, only the header and the journal are.
    const loaded = await RecordStore.load(file, `${d}/src`, `${d}/dst`);
    loaded.store.readAll();
    const warning = [loaded.warning, loaded.store.takeWarning()].filter((w) => w !== undefined).join('; ');
    if (warns) expect(warning).toMatch(warns);
    else expect(warning).toBe('');
    expect(warning).not.toMatch(/\n/);

    // The pass after: the mirror is intact, nothing is copied again, the record is whole again.
    writeFileSync(`${d}/src/after`, 'a change after the damage');
    const { report } = await syncOnce({ source: `${d}/src`, replica: `${d}/dst` });
    expect(report.outcome).toBe('ok');
    expect(report.copy).toBe(1);
    expect(report.update + report.delete + report.move).toBe(0);
    expect(mirrorDiff(`${d}/src`, `${d}/dst`)).toEqual([]);
    const healed = await RecordStore.load(file, `${d}/src`, `${d}/dst`);
    expect(healed.warning).toBeUndefined();
    expect([...healed.store.readAll().keys()].sort()).toEqual([...readdirRec(`${d}/dst`)].sort());
    expect(healed.store.takeWarning()).toBeUndefined();
    const next = await syncOnce({ source: `${d}/src`, replica: `${d}/dst` });
    expect(next.report.outcome).toBe('ok');
    expect(changeCount(next.report)).toBe(0);
    expect(next.report.hashed).toBe(0);
    expect(readdirSync(path.dirname(file)).filter((n) => n.startsWith('dst.record') && n !== 'dst.record' && n !== 'dst.record.journal')).toEqual([]);
  }

  it('garbage in the middle', async () => {
    await recover((file) => {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.splice(10, 0, 'this is not json ;^^^');
      writeFileSync(file, lines.join('\n'));
    }, /damaged at line 11/);
  });

  it('a line that is JSON but not a record line', async () => {
    await recover((file) => {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.splice(5, 0, '["+","x","f",1]', '{"a":1}');
      writeFileSync(file, lines.join('\n'));
    }, /damaged/);
  });

  it('a truncated last line', async () => {
    await recover((file) => truncateSync(file, statSync(file).size - 9), /damaged/);
  });

  it('a last line without its newline', async () => {
    await recover((file) => truncateSync(file, statSync(file).size - 1), null);
  });

  it('whole lines lost from the end (the header count says so)', async () => {
    await recover((file) => {
      const lines = readFileSync(file, 'utf8').split('\n');
      writeFileSync(file, `${lines.slice(0, -4).join('\n')}\n`);
    }, /damaged at line 34\b/); // 33 lines left of 36: the header promised 33 entries, 31 remain
  });

  it('folders out of order', async () => {
    await recover((file) => {
      const lines = readFileSync(file, 'utf8').split('\n');
      const sub = lines.indexOf(JSON.stringify(['/', 'sub']));
      expect(sub).toBeGreaterThan(0);
      lines.splice(1, 0, ...lines.splice(sub, 3)); // the 'sub' group (and its 2 entries) moved before the root's
      writeFileSync(file, lines.join('\n'));
    }, /damaged at line 5\b/);
  });

  it('a torn journal append (a partial last line)', async () => {
    await recover((file) => truncateSync(`${file}.journal`, statSync(`${file}.journal`).size - 9), null);
  });

  it('a journal append without its newline', async () => {
    await recover((file) => truncateSync(`${file}.journal`, statSync(`${file}.journal`).size - 1), null);
  });

  it('garbage in the middle of the journal', async () => {
    await recover((file) => {
      const lines = readFileSync(`${file}.journal`, 'utf8').split('\n');
      lines.splice(1, 0, 'not json');
      writeFileSync(`${file}.journal`, lines.join('\n'));
    }, /record journal .* is damaged at line 2; keeping the changes before it/);
  });

  it('a journal without its base (the record was removed): ignored, and removed with the first save', async () => {
    await recover((file) => rmSync(file), null);
  });

  it('an empty file', async () => {
    await recover((file) => writeFileSync(file, ''), /empty/);
  });

  it('binary garbage', async () => {
    await recover((file) => writeFileSync(file, Buffer.from([0xff, 0x00, 0xfe, 0x0a, 0x80, 0x0a])), /another source\/replica pair|damaged/);
  });

  it('the header of another source/replica pair', async () => {
    await recover((file, d) => {
      const text = readFileSync(file, 'utf8');
      const nl = text.indexOf('\n');
      writeFileSync(file, JSON.stringify({ foldersync: 2, source: `${d}/other`, replica: `${d}/dst`, entries: 33 }) + text.slice(nl));
    }, /another source\/replica pair/);
  });

  it('a format-1 header of another source/replica pair', async () => {
    await recover((file, d) => {
      const text = readFileSync(file, 'utf8');
      const nl = text.indexOf('\n');
      writeFileSync(file, JSON.stringify({ foldersync: 1, source: `${d}/other`, replica: `${d}/dst` }) + text.slice(nl));
    }, /another source\/replica pair/);
  });

  it('a directory at the record path: the pass still mirrors, the record error names the path', async () => {
    const d = tempDir();
    writeTree(`${d}/src`, { a: 'a', b: { c: 'c' } });
    const file = `${d}/state/dst.record`;
    mkdirSync(file, { recursive: true });
    writeFileSync(`${file}/keep`, 'a user file that must survive');
    const loaded = await RecordStore.load(file, `${d}/src`, `${d}/dst`);
    expect(loaded.warning).toMatch(/could not be read/);
    expect(loaded.warning).toContain(file);
    const { report, lines } = await syncOnce({ source: `${d}/src`, replica: `${d}/dst`, state: file });
    expect(mirrorDiff(`${d}/src`, `${d}/dst`)).toEqual([]);
    expect(report.outcome).toBe('errors');
    const err = lines.find((l) => l.level >= 50);
    expect(String(err?.msg ?? '')).toContain(file);
    expect(readFileSync(`${file}/keep`, 'utf8')).toBe('a user file that must survive');
    expect(readdirSync(`${d}/state`)).toEqual(['dst.record']); // no temp file left behind
    // Once the folder is gone, the next pass saves the record again.
    rmSync(file, { recursive: true });
    const next = await syncOnce({ source: `${d}/src`, replica: `${d}/dst`, state: file });
    expect(next.report.outcome).toBe('ok');
    expect(changeCount(next.report)).toBe(0);
    expect((await RecordStore.load(file, `${d}/src`, `${d}/dst`)).store.readAll().size).toBe(3);
  });
});

describe('saving while a pass goes on', () => {
  it('changes made while a compaction runs are not lost', async () => {
    const file = path.join(tempDir(), 'r.record');
    const { store } = await RecordStore.load(file, SRC, REP);
    for (let i = 0; i < 60_000; i++) store.set(`p${i}`, entry(i));
    // The pass keeps recording finished actions while the whole record is being written.
    let n = 0;
    let writing = true;
    const meanwhile = (async () => {
      while (writing) {
        store.set('p0', entry(0, { size: ++n }));
        store.set(`new${n}`, entry(n));
        store.delete(`p${n}`);
        await new Promise((r) => setImmediate(r));
      }
    })();
    await store.commit(); // a new record: written whole
    writing = false;
    await meanwhile;
    expect(n).toBeGreaterThan(2); // the writes did overlap
    await store.commit();
    const loaded = await RecordStore.load(file, SRC, REP);
    expect(loaded.warning).toBeUndefined();
    const record = loaded.store.readAll();
    expect(record.get('p0')?.size).toBe(n);
    expect(record.size).toBe(store.readAll().size);
    expect(record.size).toBe(60_000);
    for (let k = 1; k <= n; k++) {
      expect(record.has(`new${k}`), `new${k}`).toBe(true);
      expect(record.has(`p${k}`), `p${k}`).toBe(false);
    }
  });
});

describe('a failed save', () => {
  it('loses nothing: the next save appends again what the failed one could not', async () => {
    const file = path.join(tempDir(), 'r.record');
    const { store } = await RecordStore.load(file, SRC, REP);
    for (let i = 0; i < 5; i++) store.set(`p${i}`, entry(i));
    await store.commit();
    store.set('lost?', entry(50));
    mkdirSync(`${file}.journal`); // the append cannot open it
    await expect(store.checkpoint()).rejects.toThrow(/append to the record .*r\.record\.journal.*EISDIR/);
    expect(store.unsaved).toBe(1);
    rmSync(`${file}.journal`, { recursive: true });
    store.set('later', entry(51));
    await store.commit();
    expect(store.unsaved).toBe(0);
    const loaded = await RecordStore.load(file, SRC, REP);
    expect(loaded.warning).toBeUndefined();
    expect([...loaded.store.readAll().keys()].sort()).toEqual(['later', 'lost?', 'p0', 'p1', 'p2', 'p3', 'p4']);
  });

  it('a journal append cut short is cut off before the next one', async () => {
    const file = path.join(tempDir(), 'r.record');
    const { store } = await RecordStore.load(file, SRC, REP);
    for (let i = 0; i < 5; i++) store.set(`p${i}`, entry(i));
    await store.commit();
    store.set('a', entry(6));
    await store.commit();
    // What a killed append leaves: half a line.
    writeFileSync(`${file}.journal`, `${readFileSync(`${file}.journal`, 'utf8')}["+","half`, { flag: 'w' });
    const again = await RecordStore.load(file, SRC, REP);
    expect(again.warning).toBeUndefined();
    again.store.set('b', entry(7));
    await again.store.commit();
    expect(readFileSync(`${file}.journal`, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as string[])[1])).toEqual(['a', 'b']);
    expect([...(await RecordStore.load(file, SRC, REP)).store.readAll().keys()].sort()).toEqual(['a', 'b', 'p0', 'p1', 'p2', 'p3', 'p4']);
  });
});

describe('record atomicity', () => {
  it('a process killed while appending or compacting leaves a usable record', async () => {
    const d = tempDir();
    const file = path.join(d, 'big.record');
    const tmp = `${file}.tmp`;
    const N = 10_000;
    // A private copy of the built code: a rebuild of dist/ meanwhile cannot tear it.
    cpSync(DIST, path.join(d, 'dist'), { recursive: true });
    // The writer loads the record, then gives every entry a new version number, round after
    // round, as a pass does: a checkpoint appends N journal lines (fdatasync), then the commit
    // compacts once the journal is past the 10,000 lines it tolerates (every second round).
    const script = path.join(d, 'writer.mjs');
    writeFileSync(
      script,
      `import { RecordStore } from ${JSON.stringify(pathToFileURL(path.join(d, 'dist/sync/record.js')).href)};
const [file, n] = [process.argv[2], Number(process.argv[3])];
const { store } = await RecordStore.load(file, 'S', 'R');
let v = 0;
for (const e of store.readAll().values()) v = Math.max(v, e.size);
process.stdout.write('ready\\n');
for (;;) {
  v++;
  for (let i = 0; i < n; i++) store.set('entry ' + i + ' ;^^^\\n', { kind: 'file', size: v, mtimeMs: i, mode: 420, rIno: i, rCtimeMs: v, sIno: i, sDev: 1, sCtimeMs: v, hash: 'ab'.repeat(32), algo: 'sha256' });
  await store.checkpoint();
  await store.commit();
}
`,
    );
    const tmpStamp = (): string => {
      try {
        const st = statSync(tmp);
        return `${st.ino}:${st.mtimeMs}:${st.size}`;
      } catch {
        return '';
      }
    };
    /** Runs the writer and SIGKILLs it `afterMs` after it is ready, or as soon as a compaction starts. */
    const run = (how: { afterMs: number } | 'compacting'): Promise<void> =>
      new Promise((resolve, reject) => {
        const stale = tmpStamp();
        const child: ChildProcess = spawn(process.execPath, [script, file, String(N)], { stdio: ['ignore', 'pipe', 'pipe'] });
        let err = '';
        child.stderr?.on('data', (b: Buffer) => {
          err += b.toString();
        });
        const kill = (): boolean => child.kill('SIGKILL');
        const guard = setTimeout(kill, 10_000);
        let poll: NodeJS.Timeout | undefined;
        child.stdout?.once('data', () => {
          if (how === 'compacting') {
            poll = setInterval(() => {
              const now = tmpStamp();
              if (now !== '' && now !== stale) kill();
            }, 1);
          } else setTimeout(kill, how.afterMs);
        });
        child.on('exit', (_code, signal) => {
          clearTimeout(guard);
          clearInterval(poll);
          if (signal === 'SIGKILL') resolve();
          else reject(new Error(`writer exited on its own: ${err}`));
        });
      });

    /** Loads the record; returns its newest version. Every entry must be there, at most one version behind. */
    const check = async (): Promise<number> => {
      const { store, warning } = await RecordStore.load(file, 'S', 'R');
      expect(warning).toBeUndefined(); // a torn last append is dropped without a word
      const record = store.readAll();
      expect(store.takeWarning()).toBeUndefined();
      expect(record.size).toBe(N);
      const versions = new Set<number>();
      const bad: string[] = [];
      for (const [p, e] of record) {
        if (!/^entry \d+ ;\^\^\^\n$/.test(p) || e.hash !== 'ab'.repeat(32) || e.kind !== 'file') bad.push(p);
        versions.add(e.size);
      }
      expect(bad).toEqual([]);
      // A prefix of the journal: entries hold the newest version or the one before it.
      const vs = [...versions].sort((a, b) => a - b);
      expect(vs.length).toBeLessThanOrEqual(2);
      if (vs.length === 2) expect(vs[1]! - vs[0]!).toBe(1);
      return vs[vs.length - 1]!;
    };

    const seed = await RecordStore.load(file, 'S', 'R');
    for (let i = 0; i < N; i++) {
      seed.store.set(`entry ${i} ;^^^\n`, { kind: 'file', size: 0, mtimeMs: i, mode: 420, rIno: i, rCtimeMs: 0, sIno: i, sDev: 1, sCtimeMs: 0, hash: 'ab'.repeat(32), algo: 'sha256' });
    }
    await seed.store.commit();
    let last = await check();
    let tornCompactions = 0;
    const kills: ({ afterMs: number } | 'compacting')[] = ['compacting', { afterMs: 35 }, 'compacting', { afterMs: 120 }, { afterMs: 5 }, 'compacting', { afterMs: 70 }, 'compacting'];
    for (const how of kills) {
      const before = tmpStamp();
      await run(how);
      if (how === 'compacting' && tmpStamp() !== '' && tmpStamp() !== before) tornCompactions++;
      const v = await check();
      expect(v).toBeGreaterThanOrEqual(last);
      last = v;
    }
    expect(last).toBeGreaterThan(1); // the writer got work done between kills
    expect(tornCompactions).toBeGreaterThan(0); // some kills did land inside a compaction
    // A killed compaction leaves one temp file, which the next one reuses: never a growing pile.
    expect(readdirSync(d).filter((n) => n.endsWith('.tmp'))).toEqual(readdirSync(d).includes('big.record.tmp') ? ['big.record.tmp'] : []);
  }, 30_000);
});

function readdirRec(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(root, rel))) {
    const r = rel ? `${rel}/${name}` : name;
    out.push(r);
    if (lstatSync(path.join(root, r)).isDirectory()) out.push(...readdirRec(root, r));
  }
  return out;
}
