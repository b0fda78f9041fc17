import path from 'node:path';
import type { TreeSpec } from './tree.js';

const MTIME = 1_600_000_000_123;

/** Folders nested `levels` deep with a file at the bottom. */
function deep(levels: number): TreeSpec {
  let node: TreeSpec = { 'bottom.txt': 'deep down' };
  for (let i = levels; i >= 1; i--) node = { [`level-${i}`]: node };
  return node;
}

/** Names, modes, links, mtimes and specials that break naive tools (as in the core mirror tests). */
export function trickyTree(root: string): TreeSpec {
  return {
    'with spaces in it.txt': 'spaces',
    'caf\u00e9.txt': 'NFC spelling',
    'cafe\u0301.txt': 'NFD spelling, longer',
    'semi;colon': 'semicolon',
    '^^^': 'carets',
    'new\nline': 'a newline in the name',
    '-rf': 'leading dash',
    '--help': { 'inside.txt': 'a folder named like an option' },
    ['n'.repeat(255)]: 'a 255-byte name',
    'empty-file': '',
    'empty-folder': {},
    nested: deep(20),
    modes: {
      'private-0600': { $file: 'secret', mode: 0o600, mtime: MTIME },
      'exec-0755': { $file: '#!/bin/sh\necho hi\n', mode: 0o755 },
      'ro-folder-0555': { $dir: { 'inside.txt': 'in a read-only folder' }, mode: 0o555, mtime: MTIME },
      'sticky-1777': { $dir: { s: 's' }, mode: 0o1777 },
    },
    links: {
      relative: { $symlink: '../with spaces in it.txt' },
      absolute: { $symlink: path.join(root, 'semi;colon') },
      dangling: { $symlink: 'does/not/exist' },
      'to-folder': { $symlink: '../modes' },
    },
    fifo: { $fifo: true },
    'old-mtime': { $file: 'old', mtime: 946_684_800_000 },
    'pre-1970-mtime': { $file: 'before the epoch', mtime: -86_400_123 },
    'fraction-mtime': { $file: 'frac', mtime: MTIME + 0.5 },
    'big.bin': Buffer.alloc(3 * 1024 * 1024 + 7, 0xab),
  };
}
