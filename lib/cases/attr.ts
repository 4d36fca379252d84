/**
 * Shared pieces of the attr.*, exit.* and prefault.* cases: binding the guest layer's data slot
 * (lib/kvm/guest.ts), VM-type variants for memory-attribute cases, and pre-fault setups and retry loops.
 */
import type { Requires, Variant } from '../harness/case.js';
import type { CaseContext } from '../harness/context.js';
import { CaseFailure, CaseSkip, show } from '../harness/expect.js';
import type { MemslotSpec, Vm } from '../kvm/vm.js';
import type { Vcpu } from '../kvm/vcpu.js';
import { DATA_GPA, DATA_SLOT } from '../kvm/guest.js';
import type { Mapping } from '../sys/mman.js';
import { formatErrno } from '../sys/errors.js';
import * as libc from '../ffi/libc.js';
import { PAGE } from './gmem.js';
import {
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  KVM_MEM_GUEST_MEMFD,
  KVM_MEMORY_ATTRIBUTE_PRIVATE,
  MADV_NOHUGEPAGE,
  MAP_ANONYMOUS,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  errnoValue,
} from '../uapi/index.js';

/** Guest page size: the one of lib/cases/gmem.ts (lib/arch.ts's PAGE_SIZE). */
export { PAGE };

/** The value the host writes into shared pages so that a read served from elsewhere is recognisable. */
export const SHARED_SENTINEL = 0x5a;
/** The value guests write into the data page. */
export const GUEST_MARK = 0x77;

/** Parameters of a case variant that picks the VM type for memory-attribute cases. */
export interface AttrVmParams {
  /** True when the VM type tracks private memory (KVM_MEMORY_ATTRIBUTE_PRIVATE is supported on it). */
  privateCapable: boolean;
}

/** Requirement of KVM_SET_MEMORY_ATTRIBUTES argument cases on the default VM: the ioctl is built (the system fd reports the cap). */
export const NEEDS_MEMATTR_IOCTL: Requires = { caps: ['KVM_CAP_MEMORY_ATTRIBUTES'] };

/** Requirement of cases that convert memory: a software-protected VM whose VM fd reports PRIVATE. */
export const NEEDS_SW_PROTECTED: Requires = {
  caps: ['KVM_CAP_GUEST_MEMFD', 'KVM_CAP_MEMORY_FAULT_INFO'],
  vmType: 'KVM_X86_SW_PROTECTED_VM',
  vmCaps: ['KVM_CAP_MEMORY_ATTRIBUTES'],
};

/**
 * The two VM types argument cases run on: the default VM (no private memory; needs the ioctl built) and a
 * software-protected VM (its VM fd reporting PRIVATE implies the ioctl is built).
 */
export function attrVmVariants(): Variant<AttrVmParams>[] {
  return [
    { name: 'default_vm', params: { privateCapable: false }, requires: NEEDS_MEMATTR_IOCTL },
    {
      name: 'sw_protected',
      params: { privateCapable: true },
      requires: { vmType: 'KVM_X86_SW_PROTECTED_VM', vmCaps: ['KVM_CAP_MEMORY_ATTRIBUTES'] },
    },
  ];
}

/** The attributes a VM of the variant accepts (the part of its KVM_CAP_MEMORY_ATTRIBUTES this suite knows). */
export function validAttributes(p: AttrVmParams): bigint {
  return p.privateCapable ? BigInt(KVM_MEMORY_ATTRIBUTE_PRIVATE) : 0n;
}

/** Anonymous shared pages filled with one byte value; unmapped after the case. */
export function filledPages(ctx: CaseContext<unknown>, pages: number, byte: number): Mapping {
  const m = ctx.map(pages * Number(PAGE), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
  m.bytes.fill(byte);
  return m;
}

/** What backs the data slot. */
export interface DataSlot {
  /** Shared-side host mapping (userspace_addr); 0 for none. */ hva: bigint;
  /** Size in bytes. */ size: bigint;
  /** guest_memfd fd, when the slot is KVM_MEM_GUEST_MEMFD. */ gmemFd?: number;
  /** Offset into the guest_memfd. */ gmemOffset?: bigint;
}

/** Raw KVM_SET_USER_MEMORY_REGION2 of the data slot at DATA_GPA. */
export function __setDataSlot(vm: Vm, s: DataSlot): libc.Raw {
  return vm.__setUserMemoryRegion2({
    slot: DATA_SLOT,
    gpa: DATA_GPA,
    size: s.size,
    hva: s.hva,
    flags: s.gmemFd === undefined ? 0 : KVM_MEM_GUEST_MEMFD,
    gmemFd: s.gmemFd ?? 0,
    gmemOffset: s.gmemOffset ?? 0n,
  });
}

/** Checked data-slot binding. */
export function setDataSlot(vm: Vm, s: DataSlot): void {
  const r = __setDataSlot(vm, s);
  if (r.ret < 0)
    throw new CaseFailure(`binding the data slot at GPA ${show(DATA_GPA)} failed with ${formatErrno(r.errno)}`);
}

/** Deletes the data slot (memory_size 0). */
export function deleteDataSlot(vm: Vm): void {
  vm.setUserMemoryRegion2({ slot: DATA_SLOT, gpa: DATA_GPA, size: 0n });
}

/** Backing of the memslot a pre-fault case maps. */
export type PrefaultBacking = 'anon' | 'gmem_shared' | 'gmem_private';

/** Parameters of a pre-fault backing variant. */
export interface PrefaultParams {
  /** What backs the slot. */ backing: PrefaultBacking;
}

/** The three backings upstream's pre_fault_memory_test covers: anonymous memory, shared guest_memfd, private guest_memfd. */
export function prefaultBackingVariants(): Variant<PrefaultParams>[] {
  return [
    { name: 'anon', params: { backing: 'anon' } },
    {
      name: 'gmem_shared',
      params: { backing: 'gmem_shared' },
      requires: {
        caps: ['KVM_CAP_GUEST_MEMFD', 'KVM_CAP_GUEST_MEMFD_FLAGS'],
        gmemFlags: ['GUEST_MEMFD_FLAG_MMAP', 'GUEST_MEMFD_FLAG_INIT_SHARED'],
      },
    },
    {
      name: 'sw_protected_private',
      params: { backing: 'gmem_private' },
      requires: {
        caps: ['KVM_CAP_GUEST_MEMFD'],
        vmType: 'KVM_X86_SW_PROTECTED_VM',
        vmCaps: ['KVM_CAP_MEMORY_ATTRIBUTES'],
      },
    },
  ];
}

/** GPA of the pre-fault test slot (1 GiB, 2 MiB aligned, like upstream's aligned-down top-of-memory slot). */
export const PREFAULT_GPA = 0x40000000n;
/** Slot id of the pre-fault test slot. */
export const PREFAULT_SLOT = 10;

/** A VM with one vCPU and one slot of `size` bytes at PREFAULT_GPA backed as the variant says. */
export interface PrefaultSetup {
  /** The VM. */ vm: Vm;
  /** vCPU 0. */ vcpu: Vcpu;
  /** Slot start. */ base: bigint;
  /** Slot end (exclusive). */ end: bigint;
  /** The memslot as set (to delete and re-create it). */ slot: MemslotSpec;
}

/** Builds a PrefaultSetup; anonymous memory is marked MADV_NOHUGEPAGE so faults are 4 KiB each. */
export function prefaultSetup(ctx: CaseContext<unknown>, backing: PrefaultBacking, size: bigint): PrefaultSetup {
  const vm = ctx.vm();
  const len = Number(size);
  let hva: bigint;
  let gmemFd: number | undefined;
  if (backing === 'gmem_shared') {
    const g = ctx.gmem(vm, size, BigInt(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED));
    hva = ctx.map(len, PROT_READ | PROT_WRITE, MAP_SHARED, g.fd).addr;
    gmemFd = g.fd;
  } else {
    const m = ctx.map(len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
    libc.madvise(m.addr, len, MADV_NOHUGEPAGE);
    hva = m.addr;
    if (backing === 'gmem_private') gmemFd = ctx.gmem(vm, size).fd;
  }
  const slot: MemslotSpec = {
    slot: PREFAULT_SLOT,
    gpa: PREFAULT_GPA,
    size,
    hva,
    flags: gmemFd === undefined ? 0 : KVM_MEM_GUEST_MEMFD,
    gmemFd: gmemFd ?? 0,
  };
  vm.setUserMemoryRegion2(slot);
  if (backing === 'gmem_private') vm.setMemoryAttributes(PREFAULT_GPA, size, BigInt(KVM_MEMORY_ATTRIBUTE_PRIVATE));
  return { vm, vcpu: ctx.track(vm.createVcpu(0)), base: PREFAULT_GPA, end: PREFAULT_GPA + size, slot };
}

/** How a retry loop over KVM_PRE_FAULT_MEMORY ended. */
export interface PrefaultLoop {
  /** Last return value. */ ret: number;
  /** Last errno (0 on success). */ errno: number;
  /** gpa the kernel left in the struct. */ gpa: bigint;
  /** size the kernel left in the struct. */ size: bigint;
  /** ioctl calls made. */ calls: number;
  /** Calls that failed with EINTR. */ eintr: number;
  /** Calls that returned 0 with bytes left (interrupted after progress). */ partial: number;
}

/** A retry loop whose last this many calls made no progress is stuck, not slow. */
const STUCK_CALLS = 1000;

/**
 * Calls KVM_PRE_FAULT_MEMORY the way api.rst tells callers to: again with the updated struct while it returns 0
 * with size > 0, or fails with EINTR. Checks upstream's per-call invariant (the size shrinks exactly when the call
 * succeeds, and gpa + size stays the end of the range) and stops at `maxCalls` or `deadlineMs`: a failure when the
 * last STUCK_CALLS calls made no progress, a skip (too slow to decide) when they still did.
 */
export function prefaultRetryLoop(
  vcpu: Vcpu,
  gpa: bigint,
  size: bigint,
  maxCalls = 1_000_000,
  deadlineMs = 20_000,
): PrefaultLoop {
  const end = gpa + size;
  const out: PrefaultLoop = { ret: 0, errno: 0, gpa, size, calls: 0, eintr: 0, partial: 0 };
  const stop = Date.now() + deadlineMs;
  let lastProgress = 0;
  for (;;) {
    const before = out.size;
    const r = vcpu.__preFaultMemory(out.gpa, out.size);
    out.calls++;
    out.ret = r.ret;
    out.errno = r.errno;
    if (r.size < before === r.ret < 0)
      throw new CaseFailure(
        `KVM_PRE_FAULT_MEMORY call ${out.calls}: ${r.ret < 0 ? `failed with ${formatErrno(r.errno)} but the size shrank` : 'returned 0 but made no progress'} (size ${show(before)} -> ${show(r.size)})`,
      );
    if (r.gpa + r.size !== end)
      throw new CaseFailure(
        `KVM_PRE_FAULT_MEMORY call ${out.calls}: gpa ${show(r.gpa)} + size ${show(r.size)} is not the end of the range ${show(end)}`,
      );
    out.gpa = r.gpa;
    out.size = r.size;
    if (r.ret < 0 && r.errno === errnoValue('EINTR')) out.eintr++;
    else if (r.ret < 0 || r.size === 0n) return out;
    else {
      out.partial++;
      lastProgress = out.calls;
    }
    if (out.calls >= maxCalls || Date.now() > stop) {
      const budget = `within ${out.calls} calls / ${deadlineMs} ms (${show(out.size)} bytes left of ${show(size)})`;
      // every call so far kept the contract (0 with progress, or EINTR with nothing done): a loop whose recent
      // calls still progressed is slow here (a signal every period under TCG), not stuck; only a tail of calls
      // that never progressed shows a pre-fault that cannot get anywhere
      if (out.calls - lastProgress < STUCK_CALLS)
        throw new CaseSkip(
          `KVM_PRE_FAULT_MEMORY did not finish ${budget}, but it was still progressing (${out.partial} calls pre-faulted part of the range, the last one ${out.calls - lastProgress} calls ago): too slow here to decide`,
        );
      throw new CaseFailure(
        `KVM_PRE_FAULT_MEMORY did not finish ${budget}: the last ${out.calls - lastProgress} calls all failed with EINTR without progress`,
      );
    }
  }
}
