/**
 * Shared pieces of the attr.*, exit.* and prefault.* cases: a two-slot real-mode guest layout, VM-type
 * variants for memory-attribute cases, KVM_RUN step helpers, and a periodic signal timer for EINTR cases.
 */
import type { Requires, Variant } from '../harness/case.js';
import type { CaseContext } from '../harness/context.js';
import { CaseFailure, show } from '../harness/expect.js';
import type { MemslotSpec, Vm } from '../kvm/vm.js';
import type { Exit, Vcpu } from '../kvm/vcpu.js';
import type { GuestProgram } from '../kvm/guest-program.js';
import type { Mapping } from '../sys/mman.js';
import { formatErrno } from '../sys/errors.js';
import * as libc from '../ffi/libc.js';
import {
  GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP, KVM_EXIT_HLT, KVM_EXIT_IO, KVM_EXIT_MEMORY_FAULT, KVM_EXIT_MMIO,
  KVM_MEM_GUEST_MEMFD, KVM_MEMORY_ATTRIBUTE_PRIVATE, MADV_NOHUGEPAGE, MAP_ANONYMOUS, MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED,
  PROT_READ, PROT_WRITE, errnoValue,
} from '../uapi/index.js';

/** Guest page size (x86_64). */
export const PAGE = 4096n;

/** Slot id of the code slot (GPA 0, 64 KiB of anonymous shared memory). */
export const CODE_SLOT = 0;
/** Size of the code slot. */
export const CODE_SLOT_SIZE = 0x10000n;
/** Where the guest program starts (real mode, CS base 0). */
export const CODE_ENTRY = 0x1000;
/** Slot id of the data slot the cases vary (gmem or not, private or not). */
export const DATA_SLOT = 1;
/** GPA of the data slot; the guest reaches it with DS = DATA_SEG and offsets 0..0xffff. */
export const DATA_GPA = 0x10000n;
/** Real-mode segment whose base is DATA_GPA. */
export const DATA_SEG = 0x1000;
/** Port the guest reports bytes on (KVM_EXIT_IO, direction out). */
export const REPORT_PORT = 0x10;
/** Port the guest uses to hand control to the host between steps. */
export const SYNC_PORT = 0x11;

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

/** Maps the code slot at GPA 0 and copies the program to CODE_ENTRY. */
export function installCode(ctx: CaseContext<unknown>, vm: Vm, program: GuestProgram): Mapping {
  const code = ctx.map(Number(CODE_SLOT_SIZE), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
  code.bytes.set(program.bytes(), CODE_ENTRY);
  vm.setUserMemoryRegion2({ slot: CODE_SLOT, gpa: 0n, size: CODE_SLOT_SIZE, hva: code.addr });
  return code;
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
    slot: DATA_SLOT, gpa: DATA_GPA, size: s.size, hva: s.hva,
    flags: s.gmemFd === undefined ? 0 : KVM_MEM_GUEST_MEMFD,
    gmemFd: s.gmemFd ?? 0, gmemOffset: s.gmemOffset ?? 0n,
  });
}

/** Checked data-slot binding. */
export function setDataSlot(vm: Vm, s: DataSlot): void {
  const r = __setDataSlot(vm, s);
  if (r.ret < 0) throw new CaseFailure(`binding the data slot at GPA ${show(DATA_GPA)} failed with ${formatErrno(r.errno)}`);
}

/** Deletes the data slot (memory_size 0). */
export function deleteDataSlot(vm: Vm): void {
  vm.setUserMemoryRegion2({ slot: DATA_SLOT, gpa: DATA_GPA, size: 0n });
}

/** vCPU 0 in flat real mode at CODE_ENTRY, closed after the case. */
export function realModeVcpu(ctx: CaseContext<unknown>, vm: Vm): Vcpu {
  const vcpu = ctx.track(vm.createVcpu(0));
  vcpu.setupRealMode(CODE_ENTRY);
  return vcpu;
}

/** One KVM_RUN: the raw result and the exit kvm_run describes afterwards. */
export interface RunStep {
  /** KVM_RUN return value. */ ret: number;
  /** errno when ret is -1. */ errno: number;
  /** Decoded exit. */ exit: Exit;
}

/** Runs the vCPU once and decodes the exit (never throws for a failed KVM_RUN). */
export function step(vcpu: Vcpu): RunStep {
  const r = vcpu.__run();
  return { ret: r.ret, errno: r.errno, exit: vcpu.exit() };
}

/** A one-line description of a KVM_RUN step for failure messages. */
export function describeStep(s: RunStep): string {
  const head = s.ret < 0 ? `KVM_RUN failed with ${formatErrno(s.errno)}` : 'KVM_RUN returned 0';
  const e = s.exit;
  if (e.reason === KVM_EXIT_IO && e.io) return `${head}, KVM_EXIT_IO port 0x${e.io.port.toString(16)} data <${e.io.data.toString('hex')}>`;
  if (e.reason === KVM_EXIT_MMIO && e.mmio) return `${head}, KVM_EXIT_MMIO at ${show(e.mmio.physAddr)} (${e.mmio.isWrite ? 'write' : 'read'})`;
  if (e.reason === KVM_EXIT_MEMORY_FAULT && e.memoryFault)
    return `${head}, KVM_EXIT_MEMORY_FAULT flags ${show(e.memoryFault.flags)} gpa ${show(e.memoryFault.gpa)} size ${show(e.memoryFault.size)}`;
  if (e.reason === KVM_EXIT_HLT) return `${head}, KVM_EXIT_HLT`;
  return `${head}, exit_reason ${e.reason}`;
}

/** Runs until the guest's next OUT on `port`; returns the byte it wrote. Anything else is a failure. */
export function expectOut(vcpu: Vcpu, port: number, what: string): number {
  const s = step(vcpu);
  if (s.ret === 0 && s.exit.reason === KVM_EXIT_IO && s.exit.io && s.exit.io.port === port && s.exit.io.direction === 1)
    return s.exit.io.data[0] ?? 0;
  throw new CaseFailure(`${what}: expected the guest's OUT to port 0x${port.toString(16)}, got ${describeStep(s)}`);
}

/** Runs once more and expects HLT (the end of every guest program). */
export function expectHlt(vcpu: Vcpu, what: string): void {
  const s = step(vcpu);
  if (s.ret === 0 && s.exit.reason === KVM_EXIT_HLT) return;
  throw new CaseFailure(`${what}: expected KVM_EXIT_HLT, got ${describeStep(s)}`);
}

/** The fields a KVM_EXIT_MEMORY_FAULT must carry. */
export interface MemoryFaultWant {
  /** KVM_MEMORY_EXIT_FLAG_* bits. */ flags: bigint;
  /** Faulting GPA (page aligned). */ gpa: bigint;
  /** Size of the faulting range. */ size: bigint;
}

/** Runs once and expects KVM_RUN to fail with EFAULT and exit_reason KVM_EXIT_MEMORY_FAULT with these fields. */
export function expectMemoryFault(vcpu: Vcpu, want: MemoryFaultWant, what: string): RunStep {
  const s = step(vcpu);
  if (!(s.ret < 0 && s.errno === errnoValue('EFAULT') && s.exit.reason === KVM_EXIT_MEMORY_FAULT && s.exit.memoryFault))
    throw new CaseFailure(`${what}: expected KVM_RUN to fail with EFAULT (14) and KVM_EXIT_MEMORY_FAULT (${KVM_EXIT_MEMORY_FAULT}), got ${describeStep(s)}`);
  const mf = s.exit.memoryFault;
  if (mf.flags !== want.flags) throw new CaseFailure(`${what}: memory_fault.flags ${show(mf.flags)}, expected ${show(want.flags)}`);
  if (mf.gpa !== want.gpa) throw new CaseFailure(`${what}: memory_fault.gpa ${show(mf.gpa)}, expected ${show(want.gpa)}`);
  if (mf.size !== want.size) throw new CaseFailure(`${what}: memory_fault.size ${show(mf.size)}, expected ${show(want.size)}`);
  return s;
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
      requires: { caps: ['KVM_CAP_GUEST_MEMFD', 'KVM_CAP_GUEST_MEMFD_FLAGS'], gmemFlags: ['GUEST_MEMFD_FLAG_MMAP', 'GUEST_MEMFD_FLAG_INIT_SHARED'] },
    },
    {
      name: 'sw_protected_private',
      params: { backing: 'gmem_private' },
      requires: { caps: ['KVM_CAP_GUEST_MEMFD'], vmType: 'KVM_X86_SW_PROTECTED_VM', vmCaps: ['KVM_CAP_MEMORY_ATTRIBUTES'] },
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
    slot: PREFAULT_SLOT, gpa: PREFAULT_GPA, size, hva,
    flags: gmemFd === undefined ? 0 : KVM_MEM_GUEST_MEMFD, gmemFd: gmemFd ?? 0,
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

/**
 * Calls KVM_PRE_FAULT_MEMORY the way api.rst tells callers to: again with the updated struct while it returns 0
 * with size > 0, or fails with EINTR. Checks upstream's per-call invariant (the size shrinks exactly when the call
 * succeeds, and gpa + size stays the end of the range) and stops at `maxCalls` or `deadlineMs`.
 */
export function prefaultRetryLoop(vcpu: Vcpu, gpa: bigint, size: bigint, maxCalls = 1_000_000, deadlineMs = 20_000): PrefaultLoop {
  const end = gpa + size;
  const out: PrefaultLoop = { ret: 0, errno: 0, gpa, size, calls: 0, eintr: 0, partial: 0 };
  const stop = Date.now() + deadlineMs;
  for (;;) {
    const before = out.size;
    const r = vcpu.__preFaultMemory(out.gpa, out.size);
    out.calls++;
    out.ret = r.ret;
    out.errno = r.errno;
    if ((r.size < before) === (r.ret < 0))
      throw new CaseFailure(`KVM_PRE_FAULT_MEMORY call ${out.calls}: ${r.ret < 0 ? `failed with ${formatErrno(r.errno)} but the size shrank` : 'returned 0 but made no progress'} (size ${show(before)} -> ${show(r.size)})`);
    if (r.gpa + r.size !== end)
      throw new CaseFailure(`KVM_PRE_FAULT_MEMORY call ${out.calls}: gpa ${show(r.gpa)} + size ${show(r.size)} is not the end of the range ${show(end)}`);
    out.gpa = r.gpa;
    out.size = r.size;
    if (r.ret < 0 && r.errno === errnoValue('EINTR')) out.eintr++;
    else if (r.ret < 0 || r.size === 0n) return out;
    else out.partial++;
    if (out.calls >= maxCalls || Date.now() > stop)
      throw new CaseFailure(`KVM_PRE_FAULT_MEMORY did not finish within ${out.calls} calls / ${deadlineMs} ms (${show(out.size)} bytes left)`);
  }
}
