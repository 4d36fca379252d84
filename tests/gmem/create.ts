/**
 * gmem.create: KVM_CREATE_GUEST_MEMFD argument checking (sizes, the 64 flag bits, reserved fields, wrong fds).
 *
 * Kernel checks: KVM_CREATE_GUEST_MEMFD (virt/kvm/kvm_main.c kvm_vm_ioctl, virt/kvm/guest_memfd.c kvm_gmem_create,
 *   __kvm_gmem_create; read in 7.2.13 and 7.3-rc7 (identical), and torvalds/linux 01f492e1817e for the pre-7.2 shape;
 *   6.18 itself not read)
 *   1. not a VM fd: /dev/kvm and vCPU fds → EINVAL (arch ioctl defaults), other files → ENOTTY, closed fd → EBADF
 *      | refused: gmem.create.on_system_fd, gmem.create.on_vcpu_fd, gmem.create.on_gmem_fd, gmem.create.on_memfd,
 *      gmem.create.on_dev_null, gmem.create.on_closed_fd | accepted: gmem.create.one_page
 *   2. copy_from_user of struct kvm_create_guest_memfd → EFAULT | refused: gmem.create.bad_struct_pointer
 *      | accepted: gmem.create.one_page
 *   3. flags & ~kvm_gmem_get_supported_flags(kvm) → EINVAL; per VM type: INIT_SHARED only where the VM has no
 *      private memory | refused: gmem.create.flag_bit, coco.gmem_flags.per_type
 *      | accepted: gmem.create.flag_bit, gmem.create.all_advertised_flags, coco.gmem_flags.per_type
 *   4. size <= 0 as a signed loff_t (0, bit 63 set) → EINVAL
 *      | refused: gmem.create.size_zero, gmem.create.negative_size
 *      | accepted: gmem.create.one_page, gmem.create.max_size
 *   5. !PAGE_ALIGNED(size) → EINVAL, up to INT64_MAX | refused: gmem.create.unaligned_sizes,
 *      gmem.create.unaligned_above_page | accepted: gmem.create.one_page, gmem.create.max_size, gmem.sizing.create
 *   6. reserved[] is not checked by any version read (an ABI hygiene finding in fixtures)
 *      | refused: n/a (no such check; a kernel that adds it passes gmem.create.reserved_nonzero as written)
 *      | accepted: gmem.create.reserved_nonzero
 *   7. get_unused_fd_flags(0) → EMFILE when no fd below RLIMIT_NOFILE is free | refused: gmem.create.fd_limit
 *      | accepted: gmem.create.fd_limit
 *   Checked in the order 3 before 4/5: a size error with bad flags is reported as a flags error (same errno).
 */
import { defineCase, type CaseDef } from '../../lib/harness/case.js';
import { expectEq, expectErrno, expectOk, expectTrue, outcome } from '../../lib/harness/expect.js';
import { KVM_CAP_GUEST_MEMFD_FLAGS, KVM_CREATE_GUEST_MEMFD, O_RDWR, O_CLOEXEC } from '../../lib/uapi/index.js';
import type { ErrnoName } from '../../lib/uapi/index.js';
import { __ioctlStruct } from '../../lib/kvm/ioctl.js';
import { pack } from '../../lib/uapi/struct.js';
import { memfdCreate } from '../../lib/sys/memfd.js';
import { fstat } from '../../lib/sys/fd.js';
import { open } from '../../lib/sys/fd.js';
import { close, dup, getrlimit, setrlimit, type Raw } from '../../lib/ffi/libc.js';
import { __ioctlVal } from '../../lib/kvm/ioctl.js';
import { RLIMIT_NOFILE } from '../../lib/uapi/index.js';
import { NEEDS_GMEM, PAGE, gmemFlagVariants, hex, type GmemFlagParams } from '../../lib/cases/gmem.js';

const createArg = (size: bigint, flags = 0n) => pack('kvm_create_guest_memfd', { size, flags });

/** INT64_MAX: the largest size a loff_t holds. */
const INT64_MAX = (1n << 63n) - 1n;
/** ALIGN_DOWN(INT64_MAX, PAGE): the largest size kvm_gmem_create can accept. */
const MAX_SIZE = INT64_MAX & ~(PAGE - 1n);

const sizeZero = defineCase<GmemFlagParams>({
  id: 'gmem.create.size_zero',
  doc: 'KVM_CREATE_GUEST_MEMFD with size 0 fails with EINVAL',
  requires: NEEDS_GMEM,
  variants: gmemFlagVariants(),
  tags: { linuxGit: ['a7800aa80ea4'] },
  run(ctx) {
    const vm = ctx.vm();
    expectErrno(vm.__createGuestMemfd(0n, ctx.params.flags), 'EINVAL', 'size 0');
  },
});

const unalignedSizes = defineCase<GmemFlagParams>({
  id: 'gmem.create.unaligned_sizes',
  doc: 'every size from 1 to PAGE_SIZE-1 is refused with EINVAL (not page-aligned)',
  requires: NEEDS_GMEM,
  variants: gmemFlagVariants(),
  tags: { selftest: 'guest_memfd_test.c:test_create_guest_memfd_invalid_sizes' },
  run(ctx) {
    const vm = ctx.vm();
    for (let size = 1n; size < PAGE; size++) {
      const r = vm.__createGuestMemfd(size, ctx.params.flags);
      if (r.ret >= 0) ctx.trackFd(r.ret);
      expectErrno(r, 'EINVAL', `size ${size}`);
    }
  },
});

const unalignedAbovePage = defineCase<GmemFlagParams>({
  id: 'gmem.create.unaligned_above_page',
  doc:
    'sizes PAGE+1, 2*PAGE-1, 1 MiB+1, ALIGN_DOWN(INT64_MAX)+1 and INT64_MAX (positive but unaligned) are ' +
    'refused with EINVAL',
  requires: NEEDS_GMEM,
  variants: gmemFlagVariants(),
  run(ctx) {
    const vm = ctx.vm();
    for (const size of [PAGE + 1n, 2n * PAGE - 1n, (1n << 20n) + 1n, MAX_SIZE + 1n, INT64_MAX]) {
      const r = vm.__createGuestMemfd(size, ctx.params.flags);
      if (r.ret >= 0) ctx.trackFd(r.ret);
      expectErrno(r, 'EINVAL', `size ${size}`);
    }
  },
});

const negativeSize = defineCase<GmemFlagParams>({
  id: 'gmem.create.negative_size',
  doc: 'a size with bit 63 set (negative as loff_t) is refused with EINVAL',
  requires: NEEDS_GMEM,
  variants: gmemFlagVariants(),
  run(ctx) {
    const vm = ctx.vm();
    for (const size of [1n << 63n, (1n << 64n) - PAGE]) {
      const r = vm.__createGuestMemfd(size, ctx.params.flags);
      if (r.ret >= 0) ctx.trackFd(r.ret);
      expectErrno(r, 'EINVAL', `size ${hex(size)}`);
    }
  },
});

const pageSized = defineCase<GmemFlagParams>({
  id: 'gmem.create.one_page',
  doc: 'a one-page guest_memfd is created and fstat reports that size',
  requires: NEEDS_GMEM,
  variants: gmemFlagVariants(),
  run(ctx) {
    const vm = ctx.vm();
    const r = vm.__createGuestMemfd(PAGE, ctx.params.flags);
    const fd = ctx.trackFd(Number(expectOk(r, 'create one page')));
    expectTrue(fstat(fd).size === PAGE, `st_size ${fstat(fd).size} != ${PAGE}`);
  },
});

/** One case per flag bit: the bit must be accepted exactly when KVM_CAP_GUEST_MEMFD_FLAGS advertises it. */
const flagBits: CaseDef<{ bit: number }> = defineCase<{ bit: number }>({
  id: 'gmem.create.flag_bit',
  doc: 'flag bit N is accepted iff KVM_CAP_GUEST_MEMFD_FLAGS on the VM lists it, else EINVAL',
  requires: NEEDS_GMEM,
  variants: Array.from({ length: 64 }, (_x, bit) => ({ name: `bit${bit}`, params: { bit } })),
  tags: { selftest: 'guest_memfd_test.c:test_guest_memfd_flags' },
  run(ctx) {
    const vm = ctx.vm();
    const valid = BigInt(vm.checkExtension(KVM_CAP_GUEST_MEMFD_FLAGS));
    const flag = 1n << BigInt(ctx.params.bit);
    const r = vm.__createGuestMemfd(PAGE, flag);
    if (r.ret >= 0) ctx.trackFd(r.ret);
    ctx.observe('outcome', outcome(r));
    if (flag & valid) expectOk(r, `flag ${hex(flag)} (advertised in ${hex(valid)})`);
    else expectErrno(r, 'EINVAL', `flag ${hex(flag)} (not in KVM_CAP_GUEST_MEMFD_FLAGS ${hex(valid)})`);
  },
});

const allAdvertised = defineCase({
  id: 'gmem.create.all_advertised_flags',
  doc: 'all flags KVM_CAP_GUEST_MEMFD_FLAGS advertises, together, are accepted',
  requires: NEEDS_GMEM,
  run(ctx) {
    const vm = ctx.vm();
    const valid = BigInt(vm.checkExtension(KVM_CAP_GUEST_MEMFD_FLAGS));
    ctx.observe('flags', Number(valid));
    const r = vm.__createGuestMemfd(PAGE, valid);
    if (r.ret >= 0) ctx.trackFd(r.ret);
    expectOk(r, `flags ${hex(valid)}`);
  },
});

const reserved = defineCase<{ index: number }>({
  id: 'gmem.create.reserved_nonzero',
  doc: 'a non-zero reserved[i] is refused with EINVAL; kernels that accept it are recorded as an ABI hygiene finding via fixtures',
  requires: NEEDS_GMEM,
  variants: Array.from({ length: 6 }, (_x, index) => ({ name: `reserved${index}`, params: { index } })),
  expect: { reserved: 'EINVAL' },
  run(ctx) {
    const vm = ctx.vm();
    const values = [0n, 0n, 0n, 0n, 0n, 0n];
    values[ctx.params.index] = 1n;
    const r = vm.__createGuestMemfd(PAGE, 0n, { reserved: values });
    if (r.ret >= 0) ctx.trackFd(r.ret);
    const got = outcome(r);
    ctx.observe('outcome', got);
    const want = ctx.expected<ErrnoName | 'accepted'>('reserved');
    if (want === 'accepted') {
      expectOk(r, `reserved[${ctx.params.index}] = 1 (fixtures say this kernel accepts it)`);
      ctx.note(
        `finding: KVM_CREATE_GUEST_MEMFD accepts reserved[${ctx.params.index}] = 1 (reserved fields are not checked)`,
      );
    } else expectErrno(r, want, `reserved[${ctx.params.index}] = 1`);
  },
});

const onSystemFd = defineCase({
  id: 'gmem.create.on_system_fd',
  doc: 'KVM_CREATE_GUEST_MEMFD on the /dev/kvm fd (not a VM) fails with EINVAL',
  requires: NEEDS_GMEM,
  run(ctx) {
    const r = __ioctlStruct(ctx.kvm.fd, 'KVM_CREATE_GUEST_MEMFD', KVM_CREATE_GUEST_MEMFD, createArg(PAGE));
    if (r.ret >= 0) ctx.trackFd(r.ret);
    expectErrno(r, 'EINVAL', 'ioctl on /dev/kvm');
  },
});

const onVcpuFd = defineCase({
  id: 'gmem.create.on_vcpu_fd',
  doc: 'KVM_CREATE_GUEST_MEMFD on a vCPU fd fails with EINVAL (vCPU ioctls do not know it)',
  requires: NEEDS_GMEM,
  run(ctx) {
    const vcpu = ctx.track(ctx.vm().createVcpu(0));
    const r = __ioctlStruct(vcpu.fd, 'KVM_CREATE_GUEST_MEMFD', KVM_CREATE_GUEST_MEMFD, createArg(PAGE));
    if (r.ret >= 0) ctx.trackFd(r.ret);
    expectErrno(r, 'EINVAL', 'ioctl on a vCPU fd');
  },
});

const onGmemFd = defineCase({
  id: 'gmem.create.on_gmem_fd',
  doc: 'KVM_CREATE_GUEST_MEMFD on a guest_memfd fd fails with ENOTTY (the file has no ioctls)',
  requires: NEEDS_GMEM,
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), PAGE);
    const r = __ioctlStruct(g.fd, 'KVM_CREATE_GUEST_MEMFD', KVM_CREATE_GUEST_MEMFD, createArg(PAGE));
    if (r.ret >= 0) ctx.trackFd(r.ret);
    expectErrno(r, 'ENOTTY', 'ioctl on a guest_memfd');
  },
});

const onMemfd = defineCase({
  id: 'gmem.create.on_memfd',
  doc: 'KVM_CREATE_GUEST_MEMFD on a memfd fails with ENOTTY',
  requires: NEEDS_GMEM,
  run(ctx) {
    const fd = ctx.trackFd(memfdCreate('gmem-conformance', 0));
    const r = __ioctlStruct(fd, 'KVM_CREATE_GUEST_MEMFD', KVM_CREATE_GUEST_MEMFD, createArg(PAGE));
    if (r.ret >= 0) ctx.trackFd(r.ret);
    expectErrno(r, 'ENOTTY', 'ioctl on a memfd');
  },
});

const onDevNull = defineCase({
  id: 'gmem.create.on_dev_null',
  doc: 'KVM_CREATE_GUEST_MEMFD on /dev/null fails with ENOTTY',
  requires: NEEDS_GMEM,
  run(ctx) {
    const fd = ctx.trackFd(open('/dev/null', O_RDWR | O_CLOEXEC));
    const r = __ioctlStruct(fd, 'KVM_CREATE_GUEST_MEMFD', KVM_CREATE_GUEST_MEMFD, createArg(PAGE));
    if (r.ret >= 0) ctx.trackFd(r.ret);
    expectErrno(r, 'ENOTTY', 'ioctl on /dev/null');
  },
});

const closedFd = defineCase({
  id: 'gmem.create.on_closed_fd',
  doc: 'KVM_CREATE_GUEST_MEMFD on a closed fd fails with EBADF',
  requires: NEEDS_GMEM,
  run() {
    const fd = memfdCreate('gmem-conformance', 0);
    close(fd);
    expectErrno(
      __ioctlStruct(fd, 'KVM_CREATE_GUEST_MEMFD', KVM_CREATE_GUEST_MEMFD, createArg(PAGE)),
      'EBADF',
      'ioctl on a closed fd',
    );
  },
});

const multiple = defineCase({
  id: 'gmem.create.distinct_inodes',
  doc: 'two guest_memfds of one VM have distinct inodes and keep their own sizes',
  requires: NEEDS_GMEM,
  tags: { selftest: 'guest_memfd_test.c:test_create_guest_memfd_multiple' },
  run(ctx) {
    const vm = ctx.vm();
    const a = ctx.gmem(vm, PAGE);
    const b = ctx.gmem(vm, 2n * PAGE);
    const sa = fstat(a.fd);
    const sb = fstat(b.fd);
    expectTrue(sa.size === PAGE, `first st_size ${sa.size} != ${PAGE}`);
    expectTrue(sb.size === 2n * PAGE, `second st_size ${sb.size} != ${2n * PAGE}`);
    expectTrue(sa.ino !== sb.ino, `both guest_memfds have inode ${sa.ino}`);
  },
});

const manyVms = defineCase({
  id: 'gmem.create.distinct_inodes_across_vms',
  doc: 'guest_memfds of two VMs have distinct inodes',
  requires: NEEDS_GMEM,
  run(ctx) {
    const a = ctx.gmem(ctx.vm(), PAGE);
    const b = ctx.gmem(ctx.vm(), PAGE);
    expectTrue(fstat(a.fd).ino !== fstat(b.fd).ino, 'guest_memfds of two VMs share an inode');
  },
});

const maxSize = defineCase<GmemFlagParams>({
  id: 'gmem.create.max_size',
  doc:
    'the largest positive page-aligned size, ALIGN_DOWN(INT64_MAX, PAGE), is accepted: fstat reports it ' +
    'and no page is allocated (sizes are not limited beyond loff_t)',
  requires: NEEDS_GMEM,
  variants: gmemFlagVariants(),
  tags: { kernelFn: 'guest_memfd.c:kvm_gmem_create' },
  run(ctx) {
    const vm = ctx.vm();
    const r = vm.__createGuestMemfd(MAX_SIZE, ctx.params.flags);
    const fd = ctx.trackFd(Number(expectOk(r, `create size ${hex(MAX_SIZE)}`)));
    const st = fstat(fd);
    expectEq(st.size, MAX_SIZE, 'st_size of the largest guest_memfd');
    expectEq(st.blocks, 0n, `st_blocks after creating a ${hex(MAX_SIZE)}-byte guest_memfd`);
  },
});

const badStructPointer = defineCase({
  id: 'gmem.create.bad_struct_pointer',
  doc:
    'KVM_CREATE_GUEST_MEMFD whose argument points at no user memory (NULL, a kernel address) fails with ' +
    'EFAULT and creates no fd',
  requires: NEEDS_GMEM,
  run(ctx) {
    const vm = ctx.vm();
    for (const address of [0n, 0xffff_8000_0000_0000n]) {
      const r = __ioctlVal(vm.fd, KVM_CREATE_GUEST_MEMFD, address);
      if (r.ret >= 0) ctx.trackFd(r.ret);
      expectErrno(r, 'EFAULT', `argument pointer ${hex(address)}`);
    }
  },
});

/** struct rlimit { rlim_cur, rlim_max } for getrlimit/setrlimit. */
function rlimitBuf(cur = 0n, max = 0n): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(cur, 0);
  b.writeBigUInt64LE(max, 8);
  return b;
}

const fdLimit = defineCase({
  id: 'gmem.create.fd_limit',
  doc:
    'with RLIMIT_NOFILE lowered to the lowest free fd, KVM_CREATE_GUEST_MEMFD fails with EMFILE ' +
    '(get_unused_fd_flags); with the limit one higher it succeeds on exactly that fd',
  requires: NEEDS_GMEM,
  tags: { kernelFn: 'guest_memfd.c:__kvm_gmem_create' },
  run(ctx) {
    const vm = ctx.vm();
    const saved = rlimitBuf();
    expectOk(getrlimit(RLIMIT_NOFILE, saved), 'getrlimit(RLIMIT_NOFILE)');
    const max = saved.readBigUInt64LE(8);
    const probe = dup(0);
    const lowest = Number(expectOk(probe, 'dup(0) to find the lowest free fd'));
    close(lowest);
    let refused: Raw | undefined;
    let accepted: Raw | undefined;
    try {
      expectOk(setrlimit(RLIMIT_NOFILE, rlimitBuf(BigInt(lowest), max)), `setrlimit(RLIMIT_NOFILE, ${lowest})`);
      refused = vm.__createGuestMemfd(PAGE, 0n);
      if (refused.ret >= 0) ctx.trackFd(refused.ret);
      const raised = rlimitBuf(BigInt(lowest) + 1n, max);
      expectOk(setrlimit(RLIMIT_NOFILE, raised), `setrlimit(RLIMIT_NOFILE, ${lowest + 1})`);
      accepted = vm.__createGuestMemfd(PAGE, 0n);
      if (accepted.ret >= 0) ctx.trackFd(accepted.ret);
    } finally {
      setrlimit(RLIMIT_NOFILE, saved);
    }
    if (!refused || !accepted) throw new Error('unreachable: both creates ran');
    expectErrno(refused, 'EMFILE', `create with RLIMIT_NOFILE = ${lowest} (fds 0..${lowest - 1} in use)`);
    const fd = expectOk(accepted, `create with RLIMIT_NOFILE = ${lowest + 1}`);
    expectTrue(fd === lowest, `new guest_memfd is fd ${fd}, not the only free one below the limit (${lowest})`);
  },
});

export default [
  sizeZero,
  unalignedSizes,
  unalignedAbovePage,
  negativeSize,
  pageSized,
  flagBits,
  allAdvertised,
  reserved,
  onSystemFd,
  onVcpuFd,
  onGmemFd,
  onMemfd,
  onDevNull,
  closedFd,
  multiple,
  manyVms,
  maxSize,
  badStructPointer,
  fdLimit,
];
