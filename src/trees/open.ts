import { remoteOf } from '../remote/location.js';
import type { HashPool } from '../sync/hash-pool.js';
import { Trees } from './factory.js';

/** What choosing and opening the trees needs from the configuration. */
export interface TreeSettings {
  readonly source: string;
  readonly replica: string;
  /** `--ssh-config`; null = `~/.ssh/config`. */
  readonly sshConfig?: string | null;
  /** `--bwlimit` in bytes per second; null = unlimited. */
  readonly bwlimit?: number | null;
}

/**
 * The trees of a source/replica pair, chosen by their locations: a local folder, or one on
 * another machine over SFTP, connected now (a bad host key, an unreachable host or a refused
 * login throws a ConnectError: exit 2 before anything is transferred).
 */
export async function openTrees(s: TreeSettings, pool: HashPool): Promise<Trees> {
  const src = remoteOf(s.source);
  const rep = remoteOf(s.replica);
  if (!src && !rep) return Trees.local(s.source, s.replica, pool);
  // Loaded only for a remote tree: ssh2 is a good part of a local run's startup otherwise.
  const [{ RemoteEnd }, { sshConfigText, sshSettings }, { Throttle }] = await Promise.all([
    import('../remote/remote-end.js'),
    import('../remote/ssh-settings.js'),
    import('../remote/throttle.js'),
  ]);
  const text = sshConfigText(s.sshConfig ?? null);
  const endOf = (loc: NonNullable<typeof src>) => new RemoteEnd(loc, sshSettings(loc, text), s.bwlimit ? new Throttle(s.bwlimit) : null);
  const srcEnd = src ? endOf(src) : null;
  const repEnd = rep ? endOf(rep) : null;
  const trees = new Trees(s.source, s.replica, pool, srcEnd, repEnd);
  try {
    await srcEnd?.connect(undefined, 0);
    await repEnd?.connect(undefined, 0);
  } catch (err) {
    trees.close();
    throw err;
  }
  return trees;
}
