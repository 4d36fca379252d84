/**
 * Shared pieces of guest.* cases: a real-mode vCPU whose whole code slot is a guest_memfd mapped into the
 * host, and access-path detection. Layout, loading and exit checks are the guest layer's (lib/kvm/guest.ts,
 * lib/kvm/vcpu-run.ts).
 */
import type { CaseContext } from '../harness/context.js';
import type { Requires } from '../harness/case.js';
import { HarnessError } from '../harness/expect.js';
import type { Vm } from '../kvm/vm.js';
import type { Vcpu } from '../kvm/vcpu.js';
import type { GuestMemfd } from '../kvm/guest-memfd.js';
import type { Mapping } from '../sys/mman.js';
import { GuestProgram } from '../kvm/guest-program.js';
import {
  CODE_SLOT,
  CODE_SLOT_SIZE,
  DATA_GPA,
  DATA_SEG,
  REPORT_PORT,
  installCode,
  startVcpu,
  writeCode,
} from '../kvm/guest.js';
import { describeStep, expectOut, step, type Step } from '../kvm/vcpu-run.js';
import {
  GUEST_MEMFD_FLAG_MMAP,
  GUEST_MEMFD_FLAG_INIT_SHARED,
  KVM_EXIT_MMIO,
  PROT_READ,
  PROT_WRITE,
  PROT_NONE,
  MAP_SHARED,
  MAP_ANONYMOUS,
  errnoValue,
} from '../uapi/index.js';
import { GMEM_FLAG } from './memslot.js';
import { PAGE } from './gmem.js';

/** Requirement of the guest cases: v2 memslots and an mmap-able, initially shared guest_memfd. */
export const NEEDS_GUEST_ON_GMEM: Requires = {
  caps: ['KVM_CAP_GUEST_MEMFD', 'KVM_CAP_USER_MEMORY2'],
  gmemFlags: ['GUEST_MEMFD_FLAG_MMAP', 'GUEST_MEMFD_FLAG_INIT_SHARED'],
};

/** guest_memfd flags of a host-mappable, initially shared file. */
export const SHARED_GMEM_FLAGS = BigInt(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);

/** A vCPU in real mode whose code slot (slot 0 at GPA 0) is a guest_memfd mapped into the host at the same time. */
export interface GmemGuest {
  /** The VM. */ vm: Vm;
  /** The guest_memfd backing slot 0. */ gmem: GuestMemfd;
  /** Host mapping of the whole guest_memfd (also the slot's userspace_addr when the slot starts at file offset 0). */ map: Mapping;
  /** vCPU 0, RIP = CODE_GPA. */ vcpu: Vcpu;
}

/** Options of gmemGuest. */
export interface GmemGuestOptions {
  /** Guest code placed at CODE_GPA. */ code: GuestProgram | Buffer;
  /** guest_memfd size in pages (default 16: the code slot). */ filePages?: number;
  /** Pages the slot covers (default: the whole file from slotOffsetPages). */ slotPages?: number;
  /** File page the slot starts at (default 0); GPA 0 maps that page. */ slotOffsetPages?: number;
}

/**
 * A type-0 VM whose slot 0 (GPA 0) is a guest_memfd(MMAP|INIT_SHARED) with userspace_addr = its own mmap, code
 * at CODE_GPA written through that mmap, and vCPU 0 in flat real mode at CODE_GPA. Everything is released after the case.
 */
export function gmemGuest(ctx: CaseContext<unknown>, opts: GmemGuestOptions): GmemGuest {
  const filePages = opts.filePages ?? Number(CODE_SLOT_SIZE / PAGE);
  const off = opts.slotOffsetPages ?? 0;
  const slotPages = opts.slotPages ?? filePages - off;
  const vm = ctx.vm(0);
  const gmem = ctx.gmem(vm, BigInt(filePages) * PAGE, SHARED_GMEM_FLAGS);
  const map = ctx.map(filePages * Number(PAGE), PROT_READ | PROT_WRITE, MAP_SHARED, gmem.fd);
  const slotView = map.bytes.subarray(off * Number(PAGE));
  writeCode(slotView, opts.code);
  vm.setUserMemoryRegion2({
    slot: CODE_SLOT,
    flags: GMEM_FLAG,
    gpa: 0n,
    size: BigInt(slotPages) * PAGE,
    hva: map.addr + BigInt(off) * PAGE,
    gmemFd: gmem.fd,
    gmemOffset: BigInt(off) * PAGE,
  });
  return { vm, gmem, map, vcpu: startVcpu(ctx, vm) };
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

/** The guest's data load in the access-path probe: offset 0x10 of the data slot (PROT_NONE there). */
export const PROBE_GPA = DATA_GPA + 0x10n;

/**
 * Decides the AccessPath by asking the kernel: a real-mode guest loads from a plain slot whose userspace_addr is
 * PROT_NONE. KVM_EXIT_MMIO at that GPA → 'emulator'; KVM_RUN EFAULT → 'mmu'; anything else → HarnessError. Cached.
 */
export function accessPath(ctx: CaseContext<unknown>): AccessPath {
  if (cachedPath) return cachedPath;
  const s = probeUnbackedLoad(ctx);
  const path = classifyProbe(s);
  if (!path)
    throw new HarnessError(
      `cannot tell how this vCPU reaches guest memory: a load from a PROT_NONE-backed slot gave ${describeStep(s)}`,
    );
  cachedPath = path;
  return path;
}

/** The AccessPath a probe step shows: MMIO exit at PROBE_GPA → 'emulator'; KVM_RUN EFAULT → 'mmu'; else null. */
export function classifyProbe(s: Step): AccessPath | null {
  if (!s.errno && s.reason === KVM_EXIT_MMIO && s.mmio?.physAddr === PROBE_GPA && !s.mmio.isWrite) return 'emulator';
  if (s.errno === errnoValue('EFAULT')) return 'mmu';
  return null;
}

/** Runs the probe guest of accessPath once and returns the step its load produced (after one checkpoint OUT). */
export function probeUnbackedLoad(ctx: CaseContext<unknown>): Step {
  const vm = ctx.vm(0);
  installCode(
    ctx,
    vm,
    new GuestProgram()
      .reportImm(0x11, REPORT_PORT)
      .setDs(DATA_SEG)
      .loadAl(Number(PROBE_GPA - DATA_GPA))
      .outAl(0x20)
      .hlt(),
  );
  const none = ctx.map(Number(PAGE), PROT_NONE, MAP_SHARED | MAP_ANONYMOUS, -1);
  vm.setUserMemoryRegion({ slot: 1, gpa: DATA_GPA, size: PAGE, hva: none.addr });
  const vcpu = startVcpu(ctx, vm);
  expectOut(vcpu, REPORT_PORT, 'probe checkpoint');
  const s = step(vcpu);
  ctx.note(`access-path probe: load from a PROT_NONE-backed slot → ${describeStep(s)}`);
  return s;
}
