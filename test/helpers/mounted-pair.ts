import path from 'node:path';
import { beforeAll } from 'vitest';
import type { PassRequest } from '../../src/sync/engine.js';
import type { Mounted } from './mounts.js';
import { type PassSettings, syncOnce } from './pass.js';
import { type TreeSpec, tempDir, writeTree } from './tree.js';

/** One describe block's source, replica and record, with one side on a freshly mounted filesystem. */
export interface MountedPair {
  readonly fs: Mounted;
  readonly src: string;
  readonly dst: string;
  readonly state: string;
  /** One in-process pass between them (more settings, and a request, as syncOnce takes them). */
  pass(extra?: Partial<PassSettings>, req?: PassRequest): ReturnType<typeof syncOnce>;
}

/**
 * Registers a beforeAll that mounts a filesystem and lays the pair out with `side` on it (as
 * `data` or `mirror`) and the other side and the record in a temp folder; `spec` is written
 * into the source. The mount is pushed onto `mounts`, for the test file's afterAll to close.
 */
export function pairOn(side: 'source' | 'replica', mount: () => Mounted | Promise<Mounted>, mounts: Mounted[], spec: TreeSpec = {}): MountedPair {
  const t = {
    fs: undefined as unknown as Mounted,
    src: '',
    dst: '',
    state: '',
    pass: (extra: Partial<PassSettings> = {}, req: PassRequest = {}) => syncOnce({ source: t.src, replica: t.dst, state: t.state, ...extra }, req),
  };
  beforeAll(async () => {
    t.fs = await mount();
    mounts.push(t.fs);
    const d = tempDir(`fs-${side}-on-mount-`);
    t.src = side === 'source' ? path.join(t.fs.dir, 'data') : path.join(d, 'src');
    t.dst = side === 'replica' ? path.join(t.fs.dir, 'mirror') : path.join(d, 'replica');
    t.state = path.join(d, 'state.record');
    writeTree(t.src, spec);
  });
  return t;
}
