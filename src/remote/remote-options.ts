import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { parseLocation } from './location.js';
import { parseRate } from './throttle.js';

/** The remote-tree part of the options, validated: which sides are remote (their text), the ssh config file, the rate limit. */
export interface RemoteOptions {
  /** The source as given, when it is on another machine. */
  readonly source: string | null;
  /** The replica as given, when it is on another machine. */
  readonly replica: string | null;
  readonly sshConfig: string | null;
  readonly bwlimit: number | null;
}

/**
 * Reads `-s`/`-r` as locations and checks `--ssh-config` and `--bwlimit`; nothing is
 * connected to here (that is openTrees', at start).
 */
export function remoteOptions(raw: { source?: string; replica?: string; sshConfig?: string; bwlimit?: string }): RemoteOptions {
  const src = raw.source === undefined ? null : parseLocation(raw.source, '--source');
  const rep = raw.replica === undefined ? null : parseLocation(raw.replica, '--replica');
  let sshConfig: string | null = null;
  if (raw.sshConfig !== undefined) {
    sshConfig = path.resolve(raw.sshConfig);
    if (!existsSync(sshConfig) || !statSync(sshConfig).isFile()) throw new UsageError(`--ssh-config ${JSON.stringify(raw.sshConfig)}: no such file`);
  }
  let bwlimit: number | null = null;
  if (raw.bwlimit !== undefined) {
    bwlimit = parseRate(raw.bwlimit);
    if (bwlimit === null) throw new UsageError(`--bwlimit ${JSON.stringify(raw.bwlimit)}: expected a rate such as 10M (10 MB/s) or 500K`);
  }
  if (src?.kind === 'sftp' && rep?.kind === 'sftp' && src.host === rep.host && src.port === rep.port && (src.path === rep.path || rep.path.startsWith(`${src.path}/`) || src.path.startsWith(`${rep.path}/`))) {
    throw new UsageError(`--source ${JSON.stringify(raw.source)} and --replica ${JSON.stringify(raw.replica)} are nested in one another`);
  }
  return {
    source: src?.kind === 'sftp' ? src.text : null,
    replica: rep?.kind === 'sftp' ? rep.text : null,
    sshConfig,
    bwlimit,
  };
}
