/** Shared pieces of guest_memfd mmap cases: mapping helpers, byte checks, a probe child that touches a mapping, and a guest (on the guest layer) that reads a guest_memfd slot. */
import { __mremap } from '../sys/mman.js';
import * as libc from '../ffi/libc.js';
import { check } from '../sys/errors.js';
import { __mmap } from '../sys/mman.js';
import type { CaseContext } from '../harness/context.js';
import type { ProbeOutcome } from '../harness/probe.js';
import { CaseFailure } from '../harness/expect.js';
import type { GuestMemfd } from '../kvm/guest-memfd.js';
import type { Requires } from '../harness/case.js';
import type { Vm } from '../kvm/vm.js';
import type { Vcpu } from '../kvm/vcpu.js';
import { GuestProgram } from '../kvm/guest-program.js';
import { DATA_GPA, DATA_SEG, DATA_SLOT, REPORT_PORT, SYNC_PORT, installCode, startVcpu } from '../kvm/guest.js';
import { describeTrace, type Trace } from '../kvm/vcpu-run.js';
import { KVM_MEM_GUEST_MEMFD, MAP_SHARED, PROT_READ, PROT_WRITE } from '../uapi/index.js';
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
  /** Steps, in order; each announces itself on stderr before it starts. */ ops: TouchOp[];
}

/** Result of a touch probe that ran to the end. */
export interface TouchResult {
  /** Values of read/scan steps, in order. */ reads: number[];
}

/** Probe body (runs in a child): maps fd 3 as the spec says and performs its steps; a fault kills the child. */
export function touchGmem(spec: TouchSpec): TouchResult {
  let addr = check(
    'mmap',
    __mmap(spec.length, spec.prot, MAP_SHARED, 3, spec.offset ?? 0n),
    'probe mapping of fd 3',
  ) as bigint;
  let length = spec.length;
  let bytes = new Uint8Array(libc.viewAt(addr, length));
  const reads: number[] = [];
  spec.ops.forEach((step, i) => {
    process.stderr.write(`STEP ${i} ${step.op}\n`);
    switch (step.op) {
      case 'read':
        reads.push(bytes[step.at] ?? -1);
        break;
      case 'write':
        bytes[step.at] = step.value;
        break;
      case 'fill':
        bytes.fill(step.value, step.from, step.to);
        break;
      case 'scan': {
        let bad = -1;
        for (let j = step.from; j < step.to; j++)
          if (bytes[j] !== step.value) {
            bad = j;
            break;
          }
        reads.push(bad);
        break;
      }
      case 'mprotect':
        check('mprotect', libc.mprotect(addr, length, step.prot), `prot 0x${step.prot.toString(16)}`);
        break;
      case 'mremap':
        addr = check('mremap', __mremap(addr, length, step.length), `to ${step.length}`) as bigint;
        length = step.length;
        bytes = new Uint8Array(libc.viewAt(addr, length));
        break;
    }
  });
  process.stderr.write('STEP done\n');
  libc.munmap(addr, length);
  return { reads };
}

/** The last step a probe child announced before it ended ('done' when it finished them all). */
export function lastStep(o: ProbeOutcome): string | undefined {
  const all = [...o.stderr.matchAll(/^STEP (\d+|done)/gm)];
  return all.length ? all[all.length - 1]?.[1] : undefined;
}

function describe(o: ProbeOutcome): string {
  const tail = o.stderr
    .split('\n')
    .filter((l) => l && !l.startsWith('STEP '))
    .slice(-3)
    .join(' | ');
  const how = o.timedOut ? 'timed out' : o.signal ? `was killed by ${o.signal}` : `exited with status ${o.status}`;
  return `the child ${how} after step ${lastStep(o) ?? 'none'}${tail ? ` (${tail})` : ''}`;
}

/** Fails unless the child was killed by signal while performing step number `step` (not before it). */
export function expectKilledAt(o: ProbeOutcome, signal: string, step: number, what: string): void {
  if (o.signal !== signal || lastStep(o) !== String(step))
    throw new CaseFailure(`${what}: expected ${signal} during step ${step}, but ${describe(o)}`);
}

/** Fails unless the child finished every step and exited 0; returns what its probe function returned. */
export function expectCompleted<T>(o: ProbeOutcome, what: string): T {
  if (o.signal !== null || o.status !== 0 || o.value === undefined)
    throw new CaseFailure(`${what}: expected the child to finish, but ${describe(o)}`);
  return o.value as T;
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
