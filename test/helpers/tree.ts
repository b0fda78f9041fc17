import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A declarative tree: a string or Buffer is a file, an object a folder, or one of the special leaves. */
export type TreeSpec = { [name: string]: TreeNode };
/** One node of a TreeSpec. */
export type TreeNode =
  | string
  | Buffer
  | TreeSpec
  | { readonly $file: string | Buffer; readonly mode?: number; readonly mtime?: number }
  | { readonly $symlink: string }
  | { readonly $fifo: true }
  | { readonly $dir: TreeSpec; readonly mode?: number; readonly mtime?: number };

const created: string[] = [];

/** A fresh temp folder, removed by cleanupTemps(). */
export function tempDir(prefix = 'fs-test-'): string {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  created.push(d);
  return d;
}

/** Removes every temp folder made by tempDir (call from afterEach/afterAll). */
export function cleanupTemps(): void {
  for (const d of created.splice(0)) {
    try {
      execFileSync('chmod', ['-R', 'u+rwx', d], { stdio: 'ignore' });
    } catch {
      // best effort: the rm below reports what is left
    }
    rmSync(d, { recursive: true, force: true });
  }
}

/** Writes a declarative tree into `dir` (created if missing). Folder attributes are set after their content. */
export function writeTree(dir: string, spec: TreeSpec): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, node] of Object.entries(spec)) {
    const p = path.join(dir, name);
    if (typeof node === 'string' || Buffer.isBuffer(node)) {
      writeFileSync(p, node);
      continue;
    }
    const leaf = node as { $file?: string | Buffer; $symlink?: string; $fifo?: true; $dir?: TreeSpec; mode?: number; mtime?: number };
    if (leaf.$file !== undefined) writeFileSync(p, leaf.$file);
    else if (leaf.$symlink !== undefined) symlinkSync(leaf.$symlink, p);
    else if (leaf.$fifo) execFileSync('mkfifo', [p]);
    else writeTree(p, leaf.$dir ?? (node as TreeSpec));
    if (leaf.$symlink !== undefined || leaf.$fifo) continue;
    if (leaf.mode !== undefined) chmodSync(p, leaf.mode);
    if (leaf.mtime !== undefined) utimesSync(p, leaf.mtime / 1000, leaf.mtime / 1000);
  }
}

/** What a test compares for one path. */
export interface PathState {
  kind: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  size: number;
  /** Milliseconds, as a float: compare with a tolerance below 1 ms. */
  mtimeMs: number;
  hash?: string;
  target?: string;
}

/** Reads a whole tree with lstat (independent of foldersync's own scanner). Temp files are included, so they show up as differences. */
export function readState(root: string): Map<string, PathState> {
  const out = new Map<string, PathState>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(root, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const p = path.join(root, r);
      const st = lstatSync(p);
      const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
      const s: PathState = { kind, mode: st.mode & 0o7777, size: kind === 'dir' ? 0 : st.size, mtimeMs: st.mtimeMs };
      if (kind === 'file') s.hash = createHash('sha256').update(readFileSync(p)).digest('hex');
      if (kind === 'symlink') s.target = readlinkSync(p);
      out.set(r, s);
      if (kind === 'dir') walk(r);
    }
  };
  walk('');
  return out;
}

/** What the replica's filesystem keeps, for comparing a mirror on it (default: everything, exactly). */
export interface KeptByReplica {
  /** Mtimes this far apart (ms) are equal; default: to the millisecond. */
  readonly windowMs?: number;
  /** False where the replica keeps no permission bits. */
  readonly modes?: boolean;
}

/**
 * Lists every difference between a source and a replica under the contract: same paths and
 * kinds, bytes, mode bits, mtimes to the millisecond (not for symlinks), link targets; fifos
 * and other specials in the source are expected to be absent. `ignore` skips paths (excluded);
 * `kept` relaxes what the replica's filesystem cannot keep (the contract's "Filesystems").
 */
export function mirrorDiff(src: string, dst: string, ignore: (rel: string) => boolean = () => false, kept: KeptByReplica = {}): string[] {
  const a = readState(src);
  const b = readState(dst);
  const diffs: string[] = [];
  for (const [p, s] of a) {
    if (ignore(p) || s.kind === 'other') continue;
    const r = b.get(p);
    if (!r) {
      diffs.push(`missing in replica: ${p}`);
      continue;
    }
    if (r.kind !== s.kind) diffs.push(`${p}: kind ${r.kind} != ${s.kind}`);
    else if (s.kind === 'symlink') {
      if (r.target !== s.target) diffs.push(`${p}: target ${r.target} != ${s.target}`);
    } else {
      if (kept.modes !== false && r.mode !== s.mode) diffs.push(`${p}: mode ${r.mode.toString(8)} != ${s.mode.toString(8)}`);
      const off = Math.abs(r.mtimeMs - s.mtimeMs);
      if (off >= 1 && off > (kept.windowMs ?? 0)) diffs.push(`${p}: mtime ${r.mtimeMs} != ${s.mtimeMs}`);
      if (s.kind === 'file' && (r.size !== s.size || r.hash !== s.hash)) diffs.push(`${p}: content differs`);
    }
  }
  for (const p of b.keys()) {
    const s = a.get(p);
    if ((!s || s.kind === 'other') && !ignore(p)) diffs.push(`extra in replica: ${p}`);
  }
  return diffs;
}
