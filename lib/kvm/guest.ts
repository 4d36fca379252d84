/**
 * The one guest memory layout of the suite's vCPU cases, and the loader that puts a GuestProgram there.
 *
 * Real mode, CS base 0, everything below 1 MiB (like the kvm selftests' kvm_vm_elf_load + vcpu setup):
 *
 *   GPA 0x00000 ┬ code slot (CODE_SLOT, 64 KiB): CODE_GPA = 0x1000 entry, SCRATCH_GPA = 0x3000 a data
 *               │   page for cases whose code slot is itself the memory under test, STACK_GPA = 0x8000
 *   GPA 0x10000 ┴ data slot (DATA_SLOT), reached with DS = DATA_SEG and offsets 0..0xffff
 *
 * The guest talks to the host with one-byte OUTs: a value on REPORT_PORT, a checkpoint on SYNC_PORT
 * (any other port is a label the case chooses). A family that needs another slot or GPA passes it where
 * it binds the slot; the constants here are the only layout.
 */
import { MAP_ANONYMOUS, MAP_SHARED, PROT_READ, PROT_WRITE } from '../uapi/index.js';
import { PAGE_SIZE } from '../arch.js';
import type { Mapping } from '../sys/mman.js';
import type { GuestProgram } from './guest-program.js';
import type { Vcpu } from './vcpu.js';
import type { Vm } from './vm.js';

/** Guest page size (x86_64). */
const PAGE = PAGE_SIZE;

/** Slot id of the code slot at GPA 0. */
export const CODE_SLOT = 0;
/** Size of the code slot: 64 KiB, the real-mode segment at 0. */
export const CODE_SLOT_SIZE = 0x10000n;
/** Where guest code starts (RIP with CS base 0). */
export const CODE_GPA = 0x1000;
/** A data page inside the code slot, for cases whose code slot is the memory under test. */
export const SCRATCH_GPA = 0x3000;
/** Initial real-mode stack pointer (inside the code slot; the programs here never push). */
export const STACK_GPA = 0x8000;
/** Slot id of the data slot a case varies (guest_memfd or not, private or not). */
export const DATA_SLOT = 1;
/** GPA of the data slot, right above the code slot. */
export const DATA_GPA = 0x10000n;
/** Real-mode segment whose base is DATA_GPA. */
export const DATA_SEG = 0x1000;
/** Port the guest reports bytes on (KVM_EXIT_IO, direction out). */
export const REPORT_PORT = 0x10;
/** Port the guest reports checkpoints on, handing control to the host between steps. */
export const SYNC_PORT = 0x11;

/** x86 HLT, filling the rest of the code page so that a stray jump halts instead of running on. */
const HLT = 0xf4;

/** What owns the loader's resources: a CaseContext (ctx.map and ctx.track release them after the case). */
export interface GuestOwner {
  /** mmap whose mapping is released with the owner. */
  map(length: number, prot: number, flags: number, fd: number, offset?: bigint): Mapping;
  /** Closes res with the owner. */
  track<T extends { close(): void }>(res: T): T;
}

/** Code bytes from a program or ready bytes. */
function codeBytes(code: GuestProgram | Buffer): Buffer {
  return Buffer.isBuffer(code) ? code : code.bytes();
}

/** Writes code at `at` (default CODE_GPA) of a host view of guest memory from GPA 0; the rest of its page is HLT. */
export function writeCode(view: Uint8Array, code: GuestProgram | Buffer, at = CODE_GPA): void {
  view.fill(HLT, at, at + PAGE);
  view.set(codeBytes(code), at);
}

/** Binds the code slot (anonymous shared memory, KVM_SET_USER_MEMORY_REGION2), code at CODE_GPA; returns the mapping. */
export function installCode(owner: GuestOwner, vm: Vm, code: GuestProgram | Buffer): Mapping {
  const m = owner.map(Number(CODE_SLOT_SIZE), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
  writeCode(m.bytes, code);
  vm.setUserMemoryRegion2({ slot: CODE_SLOT, gpa: 0n, size: CODE_SLOT_SIZE, hva: m.addr });
  return m;
}

/** vCPU `id` of vm in flat real mode at `entry` (default CODE_GPA) with RSP = `stack`; closed with the owner. */
export function startVcpu(owner: GuestOwner, vm: Vm, id = 0, entry = CODE_GPA, stack = STACK_GPA): Vcpu {
  const vcpu = owner.track(vm.createVcpu(id));
  vcpu.setupRealMode(entry, stack);
  return vcpu;
}

/** installCode, then vCPU 0 ready to run it: the usual start of a guest case. */
export function loadGuest(owner: GuestOwner, vm: Vm, code: GuestProgram | Buffer): Vcpu {
  installCode(owner, vm, code);
  return startVcpu(owner, vm);
}
