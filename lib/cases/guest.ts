/** Shared pieces of guest cases: a real-mode vCPU on guest_memfd memory, bounded KVM_RUN stepping, exit assertions, access-path detection. */
import type { CaseContext } from '../harness/context.js';
import type { Requires } from '../harness/case.js';
import { CaseFailure, HarnessError } from '../harness/expect.js';
import type { Vm } from '../kvm/vm.js';
import type { Vcpu, Exit } from '../kvm/vcpu.js';
import type { GuestMemfd } from '../kvm/guest-memfd.js';
import type { Mapping } from '../sys/mman.js';
import { layoutOf } from '../kvm/struct.js';
import { GuestProgram } from '../kvm/guest-program.js';
import {
  GUEST_MEMFD_FLAG_MMAP, GUEST_MEMFD_FLAG_INIT_SHARED, KVM_EXIT_IO, KVM_EXIT_IO_OUT, KVM_EXIT_HLT, KVM_EXIT_MMIO,
  KVM_EXIT_MEMORY_FAULT, KVM_EXIT_INTERNAL_ERROR, KVM_EXIT_SHUTDOWN, KVM_EXIT_FAIL_ENTRY, PROT_READ, PROT_WRITE, PROT_NONE,
  MAP_SHARED, MAP_ANONYMOUS, errnoName,
} from '../uapi/index.js';
import { GMEM_FLAG } from './memslot.js';
import { PAGE, hex } from './gmem.js';

/** Requirement of the guest cases: v2 memslots and an mmap-able, initially shared guest_memfd. */
export const NEEDS_GUEST_ON_GMEM: Requires = {
  caps: ['KVM_CAP_GUEST_MEMFD', 'KVM_CAP_USER_MEMORY2'],
  gmemFlags: ['GUEST_MEMFD_FLAG_MMAP', 'GUEST_MEMFD_FLAG_INIT_SHARED'],
};

/** guest_memfd flags of a host-mappable, initially shared file. */
export const SHARED_GMEM_FLAGS = BigInt(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);

/** GPA where guest code starts (real mode, CS base 0). */
export const CODE_GPA = 0x1000;
/** Initial real-mode stack pointer. */
export const STACK_GPA = 0x8000;
/** A data page inside the 16-page guest_memfd slot at GPA 0. */
export const DATA_GPA = 0x3000;
/** Most exits a guest of these cases may produce before it must have halted. */
export const MAX_EXITS = 100;
/** x86 HLT, used to fill code pages so a stray jump halts instead of running on. */
const HLT = 0xf4;
/** errno EFAULT. */
const EFAULT = 14;

/** A vCPU in real mode whose memory (slot 0 at GPA 0) is a guest_memfd mapped into the host at the same time. */
export interface GmemGuest {
  /** The VM. */ vm: Vm;
  /** The guest_memfd backing slot 0. */ gmem: GuestMemfd;
  /** Host mapping of the whole guest_memfd (also the slot's userspace_addr when the slot starts at file offset 0). */ map: Mapping;
  /** vCPU 0, RIP = CODE_GPA. */ vcpu: Vcpu;
}

/** Options of gmemGuest. */
export interface GmemGuestOptions {
  /** Guest code placed at CODE_GPA. */ code: Buffer;
  /** guest_memfd size in pages (default 16). */ filePages?: number;
  /** Pages the slot covers (default: the whole file from slotOffsetPages). */ slotPages?: number;
  /** File page the slot starts at (default 0); GPA 0 maps that page. */ slotOffsetPages?: number;
}

/** Fills the code page with HLT and copies code to CODE_GPA inside a host view of guest page 0.. */
export function loadCode(view: Uint8Array, code: Buffer, at = CODE_GPA): void {
  view.fill(HLT, at, at + Number(PAGE));
  view.set(code, at);
}

/**
 * A type-0 VM whose slot 0 (GPA 0) is a guest_memfd(MMAP|INIT_SHARED) with userspace_addr = its own mmap, code
 * at CODE_GPA written through that mmap, and vCPU 0 in flat real mode at CODE_GPA. Everything is released after the case.
 */
export function gmemGuest(ctx: CaseContext<unknown>, opts: GmemGuestOptions): GmemGuest {
  const filePages = opts.filePages ?? 16;
  const off = opts.slotOffsetPages ?? 0;
  const slotPages = opts.slotPages ?? filePages - off;
  const vm = ctx.vm(0);
  const gmem = ctx.gmem(vm, BigInt(filePages) * PAGE, SHARED_GMEM_FLAGS);
  const map = ctx.map(filePages * Number(PAGE), PROT_READ | PROT_WRITE, MAP_SHARED, gmem.fd);
  const slotView = map.bytes.subarray(off * Number(PAGE));
  loadCode(slotView, opts.code);
  vm.setUserMemoryRegion2({
    slot: 0, flags: GMEM_FLAG, gpa: 0n, size: BigInt(slotPages) * PAGE, hva: map.addr + BigInt(off) * PAGE,
    gmemFd: gmem.fd, gmemOffset: BigInt(off) * PAGE,
  });
  const vcpu = ctx.track(vm.createVcpu(0));
  vcpu.setupRealMode(CODE_GPA, STACK_GPA);
  return { vm, gmem, map, vcpu };
}

/** One KVM_RUN: the decoded exit plus the errno when KVM_RUN itself failed (0 otherwise). */
export interface Step extends Exit {
  /** errno of a failed KVM_RUN, 0 when it returned 0. */ errno: number;
}

const EXIT_NAMES: Record<number, string> = {
  [KVM_EXIT_IO]: 'KVM_EXIT_IO', [KVM_EXIT_HLT]: 'KVM_EXIT_HLT', [KVM_EXIT_MMIO]: 'KVM_EXIT_MMIO',
  [KVM_EXIT_MEMORY_FAULT]: 'KVM_EXIT_MEMORY_FAULT', [KVM_EXIT_INTERNAL_ERROR]: 'KVM_EXIT_INTERNAL_ERROR',
  [KVM_EXIT_SHUTDOWN]: 'KVM_EXIT_SHUTDOWN', [KVM_EXIT_FAIL_ENTRY]: 'KVM_EXIT_FAIL_ENTRY',
};

/** A one-line description of a step, for failure messages and notes. */
export function describeStep(s: Step): string {
  const name = EXIT_NAMES[s.reason] ?? `exit ${s.reason}`;
  const head = s.errno ? `KVM_RUN failed ${errnoName(s.errno)} (exit_reason ${name})` : name;
  if (s.io) return `${head} ${s.io.direction === KVM_EXIT_IO_OUT ? 'out' : 'in'} port ${hex(s.io.port)} data <${s.io.data.toString('hex')}>`;
  if (s.mmio) return `${head} ${s.mmio.isWrite ? 'write' : 'read'} gpa ${hex(s.mmio.physAddr)} len ${s.mmio.len}`;
  if (s.memoryFault) return `${head} flags ${hex(s.memoryFault.flags)} gpa ${hex(s.memoryFault.gpa)} size ${hex(s.memoryFault.size)}`;
  return head;
}

/** Runs the vCPU until its next exit to userspace (one KVM_RUN; the guests here always exit: they end in HLT). */
export function step(vcpu: Vcpu): Step {
  const r = vcpu.__run();
  return { ...vcpu.exit(), errno: r.ret < 0 ? r.errno : 0 };
}

/** Expects the next exit to be a one-byte OUT to `port`; returns the byte. */
export function expectOut(vcpu: Vcpu, port: number, what: string): number {
  const s = step(vcpu);
  if (s.errno || s.reason !== KVM_EXIT_IO || !s.io || s.io.direction !== KVM_EXIT_IO_OUT || s.io.port !== port || s.io.size !== 1)
    throw new CaseFailure(`${what}: expected a 1-byte OUT to port ${hex(port)}, got ${describeStep(s)}`);
  return s.io.data[0] as number;
}

/** Expects the next exit to be KVM_EXIT_HLT. */
export function expectHlt(vcpu: Vcpu, what: string): void {
  const s = step(vcpu);
  if (s.errno || s.reason !== KVM_EXIT_HLT) throw new CaseFailure(`${what}: expected KVM_EXIT_HLT, got ${describeStep(s)}`);
}

/** Expects the next exit to be KVM_EXIT_MMIO at gpa with the given direction; returns the step. */
export function expectMmio(vcpu: Vcpu, gpa: bigint, isWrite: boolean, what: string): Step {
  const s = step(vcpu);
  if (s.errno || s.reason !== KVM_EXIT_MMIO || !s.mmio || s.mmio.physAddr !== gpa || s.mmio.isWrite !== isWrite)
    throw new CaseFailure(`${what}: expected KVM_EXIT_MMIO ${isWrite ? 'write' : 'read'} at ${hex(gpa)}, got ${describeStep(s)}`);
  return s;
}

/** Runs to HLT collecting every OUT byte as [port, byte]; fails on any other exit or after MAX_EXITS exits. */
export function runToHlt(vcpu: Vcpu, what: string, maxExits = MAX_EXITS): [number, number][] {
  const outs: [number, number][] = [];
  for (let i = 0; i < maxExits; i++) {
    const s = step(vcpu);
    if (!s.errno && s.reason === KVM_EXIT_HLT) return outs;
    if (!s.errno && s.reason === KVM_EXIT_IO && s.io && s.io.direction === KVM_EXIT_IO_OUT && s.io.size === 1) {
      outs.push([s.io.port, s.io.data[0] as number]);
      continue;
    }
    throw new CaseFailure(`${what}: after ${outs.length} OUT exits, expected OUT or HLT, got ${describeStep(s)}`);
  }
  throw new CaseFailure(`${what}: no HLT within ${maxExits} exits`);
}

/** Supplies the data of a pending MMIO read: the next KVM_RUN completes the guest's load with these bytes. */
export function completeMmioRead(vcpu: Vcpu, data: number[]): void {
  const off = layoutOf('kvm_run').fields['mmio.data']?.offset;
  if (off === undefined) throw new HarnessError('kvm_run layout has no mmio.data');
  vcpu.run.bytes.set(data, off);
}

/**
 * How the vCPU's memory accesses reach guest memory on this host:
 * - 'mmu': by hardware/shadow page faults (kvm_mmu_faultin_pfn); a slot whose userspace_addr cannot be faulted gives
 *   KVM_RUN -EFAULT (with KVM_EXIT_MEMORY_FAULT on 6.8+);
 * - 'emulator': by KVM's instruction emulator copying through userspace_addr (e.g. real mode under kvm_pvm); an access
 *   the host mapping refuses becomes KVM_EXIT_MMIO.
 */
export type AccessPath = 'mmu' | 'emulator';

let cachedPath: AccessPath | undefined;

/** The guest's data load in the access-path probe (GPA in the PROT_NONE slot). */
export const PROBE_GPA = 0x10010n;

/**
 * Decides the AccessPath by asking the kernel: a real-mode guest loads from a plain slot whose userspace_addr is
 * PROT_NONE. KVM_EXIT_MMIO at that GPA → 'emulator'; KVM_RUN EFAULT → 'mmu'; anything else → HarnessError. Cached.
 */
export function accessPath(ctx: CaseContext<unknown>): AccessPath {
  if (cachedPath) return cachedPath;
  const s = probeUnbackedLoad(ctx);
  const path = classifyProbe(s);
  if (!path) throw new HarnessError(`cannot tell how this vCPU reaches guest memory: a load from a PROT_NONE-backed slot gave ${describeStep(s)}`);
  cachedPath = path;
  return path;
}

/** The AccessPath a probe step shows: MMIO exit at PROBE_GPA → 'emulator'; KVM_RUN EFAULT → 'mmu'; else null. */
export function classifyProbe(s: Step): AccessPath | null {
  if (!s.errno && s.reason === KVM_EXIT_MMIO && s.mmio?.physAddr === PROBE_GPA && !s.mmio.isWrite) return 'emulator';
  if (s.errno === EFAULT) return 'mmu';
  return null;
}

/** Runs the probe guest of accessPath once and returns the step its load produced (after one checkpoint OUT). */
export function probeUnbackedLoad(ctx: CaseContext<unknown>): Step {
  const vm = ctx.vm(0);
  const code = ctx.map(0x10000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
  loadCode(code.bytes, new GuestProgram().reportImm(0x11, 0x10).setDs(0x1000).loadAl(Number(PROBE_GPA & 0xffffn)).outAl(0x20).hlt().bytes());
  vm.setUserMemoryRegion({ slot: 0, gpa: 0n, size: 0x10000n, hva: code.addr });
  const none = ctx.map(Number(PAGE), PROT_NONE, MAP_SHARED | MAP_ANONYMOUS, -1);
  vm.setUserMemoryRegion({ slot: 1, gpa: PROBE_GPA & ~(PAGE - 1n), size: PAGE, hva: none.addr });
  const vcpu = ctx.track(vm.createVcpu(0));
  vcpu.setupRealMode(CODE_GPA, STACK_GPA);
  expectOut(vcpu, 0x10, 'probe checkpoint');
  const s = step(vcpu);
  ctx.note(`access-path probe: load from a PROT_NONE-backed slot → ${describeStep(s)}`);
  return s;
}
