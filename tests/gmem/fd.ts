/**
 * gmem.fd: properties of the file a guest_memfd fd refers to — status and fd flags, stat fields,
 * inode identity, the /proc name, statfs, lseek, F_SETFL, seals, setattr and the generic ioctls.
 *
 * Upstream contract (virt/kvm/guest_memfd.c, __kvm_gmem_create): the fd comes from
 * get_unused_fd_flags(0) (no close-on-exec), the file is created O_RDWR and then gets
 * f_flags |= O_LARGEFILE, the inode is S_IFREG | 0600 of size `size`, its i_op->setattr returns
 * -EINVAL, and kvm_gmem_fops has no llseek/read/write/fsync. Up to 6.18 the inode lives on
 * anon_inodefs ("anon_inode:[kvm-gmem]"); from a13cd380ddf6 (6.19) on guest_memfd's own pseudo
 * filesystem (GUEST_MEMFD_MAGIC, dentry "[kvm-gmem]" named by simple_dname()).
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { defineCase } from '../../lib/harness/case.js';
import { CaseFailure, expectEq, expectErrno, expectOk, expectTrue, show } from '../../lib/harness/expect.js';
import * as libc from '../../lib/ffi/libc.js';
import { fstat, dup } from '../../lib/sys/fd.js';
import { __fcntl, fcntl, getFl, __addSeals, __getSeals } from '../../lib/sys/fcntl.js';
import { __lseek, fallocate } from '../../lib/sys/io.js';
import {
  ANON_INODE_FS_MAGIC,
  AT_EMPTY_PATH,
  F_DUPFD_CLOEXEC,
  F_GETFD,
  F_SETFD,
  F_SETFL,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_WRITE,
  FALLOC_FL_KEEP_SIZE,
  FD_CLOEXEC,
  GUEST_MEMFD_MAGIC,
  O_ACCMODE,
  O_APPEND,
  O_DIRECT,
  O_LARGEFILE,
  O_NOATIME,
  O_NONBLOCK,
  O_RDWR,
  O_WRONLY,
  S_IFREG,
  SEEK_CUR,
  SEEK_DATA,
  SEEK_END,
  SEEK_HOLE,
  SEEK_SET,
  SYSCALL,
  FIOCLEX,
  FIONCLEX,
  FIGETBSZ,
  STATX_BASIC_STATS,
} from '../../lib/uapi/index.js';
import type { ErrnoName } from '../../lib/uapi/index.js';
import { NEEDS_GMEM, PAGE, gmemFlagVariants, hex, type GmemFlagParams } from '../../lib/cases/gmem.js';
import { residentPages } from '../../lib/cases/sizing.js';

/** Size of the guest_memfds these cases create. */
const SIZE = 16n * PAGE;

/** The kernel's own reading of a file's status flags: exactly what F_GETFL returned. */
const statusFlags = defineCase<GmemFlagParams>({
  id: 'gmem.fd.status_flags',
  doc: 'F_GETFL on a new guest_memfd is exactly O_RDWR | O_LARGEFILE (0x8002): read-write, and large-file so offsets beyond 2^31 work',
  requires: NEEDS_GMEM,
  variants: gmemFlagVariants(),
  tags: { seed: '001' },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE, ctx.params.flags);
    const fl = getFl(g.fd);
    ctx.observe('f_getfl', hex(fl));
    expectEq(fl & O_ACCMODE, O_RDWR, 'F_GETFL access mode');
    expectTrue(
      (fl & O_LARGEFILE) !== 0,
      `F_GETFL ${hex(fl)} lacks O_LARGEFILE ${hex(O_LARGEFILE)} (seed 001: the file must be marked large-file)`,
    );
    expectEq(fl, O_RDWR | O_LARGEFILE, 'F_GETFL');
  },
});

const cloexecClear = defineCase<GmemFlagParams>({
  id: 'gmem.fd.cloexec_clear',
  doc: 'the fd KVM_CREATE_GUEST_MEMFD returns is not close-on-exec (kvm_gmem_create uses get_unused_fd_flags(0)), unlike the VM fd',
  requires: NEEDS_GMEM,
  variants: gmemFlagVariants(),
  run(ctx) {
    const vm = ctx.vm();
    const g = ctx.gmem(vm, SIZE, ctx.params.flags);
    const gmemFd = fcntl(g.fd, F_GETFD, 0, 'fcntl(F_GETFD)');
    const vmFd = fcntl(vm.fd, F_GETFD, 0, 'fcntl(F_GETFD) on the VM fd');
    ctx.observe('gmem_fd_cloexec', gmemFd);
    ctx.observe('vm_fd_cloexec', vmFd);
    expectEq(gmemFd & FD_CLOEXEC, 0, 'FD_CLOEXEC on a new guest_memfd fd');
    if (vmFd & FD_CLOEXEC)
      ctx.note('finding: the VM fd is close-on-exec but its guest_memfd fd is not; a VMM must set FD_CLOEXEC itself');
  },
});

const cloexecToggle = defineCase<{ via: 'fcntl' | 'ioctl' }>({
  id: 'gmem.fd.cloexec_toggle',
  doc: 'FD_CLOEXEC can be set and cleared on a guest_memfd fd (F_SETFD, or FIOCLEX/FIONCLEX) and F_GETFD reports each state',
  requires: NEEDS_GMEM,
  variants: [
    { name: 'fcntl', params: { via: 'fcntl' } },
    { name: 'ioctl', params: { via: 'ioctl' } },
  ],
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const set = (on: boolean) =>
      ctx.params.via === 'fcntl'
        ? expectOk(__fcntl(g.fd, F_SETFD, on ? FD_CLOEXEC : 0), `F_SETFD ${on ? 'FD_CLOEXEC' : '0'}`)
        : expectOk(libc.ioctlPtr(g.fd, on ? FIOCLEX : FIONCLEX, null), on ? 'FIOCLEX' : 'FIONCLEX');
    set(true);
    expectEq(fcntl(g.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC, 'F_GETFD after setting close-on-exec');
    set(false);
    expectEq(fcntl(g.fd, F_GETFD) & FD_CLOEXEC, 0, 'F_GETFD after clearing close-on-exec');
  },
});

const statSize = defineCase<GmemFlagParams>({
  id: 'gmem.fd.stat_size',
  doc: 'fstat st_size is the size passed to KVM_CREATE_GUEST_MEMFD',
  requires: NEEDS_GMEM,
  variants: gmemFlagVariants(),
  tags: { selftest: 'guest_memfd_test.c:test_file_size' },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE, ctx.params.flags);
    expectEq(fstat(g.fd).size, SIZE, 'st_size');
  },
});

const statBlksize = defineCase<GmemFlagParams>({
  id: 'gmem.fd.stat_blksize',
  doc: 'fstat st_blksize is the page size',
  requires: NEEDS_GMEM,
  variants: gmemFlagVariants(),
  tags: { selftest: 'guest_memfd_test.c:test_file_size' },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE, ctx.params.flags);
    expectEq(fstat(g.fd).blksize, BigInt(ctx.env.pageSize), 'st_blksize');
  },
});

const statMode = defineCase<GmemFlagParams>({
  id: 'gmem.fd.stat_mode',
  doc: 'fstat st_mode is 0100600: a regular file (inode->i_mode |= S_IFREG) readable and writable by its owner only',
  requires: NEEDS_GMEM,
  variants: gmemFlagVariants(),
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE, ctx.params.flags);
    const mode = fstat(g.fd).mode;
    ctx.observe('st_mode', `0${mode.toString(8)}`);
    expectEq(mode, S_IFREG | 0o600, `st_mode 0${mode.toString(8)} (want 0100600)`);
  },
});

const statNlinkOwner = defineCase({
  id: 'gmem.fd.stat_nlink_owner',
  doc: "fstat st_nlink is 1 and st_uid/st_gid are the creating task's fsuid/fsgid (anon_inode_make_secure_inode uses current_fsuid())",
  requires: NEEDS_GMEM,
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const st = fstat(g.fd);
    expectEq(st.nlink, 1n, 'st_nlink');
    expectEq(st.uid, process.geteuid?.() ?? 0, 'st_uid');
    expectEq(st.gid, process.getegid?.() ?? 0, 'st_gid');
  },
});

const statBlocks = defineCase<GmemFlagParams>({
  id: 'gmem.fd.stat_blocks',
  doc: 'st_blocks stays 0 before and after fallocate() allocated every page: guest_memfd never accounts i_blocks (allocation shows only in the page cache)',
  requires: NEEDS_GMEM,
  variants: gmemFlagVariants(),
  expect: { blocksAfterAllocate: 0 },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE, ctx.params.flags);
    expectEq(fstat(g.fd).blocks, 0n, 'st_blocks of a new guest_memfd');
    fallocate(g.fd, FALLOC_FL_KEEP_SIZE, 0n, SIZE);
    const cached = residentPages(ctx, g.fd);
    expectEq(cached, SIZE / PAGE, 'pages in the page cache after allocating the whole file (cachestat nr_cache)');
    const blocks = fstat(g.fd).blocks;
    ctx.observe('st_blocks_after_allocate', Number(blocks));
    expectEq(blocks, BigInt(ctx.expected<number>('blocksAfterAllocate')), `st_blocks with ${cached} pages allocated`);
  },
});

const inodePerCreate = defineCase({
  id: 'gmem.fd.inode_per_create',
  doc: 'eight guest_memfds of one VM have eight distinct st_ino on one st_dev (each create makes a new inode on the same pseudo filesystem)',
  requires: NEEDS_GMEM,
  run(ctx) {
    const vm = ctx.vm();
    const stats = Array.from({ length: 8 }, () => fstat(ctx.gmem(vm, PAGE).fd));
    const inos = new Set(stats.map((s) => s.ino));
    expectEq(inos.size, stats.length, `distinct inode numbers among ${stats.map((s) => s.ino).join(',')}`);
    const devs = new Set(stats.map((s) => s.dev));
    expectEq(devs.size, 1, `distinct st_dev among ${[...devs].join(',')}`);
  },
});

const statAfterVmClose = defineCase<GmemFlagParams>({
  id: 'gmem.fd.stat_after_vm_close',
  doc: 'after the VM fd is closed, fstat and F_GETFL on its guest_memfd still succeed with unchanged values (the file holds a reference on the VM)',
  requires: NEEDS_GMEM,
  variants: gmemFlagVariants(),
  run(ctx) {
    const vm = ctx.vm();
    const g = ctx.gmem(vm, SIZE, ctx.params.flags);
    const before = fstat(g.fd);
    vm.close();
    const after = fstat(g.fd);
    expectEq(after.ino, before.ino, 'st_ino after closing the VM');
    expectEq(after.size, SIZE, 'st_size after closing the VM');
    expectEq(after.mode, before.mode, 'st_mode after closing the VM');
    expectEq(getFl(g.fd), O_RDWR | O_LARGEFILE, 'F_GETFL after closing the VM');
  },
});

const dupShares = defineCase({
  id: 'gmem.fd.dup_shares_description',
  doc: 'a dup() of a guest_memfd fd is the same open file: same inode, and O_NONBLOCK set through one is seen through the other, while FD_CLOEXEC stays per fd',
  requires: NEEDS_GMEM,
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const copy = ctx.trackFd(dup(g.fd));
    expectEq(fstat(copy).ino, fstat(g.fd).ino, 'st_ino of the dup');
    expectEq(getFl(copy), getFl(g.fd), 'F_GETFL of the dup');
    expectOk(__fcntl(g.fd, F_SETFL, O_NONBLOCK), 'F_SETFL O_NONBLOCK on the original');
    expectEq(getFl(copy) & O_NONBLOCK, O_NONBLOCK, 'O_NONBLOCK seen through the dup');
    expectOk(__fcntl(g.fd, F_SETFD, FD_CLOEXEC), 'F_SETFD FD_CLOEXEC on the original');
    expectEq(fcntl(copy, F_GETFD) & FD_CLOEXEC, 0, 'FD_CLOEXEC on the dup (fd flags are per descriptor)');
  },
});

const dupfdCloexec = defineCase({
  id: 'gmem.fd.dupfd_cloexec',
  doc: 'F_DUPFD_CLOEXEC gives a close-on-exec duplicate of a guest_memfd fd referring to the same inode',
  requires: NEEDS_GMEM,
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const copy = ctx.trackFd(Number(expectOk(__fcntl(g.fd, F_DUPFD_CLOEXEC, 0), 'F_DUPFD_CLOEXEC')));
    expectEq(fcntl(copy, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC, 'F_GETFD of the F_DUPFD_CLOEXEC copy');
    expectEq(fstat(copy).ino, fstat(g.fd).ino, 'st_ino of the copy');
  },
});

const procLink = defineCase({
  id: 'gmem.fd.proc_link',
  doc: 'readlink(/proc/self/fd/N) names the guest_memfd file "[kvm-gmem]" in the form its filesystem gives it',
  requires: NEEDS_GMEM,
  tags: { linuxGit: ['a13cd380ddf6'] },
  expect: { link: '/[kvm-gmem] (deleted)' },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const link = readlinkSync(`/proc/self/fd/${g.fd}`);
    ctx.observe('link', link);
    expectTrue(
      link.includes('[kvm-gmem]'),
      `readlink ${JSON.stringify(link)} does not contain the name "[kvm-gmem]" __kvm_gmem_create gives the file`,
    );
    expectEq(link, ctx.expected<string>('link'), 'readlink /proc/self/fd/N');
  },
});

const fdinfo = defineCase({
  id: 'gmem.fd.fdinfo',
  doc: '/proc/self/fdinfo/N reports pos 0, flags 0100002 (O_LARGEFILE | O_RDWR, no O_CLOEXEC) and the inode fstat reports',
  requires: NEEDS_GMEM,
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const text = readFileSync(`/proc/self/fdinfo/${g.fd}`, 'utf8');
    const field = (name: string) => {
      const m = new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(text);
      if (!m) throw new CaseFailure(`fdinfo has no "${name}:" line: ${JSON.stringify(text)}`);
      return m[1] as string;
    };
    expectEq(field('pos'), '0', 'fdinfo pos');
    expectEq(parseInt(field('flags'), 8), O_LARGEFILE | O_RDWR, `fdinfo flags ${field('flags')}`);
    expectEq(BigInt(field('ino')), fstat(g.fd).ino, 'fdinfo ino');
  },
});

const fstatfsMagic = defineCase({
  id: 'gmem.fd.fstatfs_magic',
  doc: 'fstatfs on a guest_memfd reports the magic of the filesystem its inode lives on (GUEST_MEMFD_MAGIC from 6.19; anon_inodefs before) and a page-sized f_bsize',
  requires: NEEDS_GMEM,
  tags: { linuxGit: ['a13cd380ddf6'] },
  expect: { magic: 'GUEST_MEMFD_MAGIC' },
  run(ctx) {
    const magics: Record<string, number> = { GUEST_MEMFD_MAGIC, ANON_INODE_FS_MAGIC };
    const want = ctx.expected<string>('magic');
    const wantValue = magics[want];
    if (wantValue === undefined) throw new CaseFailure(`fixture names unknown magic ${want}`);
    const g = ctx.gmem(ctx.vm(), SIZE);
    const buf = Buffer.alloc(120); // struct statfs on x86_64: f_type, f_bsize, ... (15 longs)
    expectOk(libc.syscall(SYSCALL.fstatfs as number, g.fd, buf), 'fstatfs');
    const type = Number(buf.readBigUInt64LE(0));
    const bsize = buf.readBigUInt64LE(8);
    const name = Object.entries(magics).find(([, v]) => v === type)?.[0] ?? hex(type);
    ctx.observe('f_type', name);
    expectEq(type, wantValue, `f_type (${name}, want ${want})`);
    expectEq(bsize, BigInt(ctx.env.pageSize), 'f_bsize');
  },
});

const figetbsz = defineCase({
  id: 'gmem.fd.figetbsz',
  doc: 'ioctl(FIGETBSZ) on a guest_memfd succeeds and reports the page size (the VFS answers it from the superblock)',
  requires: NEEDS_GMEM,
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const out = Buffer.alloc(4);
    expectOk(libc.ioctlPtr(g.fd, FIGETBSZ, out), 'FIGETBSZ');
    expectEq(BigInt(out.readInt32LE(0)), BigInt(ctx.env.pageSize), 'FIGETBSZ block size');
  },
});

const statxAgrees = defineCase({
  id: 'gmem.fd.statx',
  doc: 'statx(fd, "", AT_EMPTY_PATH) on a guest_memfd agrees with fstat on size, mode, inode and blocks',
  requires: NEEDS_GMEM,
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const buf = Buffer.alloc(256); // struct statx
    expectOk(
      libc.syscall(SYSCALL.statx as number, g.fd, '', AT_EMPTY_PATH, STATX_BASIC_STATS, buf),
      'statx(AT_EMPTY_PATH)',
    );
    const st = fstat(g.fd);
    expectEq(buf.readUInt16LE(28), st.mode, 'stx_mode');
    expectEq(buf.readBigUInt64LE(32), st.ino, 'stx_ino');
    expectEq(buf.readBigUInt64LE(40), st.size, 'stx_size');
    expectEq(buf.readBigUInt64LE(48), st.blocks, 'stx_blocks');
    expectEq(BigInt(buf.readUInt32LE(4)), st.blksize, 'stx_blksize');
  },
});

interface SeekParams {
  /** lseek offset. */ offset: bigint;
  /** lseek whence. */ whence: number;
  /** Expected errno. */ errno: ErrnoName;
}

const lseek = defineCase<SeekParams>({
  id: 'gmem.fd.lseek',
  doc: 'lseek on a guest_memfd fails: ESPIPE for every valid whence (kvm_gmem_fops has no llseek, so the file is not seekable), EINVAL for a whence beyond SEEK_MAX',
  requires: NEEDS_GMEM,
  variants: [
    { name: 'set_0', params: { offset: 0n, whence: SEEK_SET, errno: 'ESPIPE' } },
    { name: 'set_page', params: { offset: PAGE, whence: SEEK_SET, errno: 'ESPIPE' } },
    { name: 'set_beyond_eof', params: { offset: 1n << 40n, whence: SEEK_SET, errno: 'ESPIPE' } },
    { name: 'cur_0', params: { offset: 0n, whence: SEEK_CUR, errno: 'ESPIPE' } },
    { name: 'end_0', params: { offset: 0n, whence: SEEK_END, errno: 'ESPIPE' } },
    { name: 'data_0', params: { offset: 0n, whence: SEEK_DATA, errno: 'ESPIPE' } },
    { name: 'hole_0', params: { offset: 0n, whence: SEEK_HOLE, errno: 'ESPIPE' } },
    { name: 'whence_invalid', params: { offset: 0n, whence: SEEK_HOLE + 1, errno: 'EINVAL' } },
  ],
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    fallocate(g.fd, FALLOC_FL_KEEP_SIZE, 0n, PAGE); // some data, so SEEK_DATA/SEEK_HOLE would have an answer
    const { offset, whence } = ctx.params;
    expectErrno(
      __lseek(g.fd, offset, whence),
      ctx.expected<ErrnoName>('errno', ctx.params.errno),
      `lseek(${offset}, whence ${whence})`,
    );
  },
});

interface SetflParams {
  /** Flag to set with F_SETFL. */ flag: number;
  /** Expected outcome: the flag toggles, or an errno. */ want: 'toggles' | 'ignored' | ErrnoName;
  /** Whether the variant needs root. */ root?: boolean;
}

const setfl = defineCase<SetflParams>({
  id: 'gmem.fd.setfl',
  doc: 'F_SETFL on a guest_memfd toggles O_NONBLOCK, O_APPEND and O_NOATIME, ignores access-mode bits and O_LARGEFILE, and refuses O_DIRECT (no direct I/O) with EINVAL',
  requires: NEEDS_GMEM,
  variants: [
    { name: 'nonblock', params: { flag: O_NONBLOCK, want: 'toggles' } },
    { name: 'append', params: { flag: O_APPEND, want: 'toggles' } },
    { name: 'noatime', params: { flag: O_NOATIME, want: 'toggles' }, requires: { root: true } },
    { name: 'direct', params: { flag: O_DIRECT, want: 'EINVAL' } },
    { name: 'accmode_ignored', params: { flag: O_WRONLY, want: 'ignored' } },
    { name: 'largefile_sticky', params: { flag: 0, want: 'ignored' } },
  ],
  tags: { seed: '001' },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const base = O_RDWR | O_LARGEFILE;
    const { flag, want } = ctx.params;
    const r = __fcntl(g.fd, F_SETFL, flag);
    if (want !== 'toggles' && want !== 'ignored') {
      expectErrno(r, want, `F_SETFL ${hex(flag)}`);
      expectEq(getFl(g.fd), base, 'F_GETFL after the refused F_SETFL');
      return;
    }
    expectOk(r, `F_SETFL ${hex(flag)}`);
    if (want === 'ignored') {
      expectEq(getFl(g.fd), base, `F_GETFL after F_SETFL ${hex(flag)} (access mode and O_LARGEFILE cannot be changed)`);
      return;
    }
    expectEq(getFl(g.fd), base | flag, `F_GETFL after setting ${hex(flag)}`);
    expectOk(__fcntl(g.fd, F_SETFL, 0), 'F_SETFL 0');
    expectEq(getFl(g.fd), base, 'F_GETFL after clearing it again');
  },
});

interface SealParams {
  /** F_ADD_SEALS argument, or null for F_GET_SEALS. */ seals: number | null;
}

const seals = defineCase<SealParams>({
  id: 'gmem.fd.seals',
  doc: 'F_GET_SEALS and F_ADD_SEALS on a guest_memfd fail with EINVAL: it is not a shmem/hugetlbfs file, so memfd_fcntl has no seals to work with',
  requires: NEEDS_GMEM,
  variants: [
    { name: 'get', params: { seals: null } },
    { name: 'add_seal', params: { seals: F_SEAL_SEAL } },
    { name: 'add_write', params: { seals: F_SEAL_WRITE } },
    { name: 'add_grow', params: { seals: F_SEAL_GROW } },
  ],
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const s = ctx.params.seals;
    const r = s === null ? __getSeals(g.fd) : __addSeals(g.fd, s);
    expectErrno(r, 'EINVAL', s === null ? 'F_GET_SEALS' : `F_ADD_SEALS ${hex(s)}`);
  },
});

type SetattrOp = 'fchmod' | 'fchown' | 'fchown_noop' | 'futimens';

const setattr = defineCase<{ op: SetattrOp }>({
  id: 'gmem.fd.setattr',
  doc: 'attribute changes on a guest_memfd (fchmod, fchown, futimens) fail with EINVAL: kvm_gmem_setattr refuses every iattr, and st_mode stays 0100600',
  requires: NEEDS_GMEM,
  variants: [
    { name: 'fchmod', params: { op: 'fchmod' } },
    { name: 'fchown', params: { op: 'fchown' } },
    { name: 'fchown_noop', params: { op: 'fchown_noop' } },
    { name: 'futimens', params: { op: 'futimens' } },
  ],
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const call = {
      fchmod: () => libc.syscall(SYSCALL.fchmod as number, g.fd, 0o644),
      fchown: () => libc.syscall(SYSCALL.fchown as number, g.fd, 0, 0),
      fchown_noop: () => libc.syscall(SYSCALL.fchown as number, g.fd, -1, -1),
      futimens: () => libc.syscall(SYSCALL.utimensat as number, g.fd, null, null, 0),
    }[ctx.params.op];
    expectErrno(call(), 'EINVAL', ctx.params.op);
    expectEq(fstat(g.fd).mode, S_IFREG | 0o600, `st_mode after refused ${ctx.params.op} (${show(fstat(g.fd).mode)})`);
  },
});

export default [
  statusFlags,
  cloexecClear,
  cloexecToggle,
  statSize,
  statBlksize,
  statMode,
  statNlinkOwner,
  statBlocks,
  inodePerCreate,
  statAfterVmClose,
  dupShares,
  dupfdCloexec,
  procLink,
  fdinfo,
  fstatfsMagic,
  figetbsz,
  statxAgrees,
  lseek,
  setfl,
  seals,
  setattr,
];
