// Guests for the link and migration cases: a real-mode vCPU that runs from an ordinary memory slot and touches one
// guest_memfd-backed page at DATA_GPA, reporting the byte it sees with OUT. It is how a case sees guest_memfd contents
// when the host cannot map them (private memory of a SW_PROTECTED VM), and how it tells private from shared: the
// shared side of the data slot is filled with SHARED_FILL, so a guest that reads SHARED_FILL was not given the
// guest_memfd page.
import { KVM_EXIT_HLT, KVM_EXIT_IO, KVM_MEM_GUEST_MEMFD, KVM_MEMORY_ATTRIBUTE_PRIVATE, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../uapi/index.js';
import type { CaseContext } from '../../harness/context.js';
import { CaseFailure } from '../../harness/expect.js';
import { GuestProgram } from '../../kvm/guest-program.js';
import type { Vcpu, Exit } from '../../kvm/vcpu.js';
import type { Vm } from '../../kvm/vm.js';

/** Guest physical address of the guest_memfd page the programs touch (real mode: DS = 0x1000, offset 0). */
export const DATA_GPA = 0x10000n;
/** The memslot id of the data page. */
export const DATA_SLOT = 1;
/** The byte the shared (hva) side of the data slot holds. */
export const SHARED_FILL = 0x11;
/** Port the programs report bytes on. */
export const REPORT_PORT = 0x80;
const CODE_SLOT_SIZE = 0x10000;
const CODE_GPA = 0x1000;
const PAGE = 4096n;

/** A program that stores value at DATA_GPA, then reports what it reads back, then halts. */
export function writerProgram(value: number): GuestProgram {
  return new GuestProgram().setDs(Number(DATA_GPA >> 4n)).storeByte(0, value).reportByte(0, REPORT_PORT).hlt();
}

/** A program that reports the byte at DATA_GPA, then halts. */
export function readerProgram(): GuestProgram {
  return new GuestProgram().setDs(Number(DATA_GPA >> 4n)).reportByte(0, REPORT_PORT).hlt();
}

/**
 * Gives vm the data slot: DATA_GPA, one page, bound to gmemFd at offset 0, with an anonymous shared side filled with
 * SHARED_FILL; marks it private when asked (needs a VM type with memory attributes).
 */
export function bindDataSlot(ctx: CaseContext<unknown>, vm: Vm, gmemFd: number, markPrivate: boolean): void {
  const shared = ctx.map(Number(PAGE), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
  shared.bytes.fill(SHARED_FILL);
  vm.setUserMemoryRegion2({ slot: DATA_SLOT, flags: KVM_MEM_GUEST_MEMFD, gpa: DATA_GPA, size: PAGE, hva: shared.addr, gmemFd, gmemOffset: 0n });
  if (markPrivate) vm.setMemoryAttributes(DATA_GPA, PAGE, BigInt(KVM_MEMORY_ATTRIBUTE_PRIVATE));
}

/** Loads program into a fresh code slot (slot 0 at GPA 0) of vm and returns a vCPU ready to run it in real mode. */
export function loadProgram(ctx: CaseContext<unknown>, vm: Vm, program: GuestProgram): Vcpu {
  const code = ctx.map(CODE_SLOT_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
  code.bytes.set(program.bytes(), CODE_GPA);
  vm.setUserMemoryRegion2({ slot: 0, gpa: 0n, size: BigInt(CODE_SLOT_SIZE), hva: code.addr });
  const vcpu = ctx.track(vm.createVcpu(0));
  vcpu.setupRealMode(CODE_GPA);
  return vcpu;
}

function describe(e: Exit): string {
  if (e.io) return `OUT 0x${e.io.port.toString(16)}=${e.io.data.toString('hex')}`;
  if (e.memoryFault) return `KVM_EXIT_MEMORY_FAULT gpa 0x${e.memoryFault.gpa.toString(16)} flags 0x${e.memoryFault.flags.toString(16)}`;
  return `exit reason ${e.reason}`;
}

/** Runs the vCPU to HLT (at most 8 exits) and returns the bytes reported on REPORT_PORT; fails on any other exit. */
export function runReports(vcpu: Vcpu, what: string): number[] {
  const seen: Exit[] = [];
  const bytes: number[] = [];
  for (let i = 0; i < 8; i++) {
    const e = vcpu.runOnce();
    seen.push(e);
    if (e.reason === KVM_EXIT_HLT) return bytes;
    if (e.reason !== KVM_EXIT_IO || e.io?.port !== REPORT_PORT) break;
    bytes.push(e.io.data[0] ?? -1);
  }
  throw new CaseFailure(`${what}: the guest did not report and halt: ${seen.map(describe).join(', ')}`);
}

/** Runs a one-report program and returns the byte it reported. */
export function runForByte(vcpu: Vcpu, what: string): number {
  const bytes = runReports(vcpu, what);
  if (bytes.length !== 1) throw new CaseFailure(`${what}: expected one reported byte, got [${bytes.join(', ')}]`);
  return bytes[0] as number;
}
