/**
 * gmem.refuse: operations a guest_memfd refuses, each with the errno the kernel's contract gives.
 *
 * kvm_gmem_fops (virt/kvm/guest_memfd.c) has only mmap, open, release and fallocate: no
 * read/write/read_iter/write_iter (vfs_read/vfs_write: !FMODE_CAN_READ/WRITE → EINVAL), no
 * FMODE_PREAD/PWRITE (positional I/O → ESPIPE), no splice_read/splice_write (splice, sendfile,
 * copy_file_range → EINVAL, EXDEV across superblocks), no fsync, no unlocked_ioctl (→ ENOTTY; the
 * VFS's own regular-file ioctls skip anonymous inodes). kvm_gmem_setattr refuses every size change
 * (ftruncate → EINVAL). kvm_gmem_mmap: no GUEST_MEMFD_FLAG_MMAP → ENODEV, not MAP_SHARED → EINVAL;
 * the filesystem is noexec (PROT_EXEC → EPERM, mprotect(PROT_EXEC) → EACCES). kvm_gmem_fallocate
 * and vfs_fallocate accept only KEEP_SIZE and KEEP_SIZE | PUNCH_HOLE (everything else EOPNOTSUPP).
 *
 * Kernel checks: ftruncate(2) and other attribute changes of a guest_memfd (fs/open.c do_ftruncate, do_truncate;
 *   fs/attr.c notify_change; virt/kvm/guest_memfd.c kvm_gmem_setattr; read in 7.3-rc7 for fs and 7.2.13 and
 *   7.3-rc7 for guest_memfd.c; 6.18 not read)
 *   1. length < 0 → EINVAL (do_ftruncate, before the inode) | refused: gmem.refuse.ftruncate@negative
 *      | accepted: n/a (no length is accepted: check 2 refuses all)
 *   2. kvm_gmem_setattr refuses every iattr → EINVAL: a size change (ftruncate to any length, the current size
 *      included), a mode, owner or time change | refused: gmem.refuse.ftruncate, gmem.fd.setattr
 *      | accepted: n/a (kvm_gmem_setattr has no accepting path; the size is fixed at creation)
 */
import { defineCase } from '../../lib/harness/case.js';
import { expectEq, expectErrno, expectOk, outcome } from '../../lib/harness/expect.js';
import * as libc from '../../lib/ffi/libc.js';
import { fstat } from '../../lib/sys/fd.js';
import { __read, __write, __pread, __pwrite, __ftruncate, __fallocate } from '../../lib/sys/io.js';
import { __mmap, __mprotect } from '../../lib/sys/mman.js';
import { memfdCreate } from '../../lib/sys/memfd.js';
import { check } from '../../lib/sys/errors.js';
import type { CaseContext } from '../../lib/harness/context.js';
import {
  _IOR,
  _IOW,
  FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_INSERT_RANGE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_NO_HIDE_STALE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_UNSHARE_RANGE,
  FALLOC_FL_WRITE_ZEROES,
  FALLOC_FL_ZERO_RANGE,
  GUEST_MEMFD_FLAG_MMAP,
  KVM_CAP_GUEST_MEMFD,
  KVM_CHECK_EXTENSION,
  KVM_CREATE_VCPU,
  KVM_GET_API_VERSION,
  KVM_SET_USER_MEMORY_REGION,
  MAP_PRIVATE,
  MAP_SHARED,
  MFD_CLOEXEC,
  O_CLOEXEC,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  STRUCTS,
  SYSCALL,
  FIONREAD,
  FIOQSIZE,
  FIBMAP,
  FS_IOC_GETFLAGS,
} from '../../lib/uapi/index.js';
import type { SyscallName } from '../../lib/uapi/index.js';
import type { ErrnoName } from '../../lib/uapi/index.js';
import { NEEDS_GMEM, PAGE, gmemFlagVariants, hex, type GmemFlagParams } from '../../lib/cases/gmem.js';
import { expectResidentIfObservable } from '../../lib/cases/sizing.js';

/** sizeof(struct space_resv) from <linux/falloc.h>: s16 l_type, l_whence; s64 l_start, l_len; s32 l_sysid, l_pid, l_pad[4]. */
const SPACE_RESV_SIZE = 48;
/** FS_IOC_RESVSP64 = _IOW('X', 42, struct space_resv) from <linux/falloc.h>: the legacy XFS preallocation ioctl. */
const FS_IOC_RESVSP64 = _IOW(0x58, 42, SPACE_RESV_SIZE);

/** Size of the guest_memfds these cases create. */
const SIZE = 4n * PAGE;

/** A 4 KiB buffer for I/O attempts. */
const buffer = () => Buffer.alloc(Number(PAGE), 0xaa);

/** A one-entry struct iovec over buf (for readv/writev and friends). */
function iovecOf(buf: Buffer): Buffer {
  const iov = Buffer.alloc(STRUCTS.iovec.size);
  iov.writeBigUInt64LE(libc.addressOf(buf), 0);
  iov.writeBigUInt64LE(BigInt(buf.length), 8);
  return iov;
}

/** A pipe (read end, write end) closed after the case. */
function pipe(ctx: CaseContext<unknown>): [number, number] {
  const fds = Buffer.alloc(8);
  check('pipe2', libc.syscall(SYSCALL.pipe2 as number, fds, O_CLOEXEC));
  return [ctx.trackFd(fds.readInt32LE(0)), ctx.trackFd(fds.readInt32LE(4))];
}

/** A memfd holding SIZE bytes, closed after the case. */
function filledMemfd(ctx: CaseContext<unknown>): number {
  const fd = ctx.trackFd(memfdCreate('gmem-conformance', MFD_CLOEXEC));
  check('ftruncate', libc.ftruncate(fd, SIZE));
  return fd;
}

interface IoParams extends GmemFlagParams {
  /** Expected errno (fixtures may override per instance). */ errno: ErrnoName;
}

/** Plain and positional I/O, for each flag set upstream runs test_file_read_write with. */
function ioCase(op: 'read' | 'write' | 'pread' | 'pwrite', errno: ErrnoName, why: string) {
  return defineCase<IoParams>({
    id: `gmem.refuse.${op}`,
    doc: `${op}() of 4 KiB on a guest_memfd fails with ${errno}: ${why}`,
    requires: NEEDS_GMEM,
    variants: gmemFlagVariants().map((v) => ({ ...v, params: { ...v.params, errno } })),
    tags: { selftest: 'guest_memfd_test.c:test_file_read_write' },
    run(ctx) {
      const g = ctx.gmem(ctx.vm(), SIZE, ctx.params.flags);
      const buf = buffer();
      const r = {
        read: () => __read(g.fd, buf.length),
        write: () => __write(g.fd, buf),
        pread: () => __pread(g.fd, buf.length, 0n),
        pwrite: () => __pwrite(g.fd, buf, 0n),
      }[op]();
      ctx.observe('outcome', outcome(r));
      expectErrno(r, ctx.expected<ErrnoName>('errno', ctx.params.errno), `${op} of ${buf.length} bytes`);
    },
  });
}

const readCase = ioCase('read', 'EINVAL', 'the file has no read method (FMODE_CAN_READ is clear)');
const writeCase = ioCase('write', 'EINVAL', 'the file has no write method (FMODE_CAN_WRITE is clear)');
const preadCase = ioCase('pread', 'ESPIPE', 'the file was never given FMODE_PREAD');
const pwriteCase = ioCase('pwrite', 'ESPIPE', 'the file was never given FMODE_PWRITE');

type VectorOp = 'readv' | 'writev' | 'preadv' | 'pwritev' | 'preadv2_cur' | 'pwritev2_cur';

const vectorIo = defineCase<{ op: VectorOp; errno: ErrnoName }>({
  id: 'gmem.refuse.vector_io',
  doc: 'vectored I/O on a guest_memfd fails like plain I/O: readv/writev (and preadv2/pwritev2 at offset -1, the current position) EINVAL, preadv/pwritev ESPIPE',
  requires: NEEDS_GMEM,
  variants: [
    { name: 'readv', params: { op: 'readv', errno: 'EINVAL' } },
    { name: 'writev', params: { op: 'writev', errno: 'EINVAL' } },
    { name: 'preadv', params: { op: 'preadv', errno: 'ESPIPE' } },
    { name: 'pwritev', params: { op: 'pwritev', errno: 'ESPIPE' } },
    { name: 'preadv2_cur', params: { op: 'preadv2_cur', errno: 'EINVAL' } },
    { name: 'pwritev2_cur', params: { op: 'pwritev2_cur', errno: 'EINVAL' } },
  ],
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const buf = buffer();
    const iov = iovecOf(buf);
    const nr = (n: SyscallName) => SYSCALL[n];
    const r = {
      readv: () => libc.syscall(nr('readv'), g.fd, iov, 1),
      writev: () => libc.syscall(nr('writev'), g.fd, iov, 1),
      preadv: () => libc.syscall(nr('preadv'), g.fd, iov, 1, 0, 0),
      pwritev: () => libc.syscall(nr('pwritev'), g.fd, iov, 1, 0, 0),
      preadv2_cur: () => libc.syscall(nr('preadv2'), g.fd, iov, 1, -1, -1, 0),
      pwritev2_cur: () => libc.syscall(nr('pwritev2'), g.fd, iov, 1, -1, -1, 0),
    }[ctx.params.op]();
    expectErrno(r, ctx.expected<ErrnoName>('errno', ctx.params.errno), ctx.params.op);
  },
});

const zeroLengthIo = defineCase<{ op: 'read' | 'write' }>({
  id: 'gmem.refuse.zero_length_io',
  doc: 'a zero-byte read() or write() on a guest_memfd still fails with EINVAL: the missing method is checked before the count',
  requires: NEEDS_GMEM,
  variants: [
    { name: 'read', params: { op: 'read' } },
    { name: 'write', params: { op: 'write' } },
  ],
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const r = ctx.params.op === 'read' ? __read(g.fd, 0) : __write(g.fd, Buffer.alloc(0));
    expectErrno(r, 'EINVAL', `${ctx.params.op} of 0 bytes`);
  },
});

type SendfileOp = 'from_gmem' | 'from_gmem_offset' | 'to_gmem';

const sendfile = defineCase<{ op: SendfileOp; errno: ErrnoName }>({
  id: 'gmem.refuse.sendfile',
  doc: 'sendfile() cannot move data out of or into a guest_memfd: no splice_read/splice_write (EINVAL), and with an explicit offset the missing FMODE_PREAD (ESPIPE)',
  requires: NEEDS_GMEM,
  variants: [
    { name: 'from_gmem', params: { op: 'from_gmem', errno: 'EINVAL' } },
    { name: 'from_gmem_offset', params: { op: 'from_gmem_offset', errno: 'ESPIPE' } },
    { name: 'to_gmem', params: { op: 'to_gmem', errno: 'EINVAL' } },
  ],
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const memfd = filledMemfd(ctx);
    const nr = SYSCALL.sendfile as number;
    const offset = Buffer.alloc(8);
    const r = {
      from_gmem: () => libc.syscall(nr, memfd, g.fd, null, PAGE),
      from_gmem_offset: () => libc.syscall(nr, memfd, g.fd, offset, PAGE),
      to_gmem: () => libc.syscall(nr, g.fd, memfd, null, PAGE),
    }[ctx.params.op]();
    expectErrno(r, ctx.expected<ErrnoName>('errno', ctx.params.errno), `sendfile ${ctx.params.op}`);
  },
});

type SpliceOp = 'from_gmem' | 'from_gmem_offset' | 'to_gmem' | 'to_gmem_offset';

const splice = defineCase<{ op: SpliceOp }>({
  id: 'gmem.refuse.splice',
  doc: 'splice() between a pipe and a guest_memfd fails with EINVAL in both directions, with or without a file offset',
  requires: NEEDS_GMEM,
  variants: [
    { name: 'from_gmem', params: { op: 'from_gmem' } },
    { name: 'from_gmem_offset', params: { op: 'from_gmem_offset' } },
    { name: 'to_gmem', params: { op: 'to_gmem' } },
    { name: 'to_gmem_offset', params: { op: 'to_gmem_offset' } },
  ],
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const [rd, wr] = pipe(ctx);
    check('write', libc.write(wr, buffer()));
    const nr = SYSCALL.splice as number;
    const offset = Buffer.alloc(8);
    const r = {
      from_gmem: () => libc.syscall(nr, g.fd, null, wr, null, PAGE, 0),
      from_gmem_offset: () => libc.syscall(nr, g.fd, offset, wr, null, PAGE, 0),
      to_gmem: () => libc.syscall(nr, rd, null, g.fd, null, PAGE, 0),
      to_gmem_offset: () => libc.syscall(nr, rd, null, g.fd, offset, PAGE, 0),
    }[ctx.params.op]();
    expectErrno(r, 'EINVAL', `splice ${ctx.params.op}`);
  },
});

type CopyOp = 'to_memfd' | 'from_memfd' | 'gmem_to_gmem';

const copyFileRange = defineCase<{ op: CopyOp; errno: ErrnoName }>({
  id: 'gmem.refuse.copy_file_range',
  doc: 'copy_file_range() with a guest_memfd on either side fails: EXDEV against a memfd (different superblock, no copy_file_range method), EINVAL between two guest_memfds (the splice fallback has no splice_read)',
  requires: NEEDS_GMEM,
  variants: [
    { name: 'to_memfd', params: { op: 'to_memfd', errno: 'EXDEV' } },
    { name: 'from_memfd', params: { op: 'from_memfd', errno: 'EXDEV' } },
    { name: 'gmem_to_gmem', params: { op: 'gmem_to_gmem', errno: 'EINVAL' } },
  ],
  run(ctx) {
    const vm = ctx.vm();
    const g = ctx.gmem(vm, SIZE);
    const nr = SYSCALL.copy_file_range as number;
    const [src, dst] = {
      to_memfd: () => [g.fd, filledMemfd(ctx)],
      from_memfd: () => [filledMemfd(ctx), g.fd],
      gmem_to_gmem: () => [g.fd, ctx.gmem(vm, SIZE).fd],
    }[ctx.params.op]() as [number, number];
    expectErrno(
      libc.syscall(nr, src, null, dst, null, PAGE, 0),
      ctx.expected<ErrnoName>('errno', ctx.params.errno),
      `copy_file_range ${ctx.params.op}`,
    );
  },
});

const ftruncate = defineCase<{ length: bigint }>({
  id: 'gmem.refuse.ftruncate',
  doc: 'ftruncate() of a guest_memfd to any length fails with EINVAL (kvm_gmem_setattr refuses ATTR_SIZE; negative lengths fail earlier) and st_size is unchanged',
  requires: NEEDS_GMEM,
  variants: [
    { name: 'zero', params: { length: 0n } },
    { name: 'shrink', params: { length: SIZE - PAGE } },
    { name: 'same', params: { length: SIZE } },
    { name: 'grow', params: { length: SIZE + PAGE } },
    { name: 'grow_beyond_4g', params: { length: (1n << 32n) + PAGE } },
    { name: 'negative', params: { length: -PAGE } },
  ],
  tags: { seed: '001' },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    expectErrno(__ftruncate(g.fd, ctx.params.length), 'EINVAL', `ftruncate to ${ctx.params.length}`);
    expectEq(fstat(g.fd).size, SIZE, 'st_size after the refused ftruncate');
  },
});

/** Maps len bytes of fd and expects errno; a mapping that unexpectedly succeeds is unmapped after the case. */
function expectMmapErrno(
  ctx: CaseContext<unknown>,
  fd: number,
  prot: number,
  flags: number,
  errno: ErrnoName,
  what: string,
): void {
  const r = __mmap(PAGE, prot, flags, fd, 0n);
  if (r.ret !== -1n) ctx.defer(() => void libc.munmap(r.ret, PAGE));
  expectErrno(r, errno, what);
}

type MmapShape = 'shared' | 'private' | 'read_only';

const mmapWithoutFlag = defineCase<{ shape: MmapShape }>({
  id: 'gmem.refuse.mmap_without_mmap_flag',
  doc: 'mmap() of a guest_memfd created without GUEST_MEMFD_FLAG_MMAP fails with ENODEV whatever the sharing and protection',
  requires: NEEDS_GMEM,
  variants: [
    { name: 'shared', params: { shape: 'shared' } },
    { name: 'private', params: { shape: 'private' } },
    { name: 'read_only', params: { shape: 'read_only' } },
  ],
  tags: { seed: '001', selftest: 'guest_memfd_test.c:test_mmap_not_supported' },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE, 0n);
    const [prot, flags] = {
      shared: [PROT_READ | PROT_WRITE, MAP_SHARED],
      private: [PROT_READ | PROT_WRITE, MAP_PRIVATE],
      read_only: [PROT_READ, MAP_SHARED],
    }[ctx.params.shape] as [number, number];
    expectMmapErrno(ctx, g.fd, prot, flags, 'ENODEV', `mmap ${ctx.params.shape} without GUEST_MEMFD_FLAG_MMAP`);
  },
});

const mmapVariants = () => gmemFlagVariants().filter((v) => v.params.flags & BigInt(GUEST_MEMFD_FLAG_MMAP));

const mmapPrivate = defineCase<GmemFlagParams>({
  id: 'gmem.refuse.mmap_private',
  doc: 'MAP_PRIVATE of an mmap-able guest_memfd fails with EINVAL: copy-on-write is not allowed, only MAP_SHARED',
  requires: NEEDS_GMEM,
  variants: mmapVariants(),
  tags: { selftest: 'guest_memfd_test.c:test_mmap_cow' },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE, ctx.params.flags);
    expectMmapErrno(ctx, g.fd, PROT_READ | PROT_WRITE, MAP_PRIVATE, 'EINVAL', 'mmap MAP_PRIVATE');
  },
});

const mmapExec = defineCase<GmemFlagParams>({
  id: 'gmem.refuse.mmap_exec',
  doc: "mmap() of a guest_memfd with PROT_EXEC fails with EPERM: the file lives on a noexec filesystem (checked before the file's own mmap)",
  requires: NEEDS_GMEM,
  variants: gmemFlagVariants(),
  expect: { errno: 'EPERM' },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE, ctx.params.flags);
    expectMmapErrno(
      ctx,
      g.fd,
      PROT_READ | PROT_EXEC,
      MAP_SHARED,
      ctx.expected<ErrnoName>('errno'),
      'mmap PROT_READ|PROT_EXEC MAP_SHARED',
    );
  },
});

const mprotectExec = defineCase<GmemFlagParams>({
  id: 'gmem.refuse.mprotect_exec',
  doc: "mprotect(PROT_EXEC) on a shared mapping of a guest_memfd fails with EACCES: a noexec file's mapping never gets VM_MAYEXEC",
  requires: NEEDS_GMEM,
  variants: mmapVariants(),
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE, ctx.params.flags);
    const m = ctx.map(Number(PAGE), PROT_READ | PROT_WRITE, MAP_SHARED, g.fd);
    expectErrno(__mprotect(m.addr, PAGE, PROT_READ | PROT_EXEC), 'EACCES', 'mprotect PROT_READ|PROT_EXEC');
  },
});

type IoctlKind = { arg: 'value'; value: number } | { arg: 'buffer'; size: number };

interface IoctlParams {
  /** Name for messages. */ name: string;
  /** Request number. */ request: number;
  /** How the argument is passed. */ kind: IoctlKind;
}

const ioctlVariant = (variant: string, name: string, request: number, kind: IoctlKind) => ({
  name: variant,
  params: { name, request, kind },
});

const ioctls = defineCase<IoctlParams>({
  id: 'gmem.refuse.ioctl',
  doc: 'ioctls on a guest_memfd fail with ENOTTY: KVM ioctls are not understood by it, and the VFS regular-file ioctls (FIONREAD, FIOQSIZE, FIBMAP, FS_IOC_*) skip anonymous inodes',
  requires: NEEDS_GMEM,
  expect: { errno: 'ENOTTY' },
  variants: [
    ioctlVariant('kvm_check_extension', 'KVM_CHECK_EXTENSION', KVM_CHECK_EXTENSION, {
      arg: 'value',
      value: KVM_CAP_GUEST_MEMFD,
    }),
    ioctlVariant('kvm_get_api_version', 'KVM_GET_API_VERSION', KVM_GET_API_VERSION, { arg: 'value', value: 0 }),
    ioctlVariant('kvm_create_vcpu', 'KVM_CREATE_VCPU', KVM_CREATE_VCPU, { arg: 'value', value: 0 }),
    ioctlVariant('kvm_set_user_memory_region', 'KVM_SET_USER_MEMORY_REGION', KVM_SET_USER_MEMORY_REGION, {
      arg: 'buffer',
      size: STRUCTS.kvm_userspace_memory_region.size,
    }),
    ioctlVariant('fionread', 'FIONREAD', FIONREAD, { arg: 'buffer', size: 4 }),
    ioctlVariant('fioqsize', 'FIOQSIZE', FIOQSIZE, { arg: 'buffer', size: 8 }),
    ioctlVariant('fibmap', 'FIBMAP', FIBMAP, { arg: 'buffer', size: 4 }),
    ioctlVariant('fs_ioc_getflags', 'FS_IOC_GETFLAGS', FS_IOC_GETFLAGS, { arg: 'buffer', size: 8 }),
    ioctlVariant('fs_ioc_resvsp64', 'FS_IOC_RESVSP64', FS_IOC_RESVSP64, { arg: 'buffer', size: SPACE_RESV_SIZE }),
  ],
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const { name, request, kind } = ctx.params;
    let r: libc.Raw;
    if (kind.arg === 'value') r = libc.ioctlVal(g.fd, request, kind.value);
    else {
      const arg = Buffer.alloc(kind.size);
      if (name === 'FS_IOC_RESVSP64') arg.writeBigInt64LE(PAGE, 16); // l_whence SEEK_SET, l_start 0, l_len one page
      r = libc.ioctlPtr(g.fd, request, arg);
    }
    if (r.ret >= 0 && name === 'KVM_CREATE_VCPU') ctx.trackFd(r.ret);
    ctx.observe('outcome', outcome(r));
    const want = ctx.expected<ErrnoName | 'accepted'>('errno');
    if (want === 'accepted') {
      expectOk(
        r,
        `${name} (${hex(request)}) on a guest_memfd (fixtures: this kernel's VFS treats it as a regular file)`,
      );
      ctx.note(`finding: ${name} succeeds on a guest_memfd on this kernel`);
    } else expectErrno(r, want, `${name} (${hex(request)}) on a guest_memfd`);
  },
});

const fsync = defineCase<{ op: 'fsync' | 'fdatasync' }>({
  id: 'gmem.refuse.fsync',
  doc: 'fsync() and fdatasync() on a guest_memfd fail with EINVAL: there is no backing store and no fsync method',
  requires: NEEDS_GMEM,
  variants: [
    { name: 'fsync', params: { op: 'fsync' } },
    { name: 'fdatasync', params: { op: 'fdatasync' } },
  ],
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    expectErrno(libc.syscall(SYSCALL[ctx.params.op] as number, g.fd), 'EINVAL', ctx.params.op);
  },
});

const readahead = defineCase({
  id: 'gmem.refuse.readahead',
  doc: 'readahead() on a guest_memfd fails with EINVAL: there is nothing to read ahead from (anonymous inode without read_folio)',
  requires: NEEDS_GMEM,
  expect: { errno: 'EINVAL' },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const r = libc.syscall(SYSCALL.readahead as number, g.fd, 0, PAGE);
    ctx.observe('outcome', outcome(r));
    const want = ctx.expected<ErrnoName | 'accepted'>('errno');
    if (want === 'accepted')
      expectOk(r, 'readahead of one page (fixtures: this kernel reads ahead on anonymous inodes)');
    else expectErrno(r, want, 'readahead of one page');
  },
});

interface ModeParams {
  /** fallocate mode. */ mode: number;
}

const mode = (name: string, m: number) => ({ name, params: { mode: m } });

const fallocateMode = defineCase<ModeParams>({
  id: 'gmem.refuse.fallocate_mode',
  doc: 'fallocate() on a guest_memfd with any mode other than KEEP_SIZE or KEEP_SIZE|PUNCH_HOLE fails with EOPNOTSUPP and allocates nothing',
  requires: NEEDS_GMEM,
  variants: [
    mode('allocate_no_keep_size', 0),
    mode('punch_no_keep_size', FALLOC_FL_PUNCH_HOLE),
    mode('zero_range', FALLOC_FL_ZERO_RANGE),
    mode('zero_range_keep', FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE),
    mode('collapse_range', FALLOC_FL_COLLAPSE_RANGE),
    mode('collapse_range_keep', FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_KEEP_SIZE),
    mode('insert_range', FALLOC_FL_INSERT_RANGE),
    mode('insert_range_keep', FALLOC_FL_INSERT_RANGE | FALLOC_FL_KEEP_SIZE),
    mode('unshare_range', FALLOC_FL_UNSHARE_RANGE),
    mode('unshare_range_keep', FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE),
    mode('write_zeroes', FALLOC_FL_WRITE_ZEROES),
    mode('write_zeroes_keep', FALLOC_FL_WRITE_ZEROES | FALLOC_FL_KEEP_SIZE),
    mode('no_hide_stale', FALLOC_FL_NO_HIDE_STALE),
    mode('no_hide_stale_keep', FALLOC_FL_NO_HIDE_STALE | FALLOC_FL_KEEP_SIZE),
    mode('punch_zero_keep', FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE),
    mode('unknown_bit_keep', 0x100 | FALLOC_FL_KEEP_SIZE),
  ],
  tags: { selftest: 'guest_memfd_test.c:test_fallocate' },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    expectErrno(__fallocate(g.fd, ctx.params.mode, 0n, SIZE), 'EOPNOTSUPP', `fallocate mode ${hex(ctx.params.mode)}`);
    expectResidentIfObservable(ctx, g.fd, 0n, `pages allocated by the refused fallocate mode ${hex(ctx.params.mode)}`);
    expectEq(fstat(g.fd).size, SIZE, 'st_size after the refused fallocate');
  },
});

export default [
  readCase,
  writeCase,
  preadCase,
  pwriteCase,
  vectorIo,
  zeroLengthIo,
  sendfile,
  splice,
  copyFileRange,
  ftruncate,
  mmapWithoutFlag,
  mmapPrivate,
  mmapExec,
  mprotectExec,
  ioctls,
  fsync,
  readahead,
  fallocateMode,
];
