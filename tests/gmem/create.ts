/** gmem.create: KVM_CREATE_GUEST_MEMFD argument checking (sizes, the 64 flag bits, reserved fields, wrong fds). */
import { defineCase, type CaseDef } from '../../lib/harness/case.js';
import { expectErrno, expectOk, expectTrue, outcome } from '../../lib/harness/expect.js';
import { KVM_CAP_GUEST_MEMFD_FLAGS, KVM_CREATE_GUEST_MEMFD, O_RDWR, O_CLOEXEC } from '../../lib/uapi/index.js';
import type { ErrnoName } from '../../lib/uapi/index.js';
import { __ioctlStruct } from '../../lib/kvm/ioctl.js';
import { pack } from '../../lib/uapi/struct.js';
import { memfdCreate } from '../../lib/sys/memfd.js';
import { fstat } from '../../lib/sys/fd.js';
import { open } from '../../lib/sys/fd.js';
import { close } from '../../lib/ffi/libc.js';
import { NEEDS_GMEM, PAGE, gmemFlagVariants, hex, type GmemFlagParams } from '../../lib/cases/gmem.js';

const createArg = (size: bigint, flags = 0n) => pack('kvm_create_guest_memfd', { size, flags });

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
  doc: 'sizes PAGE+1, 2*PAGE-1 and 1 MiB+1 are refused with EINVAL',
  requires: NEEDS_GMEM,
  variants: gmemFlagVariants(),
  run(ctx) {
    const vm = ctx.vm();
    for (const size of [PAGE + 1n, 2n * PAGE - 1n, (1n << 20n) + 1n]) {
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
      ctx.note(`finding: KVM_CREATE_GUEST_MEMFD accepts reserved[${ctx.params.index}] = 1 (reserved fields are not checked)`);
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
    expectErrno(__ioctlStruct(fd, 'KVM_CREATE_GUEST_MEMFD', KVM_CREATE_GUEST_MEMFD, createArg(PAGE)), 'EBADF', 'ioctl on a closed fd');
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

export default [
  sizeZero, unalignedSizes, unalignedAbovePage, negativeSize, pageSized, flagBits, allAdvertised, reserved,
  onSystemFd, onVcpuFd, onGmemFd, onMemfd, onDevNull, closedFd, multiple, manyVms,
];
