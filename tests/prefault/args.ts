/**
 * prefault.args / prefault.ioctl / prefault.mmu: KVM_PRE_FAULT_MEMORY argument checking (done in generic code
 * before any MMU work, so it is observable even where pre-faulting itself is unsupported), the ioctl on the
 * wrong kinds of fd, and the documented refusal where the MMU cannot pre-fault.
 *
 * Kernel checks: KVM_PRE_FAULT_MEMORY (virt/kvm/kvm_main.c kvm_vcpu_ioctl, kvm_vcpu_pre_fault_memory;
 *   arch/x86/kvm/mmu/mmu.c kvm_arch_vcpu_pre_fault_memory, kvm_tdp_page_prefault; read in 7.2.13 and 7.3-rc7
 *   (identical); 6.18 not read)
 *   1. a vCPU ioctl: VM fd → ENOTTY, /dev/kvm → EINVAL, guest_memfd → ENOTTY | refused: prefault.ioctl.on_vm_fd,
 *      prefault.ioctl.on_system_fd, prefault.ioctl.on_gmem_fd | accepted: prefault.range.whole_slot
 *   2. copy_from_user of struct kvm_pre_fault_memory → EFAULT | refused: prefault.args.bad_struct_pointer
 *      | accepted: prefault.range.whole_slot
 *   3. flags != 0 → EINVAL | refused: prefault.args.flags_nonzero | accepted: prefault.range.whole_slot
 *   4. gpa or size not page-aligned → EINVAL | refused: prefault.args.unaligned_gpa, prefault.args.unaligned_size
 *      | accepted: prefault.range.whole_slot
 *   5. gpa + size <= gpa (size 0, a sum past 2^64, an end of exactly 2^64) → EINVAL
 *      | refused: prefault.args.size_zero, prefault.args.overflow | accepted: prefault.args.max_range_end
 *   6. padding[] is not checked | refused: n/a (no such check) | accepted: prefault.args.padding_nonzero
 *   7. signal_pending before each chunk → EINTR, or 0 once a page was done
 *      | refused: prefault.eintr.pending_signal | accepted: prefault.eintr.timer_retry
 *   8. !kvm->arch.pre_fault_allowed (SNP/TDX before launch is finalised) → EOPNOTSUPP
 *      | refused: coco.prefault.before_launch | accepted: prefault.range.whole_slot
 *   9. kvm_is_gfn_alias (a TDX shared-bit GPA) → EINVAL | refused: n/a (TDX only; no TDX host here)
 *      | accepted: prefault.range.whole_slot
 *  10. the MMU is not TDP (shadow paging) → EOPNOTSUPP | refused: prefault.mmu.refused_without_cap
 *      | accepted: prefault.range.whole_slot
 *  11. no memslot at gpa (RET_PF_EMULATE; also every gfn above kvm_mmu_max_gfn) → ENOENT, progress kept
 *      | refused: prefault.range.outside_slot, prefault.range.straddles_slot_end, prefault.args.max_range_end
 *      | accepted: prefault.range.whole_slot, prefault.range.straddles_slot_end
 *  12. KVM_REQ_VM_DEAD → EIO | refused: n/a (needs a VM that KVM killed after a bug) | accepted: prefault.range.repeat
 */
import { defineCase } from '../../lib/harness/case.js';
import type { CaseContext } from '../../lib/harness/context.js';
import { CaseFailure, expectEq, expectErrno, outcome } from '../../lib/harness/expect.js';
import { __ioctlStruct, __ioctlVal } from '../../lib/kvm/ioctl.js';
import { pack } from '../../lib/uapi/struct.js';
import type { Vcpu } from '../../lib/kvm/vcpu.js';
import {
  KVM_CAP_PRE_FAULT_MEMORY,
  KVM_PRE_FAULT_MEMORY,
  MAP_ANONYMOUS,
  MAP_NORESERVE,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
} from '../../lib/uapi/index.js';
import type { ErrnoName } from '../../lib/uapi/index.js';
import { hex, NEEDS_GMEM } from '../../lib/cases/gmem.js';
import { PAGE, prefaultBackingVariants, prefaultSetup, type PrefaultParams } from '../../lib/cases/attr.js';

const TAGS = { linuxGit: ['bc1a5cd00211', '9aed7a6c0b59'], kernelFn: 'kvm_main.c:kvm_vcpu_pre_fault_memory' } as const;
/** GPA of the small anonymous slot argument cases use. */
const SLOT_GPA = 0x100000n;
const SLOT_PAGES = 16n;

interface ArgSetup {
  /** vCPU 0 of a VM with a 16-page anonymous slot at SLOT_GPA. */ vcpu: Vcpu;
  /** Outcome of a valid call over the slot's first page (not EINVAL where the ioctl exists). */ control: string;
}

/**
 * A VM with a 16-page slot and a vCPU, plus a valid control call. Skips when the fixtures say this kernel has
 * no KVM_PRE_FAULT_MEMORY; fails when the control call itself is refused with EINVAL.
 */
function argSetup(ctx: CaseContext<unknown>): ArgSetup {
  if (ctx.expected<string>('ioctl', 'present') === 'absent')
    ctx.skip(
      'KVM_PRE_FAULT_MEMORY does not exist on this kernel (fixtures: added in 6.10 by bc1a5cd00211); every call would be EINVAL from the vCPU ioctl default',
    );
  const vm = ctx.vm(0);
  const m = ctx.map(Number(SLOT_PAGES * PAGE), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
  vm.setUserMemoryRegion2({ slot: 0, gpa: SLOT_GPA, size: SLOT_PAGES * PAGE, hva: m.addr });
  const vcpu = ctx.track(vm.createVcpu(0));
  const control = outcome(vcpu.__preFaultMemory(SLOT_GPA, PAGE));
  ctx.observe('control', control);
  if (control === 'EINVAL')
    throw new CaseFailure(
      'control: KVM_PRE_FAULT_MEMORY of one page inside a memslot with valid arguments failed with EINVAL, so the invalid-argument checks below cannot be told apart',
    );
  return { vcpu, control };
}

const flagsNonzero = defineCase({
  id: 'prefault.args.flags_nonzero',
  doc: 'each of the 64 flag bits is refused with EINVAL and the struct is left as passed',
  requires: { kvm: true },
  tags: TAGS,
  run(ctx) {
    const { vcpu } = argSetup(ctx);
    for (let bit = 0n; bit < 64n; bit++) {
      const r = vcpu.__preFaultMemory(SLOT_GPA, PAGE, 1n << bit);
      expectErrno(r, 'EINVAL', `flags ${hex(1n << bit)}`);
      expectEq(r.size, PAGE, `size left after flags ${hex(1n << bit)}`);
    }
  },
});

const unalignedGpa = defineCase({
  id: 'prefault.args.unaligned_gpa',
  doc: 'a gpa that is not page-aligned is refused with EINVAL',
  requires: { kvm: true },
  tags: TAGS,
  run(ctx) {
    const { vcpu } = argSetup(ctx);
    for (const gpa of [SLOT_GPA + 1n, SLOT_GPA + PAGE / 2n, SLOT_GPA + PAGE - 1n])
      expectErrno(vcpu.__preFaultMemory(gpa, PAGE), 'EINVAL', `gpa ${hex(gpa)}`);
  },
});

const unalignedSize = defineCase({
  id: 'prefault.args.unaligned_size',
  doc: 'a size that is not a multiple of the page size is refused with EINVAL',
  requires: { kvm: true },
  tags: TAGS,
  run(ctx) {
    const { vcpu } = argSetup(ctx);
    for (const size of [1n, PAGE - 1n, PAGE + 1n, (3n * PAGE) / 2n])
      expectErrno(vcpu.__preFaultMemory(SLOT_GPA, size), 'EINVAL', `size ${hex(size)}`);
  },
});

const sizeZero = defineCase({
  id: 'prefault.args.size_zero',
  doc: 'size 0 is refused with EINVAL (gpa + size <= gpa), not treated as an empty success',
  requires: { kvm: true },
  tags: TAGS,
  run(ctx) {
    const { vcpu } = argSetup(ctx);
    for (const gpa of [0n, SLOT_GPA]) {
      const r = vcpu.__preFaultMemory(gpa, 0n);
      expectErrno(r, 'EINVAL', `size 0 at ${hex(gpa)}`);
      expectEq(r.gpa, gpa, 'gpa left in the struct');
    }
  },
});

const overflow = defineCase({
  id: 'prefault.args.overflow',
  doc: 'a range whose end wraps past 2^64, or ends exactly at 2^64, is refused with EINVAL',
  requires: { kvm: true },
  tags: TAGS,
  run(ctx) {
    const { vcpu } = argSetup(ctx);
    const top = 1n << 64n;
    for (const [gpa, size] of [
      [top - PAGE, 2n * PAGE],
      [top - PAGE, PAGE],
      [SLOT_GPA, top - SLOT_GPA],
    ] as const) {
      const r = vcpu.__preFaultMemory(gpa, size);
      expectErrno(r, 'EINVAL', `gpa ${hex(gpa)} size ${hex(size)}`);
      expectEq(r.size, size, `size left after gpa ${hex(gpa)} size ${hex(size)}`);
    }
  },
});

const paddingNonzero = defineCase<{ index: number }>({
  id: 'prefault.args.padding_nonzero',
  doc: 'a non-zero padding[i] is not checked in mainline: the call ends exactly like the zero-padding control; a kernel that starts refusing it fails here on purpose',
  requires: { kvm: true },
  variants: Array.from({ length: 5 }, (_x, index) => ({ name: `padding${index}`, params: { index } })),
  expect: { padding: 'ignored' },
  tags: TAGS,
  run(ctx) {
    const { vcpu, control } = argSetup(ctx);
    const padding = [0n, 0n, 0n, 0n, 0n];
    padding[ctx.params.index] = 1n;
    const got = outcome(vcpu.__preFaultMemory(SLOT_GPA + PAGE, PAGE, 0n, padding));
    ctx.observe('outcome', got);
    const want = ctx.expected<string>('padding');
    if (want === 'ignored') {
      expectEq(
        got,
        control,
        `outcome with padding[${ctx.params.index}] = 1 (the control with zero padding gave ${control})`,
      );
      ctx.note(`finding: KVM_PRE_FAULT_MEMORY does not check padding[${ctx.params.index}]`);
    } else expectEq(got, want, `outcome with padding[${ctx.params.index}] = 1`);
  },
});

const onVmFd = defineCase({
  id: 'prefault.ioctl.on_vm_fd',
  doc: 'KVM_PRE_FAULT_MEMORY on a VM fd fails with ENOTTY (x86 kvm_arch_vm_ioctl default): it is a vCPU ioctl; 0xd5 on the VM fd was the never-merged KVM_LINK_GUEST_MEMFD',
  requires: { kvm: true },
  tags: { ...TAGS, proposal: 'gmem-link-rfc-v1', kernelFn: 'x86.c:kvm_arch_vm_ioctl' },
  run(ctx) {
    const r = __ioctlStruct(
      ctx.vm(0).fd,
      'KVM_PRE_FAULT_MEMORY',
      KVM_PRE_FAULT_MEMORY,
      pack('kvm_pre_fault_memory', { gpa: 0n, size: PAGE }),
    );
    expectErrno(r, 'ENOTTY', 'KVM_PRE_FAULT_MEMORY on a VM fd');
  },
});

const onSystemFd = defineCase({
  id: 'prefault.ioctl.on_system_fd',
  doc: 'KVM_PRE_FAULT_MEMORY on /dev/kvm fails with EINVAL (x86 kvm_arch_dev_ioctl default)',
  requires: { kvm: true },
  tags: { ...TAGS, kernelFn: 'x86.c:kvm_arch_dev_ioctl' },
  run(ctx) {
    const r = __ioctlStruct(
      ctx.kvm.fd,
      'KVM_PRE_FAULT_MEMORY',
      KVM_PRE_FAULT_MEMORY,
      pack('kvm_pre_fault_memory', { gpa: 0n, size: PAGE }),
    );
    expectErrno(r, 'EINVAL', 'KVM_PRE_FAULT_MEMORY on /dev/kvm');
  },
});

const onGmemFd = defineCase({
  id: 'prefault.ioctl.on_gmem_fd',
  doc: 'KVM_PRE_FAULT_MEMORY on a guest_memfd fails with ENOTTY (the file has no ioctls)',
  requires: NEEDS_GMEM,
  tags: TAGS,
  run(ctx) {
    const g = ctx.gmem(ctx.vm(0), PAGE);
    const r = __ioctlStruct(
      g.fd,
      'KVM_PRE_FAULT_MEMORY',
      KVM_PRE_FAULT_MEMORY,
      pack('kvm_pre_fault_memory', { gpa: 0n, size: PAGE }),
    );
    expectErrno(r, 'ENOTTY', 'KVM_PRE_FAULT_MEMORY on a guest_memfd');
  },
});

const refusedWithoutCap = defineCase<PrefaultParams>({
  id: 'prefault.mmu.refused_without_cap',
  doc: 'where KVM_CAP_PRE_FAULT_MEMORY is 0 (no two-dimensional paging: shadow page tables are indexed by GVA), a valid call inside a memslot fails with EOPNOTSUPP and leaves gpa and size untouched',
  requires: { kvm: true, caps: ['KVM_CAP_USER_MEMORY2'] },
  variants: prefaultBackingVariants(),
  expect: { errno: 'EOPNOTSUPP' },
  tags: {
    linuxGit: ['bc1a5cd00211', '6e01b7601dfe', '9aed7a6c0b59'],
    kernelFn: 'mmu.c:kvm_arch_vcpu_pre_fault_memory',
  },
  run(ctx) {
    const sys = ctx.env.sysCap(KVM_CAP_PRE_FAULT_MEMORY);
    ctx.observe('sysCap', sys);
    if (sys !== 0)
      ctx.skip(
        `KVM_CAP_PRE_FAULT_MEMORY is ${sys} on /dev/kvm: this kernel pre-faults, the refusal path needs a host without TDP`,
      );
    const { vm, vcpu, base } = prefaultSetup(ctx, ctx.params.backing, 16n * PAGE);
    expectEq(
      vm.checkExtension(KVM_CAP_PRE_FAULT_MEMORY),
      0,
      'KVM_CAP_PRE_FAULT_MEMORY on the VM fd (must agree with /dev/kvm)',
    );
    const r = vcpu.__preFaultMemory(base, 4n * PAGE);
    ctx.observe('outcome', outcome(r));
    expectErrno(
      r,
      ctx.expected<ErrnoName>('errno'),
      'a valid 4-page pre-fault inside the slot without KVM_CAP_PRE_FAULT_MEMORY',
    );
    expectEq(r.gpa, base, 'gpa left in the struct');
    expectEq(r.size, 4n * PAGE, 'size left in the struct');
  },
});

const maxRangeEnd = defineCase({
  id: 'prefault.args.max_range_end',
  doc:
    'the highest page that does not wrap, [2^64 - 2 pages, +1 page), passes the argument checks: it ends like a ' +
    'call with no memslot (ENOENT with TDP, the EOPNOTSUPP of the control without), never EINVAL, with gpa and size ' +
    'as passed',
  requires: { kvm: true, caps: ['KVM_CAP_USER_MEMORY2'] },
  tags: TAGS,
  run(ctx) {
    const { vcpu, control } = argSetup(ctx);
    const gpa = (1n << 64n) - 2n * PAGE;
    const r = vcpu.__preFaultMemory(gpa, PAGE);
    const got = outcome(r);
    ctx.observe('outcome', got);
    const want = control === 'EOPNOTSUPP' ? 'EOPNOTSUPP' : 'ENOENT';
    expectEq(got, want, `gpa ${hex(gpa)} size ${hex(PAGE)} (no memslot there; the in-slot control gave ${control})`);
    expectEq(r.gpa, gpa, 'gpa left in the struct');
    expectEq(r.size, PAGE, 'size left in the struct');
  },
});

const badStructPointer = defineCase({
  id: 'prefault.args.bad_struct_pointer',
  doc: 'KVM_PRE_FAULT_MEMORY whose argument points at no user memory (NULL, a kernel address) fails with EFAULT',
  requires: { kvm: true, caps: ['KVM_CAP_USER_MEMORY2'] },
  tags: TAGS,
  run(ctx) {
    const { vcpu } = argSetup(ctx);
    for (const address of [0n, 0xffff_8000_0000_0000n])
      expectErrno(__ioctlVal(vcpu.fd, KVM_PRE_FAULT_MEMORY, address), 'EFAULT', `argument pointer ${hex(address)}`);
  },
});

export default [
  flagsNonzero,
  unalignedGpa,
  unalignedSize,
  sizeZero,
  overflow,
  paddingNonzero,
  onVmFd,
  onSystemFd,
  onGmemFd,
  refusedWithoutCap,
  maxRangeEnd,
  badStructPointer,
];
