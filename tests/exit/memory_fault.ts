/**
 * exit.memory_fault: KVM_EXIT_MEMORY_FAULT (KVM_RUN fails with EFAULT, kvm_run.memory_fault = {flags, gpa,
 * size}) when a guest access cannot be served from the memory the attributes and the memslot promise.
 */
import { defineCase, type Variant } from '../../lib/harness/case.js';
import { CaseFailure, expectEq, expectOk, show } from '../../lib/harness/expect.js';
import { GuestProgram } from '../../lib/kvm/guest-program.js';
import {
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  KVM_CAP_MEMORY_FAULT_INFO,
  KVM_MEMORY_ATTRIBUTE_PRIVATE,
  KVM_MEMORY_EXIT_FLAG_PRIVATE,
  errnoValue,
} from '../../lib/uapi/index.js';
import { DATA_GPA, DATA_SEG, REPORT_PORT, installCode, startVcpu } from '../../lib/kvm/guest.js';
import { describeStep, expectHlt, expectMemoryFault, expectOut, isOut, step } from '../../lib/kvm/vcpu-run.js';
import {
  GUEST_MARK,
  NEEDS_SW_PROTECTED,
  PAGE,
  SHARED_SENTINEL,
  deleteDataSlot,
  filledPages,
  setDataSlot,
} from '../../lib/cases/attr.js';

const PRIVATE = BigInt(KVM_MEMORY_ATTRIBUTE_PRIVATE);
const FLAG_PRIVATE = BigInt(KVM_MEMORY_EXIT_FLAG_PRIVATE);
const SELFTEST = 'x86/private_mem_kvm_exits_test.c';
const TAGS = { linuxGit: ['16f95f3b95ca', '8dd2eee9d526'] } as const;

/** How the guest touches the data page. */
interface AccessParams {
  /** True for a write (mov byte [0], imm), false for a read (mov al, [0]). */ write: boolean;
}

const accessVariants: Variant<AccessParams>[] = [
  { name: 'read', params: { write: false } },
  { name: 'write', params: { write: true } },
];

/** A guest that touches DATA_GPA once (read or write), reports the byte it sees, and halts. */
function touchOnce(write: boolean): GuestProgram {
  const p = new GuestProgram().setDs(DATA_SEG);
  if (write) p.storeByte(0, GUEST_MARK);
  return p.reportByte(0, REPORT_PORT).hlt();
}

const capAdvertised = defineCase({
  id: 'exit.memory_fault.cap_advertised',
  doc: 'x86 advertises KVM_CAP_MEMORY_FAULT_INFO as 1 on /dev/kvm and on a default VM',
  requires: { kvm: true },
  expect: { memoryFaultInfo: 1 },
  tags: { linuxGit: ['16f95f3b95ca'] },
  run(ctx) {
    const want = ctx.expected<number>('memoryFaultInfo');
    const sys = ctx.env.sysCap(KVM_CAP_MEMORY_FAULT_INFO);
    const vm = ctx.vm(0).checkExtension(KVM_CAP_MEMORY_FAULT_INFO);
    ctx.observe('sysCap', sys);
    ctx.observe('vmCap', vm);
    expectEq(sys, want, 'KVM_CAP_MEMORY_FAULT_INFO on /dev/kvm');
    expectEq(vm, want, 'KVM_CAP_MEMORY_FAULT_INFO on a default VM');
  },
});

const privateNoGmemSlot = defineCase<AccessParams>({
  id: 'exit.memory_fault.private_no_gmem_slot',
  doc: 'a guest access to a PRIVATE page whose memslot has no guest_memfd exits with KVM_EXIT_MEMORY_FAULT: flags PRIVATE (no access-type bits), the page GPA, size one page',
  requires: NEEDS_SW_PROTECTED,
  variants: accessVariants,
  tags: { ...TAGS, selftest: `${SELFTEST}:test_private_access_memslot_not_private` },
  timeoutMs: 20000,
  run(ctx) {
    const vm = ctx.vm();
    const shared = filledPages(ctx, 1, SHARED_SENTINEL);
    setDataSlot(vm, { hva: shared.addr, size: PAGE });
    expectOk(
      vm.__setMemoryAttributes(DATA_GPA, PAGE, PRIVATE),
      'KVM_SET_MEMORY_ATTRIBUTES(PRIVATE) on a slot without guest_memfd',
    );
    installCode(ctx, vm, touchOnce(ctx.params.write));
    const vcpu = startVcpu(ctx, vm);
    expectMemoryFault(
      vcpu,
      { flags: FLAG_PRIVATE, gpa: DATA_GPA, size: PAGE },
      `private ${ctx.params.write ? 'write' : 'read'} of a non-gmem slot`,
    );
    expectEq(
      shared.bytes[0],
      SHARED_SENTINEL,
      'host view of userspace_addr (the private access must not fall back to it)',
    );
  },
});

const resolvedByConversion = defineCase({
  id: 'exit.memory_fault.resolved_by_conversion',
  doc: 'after a PRIVATE memory-fault exit, converting the page to shared and re-entering KVM_RUN completes the access from userspace_addr',
  requires: NEEDS_SW_PROTECTED,
  tags: { ...TAGS, selftest: 'x86/private_mem_conversions_test.c:guest_test_explicit_conversion' },
  timeoutMs: 20000,
  run(ctx) {
    const vm = ctx.vm();
    const shared = filledPages(ctx, 1, SHARED_SENTINEL);
    setDataSlot(vm, { hva: shared.addr, size: PAGE });
    expectOk(vm.__setMemoryAttributes(DATA_GPA, PAGE, PRIVATE), 'KVM_SET_MEMORY_ATTRIBUTES(PRIVATE)');
    installCode(ctx, vm, touchOnce(false));
    const vcpu = startVcpu(ctx, vm);
    expectMemoryFault(vcpu, { flags: FLAG_PRIVATE, gpa: DATA_GPA, size: PAGE }, 'private read of a non-gmem slot');
    expectOk(vm.__setMemoryAttributes(DATA_GPA, PAGE, 0n), 'KVM_SET_MEMORY_ATTRIBUTES(0) to resolve the fault');
    expectEq(
      expectOut(vcpu, REPORT_PORT, 're-entered read'),
      SHARED_SENTINEL,
      'guest read after the conversion to shared',
    );
    expectHlt(vcpu, 'end of the guest program');
  },
});

const privateSlotDeleted = defineCase({
  id: 'exit.memory_fault.private_slot_deleted',
  doc: 'a guest access to a PRIVATE GPA whose memslot was deleted exits with KVM_EXIT_MEMORY_FAULT (flags PRIVATE, the GPA, one page), not with emulated MMIO',
  requires: NEEDS_SW_PROTECTED,
  tags: { ...TAGS, selftest: `${SELFTEST}:test_private_access_memslot_deleted` },
  timeoutMs: 20000,
  run(ctx) {
    const vm = ctx.vm();
    const shared = filledPages(ctx, 1, SHARED_SENTINEL);
    const g = ctx.gmem(vm, PAGE);
    setDataSlot(vm, { hva: shared.addr, size: PAGE, gmemFd: g.fd });
    expectOk(vm.__setMemoryAttributes(DATA_GPA, PAGE, PRIVATE), 'KVM_SET_MEMORY_ATTRIBUTES(PRIVATE)');
    installCode(ctx, vm, touchOnce(false));
    const vcpu = startVcpu(ctx, vm);
    deleteDataSlot(vm);
    expectMemoryFault(
      vcpu,
      { flags: FLAG_PRIVATE, gpa: DATA_GPA, size: PAGE },
      'private read after the slot was deleted',
    );
  },
});

const privateGmemClosed = defineCase({
  id: 'exit.memory_fault.private_gmem_closed',
  doc: 'after the guest_memfd behind a PRIVATE page is closed (bindings invalidated), a guest access exits with KVM_EXIT_MEMORY_FAULT (flags PRIVATE, the GPA, one page)',
  requires: NEEDS_SW_PROTECTED,
  tags: { linuxGit: ['16f95f3b95ca', 'a7800aa80ea4'], kernelFn: 'guest_memfd.c:kvm_gmem_release' },
  timeoutMs: 20000,
  run(ctx) {
    const vm = ctx.vm();
    const shared = filledPages(ctx, 1, SHARED_SENTINEL);
    const g = ctx.gmem(vm, PAGE);
    setDataSlot(vm, { hva: shared.addr, size: PAGE, gmemFd: g.fd });
    expectOk(vm.__setMemoryAttributes(DATA_GPA, PAGE, PRIVATE), 'KVM_SET_MEMORY_ATTRIBUTES(PRIVATE)');
    installCode(ctx, vm, touchOnce(false));
    const vcpu = startVcpu(ctx, vm);
    g.close();
    expectMemoryFault(
      vcpu,
      { flags: FLAG_PRIVATE, gpa: DATA_GPA, size: PAGE },
      'private read after the guest_memfd was closed',
    );
  },
});

const type0PrivateGmem = defineCase({
  id: 'exit.memory_fault.type0_private_gmem',
  doc: 'on a default VM, a slot bound to a guest_memfd created with MMAP but not INIT_SHARED is gmem-only: guest reads and writes are served from guest_memfd (zeroed at first use), never from userspace_addr, and cause no memory-fault exit',
  requires: { caps: ['KVM_CAP_GUEST_MEMFD', 'KVM_CAP_GUEST_MEMFD_FLAGS'], gmemFlags: ['GUEST_MEMFD_FLAG_MMAP'] },
  expect: { access: 'from_gmem' },
  tags: {
    linuxGit: ['a7800aa80ea4', '44c6cb9fe988'],
    kernelFn: 'guest_memfd.c:kvm_gmem_bind (KVM_MEMSLOT_GMEM_ONLY); mmu.c:__kvm_mmu_faultin_pfn',
  },
  timeoutMs: 20000,
  run(ctx) {
    const vm = ctx.vm(0);
    const shared = filledPages(ctx, 1, SHARED_SENTINEL);
    const g = ctx.gmem(vm, PAGE, BigInt(GUEST_MEMFD_FLAG_MMAP));
    setDataSlot(vm, { hva: shared.addr, size: PAGE, gmemFd: g.fd });
    installCode(
      ctx,
      vm,
      new GuestProgram()
        .setDs(DATA_SEG)
        .reportByte(0, REPORT_PORT)
        .storeByte(0, GUEST_MARK)
        .reportByte(0, REPORT_PORT)
        .hlt(),
    );
    const vcpu = startVcpu(ctx, vm);
    const want = ctx.expected<string>('access');
    if (want === 'memory_fault') {
      expectMemoryFault(
        vcpu,
        { flags: 0n, gpa: DATA_GPA, size: PAGE },
        'shared read of guest_memfd memory that is not shared',
      );
      return;
    }
    const first = step(vcpu);
    if (!isOut(first, REPORT_PORT))
      throw new CaseFailure(
        `first guest read of the gmem-only slot: expected KVM_EXIT_IO OUT port 0x${REPORT_PORT.toString(16)} size 1, got ${describeStep(first)}`,
      );
    const seen = first.io.data[0] ?? -1;
    ctx.observe('firstRead', seen);
    if (seen === SHARED_SENTINEL)
      throw new CaseFailure(
        `guest read ${show(seen)}, the byte the host put at userspace_addr: KVM served a gmem-only slot (guest_memfd flags MMAP) from userspace_addr instead of guest_memfd, which would read 0`,
      );
    expectEq(seen, 0, 'guest read of a never-written gmem-only page (guest_memfd zeroes a page at first use)');
    expectEq(expectOut(vcpu, REPORT_PORT, 'read-back'), GUEST_MARK, 'guest read-back of its own write');
    expectEq(
      shared.bytes[0],
      SHARED_SENTINEL,
      'host view of userspace_addr after the guest wrote (the write must go to guest_memfd)',
    );
    expectHlt(vcpu, 'end of the guest program');
  },
});

const type0GmemClosed = defineCase({
  id: 'exit.memory_fault.type0_gmem_closed',
  doc: 'on a default VM, a guest access to a gmem-only slot (guest_memfd MMAP|INIT_SHARED) after the guest_memfd is closed exits with KVM_EXIT_MEMORY_FAULT: flags 0 (shared), the GPA, one page',
  requires: {
    caps: ['KVM_CAP_GUEST_MEMFD', 'KVM_CAP_GUEST_MEMFD_FLAGS', 'KVM_CAP_MEMORY_FAULT_INFO'],
    gmemFlags: ['GUEST_MEMFD_FLAG_MMAP', 'GUEST_MEMFD_FLAG_INIT_SHARED'],
  },
  tags: {
    linuxGit: ['16f95f3b95ca', '44c6cb9fe988'],
    kernelFn: 'mmu.c:kvm_mmu_faultin_pfn_gmem; guest_memfd.c:kvm_gmem_get_pfn',
  },
  timeoutMs: 20000,
  run(ctx) {
    const vm = ctx.vm(0);
    const shared = filledPages(ctx, 1, SHARED_SENTINEL);
    const g = ctx.gmem(vm, PAGE, BigInt(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED));
    setDataSlot(vm, { hva: shared.addr, size: PAGE, gmemFd: g.fd });
    installCode(ctx, vm, touchOnce(false));
    const vcpu = startVcpu(ctx, vm);
    g.close();
    const s = step(vcpu);
    ctx.observe('exit', describeStep(s));
    if (isOut(s) && s.io.data[0] === SHARED_SENTINEL)
      throw new CaseFailure(
        `the guest read ${show(SHARED_SENTINEL)} from userspace_addr: KVM served a gmem-only slot from userspace_addr after its guest_memfd was closed, instead of KVM_EXIT_MEMORY_FAULT`,
      );
    if (!(s.ret < 0 && s.memoryFault))
      throw new CaseFailure(
        `read after the guest_memfd was closed: expected KVM_RUN to fail with EFAULT and KVM_EXIT_MEMORY_FAULT, got ${describeStep(s)}`,
      );
    const mf = s.memoryFault;
    expectEq(s.errno, errnoValue('EFAULT'), 'KVM_RUN errno (EFAULT)');
    expectEq(mf.flags, 0n, 'memory_fault.flags (a shared access)');
    expectEq(mf.gpa, DATA_GPA, 'memory_fault.gpa');
    expectEq(mf.size, PAGE, 'memory_fault.size');
  },
});

export default [
  capAdvertised,
  privateNoGmemSlot,
  resolvedByConversion,
  privateSlotDeleted,
  privateGmemClosed,
  type0PrivateGmem,
  type0GmemClosed,
];
