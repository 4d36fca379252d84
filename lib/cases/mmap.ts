/** Shared pieces of guest_memfd mmap cases: mapping helpers, byte checks, a probe child that touches a mapping, and a guest (on the guest layer) that reads a guest_memfd slot. */
import type { CaseContext } from '../harness/context.js';
import {
  endedText,
  ProbeProgram,
  resultOf,
  runProgram,
  type ProgramOutcome,
  type StepValue,
} from '../harness/probe-program.js';
import { CaseFailure } from '../harness/expect.js';
import type { GuestMemfd } from '../kvm/guest-memfd.js';
import type { Requires } from '../harness/case.js';
import type { Vm } from '../kvm/vm.js';
import type { Vcpu } from '../kvm/vcpu.js';
import { GuestProgram } from '../kvm/guest-program.js';
import { DATA_GPA, DATA_SEG, DATA_SLOT, REPORT_PORT, SYNC_PORT, installCode, startVcpu } from '../kvm/guest.js';
import { describeTrace, type Trace } from '../kvm/vcpu-run.js';
import { errnoName, KVM_MEM_GUEST_MEMFD, MAP_SHARED, MREMAP_MAYMOVE, PROT_READ, PROT_WRITE } from '../uapi/index.js';
import { hex } from './gmem.js';

/** PROT_READ | PROT_WRITE. */
export const RW = PROT_READ | PROT_WRITE;

/** Requirement of mmap cases whose pages must be faultable by the host: MMAP and INIT_SHARED advertised. */
export const NEEDS_GMEM_SHARED: Requires = {
  caps: ['KVM_CAP_GUEST_MEMFD'],
  gmemFlags: ['GUEST_MEMFD_FLAG_MMAP', 'GUEST_MEMFD_FLAG_INIT_SHARED'],
};

/** Requirement of cases that bind an mmap-able, shared guest_memfd to a memslot (KVM_SET_USER_MEMORY_REGION2). */
export const NEEDS_GMEM_SLOT: Requires = {
  ...NEEDS_GMEM_SHARED,
  caps: ['KVM_CAP_GUEST_MEMFD', 'KVM_CAP_USER_MEMORY2'],
};

/** Requirement of mmap cases on private (not INIT_SHARED) memory: MMAP advertised. */
export const NEEDS_GMEM_MMAP: Requires = { caps: ['KVM_CAP_GUEST_MEMFD'], gmemFlags: ['GUEST_MEMFD_FLAG_MMAP'] };

/** Maps length bytes (default: the whole file) of a guest_memfd MAP_SHARED; unmapped after the case. */
export function mapGmem(ctx: CaseContext<unknown>, g: GuestMemfd, length = Number(g.size), prot = RW, offset = 0n) {
  return ctx.map(length, prot, MAP_SHARED, g.fd, offset);
}

/** Fails unless bytes[from, to) all equal value; names the first offset that differs. */
export function expectFilled(bytes: Uint8Array, from: number, to: number, value: number, what: string): void {
  for (let i = from; i < to; i++) {
    if (bytes[i] !== value)
      throw new CaseFailure(
        `${what}: byte at offset 0x${i.toString(16)} is 0x${(bytes[i] ?? 0).toString(16)}, expected 0x${value.toString(16)} over [0x${from.toString(16)}, 0x${to.toString(16)})`,
      );
  }
}

/** One step a probe child performs on its mapping of fd 3. */
export type TouchOp =
  | { /** Reads one byte (returned in reads). */ op: 'read'; at: number }
  | { /** Writes one byte. */ op: 'write'; at: number; value: number }
  | { /** Writes value over [from, to). */ op: 'fill'; from: number; to: number; value: number }
  | {
      /** Returns the first offset in [from, to) that is not value, or -1 (in reads). */ op: 'scan';
      from: number;
      to: number;
      value: number;
    }
  | { /** mprotect of the whole mapping; the child fails (exit 70) if refused. */ op: 'mprotect'; prot: number }
  | { /** mremap (MAYMOVE) of the whole mapping to a new length. */ op: 'mremap'; length: number };

/** What a probe child maps and does: fd 3 mapped MAP_SHARED at offset with prot, then ops in order. */
export interface TouchSpec {
  /** Mapping length in bytes. */ length: number;
  /** Protection at mmap time. */ prot: number;
  /** File offset of the mapping. */ offset?: bigint;
  /** Steps, in order. */ ops: TouchOp[];
}

/** Result of a touch probe that ran to the end. */
export interface TouchResult {
  /** Values of read/scan steps, in order. */ reads: number[];
}

/** How a touch child ended: its program outcome, and how many of the spec's ops it finished. */
export interface TouchOutcome extends ProgramOutcome {
  /** Ops that finished (spec.ops.length when all did); a fault in op N leaves N. */ opsDone: number;
  /** Values of the read/scan ops that finished, in order. */ reads: number[];
  /** The mmap of fd 3 failed (errno), so no op ran. */ mmapErrno?: number;
}

/**
 * Maps fd (as the child's fd 3) in a probe-exec child and performs the spec's ops on the mapping; a fault kills
 * the child in the op that touched the page. mprotect and mremap steps must succeed (the child stops otherwise).
 */
export function touchGmem(fd: number, spec: TouchSpec, timeoutMs = 20000): TouchOutcome {
  const p = new ProbeProgram();
  const mapped = p.sysOk('mmap', 0, spec.length, spec.prot, MAP_SHARED, 3, spec.offset ?? 0n);
  let addr = mapped;
  let length = spec.length;
  const ends: StepValue[] = [];
  const reads: StepValue[] = [];
  for (const step of spec.ops) {
    let v: StepValue;
    switch (step.op) {
      case 'read':
        v = p.load(addr, step.at);
        reads.push(v);
        break;
      case 'write':
        v = p.store(addr, step.at, step.value);
        break;
      case 'fill':
        v = p.fill(addr, step.from, step.to, step.value);
        break;
      case 'scan':
        v = p.scan(addr, step.from, step.to, step.value);
        reads.push(v);
        break;
      case 'mprotect':
        v = p.sysOk('mprotect', addr, length, step.prot);
        break;
      case 'mremap':
        v = p.sysOk('mremap', addr, length, step.length, MREMAP_MAYMOVE, 0);
        addr = v;
        length = step.length;
        break;
    }
    ends.push(v);
  }
  p.sys('munmap', addr, length);
  const o = runProgram(p, { fds: [fd], timeoutMs });
  const m = resultOf(o, mapped);
  return {
    ...o,
    // an op is done when its step reported (a scan's -1 means every byte matched); mprotect/mremap must also succeed
    opsDone: ends.filter((e, i) => {
      const r = resultOf(o, e);
      return r !== undefined && !(syscallOp(spec.ops[i]) && r.ret === -1n);
    }).length,
    reads: reads.flatMap((r) => {
      const v = resultOf(o, r);
      return v ? [Number(v.ret)] : [];
    }),
    ...(m?.ret === -1n ? { mmapErrno: m.errno } : {}),
  };
}

function syscallOp(op: TouchOp | undefined): boolean {
  return op?.op === 'mprotect' || op?.op === 'mremap';
}

function describe(o: TouchOutcome): string {
  const how = endedText(o);
  const mmap = o.mmapErrno !== undefined ? `; its mmap of the fd failed with ${errnoName(o.mmapErrno)}` : '';
  const tail = o.stderr.trim().split('\n').slice(-3).join(' | ');
  return `the child ${how} after ${o.opsDone} op(s)${mmap}${tail ? ` (${tail})` : ''}`;
}

/** Fails unless the child was killed by signal while performing op number `step` (not before it). */
export function expectKilledAt(o: TouchOutcome, signal: string, step: number, what: string): void {
  if (o.signal !== signal || o.opsDone !== step)
    throw new CaseFailure(`${what}: expected ${signal} during op ${step}, but ${describe(o)}`);
}

/** Fails unless the child finished every op and exited 0; returns what its read/scan ops found. */
export function expectCompleted(o: TouchOutcome, what: string): TouchResult {
  if (o.signal !== null || o.status !== 0)
    throw new CaseFailure(`${what}: expected the child to finish, but ${describe(o)}`);
  return { reads: o.reads };
}

/** Byte the reader guest stores at offset 1 of the guest_memfd slot. */
export const STORED_VALUE = 0x77;
/** Checkpoint the reader guest reports on SYNC_PORT after its store. */
const DONE = 0x55;

/** Code that reports the slot's byte 0 on REPORT_PORT, stores STORED_VALUE at byte 1, reports DONE on SYNC_PORT and halts. */
function readerProgram(): GuestProgram {
  return new GuestProgram()
    .setDs(DATA_SEG)
    .reportByte(0, REPORT_PORT)
    .storeByte(1, STORED_VALUE)
    .reportImm(DONE, SYNC_PORT)
    .hlt();
}

/**
 * A vCPU in real mode running the reader program from the guest layer's code slot, whose data slot
 * (KVM_MEM_GUEST_MEMFD, userspace_addr hva) is size bytes of gmemFd from offset 0.
 */
export function guestReadingGmem(ctx: CaseContext<unknown>, vm: Vm, gmemFd: number, hva: bigint, size: bigint): Vcpu {
  installCode(ctx, vm, readerProgram());
  vm.setUserMemoryRegion2({
    slot: DATA_SLOT,
    flags: KVM_MEM_GUEST_MEMFD,
    gpa: DATA_GPA,
    size,
    hva,
    gmemFd,
    gmemOffset: 0n,
  });
  return startVcpu(ctx, vm);
}

/** True when the reader program ran to HLT having read value: OUT REPORT_PORT=value, OUT SYNC_PORT=DONE, HLT. */
export function programRan(t: Trace, value: number): boolean {
  return (
    t.halted &&
    JSON.stringify(t.outs) ===
      JSON.stringify([
        [REPORT_PORT, value],
        [SYNC_PORT, DONE],
      ])
  );
}

/** Fails unless the reader program ran to HLT having read value from the guest_memfd slot. */
export function expectProgramRan(t: Trace, value: number, what: string): void {
  if (!programRan(t, value))
    throw new CaseFailure(
      `${what}: expected OUT ${hex(REPORT_PORT)}=${hex(value)}, OUT ${hex(SYNC_PORT)}=${hex(DONE)}, KVM_EXIT_HLT; got ${describeTrace(t)}`,
    );
}
