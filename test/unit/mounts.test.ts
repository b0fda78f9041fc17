// src/trees/mounts.ts: parsing /proc/self/mountinfo (optional fields, octal escapes in mount
// points and sources, mount and superblock options merged), picking a path's mount (longest mount
// point; on ties the last mounted), and which mount types keep inode numbers across a remount.
import { describe, expect, it } from 'vitest';
import { type MountInfo, keepsInodes, mountFor, parseMountInfo } from '../../src/trees/mounts.js';

/** Lines as a Linux desktop's /proc/self/mountinfo shows them (some shortened). */
const ROOT = '27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,discard,errors=remount-ro';
const PROC = '22 27 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw';
const HOME = '31 27 254:2 / /home rw,relatime shared:15 - ext4 /dev/vda2 rw';
const USB_VFAT =
  '95 27 8:17 / /media/alice/My\\040Drive rw,nosuid,nodev,relatime shared:52 - vfat /dev/sdb1 rw,fmask=0022,dmask=0022,codepage=437,iocharset=utf8,shortname=mixed,errors=remount-ro';
const USB_NTFS = '102 27 8:33 / /media/alice/Backup rw,nosuid,nodev,relatime shared:58 - fuseblk /dev/sdc1 rw,user_id=0,group_id=0,default_permissions,allow_other,blksize=4096';
const SSHFS = '110 31 0:53 / /home/alice/remote rw,nosuid,nodev,relatime shared:60 - fuse.sshfs alice@nas:/srv/my\\040data rw,user_id=1000,group_id=1000';
const SSHFS_INO = '111 31 0:54 / /home/alice/remote-ino rw,nosuid,nodev,relatime shared:61 - fuse.sshfs alice@nas:/srv rw,user_id=1000,group_id=1000,use_ino';
const CIFS =
  '120 27 0:60 / /mnt/share rw,relatime shared:70 - cifs //server/share rw,vers=3.1.1,cache=strict,username=alice,uid=0,noforceuid,gid=0,noforcegid,addr=192.168.1.10,file_mode=0755,dir_mode=0755,soft,nounix,serverino,mapposix,rsize=4194304,wsize=4194304';
const CIFS_NOSERVERINO =
  '121 27 0:61 / /mnt/legacy rw,relatime shared:71 - cifs //oldnas/public rw,vers=1.0,cache=strict,username=guest,uid=0,noforceuid,gid=0,noforcegid,addr=192.168.1.20,soft,unix,noserverino,mapposix';
/** No optional fields at all, and two of them. */
const NO_OPTIONAL = '130 27 0:70 / /srv/plain rw,relatime - xfs /dev/vdb rw,attr2,inode64';
const TWO_OPTIONAL = '131 27 0:71 / /srv/both rw,relatime shared:80 master:3 - btrfs /dev/vdc rw,space_cache=v2,subvolid=5,subvol=/';
/** A tab, a newline and a backslash in a mount point. */
const ODD_NAMES = '140 27 0:72 / /mnt/a\\011b\\012c\\134d rw,relatime - tmpfs tmp\\040fs rw,size=1024k';

const TABLE = [ROOT, PROC, HOME, USB_VFAT, USB_NTFS, SSHFS, SSHFS_INO, CIFS, CIFS_NOSERVERINO, NO_OPTIONAL, TWO_OPTIONAL, ODD_NAMES].join('\n');

function only(line: string): MountInfo {
  const got = parseMountInfo(line);
  expect(got).toHaveLength(1);
  return got[0]!;
}

describe('parseMountInfo()', () => {
  const cases: [name: string, line: string, want: MountInfo][] = [
    ['the root', ROOT, { point: '/', type: 'ext4', source: '/dev/vda1', options: ['rw', 'relatime', 'rw', 'discard', 'errors=remount-ro'] }],
    ['proc', PROC, { point: '/proc', type: 'proc', source: 'proc', options: ['rw', 'nosuid', 'nodev', 'noexec', 'relatime', 'rw'] }],
    [
      '\\040 in a mount point is a space',
      USB_VFAT,
      {
        point: '/media/alice/My Drive',
        type: 'vfat',
        source: '/dev/sdb1',
        options: ['rw', 'nosuid', 'nodev', 'relatime', 'rw', 'fmask=0022', 'dmask=0022', 'codepage=437', 'iocharset=utf8', 'shortname=mixed', 'errors=remount-ro'],
      },
    ],
    [
      '\\040 in a source is a space',
      SSHFS,
      { point: '/home/alice/remote', type: 'fuse.sshfs', source: 'alice@nas:/srv/my data', options: ['rw', 'nosuid', 'nodev', 'relatime', 'rw', 'user_id=1000', 'group_id=1000'] },
    ],
    ['no optional fields', NO_OPTIONAL, { point: '/srv/plain', type: 'xfs', source: '/dev/vdb', options: ['rw', 'relatime', 'rw', 'attr2', 'inode64'] }],
    [
      'two optional fields',
      TWO_OPTIONAL,
      { point: '/srv/both', type: 'btrfs', source: '/dev/vdc', options: ['rw', 'relatime', 'rw', 'space_cache=v2', 'subvolid=5', 'subvol=/'] },
    ],
    ['tab, newline and backslash escapes', ODD_NAMES, { point: '/mnt/a\tb\nc\\d', type: 'tmpfs', source: 'tmp fs', options: ['rw', 'relatime', 'rw', 'size=1024k'] }],
  ];
  it.each(cases)('%s', (_name, line, want) => {
    expect(only(line)).toEqual(want);
  });

  it('parses a whole table, in order', () => {
    const got = parseMountInfo(`${TABLE}\n`);
    expect(got.map((m) => m.point)).toEqual([
      '/',
      '/proc',
      '/home',
      '/media/alice/My Drive',
      '/media/alice/Backup',
      '/home/alice/remote',
      '/home/alice/remote-ino',
      '/mnt/share',
      '/mnt/legacy',
      '/srv/plain',
      '/srv/both',
      '/mnt/a\tb\nc\\d',
    ]);
    expect(got.map((m) => m.type)).toEqual(['ext4', 'proc', 'ext4', 'vfat', 'fuseblk', 'fuse.sshfs', 'fuse.sshfs', 'cifs', 'cifs', 'xfs', 'btrfs', 'tmpfs']);
  });

  it('skips empty and truncated lines', () => {
    const text = ['', ROOT, '   ', '28 27 0:22 / /sys rw', '29 27 0:23 / /run rw - tmpfs', HOME, ''].join('\n');
    expect(parseMountInfo(text).map((m) => m.point)).toEqual(['/', '/home']);
  });

  it('leaves text that is not a three-digit octal escape alone', () => {
    expect(only('150 27 0:80 / /mnt/x\\04y rw - tmpfs tmpfs rw').point).toBe('/mnt/x\\04y');
  });
});

describe('mountFor()', () => {
  const mounts = parseMountInfo(TABLE);
  const cases: [name: string, path: string, wantPoint: string | undefined][] = [
    ['a path on no other mount is on the root', '/usr/bin/env', '/'],
    ['the root itself', '/', '/'],
    ['the mount point itself', '/home', '/home'],
    ['below a mount point', '/home/bob/file', '/home'],
    ['the longest mount point wins over its parent', '/home/alice/remote/docs/a.txt', '/home/alice/remote'],
    ['a sibling sharing a prefix is not below it', '/home/alice/remote-ino/x', '/home/alice/remote-ino'],
    ['a name that merely starts like a mount point is not on it', '/home/alice/remotely', '/home'],
    ['an unescaped space in the path matches the escaped mount point', '/media/alice/My Drive/DCIM/1.jpg', '/media/alice/My Drive'],
    ['no match on the escaped spelling', '/media/alice/My\\040Drive/x', '/'],
  ];
  it.each(cases)('%s', (_name, path, wantPoint) => {
    expect(mountFor(mounts, path)?.point).toBe(wantPoint);
  });

  it('on ties the last-mounted wins (a mount over a mount)', () => {
    const first = '200 27 8:49 / /mnt/usb rw,relatime - vfat /dev/sdd1 rw';
    const second = '201 200 8:50 / /mnt/usb rw,relatime - exfat /dev/sde1 rw';
    expect(mountFor(parseMountInfo([ROOT, first, second].join('\n')), '/mnt/usb/a')?.source).toBe('/dev/sde1');
    expect(mountFor(parseMountInfo([ROOT, second, first].join('\n')), '/mnt/usb/a')?.source).toBe('/dev/sdd1');
  });

  it('the longest wins even when listed before a shorter one', () => {
    const deep = '300 27 8:49 / /data/deep rw - xfs /dev/sdf1 rw';
    const shallow = '301 27 8:50 / /data rw - ext4 /dev/sdg1 rw';
    expect(mountFor(parseMountInfo([ROOT, deep, shallow].join('\n')), '/data/deep/x')?.source).toBe('/dev/sdf1');
    expect(mountFor(parseMountInfo([ROOT, deep, shallow].join('\n')), '/data/x')?.source).toBe('/dev/sdg1');
  });

  it('nothing when no mount holds the path', () => {
    expect(mountFor([], '/x')).toBeUndefined();
    expect(mountFor(parseMountInfo(HOME), '/usr')).toBeUndefined();
  });
});

describe('keepsInodes()', () => {
  const cases: [name: string, line: string | undefined, want: boolean][] = [
    ['no mount known (not Linux)', undefined, true],
    ['ext4', ROOT, true],
    ['xfs', NO_OPTIONAL, true],
    ['vfat (kernel driver)', USB_VFAT, true],
    ['fuseblk (ntfs-3g, exfat-fuse) without use_ino', USB_NTFS, false],
    ['fuse.sshfs', SSHFS, false],
    ['fuse.sshfs with use_ino', SSHFS_INO, true],
    ['plain fuse', '160 27 0:90 / /mnt/f rw - fuse /dev/fuse rw,user_id=0,group_id=0', false],
    ['fuse.fusefat', '161 27 0:91 / /mnt/fat rw - fuse.fusefat /dev/loop0 rw,user_id=0,group_id=0', false],
    ['cifs with server inode numbers', CIFS, true],
    ['cifs with noserverino', CIFS_NOSERVERINO, false],
    ['smb3 with noserverino', '162 27 0:92 / /mnt/s3 rw - smb3 //srv/s rw,vers=3.0,noserverino', false],
    ['smb3 with server inode numbers', '163 27 0:93 / /mnt/s4 rw - smb3 //srv/s rw,vers=3.0,serverino', true],
    ['use_ino on a mount option (before the dash) counts too', '164 27 0:94 / /mnt/u rw,use_ino - fuse.sshfs h:/ rw', true],
  ];
  it.each(cases)('%s', (_name, line, want) => {
    expect(keepsInodes(line === undefined ? undefined : only(line))).toBe(want);
  });

  it('decides by the mount mountFor picks', () => {
    const mounts = parseMountInfo(TABLE);
    expect(keepsInodes(mountFor(mounts, '/home/alice/remote/x'))).toBe(false);
    expect(keepsInodes(mountFor(mounts, '/home/alice/other'))).toBe(true);
  });
});
