import path from 'node:path';
import type { TreeSpec } from './tree.js';

/** The mtime the tree gives some entries (with milliseconds, which some filesystems drop). */
export const MTIME = 1_600_000_000_123;

/** 40 nested folders with a file at the bottom. */
function deep(levels: number): TreeSpec {
  let node: TreeSpec = { 'bottom.txt': 'deep down' };
  for (let i = levels; i >= 1; i--) node = { [`level-${i}`]: node };
  return node;
}

/** Names, modes, links, mtimes and specials that break naive mirrors (the core mirror tests, check's tests). */
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
    [`${'\u00e9'.repeat(127)}x`]: 'a 255-byte name in 2-byte characters',
    'empty-file': '',
    'empty-folder': {},
    nested: deep(40),
    modes: {
      'private-0600': { $file: 'secret', mode: 0o600, mtime: MTIME },
      'exec-0755': { $file: '#!/bin/sh\necho hi\n', mode: 0o755 },
      'readonly-0444': { $file: 'read only', mode: 0o444 },
      'ro-folder-0555': { $dir: { 'inside.txt': 'in a read-only folder', sub: {} }, mode: 0o555, mtime: MTIME },
      'sticky-1777': { $dir: { s: 's' }, mode: 0o1777 },
      'setgid-2755': { $dir: {}, mode: 0o2755 },
      'setuid-4755': { $file: 'suid', mode: 0o4755 },
    },
    links: {
      relative: { $symlink: '../with spaces in it.txt' },
      absolute: { $symlink: path.join(root, 'semi;colon') },
      dangling: { $symlink: 'does/not/exist' },
      'to-folder': { $symlink: '../modes' },
      'weird target': { $symlink: 'caf\u00e9.txt\nwith newline' },
    },
    fifo: { $fifo: true },
    'old-mtime': { $file: 'old', mtime: 946_684_800_000 },
    'epoch-mtime': { $file: 'epoch', mtime: 0 },
    'pre-1970-mtime': { $file: 'before the epoch', mtime: -86_400_123 },
    'future-mtime': { $file: 'the future', mtime: 4_102_444_800_000 },
    'fraction-mtime': { $file: 'frac', mtime: MTIME + 0.5 },
    'big.bin': Buffer.alloc(3 * 1024 * 1024 + 7, 0xab),
  };
}
