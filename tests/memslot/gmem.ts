/**
 * memslot.gmem: KVM_SET_USER_MEMORY_REGION2 with KVM_MEM_GUEST_MEMFD — flags, the guest_memfd field, offsets, overlaps,
 * changes, limits.
 *
 * Kernel checks: KVM_SET_USER_MEMORY_REGION2 with guest_memfd (virt/kvm/kvm_main.c kvm_vm_ioctl,
 *   kvm_vm_ioctl_set_memory_region, kvm_set_memory_region, check_memory_region_flags; arch/x86/kvm/x86.c
 *   kvm_arch_prepare_memory_region; virt/kvm/guest_memfd.c kvm_gmem_bind; read in 7.2.13 and 7.3-rc7 (identical
 *   here), and torvalds/linux 01f492e1817e for the pre-7.2 kvm_gmem_bind; 6.18 itself not read)
 *   1. copy_from_user of the struct → EFAULT | refused: memslot.gmem.bad_struct_pointer
 *      | accepted: memslot.gmem.range_at_file_edges
 *   2. v1 ioctl: flags outside KVM_SET_USER_MEMORY_REGION_V1_FLAGS (GUEST_MEMFD) → EINVAL
 *      | refused: memslot.gmem.v1_ioctl_rejects_flag | accepted: memslot.plain.max_slots
 *   3. (u16)slot >= KVM_USER_MEM_SLOTS → EINVAL | refused: memslot.gmem.slot_id_limit, memslot.plain.max_slots
 *      | accepted: memslot.gmem.slot_id_limit, memslot.plain.max_slots
 *   4. check_memory_region_flags: unknown bits, GUEST_MEMFD with LOG_DIRTY_PAGES, GUEST_MEMFD with READONLY → EINVAL
 *      | refused: memslot.gmem.unknown_flag_bits, memslot.gmem.with_dirty_logging, memslot.gmem.with_readonly
 *      | accepted: memslot.gmem.range_at_file_edges, coco.memslot.readonly
 *   5. memory_size not page-aligned → EINVAL (memory_size != (unsigned long) cannot differ on 64-bit)
 *      | refused: memslot.gmem.general_checks@size_unaligned, memslot.gmem.general_checks@size_sub_page
 *      | accepted: memslot.gmem.range_at_file_edges
 *   6. guest_phys_addr not page-aligned → EINVAL | refused: memslot.gmem.general_checks@gpa_unaligned
 *      | accepted: memslot.gmem.range_at_file_edges
 *   7. userspace_addr unaligned, tagged, or !access_ok(hva, size) → EINVAL (the top of the user range is not tested
 *      tightly: USER_PTR_MAX depends on LA57 and LAM) | refused: memslot.gmem.general_checks@hva_unaligned,
 *      memslot.gmem.general_checks@hva_kernel | accepted: memslot.plain.max_slots, prefault.range.whole_slot
 *   8. guest_memfd_offset not page-aligned → EINVAL (before the delete path) | refused: memslot.gmem.unaligned_offset,
 *      memslot.gmem.delete_checks_offset | accepted: memslot.gmem.range_at_file_edges
 *   9. guest_memfd_offset + memory_size wraps past 2^64 (u64) → EINVAL
 *      | refused: memslot.gmem.range_outside_file@offset_wraps, memslot.gmem.range_outside_file@offset_ends_at_2p64
 *      | accepted: memslot.gmem.max_file_last_page
 *  10. as_id >= kvm_arch_nr_memslot_as_ids (x86: 2, 1 with private memory) or id >= KVM_MEM_SLOTS_NUM → EINVAL
 *      | refused: memslot.gmem.address_space_beyond_limit | accepted: memslot.gmem.address_space_one
 *  11. guest_phys_addr + memory_size wraps past 2^64 → EINVAL | refused: memslot.gmem.general_checks@gpa_wraps,
 *      memslot.gmem.general_checks@gpa_ends_at_2p64 | accepted: memslot.gmem.gpa_limit
 *  12. memory_size >> PAGE_SHIFT > KVM_MEM_MAX_NR_PAGES (2^31 - 1) → EINVAL | refused: memslot.gmem.too_many_pages
 *      | accepted: n/a (a 2^31-1-page slot needs 16 GiB of rmap metadata where the shadow MMU is used; not attempted)
 *  13. delete (memory_size 0) of a slot that does not exist → EINVAL | refused: memslot.gmem.delete_nonexistent
 *      | accepted: memslot.gmem.delete_ignores_fd
 *  14. nr_memslot_pages + npages wraps unsigned long → EINVAL | refused: n/a (needs 2^64 pages over all slots, while
 *      KVM_MEM_MAX_NR_PAGES x 32764 slots is below 2^46) | accepted: memslot.gmem.many_slots_one_file
 *  15. re-specifying an existing slot with GUEST_MEMFD, or adding GUEST_MEMFD to a plain slot → EINVAL
 *      | refused: memslot.gmem.modify_existing, memslot.gmem.convert_plain_slot
 *      | accepted: memslot.gmem.delete_and_readd
 *  16. GPA range overlaps another slot of the address space → EEXIST | refused: memslot.gmem.overlapping_gpa,
 *      memslot.gmem.overlapping_gpa_and_file_range | accepted: memslot.gmem.adjacent_file_ranges
 *  17. x86: last gfn > kvm_mmu_max_gfn() (host MAXPHYADDR with TDP, 52 bits with shadow paging) → EINVAL
 *      | refused: memslot.gmem.gpa_limit | accepted: memslot.gmem.gpa_limit
 *  18. kvm_gmem_bind: fget(guest_memfd) finds no file → EBADF | refused: memslot.gmem.bad_fd@closed_fd,
 *      memslot.gmem.bad_fd@minus_one, memslot.gmem.bad_fd@huge_fd | accepted: memslot.gmem.dup_fd_same_file
 *  19. the file is not a guest_memfd → EINVAL | refused: memslot.gmem.bad_fd@kvm_fd, memslot.gmem.bad_fd@vm_fd,
 *      memslot.gmem.bad_fd@vcpu_fd, memslot.gmem.bad_fd@memfd, memslot.gmem.bad_fd@dev_null
 *      | accepted: memslot.gmem.range_at_file_edges
 *  20. the guest_memfd belongs to another VM → EINVAL | refused: memslot.gmem.bad_fd@other_vm_gmem,
 *      memslot.gmem.bound_in_other_vm | accepted: memslot.gmem.range_at_file_edges
 *  21. !PAGE_ALIGNED(offset) or offset + size > i_size → EINVAL; before 7.2 offset and size are loff_t (plus
 *      offset < 0), so a sum that wraps negative passes (defect, fixed in 7.2 by 06ba195f136a); 7.2+: uoff_t
 *      | refused: memslot.gmem.range_outside_file, memslot.gmem.offset_near_int64_max, memslot.gmem.max_file_past_end
 *      | accepted: memslot.gmem.range_at_file_edges, memslot.gmem.max_file_last_page
 *  22. file range already bound to another slot → EINVAL before 7.2, EEXIST from 7.2
 *      | refused: memslot.gmem.overlapping_file_range, memslot.gmem.many_slots_one_file,
 *      memslot.gmem.max_file_last_page
 *      | accepted: memslot.gmem.adjacent_file_ranges, memslot.gmem.two_files_same_offsets,
 *      memslot.gmem.max_file_last_page
 *  23. pad1 and pad2[] are not checked by any version read | refused: n/a (no such check)
 *      | accepted: memslot.gmem.pad_nonzero
 *  24. a VM whose KVM_CAP_GUEST_MEMFD is 0 (7.2 and 7.3 only test CONFIG_KVM_GUEST_MEMFD here) → EINVAL
 *      | refused: memslot.gmem.refused_without_vm_cap | accepted: memslot.gmem.range_at_file_edges
 */
import { defineCase, type CaseDef } from '../../lib/harness/case.js';
import type { CaseContext } from '../../lib/harness/context.js';
import { CaseFailure, expectErrno, expectOk, expectTrue, outcome } from '../../lib/harness/expect.js';
import {
  KVM_CAP_GUEST_MEMFD,
  KVM_CAP_MULTI_ADDRESS_SPACE,
  KVM_CAP_NR_MEMSLOTS,
  KVM_MEM_LOG_DIRTY_PAGES,
  KVM_MEM_READONLY,
  O_RDWR,
  O_CLOEXEC,
  PROT_READ,
  PROT_WRITE,
  MAP_SHARED,
  MAP_ANONYMOUS,
  KVM_SET_USER_MEMORY_REGION2,
} from '../../lib/uapi/index.js';
import { existsSync, readFileSync } from 'node:fs';
import type { ErrnoName } from '../../lib/uapi/index.js';
import { close } from '../../lib/ffi/libc.js';
import { __ioctlVal } from '../../lib/kvm/ioctl.js';
import { open, dup } from '../../lib/sys/fd.js';
import { ftruncate } from '../../lib/sys/io.js';
import type { Vm } from '../../lib/kvm/vm.js';
import { PAGE, hex, gmemFlagVariants, type GmemFlagParams } from '../../lib/cases/gmem.js';
import {
  GMEM_FLAG,
  NEEDS_GMEM_SLOT,
  BASE_GPA,
  FD_MINUS_ONE,
  gmemSlot,
  __deleteSlot,
  pages,
  vmTypeVariants,
  type VmTypeParams,
} from '../../lib/cases/memslot.js';

const SELFTEST = 'set_memory_region_test.c';
const V2 = 'bb58b90b1a8f';
const GMEM = 'a7800aa80ea4';
const SELFTEST_GMEM = '2feabb855df8';

/** A VM of the case's type with one 16-page guest_memfd (flags 0, valid on every VM type with guest_memfd). */
function vmWithGmem(ctx: CaseContext<unknown>, sizePages = 16) {
  const vm = ctx.vm();
  const gmem = ctx.gmem(vm, pages(sizePages), 0n);
  return { vm, gmem };
}

// ---------------------------------------------------------------- flags

const v1Ioctl = defineCase<VmTypeParams>({
  id: 'memslot.gmem.v1_ioctl_rejects_flag',
  doc: 'KVM_SET_USER_MEMORY_REGION (v1) refuses KVM_MEM_GUEST_MEMFD with EINVAL: the v1 struct has no guest_memfd fields',
  requires: NEEDS_GMEM_SLOT,
  variants: vmTypeVariants(),
  tags: { linuxGit: [V2], selftest: `${SELFTEST}:test_invalid_memory_region_flags` },
  run(ctx) {
    const vm = ctx.vm();
    expectErrno(
      vm.__setUserMemoryRegion({ slot: 0, flags: GMEM_FLAG, gpa: BASE_GPA, size: PAGE }),
      'EINVAL',
      'v1 ioctl with KVM_MEM_GUEST_MEMFD',
    );
  },
});

const withDirtyLog = defineCase<VmTypeParams>({
  id: 'memslot.gmem.with_dirty_logging',
  doc: 'KVM_MEM_GUEST_MEMFD | KVM_MEM_LOG_DIRTY_PAGES is refused with EINVAL (dirty logging of private memory is unsupported)',
  requires: NEEDS_GMEM_SLOT,
  variants: vmTypeVariants(),
  tags: { linuxGit: [GMEM], selftest: `${SELFTEST}:test_invalid_memory_region_flags` },
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    const r = vm.__setUserMemoryRegion2(
      gmemSlot(gmem, 0, BASE_GPA, PAGE, 0n, { flags: GMEM_FLAG | KVM_MEM_LOG_DIRTY_PAGES }),
    );
    expectErrno(r, 'EINVAL', 'GUEST_MEMFD | LOG_DIRTY_PAGES');
  },
});

const withReadonly = defineCase<VmTypeParams>({
  id: 'memslot.gmem.with_readonly',
  doc: 'KVM_MEM_GUEST_MEMFD | KVM_MEM_READONLY is refused with EINVAL on every VM type (check_memory_region_flags adds READONLY only without GUEST_MEMFD)',
  requires: NEEDS_GMEM_SLOT,
  variants: vmTypeVariants(),
  tags: { linuxGit: [GMEM] },
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    const r = vm.__setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, PAGE, 0n, { flags: GMEM_FLAG | KVM_MEM_READONLY }));
    expectErrno(r, 'EINVAL', 'GUEST_MEMFD | READONLY');
  },
});

const unknownBits = defineCase<VmTypeParams>({
  id: 'memslot.gmem.unknown_flag_bits',
  doc: 'KVM_MEM_GUEST_MEMFD combined with any of the flag bits 3..31 is refused with EINVAL',
  requires: NEEDS_GMEM_SLOT,
  variants: vmTypeVariants(),
  tags: { selftest: `${SELFTEST}:test_invalid_memory_region_flags` },
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    for (let bit = 3; bit < 32; bit++) {
      const flags = (GMEM_FLAG | (1 << bit)) >>> 0;
      expectErrno(
        vm.__setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, PAGE, 0n, { flags })),
        'EINVAL',
        `flags ${hex(flags)}`,
      );
    }
  },
});

// ---------------------------------------------------------------- the guest_memfd field

/** Which file the guest_memfd field names, and the errno kvm_gmem_bind gives for it. */
interface FdKindParams {
  /** Kind of fd. */ kind:
    | 'kvm_fd'
    | 'vm_fd'
    | 'vcpu_fd'
    | 'memfd'
    | 'dev_null'
    | 'other_vm_gmem'
    | 'closed_fd'
    | 'minus_one'
    | 'huge_fd';
  /** Expected errno (fixtures may override per instance as `errno`). */ errno: ErrnoName;
}

const fdKinds: CaseDef<FdKindParams> = defineCase<FdKindParams>({
  id: 'memslot.gmem.bad_fd',
  doc: 'guest_memfd naming a file that is not a guest_memfd of this VM is refused: EINVAL for a wrong file, EBADF when fget() finds no file',
  requires: NEEDS_GMEM_SLOT,
  variants: [
    { name: 'kvm_fd', params: { kind: 'kvm_fd', errno: 'EINVAL' } },
    { name: 'vm_fd', params: { kind: 'vm_fd', errno: 'EINVAL' } },
    { name: 'vcpu_fd', params: { kind: 'vcpu_fd', errno: 'EINVAL' } },
    { name: 'memfd', params: { kind: 'memfd', errno: 'EINVAL' } },
    { name: 'dev_null', params: { kind: 'dev_null', errno: 'EINVAL' } },
    { name: 'other_vm_gmem', params: { kind: 'other_vm_gmem', errno: 'EINVAL' } },
    { name: 'closed_fd', params: { kind: 'closed_fd', errno: 'EBADF' } },
    { name: 'minus_one', params: { kind: 'minus_one', errno: 'EBADF' } },
    { name: 'huge_fd', params: { kind: 'huge_fd', errno: 'EBADF' } },
  ],
  tags: { linuxGit: [GMEM, SELFTEST_GMEM], selftest: `${SELFTEST}:test_add_private_memory_region` },
  run(ctx) {
    const vm = ctx.vm();
    let fd: number;
    switch (ctx.params.kind) {
      case 'kvm_fd':
        fd = ctx.kvm.fd;
        break;
      case 'vm_fd':
        fd = vm.fd;
        break;
      case 'vcpu_fd':
        fd = ctx.track(vm.createVcpu(0)).fd;
        break;
      case 'memfd':
        fd = ctx.memfd('gmem-conformance', 0);
        ftruncate(fd, pages(16));
        break;
      case 'dev_null':
        fd = ctx.trackFd(open('/dev/null', O_RDWR | O_CLOEXEC));
        break;
      case 'other_vm_gmem':
        fd = ctx.gmem(ctx.vm(), pages(16)).fd;
        break;
      case 'closed_fd':
        fd = dup(ctx.kvm.fd);
        close(fd);
        break;
      case 'minus_one':
        fd = FD_MINUS_ONE;
        break;
      case 'huge_fd':
        fd = 0x7fff_ffff;
        break;
    }
    const r = vm.__setUserMemoryRegion2(gmemSlot(fd, 0, BASE_GPA, PAGE));
    ctx.observe('outcome', outcome(r));
    expectErrno(r, ctx.expected<ErrnoName>('errno', ctx.params.errno), `guest_memfd = ${ctx.params.kind} (${fd})`);
  },
});

const sameGmemOtherVm = defineCase({
  id: 'memslot.gmem.bound_in_other_vm',
  doc: 'a guest_memfd cannot be bound in a second VM, whether or not its own VM has it bound (EINVAL: a gmem file belongs to one VM)',
  requires: NEEDS_GMEM_SLOT,
  tags: { selftest: `${SELFTEST}:test_add_private_memory_region` },
  run(ctx) {
    const { vm: a, gmem } = vmWithGmem(ctx);
    a.setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, pages(4)));
    const b = ctx.vm();
    expectErrno(
      b.__setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, pages(4))),
      'EINVAL',
      "binding VM A's bound guest_memfd in VM B",
    );
    expectOk(__deleteSlot(a, 0), "deleting A's slot");
    expectErrno(
      b.__setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, pages(4))),
      'EINVAL',
      "binding VM A's now unbound guest_memfd in VM B",
    );
  },
});

// ---------------------------------------------------------------- offsets and sizes

const unalignedOffset = defineCase({
  id: 'memslot.gmem.unaligned_offset',
  doc: 'every guest_memfd_offset from 1 to PAGE_SIZE-1 is refused with EINVAL',
  requires: NEEDS_GMEM_SLOT,
  tags: { selftest: `${SELFTEST}:test_add_private_memory_region` },
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    for (let off = 1n; off < PAGE; off++)
      expectErrno(vm.__setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, PAGE, off)), 'EINVAL', `offset ${off}`);
  },
});

/** A (offset, size) pair against a 16-page guest_memfd. */
interface BoundsParams {
  /** guest_memfd_offset. */ offset: bigint;
  /** memory_size. */ size: bigint;
}

const badBounds = defineCase<BoundsParams>({
  id: 'memslot.gmem.range_outside_file',
  doc: 'a slot whose guest_memfd range [offset, offset+size) leaves the 16-page file, or wraps (unsigned, or signed past INT64_MAX), is refused with EINVAL',
  requires: NEEDS_GMEM_SLOT,
  variants: [
    { name: 'size_beyond_end', params: { offset: 0n, size: pages(17) } },
    { name: 'crosses_end', params: { offset: pages(15), size: pages(2) } },
    { name: 'offset_at_end', params: { offset: pages(16), size: PAGE } },
    { name: 'offset_past_end', params: { offset: pages(32), size: PAGE } },
    { name: 'offset_wraps', params: { offset: (1n << 64n) - PAGE, size: pages(2) } },
    // offset + size is exactly 2^64 (0 in u64): kvm_set_memory_region's wrap check, not the i_size check, refuses it
    { name: 'offset_ends_at_2p64', params: { offset: (1n << 64n) - PAGE, size: PAGE } },
    { name: 'offset_negative', params: { offset: 1n << 63n, size: PAGE } },
    // kvm_gmem_bind() checks offset + size > i_size: with a signed offset (loff_t, before 7.2) the
    // largest aligned positive offset plus any size wraps to a negative sum and passed the check
    { name: 'offset_max_aligned', params: { offset: (1n << 63n) - PAGE, size: PAGE } },
    { name: 'offset_max_aligned_file', params: { offset: (1n << 63n) - PAGE, size: pages(16) } },
    { name: 'sum_wraps_negative', params: { offset: (1n << 63n) - pages(8), size: pages(16) } },
  ],
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    const { offset, size } = ctx.params;
    expectErrno(
      vm.__setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, size, offset)),
      'EINVAL',
      `offset ${hex(offset)} size ${hex(size)} of a ${hex(gmem.size)} file`,
    );
  },
});

const edgesOk = defineCase({
  id: 'memslot.gmem.range_at_file_edges',
  doc: 'the last page alone, and the whole file, are valid guest_memfd ranges',
  requires: NEEDS_GMEM_SLOT,
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    expectOk(vm.__setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, PAGE, pages(15))), 'last page (offset 15 pages)');
    expectOk(
      vm.__setUserMemoryRegion2(gmemSlot(gmem, 1, BASE_GPA + pages(64), pages(15))),
      'pages 0..14 in a second slot',
    );
    expectOk(__deleteSlot(vm, 0), 'delete slot 0');
    expectOk(__deleteSlot(vm, 1), 'delete slot 1');
    expectOk(vm.__setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, gmem.size)), 'the whole file');
  },
});

/** A general memslot check applied to a guest_memfd slot. */
interface GeneralParams {
  /** What is wrong. */
  what:
    | 'gpa_unaligned'
    | 'size_unaligned'
    | 'size_sub_page'
    | 'hva_unaligned'
    | 'hva_kernel'
    | 'gpa_wraps'
    | 'gpa_ends_at_2p64';
}

const generalChecks = defineCase<GeneralParams>({
  id: 'memslot.gmem.general_checks',
  doc: 'the checks every memslot gets (page-aligned GPA, size and userspace_addr; user-range hva; no GPA wrap) also refuse guest_memfd slots with EINVAL',
  requires: NEEDS_GMEM_SLOT,
  variants: (
    [
      'gpa_unaligned',
      'size_unaligned',
      'size_sub_page',
      'hva_unaligned',
      'hva_kernel',
      'gpa_wraps',
      'gpa_ends_at_2p64',
    ] as const
  ).map((what) => ({ name: what, params: { what } })),
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    const s = gmemSlot(gmem, 0, BASE_GPA, PAGE);
    switch (ctx.params.what) {
      case 'gpa_unaligned':
        s.gpa = BASE_GPA + 0x800n;
        break;
      case 'size_unaligned':
        s.size = PAGE + 1n;
        break;
      case 'size_sub_page':
        s.size = 1n;
        break;
      case 'hva_unaligned':
        s.hva = 0x1000_0800n;
        break;
      case 'hva_kernel':
        s.hva = 0xffff_8000_0000_0000n;
        break;
      case 'gpa_wraps':
        s.gpa = (1n << 64n) - PAGE;
        s.size = pages(2);
        break;
      // gpa + size is exactly 2^64, i.e. 0 in u64: the smallest sum that wraps
      case 'gpa_ends_at_2p64':
        s.gpa = (1n << 64n) - PAGE;
        s.size = PAGE;
        break;
    }
    expectErrno(
      vm.__setUserMemoryRegion2(s),
      'EINVAL',
      `${ctx.params.what}: gpa ${hex(s.gpa)} size ${hex(s.size)} hva ${hex(s.hva ?? 0n)}`,
    );
  },
});

/** Which reserved field of struct kvm_userspace_memory_region2 is set. */
interface PadParams {
  /** pad1 value. */ pad1?: number;
  /** pad2[] values. */ pad2?: bigint[];
}

const padNonzero = defineCase<PadParams>({
  id: 'memslot.gmem.pad_nonzero',
  doc: 'non-zero pad1/pad2[] of struct kvm_userspace_memory_region2 should be refused; kernels that accept them are recorded via fixtures as an ABI hygiene finding',
  requires: NEEDS_GMEM_SLOT,
  variants: [
    { name: 'pad1', params: { pad1: 1 } },
    { name: 'pad2_first', params: { pad2: [1n] } },
    { name: 'pad2_last', params: { pad2: [...Array<bigint>(13).fill(0n), 1n] } },
  ],
  expect: { pad: 'EINVAL' },
  tags: { linuxGit: [V2] },
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    const pad = {
      ...(ctx.params.pad1 !== undefined ? { pad1: ctx.params.pad1 } : {}),
      ...(ctx.params.pad2 ? { pad2: ctx.params.pad2 } : {}),
    };
    const r = vm.__setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, PAGE, 0n, { pad }));
    ctx.observe('outcome', outcome(r));
    const want = ctx.expected<ErrnoName | 'accepted'>('pad');
    if (want === 'accepted') {
      expectOk(r, `${ctx.variant} = 1 (fixtures say this kernel accepts it)`);
      ctx.note(`finding: KVM_SET_USER_MEMORY_REGION2 accepts ${ctx.variant} != 0 (padding is not checked)`);
    } else expectErrno(r, want, `${ctx.variant} = 1`);
  },
});

// ---------------------------------------------------------------- deletion

const deleteNonexistent = defineCase({
  id: 'memslot.gmem.delete_nonexistent',
  doc: 'memory_size 0 with KVM_MEM_GUEST_MEMFD on a slot that does not exist is refused with EINVAL',
  requires: NEEDS_GMEM_SLOT,
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    expectErrno(vm.__setUserMemoryRegion2(gmemSlot(gmem, 7, BASE_GPA, 0n)), 'EINVAL', 'delete of never-created slot 7');
  },
});

const deleteIgnoresFd = defineCase({
  id: 'memslot.gmem.delete_ignores_fd',
  doc: 'a guest_memfd slot is deleted by memory_size 0 even when guest_memfd is -1; a second delete fails with EINVAL',
  requires: NEEDS_GMEM_SLOT,
  tags: { selftest: `${SELFTEST}:test_add_overlapping_private_memory_regions` },
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    vm.setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, pages(2)));
    expectOk(
      vm.__setUserMemoryRegion2(gmemSlot(FD_MINUS_ONE, 0, BASE_GPA, 0n)),
      'delete with GUEST_MEMFD and guest_memfd = -1',
    );
    expectErrno(
      vm.__setUserMemoryRegion2(gmemSlot(FD_MINUS_ONE, 0, BASE_GPA, 0n)),
      'EINVAL',
      'second delete of the same slot',
    );
  },
});

const deleteChecksOffset = defineCase({
  id: 'memslot.gmem.delete_checks_offset',
  doc: 'a delete that carries KVM_MEM_GUEST_MEMFD with an unaligned guest_memfd_offset is refused with EINVAL (the offset check runs before the delete path) and the slot survives',
  requires: NEEDS_GMEM_SLOT,
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    vm.setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, pages(2)));
    expectErrno(vm.__setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, 0n, 1n)), 'EINVAL', 'delete with offset 1');
    expectErrno(
      vm.__setUserMemoryRegion2(gmemSlot(gmem, 1, BASE_GPA, PAGE, pages(8))),
      'EEXIST',
      'the GPA is still taken by slot 0',
    );
    expectOk(__deleteSlot(vm, 0), 'plain delete');
  },
});

const deleteReadd = defineCase({
  id: 'memslot.gmem.delete_and_readd',
  doc: 'deleting a guest_memfd slot unbinds its range: the same slot, then another slot, can bind the same range again',
  requires: NEEDS_GMEM_SLOT,
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    const spec = gmemSlot(gmem, 0, BASE_GPA, pages(4), pages(4));
    vm.setUserMemoryRegion2(spec);
    for (let i = 0; i < 3; i++) {
      expectOk(__deleteSlot(vm, 0), `delete #${i}`);
      expectOk(vm.__setUserMemoryRegion2(spec), `re-add #${i}`);
    }
    expectOk(__deleteSlot(vm, 0), 'final delete of slot 0');
    expectOk(
      vm.__setUserMemoryRegion2(gmemSlot(gmem, 9, BASE_GPA + pages(256), pages(4), pages(4))),
      'slot 9 binds the range slot 0 released',
    );
  },
});

// ---------------------------------------------------------------- overlaps

/** Where the second slot's guest_memfd range lies relative to the first slot's pages [4, 8). */
interface OverlapParams {
  /** guest_memfd_offset of the second slot (pages). */ offsetPages: number;
  /** Size of the second slot (pages). */ sizePages: number;
}

const overlapGmem = defineCase<OverlapParams>({
  id: 'memslot.gmem.overlapping_file_range',
  doc: 'a second slot (disjoint GPA) whose guest_memfd range overlaps a range bound to another slot is refused (EINVAL up to 7.1; the errno on >=7.2 comes from fixtures)',
  requires: NEEDS_GMEM_SLOT,
  variants: [
    { name: 'same_range', params: { offsetPages: 4, sizePages: 4 } },
    { name: 'front_half', params: { offsetPages: 2, sizePages: 4 } },
    { name: 'back_half', params: { offsetPages: 6, sizePages: 4 } },
    { name: 'inside', params: { offsetPages: 5, sizePages: 1 } },
    { name: 'superset', params: { offsetPages: 0, sizePages: 16 } },
  ],
  expect: { errno: 'EINVAL' },
  tags: { linuxGit: [GMEM], selftest: `${SELFTEST}:test_add_overlapping_private_memory_regions` },
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    vm.setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, pages(4), pages(4)));
    const { offsetPages, sizePages } = ctx.params;
    const r = vm.__setUserMemoryRegion2(gmemSlot(gmem, 1, BASE_GPA * 2n, pages(sizePages), pages(offsetPages)));
    ctx.observe('outcome', outcome(r));
    expectErrno(
      r,
      ctx.expected<ErrnoName>('errno'),
      `file pages [${offsetPages}, ${offsetPages + sizePages}) over bound pages [4, 8)`,
    );
  },
});

const overlapBoth = defineCase({
  id: 'memslot.gmem.overlapping_gpa_and_file_range',
  doc: "when both the GPA and the guest_memfd range overlap, the GPA check wins: EEXIST on every version (this is what upstream's selftest asserts)",
  requires: NEEDS_GMEM_SLOT,
  tags: { selftest: `${SELFTEST}:test_add_overlapping_private_memory_regions` },
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    vm.setUserMemoryRegion2(gmemSlot(gmem, 1, BASE_GPA * 2n, pages(4), pages(4)));
    expectErrno(
      vm.__setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA * 2n - pages(2), pages(4), pages(2))),
      'EEXIST',
      'front half, GPA and file pages both overlapping',
    );
    expectErrno(
      vm.__setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA * 2n + pages(2), pages(4), pages(6))),
      'EEXIST',
      'back half, GPA and file pages both overlapping',
    );
  },
});

const adjacentOk = defineCase({
  id: 'memslot.gmem.adjacent_file_ranges',
  doc: 'slots bound to adjacent, non-overlapping ranges of one guest_memfd are accepted',
  requires: NEEDS_GMEM_SLOT,
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    expectOk(vm.__setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, pages(4), pages(4))), 'pages [4, 8)');
    expectOk(vm.__setUserMemoryRegion2(gmemSlot(gmem, 1, BASE_GPA * 2n, pages(4), 0n)), 'pages [0, 4)');
    expectOk(vm.__setUserMemoryRegion2(gmemSlot(gmem, 2, BASE_GPA * 3n, pages(8), pages(8))), 'pages [8, 16)');
  },
});

/** Which kinds of slots collide in GPA. */
interface GpaOverlapParams {
  /** The existing slot is a guest_memfd slot. */ firstGmem: boolean;
  /** The new slot is a guest_memfd slot. */ secondGmem: boolean;
}

const gpaOverlap = defineCase<GpaOverlapParams>({
  id: 'memslot.gmem.overlapping_gpa',
  doc: 'a slot whose GPA range overlaps an existing slot is refused with EEXIST, whichever of the two is backed by guest_memfd',
  requires: NEEDS_GMEM_SLOT,
  variants: [
    { name: 'gmem_over_gmem', params: { firstGmem: true, secondGmem: true } },
    { name: 'gmem_over_plain', params: { firstGmem: false, secondGmem: true } },
    { name: 'plain_over_gmem', params: { firstGmem: true, secondGmem: false } },
  ],
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    const anon = ctx.map(Number(pages(8)), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
    const first = ctx.params.firstGmem
      ? gmemSlot(gmem, 0, BASE_GPA, pages(4))
      : { slot: 0, gpa: BASE_GPA, size: pages(4), hva: anon.addr };
    vm.setUserMemoryRegion2(first);
    const gpa = BASE_GPA + pages(2);
    const second = ctx.params.secondGmem
      ? gmemSlot(gmem, 1, gpa, pages(4), pages(8))
      : { slot: 1, gpa, size: pages(4), hva: anon.addr + pages(4) };
    expectErrno(vm.__setUserMemoryRegion2(second), 'EEXIST', `slot 1 at ${hex(gpa)} over slot 0 at ${hex(BASE_GPA)}`);
  },
});

const dupFd = defineCase({
  id: 'memslot.gmem.dup_fd_same_file',
  doc: 'a dup() of a guest_memfd is the same file: it binds, and its bindings collide with those made through the original fd',
  requires: NEEDS_GMEM_SLOT,
  expect: { errno: 'EINVAL' },
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    const copy = ctx.trackFd(dup(gmem.fd));
    expectOk(vm.__setUserMemoryRegion2(gmemSlot(copy, 0, BASE_GPA, pages(4))), 'bind through the dup');
    const r = vm.__setUserMemoryRegion2(gmemSlot(gmem, 1, BASE_GPA * 2n, pages(4)));
    expectErrno(r, ctx.expected<ErrnoName>('errno'), 'the same pages through the original fd');
  },
});

const twoFiles = defineCase({
  id: 'memslot.gmem.two_files_same_offsets',
  doc: 'bindings are per file: the same offsets of two different guest_memfds of one VM can be bound to two slots',
  requires: NEEDS_GMEM_SLOT,
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    const other = ctx.gmem(vm, pages(16), 0n);
    expectOk(vm.__setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, pages(4))), 'file A pages [0, 4)');
    expectOk(vm.__setUserMemoryRegion2(gmemSlot(other, 1, BASE_GPA * 2n, pages(4))), 'file B pages [0, 4)');
  },
});

// ---------------------------------------------------------------- changing an existing slot

/** How an existing guest_memfd slot is re-specified. */
interface ModifyParams {
  /** What changes. */ change:
    | 'nothing'
    | 'drop_gmem_flag'
    | 'add_dirty_log'
    | 'move_gpa'
    | 'move_gpa_plain'
    | 'resize'
    | 'new_hva'
    | 'new_offset';
}

const modify = defineCase<ModifyParams>({
  id: 'memslot.gmem.modify_existing',
  doc: 'guest_memfd memslots are immutable: any re-specification of an existing one (even an identical one, a flags-only change, or a move) is refused with EINVAL; only delete works',
  requires: NEEDS_GMEM_SLOT,
  variants: (
    [
      'nothing',
      'drop_gmem_flag',
      'add_dirty_log',
      'move_gpa',
      'move_gpa_plain',
      'resize',
      'new_hva',
      'new_offset',
    ] as const
  ).map((change) => ({ name: change, params: { change } })),
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    const anon = ctx.map(Number(pages(4)), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
    const spec = gmemSlot(gmem, 0, BASE_GPA, pages(4), 0n, { hva: anon.addr });
    vm.setUserMemoryRegion2(spec);
    const again = { ...spec };
    switch (ctx.params.change) {
      case 'nothing':
        break;
      case 'drop_gmem_flag':
        again.flags = 0;
        break;
      case 'add_dirty_log':
        again.flags = GMEM_FLAG | KVM_MEM_LOG_DIRTY_PAGES;
        break;
      case 'move_gpa':
        again.gpa = BASE_GPA * 2n;
        break;
      case 'move_gpa_plain':
        again.gpa = BASE_GPA * 2n;
        again.flags = 0;
        break;
      case 'resize':
        again.size = pages(2);
        break;
      case 'new_hva':
        again.hva = 0n;
        break;
      case 'new_offset':
        again.gmemOffset = pages(4);
        break;
    }
    const r = vm.__setUserMemoryRegion2(again);
    ctx.observe('outcome', outcome(r));
    expectErrno(r, 'EINVAL', `re-specifying slot 0 (${ctx.params.change})`);
    expectOk(__deleteSlot(vm, 0), 'delete still works');
  },
});

const convertPlain = defineCase({
  id: 'memslot.gmem.convert_plain_slot',
  doc: 'an existing plain (hva-only) slot cannot be turned into a guest_memfd slot in place: EINVAL',
  requires: NEEDS_GMEM_SLOT,
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    const anon = ctx.map(Number(pages(4)), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
    vm.setUserMemoryRegion2({ slot: 0, gpa: BASE_GPA, size: pages(4), hva: anon.addr });
    expectErrno(
      vm.__setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, pages(4), 0n, { hva: anon.addr })),
      'EINVAL',
      'adding KVM_MEM_GUEST_MEMFD to plain slot 0',
    );
  },
});

// ---------------------------------------------------------------- many slots, ids, address spaces

const manySlots = defineCase({
  id: 'memslot.gmem.many_slots_one_file',
  doc: '32 slots bound to 32 disjoint one-page ranges of one guest_memfd are all accepted, a 33rd on a bound page is refused, and all delete cleanly',
  requires: NEEDS_GMEM_SLOT,
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx, 32);
    for (let i = 0; i < 32; i++)
      expectOk(
        vm.__setUserMemoryRegion2(gmemSlot(gmem, i, BASE_GPA + pages(2 * i), PAGE, pages(i))),
        `slot ${i} on page ${i}`,
      );
    expectErrno(
      vm.__setUserMemoryRegion2(gmemSlot(gmem, 32, BASE_GPA * 2n, PAGE, pages(17))),
      ctx.expected<ErrnoName>('errno', 'EINVAL'),
      'slot 32 on already-bound page 17',
    );
    for (let i = 0; i < 32; i++) expectOk(__deleteSlot(vm, i), `delete slot ${i}`);
  },
});

const slotIdLimit = defineCase({
  id: 'memslot.gmem.slot_id_limit',
  doc: 'slot id KVM_CAP_NR_MEMSLOTS-1 accepts a guest_memfd slot; id KVM_CAP_NR_MEMSLOTS (the first internal id) is refused with EINVAL',
  requires: NEEDS_GMEM_SLOT,
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    const n = vm.checkExtension(KVM_CAP_NR_MEMSLOTS) || ctx.kvm.checkExtension(KVM_CAP_NR_MEMSLOTS);
    ctx.observe('nr_memslots', n);
    expectTrue(n > 0 && n <= 0xffff, `KVM_CAP_NR_MEMSLOTS = ${n}`);
    expectOk(vm.__setUserMemoryRegion2(gmemSlot(gmem, n - 1, BASE_GPA, PAGE)), `slot ${n - 1}`);
    expectErrno(vm.__setUserMemoryRegion2(gmemSlot(gmem, n, BASE_GPA * 2n, PAGE, PAGE)), 'EINVAL', `slot ${n}`);
  },
});

/** Number of memslot address spaces a VM reports (1 when KVM_CAP_MULTI_ADDRESS_SPACE is absent). */
function addressSpaces(vm: Vm): number {
  return Math.max(1, vm.checkExtension(KVM_CAP_MULTI_ADDRESS_SPACE));
}

const asBeyond = defineCase({
  id: 'memslot.gmem.address_space_beyond_limit',
  doc: 'a guest_memfd slot in address space N (slot >> 16) where N >= KVM_CAP_MULTI_ADDRESS_SPACE (1 when absent) is refused with EINVAL',
  requires: NEEDS_GMEM_SLOT,
  tags: { linuxGit: ['eed52e434bc3'] },
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    const n = addressSpaces(vm);
    ctx.observe('address_spaces', n);
    for (const as of [n, n + 1, 0xffff])
      expectErrno(
        vm.__setUserMemoryRegion2(gmemSlot(gmem, (as << 16) >>> 0, BASE_GPA, PAGE)),
        'EINVAL',
        `address space ${as} of ${n}`,
      );
  },
});

const asSecond = defineCase({
  id: 'memslot.gmem.address_space_one',
  doc: 'where a VM has a second address space (x86 SMM, KVM_CAP_MULTI_ADDRESS_SPACE >= 2), a guest_memfd slot can be added there, and it binds its own file range',
  requires: NEEDS_GMEM_SLOT,
  run(ctx) {
    const { vm, gmem } = vmWithGmem(ctx);
    const n = addressSpaces(vm);
    ctx.observe('address_spaces', n);
    if (n < 2)
      ctx.skip(
        `KVM_CAP_MULTI_ADDRESS_SPACE on a VM of type ${vm.type} is ${vm.checkExtension(KVM_CAP_MULTI_ADDRESS_SPACE)}: no second address space (CONFIG_KVM_SMM off or a private-memory VM)`,
      );
    expectOk(vm.__setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, pages(4))), 'slot 0 in address space 0');
    expectOk(
      vm.__setUserMemoryRegion2(gmemSlot(gmem, (1 << 16) | 0, BASE_GPA, pages(4), pages(4))),
      'slot 0 in address space 1 at the same GPA, other file pages',
    );
    const r = vm.__setUserMemoryRegion2(gmemSlot(gmem, (1 << 16) | 1, BASE_GPA * 2n, pages(4), 0n));
    ctx.observe('cross_as_overlap', outcome(r));
    expectErrno(
      r,
      ctx.expected<ErrnoName>('errno', 'EINVAL'),
      'address space 1 binding file pages already bound in address space 0',
    );
  },
});

// ---------------------------------------------------------------- lifetime of the file vs the slot

const closeBound = defineCase({
  id: 'memslot.gmem.close_bound_file',
  doc: 'closing the only fd of a bound guest_memfd releases the file: its slot can still be deleted, and a new guest_memfd binds the same GPA',
  requires: NEEDS_GMEM_SLOT,
  run(ctx) {
    const vm = ctx.vm();
    const g = vm.createGuestMemfd(pages(4), 0n);
    try {
      vm.setUserMemoryRegion2(gmemSlot(g, 0, BASE_GPA, pages(4)));
    } finally {
      g.close();
    }
    expectOk(__deleteSlot(vm, 0), 'delete a slot whose guest_memfd was closed');
    const g2 = ctx.gmem(vm, pages(4), 0n);
    expectOk(vm.__setUserMemoryRegion2(gmemSlot(g2, 0, BASE_GPA, pages(4))), 'a new guest_memfd at the same GPA');
  },
});

const refusedWithoutVmCap = defineCase({
  id: 'memslot.gmem.refused_without_vm_cap',
  doc: 'a VM whose KVM_CHECK_EXTENSION(KVM_CAP_GUEST_MEMFD) is 0 refuses a guest_memfd memslot with EINVAL, even though it can create the guest_memfd',
  requires: { caps: ['KVM_CAP_GUEST_MEMFD', 'KVM_CAP_USER_MEMORY2'] },
  tags: { linuxGit: [V2] },
  run(ctx) {
    const vm = ctx.vm();
    const vmCap = vm.checkExtension(KVM_CAP_GUEST_MEMFD);
    ctx.observe('vm_cap', vmCap);
    if (vmCap !== 0)
      ctx.skip(
        `this VM type binds guest_memfd (KVM_CAP_GUEST_MEMFD on the VM fd is ${vmCap}); the binding cases cover it`,
      );
    const gmem = ctx.gmem(vm, PAGE);
    const r = vm.__setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, PAGE));
    ctx.observe('outcome', outcome(r));
    expectErrno(
      r,
      'EINVAL',
      'KVM_SET_USER_MEMORY_REGION2 with a guest_memfd on a VM that does not advertise KVM_CAP_GUEST_MEMFD',
    );
  },
});

const offsetNearInt64Max = defineCase<GmemFlagParams>({
  id: 'memslot.gmem.offset_near_int64_max',
  doc: 'a guest_memfd slot at offset ALIGN_DOWN(INT64_MAX, PAGE) is refused with EINVAL: offset + size overflows a signed loff_t and must not wrap past the file-size check',
  requires: NEEDS_GMEM_SLOT,
  variants: gmemFlagVariants(),
  tags: { selftest: 'guest_memfd_test.c:test_invalid_binding', kernelFn: 'guest_memfd.c:kvm_gmem_bind' },
  run(ctx) {
    const vm = ctx.vm();
    const gmem = ctx.gmem(vm, pages(4), ctx.params.flags);
    const offset = ((1n << 63n) - 1n) & ~(PAGE - 1n);
    const r = vm.__setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, gmem.size, offset));
    if (r.ret === 0) {
      ctx.defer(() => {
        __deleteSlot(vm, 0);
      });
      throw new CaseFailure(
        `KVM_SET_USER_MEMORY_REGION2 bound a ${hex(gmem.size)}-byte slot at guest_memfd offset ${hex(offset)} of a ${hex(gmem.size)}-byte file: offset + size wrapped to a negative loff_t and passed kvm_gmem_bind's size check (defect)`,
      );
    }
    expectErrno(r, 'EINVAL', `offset ${hex(offset)} size ${hex(gmem.size)}`);
  },
});

// ---------------------------------------------------------------- boundaries of the checks (issue #12)

/** ALIGN_DOWN(INT64_MAX, PAGE): the largest guest_memfd size, and so the end of the largest file range. */
const MAX_GMEM_SIZE = ((1n << 63n) - 1n) & ~(PAGE - 1n);

const badStructPointer = defineCase({
  id: 'memslot.gmem.bad_struct_pointer',
  doc: 'KVM_SET_USER_MEMORY_REGION2 whose argument points at no user memory (NULL, a kernel address) fails with EFAULT',
  requires: NEEDS_GMEM_SLOT,
  run(ctx) {
    const vm = ctx.vm();
    for (const address of [0n, 0xffff_8000_0000_0000n]) {
      const r = __ioctlVal(vm.fd, KVM_SET_USER_MEMORY_REGION2, address);
      expectErrno(r, 'EFAULT', `argument pointer ${hex(address)}`);
    }
  },
});

const maxFileLastPage = defineCase<GmemFlagParams>({
  id: 'memslot.gmem.max_file_last_page',
  doc:
    'in a guest_memfd of the largest size, ALIGN_DOWN(INT64_MAX, PAGE), a slot of the last page or of the ' +
    'last two pages (offset + size = i_size, the largest sum that passes both range checks) is accepted and ' +
    'really bound: a second slot over any of those file pages is refused as an overlap (EINVAL up to 7.1; the ' +
    'errno on >=7.2 comes from fixtures), the page just before them binds, and deleting the slot frees its pages',
  requires: NEEDS_GMEM_SLOT,
  variants: gmemFlagVariants(),
  expect: { errno: 'EINVAL' },
  tags: { kernelFn: 'guest_memfd.c:kvm_gmem_bind' },
  run(ctx) {
    // kvm_gmem_bind() stores the slot at file indices [offset >> PAGE_SHIFT, + npages) of f->bindings and
    // refuses a range where xa_find() sees one (EINVAL, -EEXIST from 7.2's guest_memfd pull): at the top
    // of the largest file those indices are 2^51 - 3 … 2^51 - 2, so a kernel that accepted the slot but
    // stored the range short, wrapped or not at all lets the second slot through
    const vm = ctx.vm();
    const gmem = ctx.gmem(vm, MAX_GMEM_SIZE, ctx.params.flags);
    const errno = ctx.expected<ErrnoName>('errno');
    const other = BASE_GPA * 2n;
    const lastOne = MAX_GMEM_SIZE - PAGE;
    const lastTwo = MAX_GMEM_SIZE - pages(2);
    const before = MAX_GMEM_SIZE - pages(3);
    expectOk(
      vm.__setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, PAGE, lastOne)),
      `last page (offset ${hex(lastOne)})`,
    );
    const again = vm.__setUserMemoryRegion2(gmemSlot(gmem, 1, other, PAGE, lastOne));
    if (again.ret === 0) ctx.defer(() => void __deleteSlot(vm, 1));
    ctx.observe('rebind_last_page', outcome(again));
    expectErrno(again, errno, `a second slot of the last page (offset ${hex(lastOne)}), bound to slot 0`);
    expectOk(__deleteSlot(vm, 0), 'delete the last-page slot');
    expectOk(
      vm.__setUserMemoryRegion2(gmemSlot(gmem, 1, other, PAGE, lastOne)),
      'the last page in another slot once slot 0 is deleted (its binding removed)',
    );
    expectOk(__deleteSlot(vm, 1), 'delete that slot');
    expectOk(
      vm.__setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, pages(2), lastTwo)),
      `last two pages (offset ${hex(lastTwo)})`,
    );
    const tail = vm.__setUserMemoryRegion2(gmemSlot(gmem, 2, other + pages(4), PAGE, lastOne));
    if (tail.ret === 0) ctx.defer(() => void __deleteSlot(vm, 2));
    ctx.observe('rebind_second_of_two', outcome(tail));
    expectErrno(tail, errno, `a slot of the last page (offset ${hex(lastOne)}), the second page of slot 0's range`);
    expectOk(
      vm.__setUserMemoryRegion2(gmemSlot(gmem, 1, other, PAGE, before)),
      `the page just before slot 0's range (offset ${hex(before)})`,
    );
  },
});

const maxFilePastEnd = defineCase<GmemFlagParams>({
  id: 'memslot.gmem.max_file_past_end',
  doc:
    'in a guest_memfd of the largest size, a slot one page past the end (offset ALIGN_DOWN(INT64_MAX, ' +
    'PAGE), or the last page plus one) is refused with EINVAL: offset + size = 2^63 must not wrap to a ' +
    'negative loff_t',
  requires: NEEDS_GMEM_SLOT,
  variants: gmemFlagVariants(),
  tags: { kernelFn: 'guest_memfd.c:kvm_gmem_bind' },
  run(ctx) {
    const vm = ctx.vm();
    const gmem = ctx.gmem(vm, MAX_GMEM_SIZE, ctx.params.flags);
    for (const [offset, size] of [
      [MAX_GMEM_SIZE, PAGE],
      [MAX_GMEM_SIZE - PAGE, pages(2)],
    ] as const) {
      const r = vm.__setUserMemoryRegion2(gmemSlot(gmem, 0, BASE_GPA, size, offset));
      if (r.ret === 0) {
        ctx.defer(() => {
          __deleteSlot(vm, 0);
        });
        throw new CaseFailure(
          `KVM_SET_USER_MEMORY_REGION2 bound [${hex(offset)}, +${hex(size)}) of a ` +
            `${hex(gmem.size)}-byte guest_memfd: offset + size = 2^63 wrapped to a negative loff_t and passed ` +
            "kvm_gmem_bind's i_size check (defect)",
        );
      }
      expectErrno(r, 'EINVAL', `offset ${hex(offset)} size ${hex(size)} of a ${hex(gmem.size)}-byte file`);
    }
  },
});

const tooManyPages = defineCase({
  id: 'memslot.gmem.too_many_pages',
  doc:
    'a guest_memfd slot of 2^31 pages (KVM_MEM_MAX_NR_PAGES + 1, 8 TiB) is refused with EINVAL even ' +
    'though the file is large enough',
  requires: NEEDS_GMEM_SLOT,
  run(ctx) {
    const vm = ctx.vm();
    const size = pages(1n << 31n);
    const gmem = ctx.gmem(vm, size, 0n);
    const r = vm.__setUserMemoryRegion2(gmemSlot(gmem, 0, 0n, size));
    if (r.ret === 0)
      ctx.defer(() => {
        __deleteSlot(vm, 0);
      });
    expectErrno(r, 'EINVAL', `memory_size ${hex(size)} (2^31 pages)`);
  },
});

/** Physical address bits the host CPU reports (/proc/cpuinfo "address sizes"), or undefined. */
function cpuPhysBits(): number | undefined {
  const m = /^address sizes\s*:\s*(\d+) bits physical/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return m ? Number(m[1]) : undefined;
}

/** True when kvm_amd's npt or kvm_intel's ept parameter says two-dimensional paging is on; undefined if unknown. */
function tdpEnabled(): boolean | undefined {
  for (const p of ['/sys/module/kvm_amd/parameters/npt', '/sys/module/kvm_intel/parameters/ept'])
    if (existsSync(p)) return /^(Y|1)/.test(readFileSync(p, 'utf8'));
  return undefined;
}

const gpaLimit = defineCase({
  id: 'memslot.gmem.gpa_limit',
  doc:
    'a guest_memfd slot whose last page is the last below 2^(CPU physical bits) is accepted; one that ' +
    'reaches 2^52 (or, with TDP and no SME, 2^(physical bits)) is refused with EINVAL (kvm_mmu_max_gfn)',
  requires: NEEDS_GMEM_SLOT,
  tags: { kernelFn: 'x86.c:kvm_arch_prepare_memory_region' },
  run(ctx) {
    const found = cpuPhysBits();
    if (found === undefined) ctx.skip('/proc/cpuinfo has no "address sizes" line: the host MAXPHYADDR is unknown');
    const bits = found as number;
    const tdp = tdpEnabled();
    const sme = /^flags\s*:.*\bsme\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
    ctx.observe('phys_bits', bits);
    ctx.observe('tdp', tdp === undefined ? 'unknown' : tdp);
    const vm = ctx.vm();
    // the refused attempts bind their own file pages, so that a binding overlap (EINVAL before 7.2, EEXIST after)
    // cannot stand in for the gfn limit: kvm_gmem_bind runs before kvm_arch_prepare_memory_region
    const gmem = ctx.gmem(vm, pages(4), 0n);
    const top = 1n << BigInt(bits);
    const lastBelow = gmemSlot(gmem, 0, top - PAGE, PAGE);
    expectOk(vm.__setUserMemoryRegion2(lastBelow), `last page below 2^${bits} (gpa ${hex(top - PAGE)})`);
    const refused: [bigint, bigint][] = [
      [1n << 52n, PAGE],
      [(1n << 52n) - PAGE, pages(2)],
    ];
    if (tdp === true && !sme && bits < 52) refused.push([top, PAGE], [top - PAGE, pages(2)]);
    else ctx.observe('at_phys_limit', outcome(vm.__setUserMemoryRegion2(gmemSlot(gmem, 1, top, PAGE, PAGE))));
    // the accepted slots go first so that a GPA overlap (EEXIST, checked earlier) cannot hide the limit either
    __deleteSlot(vm, 0);
    __deleteSlot(vm, 1);
    for (const [gpa, size] of refused) {
      const r = vm.__setUserMemoryRegion2(gmemSlot(gmem, 2, gpa, size, pages(2)));
      expectErrno(r, 'EINVAL', `slot [${hex(gpa)}, +${hex(size)})`);
    }
  },
});

export default [
  v1Ioctl,
  withDirtyLog,
  withReadonly,
  unknownBits,
  fdKinds,
  sameGmemOtherVm,
  unalignedOffset,
  badBounds,
  edgesOk,
  generalChecks,
  padNonzero,
  deleteNonexistent,
  deleteIgnoresFd,
  deleteChecksOffset,
  deleteReadd,
  overlapGmem,
  overlapBoth,
  adjacentOk,
  gpaOverlap,
  dupFd,
  twoFiles,
  modify,
  convertPlain,
  manySlots,
  slotIdLimit,
  asBeyond,
  asSecond,
  closeBound,
  refusedWithoutVmCap,
  offsetNearInt64Max,
  badStructPointer,
  maxFileLastPage,
  maxFilePastEnd,
  tooManyPages,
  gpaLimit,
];
