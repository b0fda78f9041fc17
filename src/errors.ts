/** An operation on a path failed; the message names both and the OS's reason. */
export class FsOpError extends Error {
  readonly path: string;
  readonly op: string;
  readonly code: string | undefined;

  constructor(op: string, path: string, cause: unknown) {
    const reason = describe(cause);
    super(`${op} ${JSON.stringify(path)}: ${reason}`, { cause });
    this.name = 'FsOpError';
    this.op = op;
    this.path = path;
    this.code = errCode(cause);
  }
}

/** A configuration or usage problem: exit 2, one line, no stack. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Marks the end of an exhaustive switch: a union member without a case is a type error here. */
export function unreachable(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}

/** The errno-style code of an error, if it has one. */
export function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** A short human reason for an OS error: "permission denied (EACCES)". */
export function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = errCode(err);
  if (!code) return err.message;
  const m = /^[A-Z]+: ([^,]+)/.exec(err.message);
  return m?.[1] ? `${m[1]} (${code})` : `${err.message}`;
}

/** True for errors meaning the path is simply gone (not an error for a sync pass). */
export function isGone(err: unknown): boolean {
  const code = errCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}
