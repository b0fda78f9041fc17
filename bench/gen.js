// Deterministic benchmark datasets and the edits the scenarios make to them. Same seed, same
// tree: names, sizes, contents and edits come from a seeded PRNG, nothing is downloaded.
import { closeSync, futimesSync, mkdirSync, openSync, renameSync, statSync, symlinkSync, writeSync } from 'node:fs';
import path from 'node:path';

/**
 * mulberry32: a tiny, fast, seedable PRNG; returns floats in [0, 1).
 * @param {number} seed
 * @returns {() => number}
 */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Fills a buffer with PRNG bytes (32 bits at a time: fast enough for a few MiB).
 * @param {Buffer} buf
 * @param {() => number} rand
 */
function randomBytes(buf, rand) {
  let i = 0;
  for (; i + 4 <= buf.length; i += 4) buf.writeUInt32LE((rand() * 4294967296) >>> 0, i);
  for (; i < buf.length; i++) buf[i] = (rand() * 256) | 0;
  return buf;
}

// Names people really have: accents (NFC and NFD), CJK, Greek, emoji, spaces.
const UNICODE = ['résumé', 'Ünïcödé notes', 'e\u0301te\u0301', '日本語のファイル', 'ελληνικά', 'emoji 🙂 file', 'Привет', 'naïve café'];

/** Files per leaf folder, leaf folders per section: a section holds 2,000 files (the moved folder). */
const PER_DIR = 100;
const DIRS_PER_SECTION = 20;
const SECTIONS_PER_GROUP = 5;
const PER_SECTION = PER_DIR * DIRS_PER_SECTION;
const PER_GROUP = PER_SECTION * SECTIONS_PER_GROUP;

/**
 * The relative path of file number i of the "many" dataset.
 * @param {number} i
 */
export function manyPath(i) {
  const g = Math.floor(i / PER_GROUP);
  const s = Math.floor((i % PER_GROUP) / PER_SECTION);
  const d = Math.floor((i % PER_SECTION) / PER_DIR);
  const dir = `g${String(g).padStart(2, '0')}/s${s}/d${String(d).padStart(2, '0')}`;
  const name = i % 41 === 7 ? `${UNICODE[i % UNICODE.length]} ${i}.txt` : `f${i}.dat`;
  return `${dir}/${name}`;
}

/**
 * A size with a realistic spread: log-uniform between 1 B and 64 KiB (most files small, a long
 * tail of bigger ones), plus 1 % empty files.
 * @param {() => number} rand
 * @param {number} max
 */
function smallSize(rand, max) {
  if (rand() < 0.01) return 0;
  return Math.min(max, Math.floor(Math.exp(rand() * Math.log(max + 1))));
}

/**
 * Writes `count` small files (~100 per folder, 2,000 per section folder, some unicode names,
 * one symlink per 1,000 files). Content is a slice of a random pool with the file's number in
 * front, so no two non-tiny files are equal. Returns the list of file paths.
 * @param {string} root
 * @param {{count: number, seed?: number, maxSize?: number}} opts
 * @returns {string[]}
 */
export function generateMany(root, { count, seed = 1, maxSize = 65536 }) {
  const rand = prng(seed);
  const pool = randomBytes(Buffer.allocUnsafe(8 << 20), prng(seed ^ 0x5eed));
  const scratch = Buffer.allocUnsafe(maxSize);
  /** @type {string[]} */
  const files = [];
  let lastDir = '';
  for (let i = 0; i < count; i++) {
    const rel = manyPath(i);
    const dir = path.dirname(rel);
    if (dir !== lastDir) {
      mkdirSync(path.join(root, dir), { recursive: true });
      lastDir = dir;
    }
    if (i % 1000 === 999) {
      // A relative link to the previous file in the same folder.
      symlinkSync(path.basename(manyPath(i - 1)), path.join(root, rel));
      continue;
    }
    const size = smallSize(rand, maxSize);
    const off = Math.floor(rand() * (pool.length - size));
    pool.copy(scratch, 0, off, off + size);
    if (size >= 4) scratch.writeUInt32LE(i, 0);
    const fd = openSync(path.join(root, rel), 'w');
    writeSync(fd, scratch, 0, size);
    closeSync(fd);
    files.push(rel);
  }
  return files;
}

/**
 * Writes `count` big files of `size` bytes: one random 1 MiB block per file, varied per block
 * (its first 64 bytes are fresh), written in 1 MiB writes. Returns their relative paths.
 * @param {string} root
 * @param {{count: number, size: number, seed?: number}} opts
 * @returns {string[]}
 */
export function generateBig(root, { count, size, seed = 2 }) {
  mkdirSync(root, { recursive: true });
  /** @type {string[]} */
  const files = [];
  const block = Buffer.allocUnsafe(1 << 20);
  for (let f = 0; f < count; f++) {
    const rand = prng(seed * 1000 + f);
    randomBytes(block, rand);
    const rel = `big-${f}.bin`;
    const fd = openSync(path.join(root, rel), 'w');
    for (let off = 0; off < size; off += block.length) {
      randomBytes(block.subarray(0, 64), rand);
      writeSync(fd, block, 0, Math.min(block.length, size - off));
    }
    closeSync(fd);
    files.push(rel);
  }
  return files;
}

/**
 * Scenario 3's edit, reversible so every run makes the same kind of change: on even runs
 * renames one big file and moves one 2,000-file section folder into its sibling; odd runs move
 * them back. Returns a description of what was renamed.
 * @param {string} root
 * @param {number} run
 * @param {string} kind the dataset: 'many' or 'big'
 * @returns {string[]}
 */
export function renameAndMove(root, run, kind) {
  const fwd = run % 2 === 0;
  /** @type {string[]} */
  const done = [];
  /** @param {string} a @param {string} b */
  const swap = (a, b) => {
    const [from, to] = fwd ? [a, b] : [b, a];
    renameSync(path.join(root, from), path.join(root, to));
    done.push(`${from} -> ${to}`);
  };
  if (kind === 'big') swap('big-0.bin', 'renamed/big-0 (renamed).bin');
  if (kind === 'many') swap('g00/s1', 'g00/s0/s1-moved');
  return done;
}

/**
 * Creates what renameAndMove needs beyond the generated tree (the target folder of the rename).
 * @param {string} root
 * @param {string} kind
 */
export function prepareRename(root, kind) {
  if (kind === 'big') mkdirSync(path.join(root, 'renamed'), { recursive: true });
}

/**
 * Scenario 4's edit: 1 % of the files (at least one), a different 1 % each run, get new bytes at
 * the start, 16 more bytes at the end, and a new mtime. Returns the paths changed.
 * @param {string} root
 * @param {string[]} files
 * @param {number} run
 * @returns {string[]}
 */
export function modifyOnePercent(root, files, run) {
  const n = Math.max(1, Math.round(files.length / 100));
  const step = files.length / n;
  /** @type {string[]} */
  const changed = [];
  const stamp = Buffer.alloc(16);
  for (let k = 0; k < n; k++) {
    const rel = /** @type {string} */ (files[(Math.floor(k * step) + run * 7) % files.length]);
    const p = path.join(root, rel);
    const size = statSync(p).size;
    stamp.write(`run ${run} edit ${k}`.padEnd(16, '.'), 'latin1');
    const fd = openSync(p, 'r+');
    writeSync(fd, stamp, 0, Math.min(16, size), 0);
    writeSync(fd, stamp, 0, 16, size);
    // Deterministic and distinct per run and file (Nov 2023 plus a few minutes).
    const t = 1_700_000_000 + run * 60 + k;
    futimesSync(fd, t, t);
    closeSync(fd);
    changed.push(rel);
  }
  return changed;
}
