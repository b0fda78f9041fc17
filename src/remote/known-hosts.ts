import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** What the known-hosts files say of a host key: trusted, never seen, or different from the one on record. */
export type HostKeyVerdict = 'known' | 'unknown' | 'changed' | 'revoked';

/** One key line of a known_hosts file. */
interface KnownLine {
  readonly patterns: string;
  readonly type: string;
  readonly blob: Buffer;
  readonly marker: string | null;
}

/** The name known_hosts files use for a host: `host`, or `[host]:port` off port 22. */
export function knownName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** The key type named inside an SSH wire-format public key (`ssh-ed25519`, …). */
export function keyType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const n = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + n).toString('latin1');
}

/** The fingerprint as OpenSSH prints it: `SHA256:` and unpadded base64. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * Checks a server's host key against known_hosts files as OpenSSH does: plain, wildcard,
 * negated and hashed (`|1|salt|hash`) host patterns, `[host]:port` names, `@revoked` lines.
 * A line for the host with the same key type and another key is a changed key.
 */
export function checkHostKey(files: readonly string[], host: string, port: number, blob: Buffer): HostKeyVerdict {
  const name = knownName(host, port);
  const type = keyType(blob);
  let verdict: HostKeyVerdict = 'unknown';
  for (const l of readKnown(files)) {
    if (l.marker === '@cert-authority' || !matchesHost(l.patterns, name)) continue;
    const same = l.blob.equals(blob);
    if (l.marker === '@revoked') {
      if (same) return 'revoked';
      continue;
    }
    if (same) verdict = verdict === 'unknown' || verdict === 'known' ? 'known' : verdict;
    else if (l.type === type && verdict !== 'known') verdict = 'changed';
  }
  return verdict;
}

/** The key types known_hosts holds for a host: offered first, as OpenSSH does, so the server shows the key on record. */
export function knownKeyTypes(files: readonly string[], host: string, port: number): string[] {
  const name = knownName(host, port);
  const types: string[] = [];
  for (const l of readKnown(files)) if (l.marker === null && matchesHost(l.patterns, name) && !types.includes(l.type)) types.push(l.type);
  return types;
}

/** Records a host key in a known_hosts file (`StrictHostKeyChecking accept-new`). */
export function addKnownHost(file: string, host: string, port: number, blob: Buffer): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  appendFileSync(file, `${knownName(host, port)} ${keyType(blob)} ${blob.toString('base64')}\n`, { mode: 0o600 });
}

function* readKnown(files: readonly string[]): Generator<KnownLine> {
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const parts = line.split(/\s+/);
      const marker = parts[0]!.startsWith('@') ? parts.shift()! : null;
      if (parts.length < 3) continue;
      yield { marker, patterns: parts[0]!, type: parts[1]!, blob: Buffer.from(parts[2]!, 'base64') };
    }
  }
}

/** True when a comma-separated pattern list (hashed entries included) names `name`, and no negated pattern does. */
function matchesHost(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) return hashedMatch(patterns, name);
  let hit = false;
  for (const p of patterns.split(',')) {
    if (p.startsWith('!')) {
      if (wildcard(p.slice(1), name)) return false;
    } else if (wildcard(p, name)) hit = true;
  }
  return hit;
}

function hashedMatch(entry: string, name: string): boolean {
  const [, , salt, hash] = entry.split('|');
  if (!salt || !hash) return false;
  return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
}

/** OpenSSH's `*` and `?` patterns, case-insensitive. */
function wildcard(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\[/g, '\\[').replace(/\]/g, '\\]').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(name);
}
