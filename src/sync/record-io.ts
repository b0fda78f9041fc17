import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { type FileHandle, mkdir, open as openFile, rename as renameFile, unlink as unlinkFile } from 'node:fs/promises';
import { errCode, unreachable } from '../errors.js';

/**
 * The record's saves are written once, as generators of file operations (steps) that receive each
 * one's result (or have its error thrown in at the yield): runSync performs them blocking, for a
 * hard stop that cannot wait; runAsync without blocking, for saves during a pass. A file is named
 * by its descriptor number in both.
 */

/** One file operation a save asks its driver for. */
export type FileOp =
  | { readonly op: 'mkdirp'; readonly path: string }
  | { readonly op: 'open'; readonly path: string; readonly flags: 'r' | 'w' | 'a'; readonly mode: number | undefined }
  | { readonly op: 'write'; readonly fd: number; readonly text: string; readonly at: number | undefined }
  | { readonly op: 'truncate'; readonly fd: number; readonly length: number }
  | { readonly op: 'fsync' | 'fdatasync' | 'close'; readonly fd: number }
  | { readonly op: 'rename'; readonly from: string; readonly to: string }
  | { readonly op: 'unlink'; readonly path: string };

/** Steps of a save that ends with an R. */
export type Steps<R> = Generator<FileOp, R, unknown>;

/** Creates folder `path` and any missing parents. */
export function* mkdirp(path: string): Steps<void> {
  yield { op: 'mkdirp', path };
}

/** Opens `path`; the result is its descriptor. */
export function* open(path: string, flags: 'r' | 'w' | 'a', mode?: number): Steps<number> {
  return (yield { op: 'open', path, flags, mode }) as number;
}

/** Writes `text` in UTF-8 at the file's position, or at byte `at`. */
export function* write(fd: number, text: string, at?: number): Steps<void> {
  yield { op: 'write', fd, text, at };
}

/** Cuts the file to `length` bytes. */
export function* truncate(fd: number, length: number): Steps<void> {
  yield { op: 'truncate', fd, length };
}

/** Makes the file's data and metadata durable. */
export function* fsync(fd: number): Steps<void> {
  yield { op: 'fsync', fd };
}

/** Makes the file's data durable. */
export function* fdatasync(fd: number): Steps<void> {
  yield { op: 'fdatasync', fd };
}

/** Closes the file. */
export function* close(fd: number): Steps<void> {
  yield { op: 'close', fd };
}

/** Renames `from` to `to`, replacing it. */
export function* rename(from: string, to: string): Steps<void> {
  yield { op: 'rename', from, to };
}

/** Removes `path`. */
export function* unlink(path: string): Steps<void> {
  yield { op: 'unlink', path };
}

/** Removes `path`; one already gone is no error. */
export function* unlinkIfThere(path: string): Steps<void> {
  try {
    yield* unlink(path);
  } catch (err) {
    if (errCode(err) !== 'ENOENT') throw err;
  }
}

/** Makes a rename or a new name in `dir` durable; best effort, as some filesystems cannot fsync a folder. */
export function* syncDir(dir: string): Steps<void> {
  try {
    const fd = yield* open(dir, 'r');
    try {
      yield* fsync(fd);
    } catch {
      // not supported here
    }
    yield* close(fd);
  } catch {
    // not supported here
  }
}

/** Runs `steps` to their end, each operation blocking the thread: for a hard stop. */
export function runSync<R>(steps: Steps<R>): R {
  let step = steps.next();
  while (!step.done) {
    let result: unknown;
    try {
      result = performSync(step.value);
    } catch (err) {
      step = steps.throw(err);
      continue;
    }
    step = steps.next(result);
  }
  return step.value;
}

/** Runs `steps` to their end without blocking the event loop: for saves during a pass. */
export async function runAsync<R>(steps: Steps<R>): Promise<R> {
  // The open files of this run, by descriptor: the steps see numbers, fs/promises wants handles.
  const files = new Map<number, FileHandle>();
  let step = steps.next();
  while (!step.done) {
    let result: unknown;
    try {
      result = await perform(step.value, files);
    } catch (err) {
      step = steps.throw(err);
      continue;
    }
    step = steps.next(result);
  }
  return step.value;
}

function performSync(o: FileOp): number | undefined {
  switch (o.op) {
    case 'mkdirp':
      mkdirSync(o.path, { recursive: true });
      return undefined;
    case 'open':
      return openSync(o.path, o.flags, o.mode);
    case 'write':
      // Whole, however many calls that takes; a write in place (the header's count) is short enough for one.
      if (o.at === undefined) writeAllSync(o.fd, o.text);
      else writeSync(o.fd, o.text, o.at);
      return undefined;
    case 'truncate':
      ftruncateSync(o.fd, o.length);
      return undefined;
    case 'fsync':
      fsyncSync(o.fd);
      return undefined;
    case 'fdatasync':
      fdatasyncSync(o.fd);
      return undefined;
    case 'close':
      closeSync(o.fd);
      return undefined;
    case 'rename':
      renameSync(o.from, o.to);
      return undefined;
    case 'unlink':
      unlinkSync(o.path);
      return undefined;
    default:
      return unreachable(o);
  }
}

async function perform(o: FileOp, files: Map<number, FileHandle>): Promise<number | undefined> {
  switch (o.op) {
    case 'mkdirp':
      await mkdir(o.path, { recursive: true });
      return undefined;
    case 'open': {
      const fh = await openFile(o.path, o.flags, o.mode);
      files.set(fh.fd, fh);
      return fh.fd;
    }
    case 'write':
      await handle(files, o.fd).write(o.text, o.at);
      return undefined;
    case 'truncate':
      await handle(files, o.fd).truncate(o.length);
      return undefined;
    case 'fsync':
      await handle(files, o.fd).sync();
      return undefined;
    case 'fdatasync':
      await handle(files, o.fd).datasync();
      return undefined;
    case 'close': {
      const fh = handle(files, o.fd);
      files.delete(o.fd);
      await fh.close();
      return undefined;
    }
    case 'rename':
      await renameFile(o.from, o.to);
      return undefined;
    case 'unlink':
      await unlinkFile(o.path);
      return undefined;
    default:
      return unreachable(o);
  }
}

function handle(files: Map<number, FileHandle>, fd: number): FileHandle {
  const fh = files.get(fd);
  if (fh === undefined) throw new Error(`no open file ${fd} in this run`);
  return fh;
}

/** Writes all of `text`. */
function writeAllSync(fd: number, text: string): void {
  const buf = Buffer.from(text, 'utf8');
  for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
}
