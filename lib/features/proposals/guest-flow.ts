// Guests for the link and migration cases, on the guest layer (lib/kvm/guest.ts, lib/kvm/vcpu-run.ts): a
// real-mode vCPU that runs from the code slot and touches one guest_memfd-backed page at DATA_GPA, reporting
// the byte it sees with OUT on REPORT_PORT. It is how a case sees guest_memfd contents when the host cannot
// map them (private memory of a SW_PROTECTED VM), and how it tells private from shared: the shared side of
// the data slot is filled with SHARED_FILL, so a guest that reads SHARED_FILL was not given the guest_memfd page.
import {
  KVM_MEM_GUEST_MEMFD,
  KVM_MEMORY_ATTRIBUTE_PRIVATE,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
} from '../../uapi/index.js';
import { PAGE_SIZE } from '../../arch.js';
import type { CaseContext } from '../../harness/context.js';
import { CaseFailure } from '../../harness/expect.js';
import { GuestProgram } from '../../kvm/guest-program.js';
import { DATA_GPA, DATA_SEG, DATA_SLOT, REPORT_PORT } from '../../kvm/guest.js';
import { runToHlt } from '../../kvm/vcpu-run.js';
import type { Vcpu } from '../../kvm/vcpu.js';
import type { Vm } from '../../kvm/vm.js';

/** The byte the shared (hva) side of the data slot holds. */
export const SHARED_FILL = 0x11;
const PAGE = BigInt(PAGE_SIZE);

/** A program that stores value at DATA_GPA, then reports what it reads back, then halts. */
export function writerProgram(value: number): GuestProgram {
  return new GuestProgram().setDs(DATA_SEG).storeByte(0, value).reportByte(0, REPORT_PORT).hlt();
}

/** A program that reports the byte at DATA_GPA, then halts. */
export function readerProgram(): GuestProgram {
  return new GuestProgram().setDs(DATA_SEG).reportByte(0, REPORT_PORT).hlt();
}

/**
 * Gives vm the data slot: DATA_GPA, one page, bound to gmemFd at offset 0, with an anonymous shared side filled with
 * SHARED_FILL; marks it private when asked (needs a VM type with memory attributes).
 */
export function bindDataSlot(ctx: CaseContext<unknown>, vm: Vm, gmemFd: number, markPrivate: boolean): void {
  const shared = ctx.map(Number(PAGE), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
  shared.bytes.fill(SHARED_FILL);
  vm.setUserMemoryRegion2({
    slot: DATA_SLOT,
    flags: KVM_MEM_GUEST_MEMFD,
    gpa: DATA_GPA,
    size: PAGE,
    hva: shared.addr,
    gmemFd,
    gmemOffset: 0n,
  });
  if (markPrivate) vm.setMemoryAttributes(DATA_GPA, PAGE, BigInt(KVM_MEMORY_ATTRIBUTE_PRIVATE));
}

/** Runs a one-report program to HLT and returns the byte it reported on REPORT_PORT. */
export function runForByte(vcpu: Vcpu, what: string): number {
  const outs = runToHlt(vcpu, what);
  if (outs.length !== 1 || outs[0]?.[0] !== REPORT_PORT)
    throw new CaseFailure(
      `${what}: expected one OUT to port 0x${REPORT_PORT.toString(16)} before HLT, got [${outs.map(([p, b]) => `OUT 0x${p.toString(16)}=0x${b.toString(16)}`).join(', ')}]`,
    );
  return outs[0][1];
}
