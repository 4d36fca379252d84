/**
 * Running a vCPU and reading what its guest did, in the shape of the kvm selftests' vcpu_run + get_ucall:
 * step() is one raw KVM_RUN (never throws); each expect* runs one step and throws UnexpectedExit unless it
 * is the exit named; runToHlt collects the guest's one-byte OUTs until HLT. One contract for all of them:
 *
 * - an expected exit is KVM_RUN returning 0 with that exit_reason and those fields, except
 *   KVM_EXIT_MEMORY_FAULT, which is KVM_RUN failing with EFAULT (api.rst: "KVM_RUN returns -EFAULT");
 * - a failure message is `<what>: expected <the exit wanted>, got <describeStep of what the vCPU did>`.
 */
import {
  KVM_EXIT_DEBUG,
  KVM_EXIT_EXCEPTION,
  KVM_EXIT_FAIL_ENTRY,
  KVM_EXIT_HLT,
  KVM_EXIT_HYPERCALL,
  KVM_EXIT_INTERNAL_ERROR,
  KVM_EXIT_INTR,
  KVM_EXIT_IO,
  KVM_EXIT_IO_OUT,
  KVM_EXIT_MEMORY_FAULT,
  KVM_EXIT_MMIO,
  KVM_EXIT_SHUTDOWN,
  KVM_EXIT_SYSTEM_EVENT,
  KVM_EXIT_UNKNOWN,
  errnoValue,
  formatErrno,
} from '../uapi/index.js';
import { layoutOf } from '../uapi/struct.js';
import { MUTATING, mutatedValue } from '../mutation.js';
import type { Exit, Vcpu } from './vcpu.js';

/** Most exits a guest may produce in runToHlt before it must have halted. */
export const MAX_EXITS = 100;

/** Thrown by the expect* helpers when the vCPU did something else (the runner records it as a failure). */
export class UnexpectedExit extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnexpectedExit';
  }
}

/** One KVM_RUN: its raw result and the exit kvm_run describes afterwards. */
export interface Step extends Exit {
  /** KVM_RUN return value (0, or -1 on failure). */ ret: number;
  /** errno of a failed KVM_RUN, 0 when it returned 0. */ errno: number;
}

/** One OUT the guest made while running to HLT: [port, byte]. */
export type Out = [port: number, byte: number];

const EXIT_NAMES: Record<number, string> = {
  [KVM_EXIT_UNKNOWN]: 'KVM_EXIT_UNKNOWN',
  [KVM_EXIT_EXCEPTION]: 'KVM_EXIT_EXCEPTION',
  [KVM_EXIT_IO]: 'KVM_EXIT_IO',
  [KVM_EXIT_HYPERCALL]: 'KVM_EXIT_HYPERCALL',
  [KVM_EXIT_DEBUG]: 'KVM_EXIT_DEBUG',
  [KVM_EXIT_HLT]: 'KVM_EXIT_HLT',
  [KVM_EXIT_MMIO]: 'KVM_EXIT_MMIO',
  [KVM_EXIT_SHUTDOWN]: 'KVM_EXIT_SHUTDOWN',
  [KVM_EXIT_FAIL_ENTRY]: 'KVM_EXIT_FAIL_ENTRY',
  [KVM_EXIT_INTR]: 'KVM_EXIT_INTR',
  [KVM_EXIT_INTERNAL_ERROR]: 'KVM_EXIT_INTERNAL_ERROR',
  [KVM_EXIT_SYSTEM_EVENT]: 'KVM_EXIT_SYSTEM_EVENT',
  [KVM_EXIT_MEMORY_FAULT]: 'KVM_EXIT_MEMORY_FAULT',
};

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

/** Name of a KVM_EXIT_* reason, e.g. exitName(5) === 'KVM_EXIT_HLT'; unknown values give 'exit_reason <n>'. */
export function exitName(reason: number): string {
  return EXIT_NAMES[reason] ?? `exit_reason ${reason}`;
}

/** One KVM_RUN and the decoded exit; never throws. */
export function step(vcpu: Vcpu): Step {
  // as the kvm selftests' vcpu_run(): a signal to this thread (SIGCHLD of an earlier case's child, say)
  // ends KVM_RUN with EINTR / KVM_EXIT_INTR before the guest ran; entering again resumes it unchanged
  for (let i = 0; ; i++) {
    const r = vcpu.__run();
    const exit = vcpu.exit();
    if (r.ret < 0 && r.errno === EINTR && exit.reason === KVM_EXIT_INTR && i < MAX_EINTR_RETRIES) continue;
    return { ...exit, ret: r.ret, errno: r.ret < 0 ? r.errno : 0 };
  }
}

/** How often step() re-enters KVM_RUN after EINTR before reporting it. */
const MAX_EINTR_RETRIES = 100;
const EINTR = errnoValue('EINTR');

/** A one-line description of a step, for failure messages and observations. */
export function describeStep(s: Step): string {
  const failed = s.errno ? `KVM_RUN failed with ${formatErrno(s.errno)}` : `KVM_RUN returned ${s.ret}`;
  const head = s.ret < 0 ? `${failed}, ${exitName(s.reason)}` : exitName(s.reason);
  if (s.io) {
    const dir = s.io.direction === KVM_EXIT_IO_OUT ? 'OUT' : 'IN';
    const count = s.io.count === 1 ? '' : ` count ${s.io.count}`;
    return `${head} ${dir} port ${hex(s.io.port)} size ${s.io.size}${count} data <${s.io.data.toString('hex')}>`;
  }
  if (s.mmio) return `${head} ${s.mmio.isWrite ? 'write' : 'read'} at ${hex(s.mmio.physAddr)} len ${s.mmio.len}`;
  if (s.memoryFault) {
    const f = s.memoryFault;
    return `${head} flags ${hex(f.flags)} gpa ${hex(f.gpa)} size ${hex(f.size)}`;
  }
  if (s.hypercall) return `${head} nr ${s.hypercall.nr} args [${s.hypercall.args.map(hex).join(', ')}]`;
  if (s.internal) return `${head} suberror ${s.internal.suberror}`;
  return head;
}

/** True when the step is KVM_RUN 0 with a one-byte OUT to `port` (any port when undefined). */
export function isOut(s: Step, port?: number): s is Step & { io: NonNullable<Exit['io']> } {
  return (
    s.ret === 0 &&
    s.reason === KVM_EXIT_IO &&
    !!s.io &&
    s.io.direction === KVM_EXIT_IO_OUT &&
    s.io.size === 1 &&
    s.io.count === 1 &&
    (port === undefined || s.io.port === port)
  );
}

/** True when the step is KVM_RUN 0 with KVM_EXIT_HLT. */
export function isHlt(s: Step): boolean {
  return s.ret === 0 && s.reason === KVM_EXIT_HLT;
}

/** The failure of an expect*: `<what>: expected <wanted>, got <what the vCPU did>`. */
function unexpected(what: string, wanted: string, got: Step | string): UnexpectedExit {
  return new UnexpectedExit(`${what}: expected ${wanted}, got ${typeof got === 'string' ? got : describeStep(got)}`);
}

/** Runs one step and expects a one-byte OUT to `port`; returns the byte. */
export function expectOut(vcpu: Vcpu, port: number, what: string): number {
  const s = step(vcpu);
  if (!isOut(s, port)) throw unexpected(what, `KVM_EXIT_IO OUT port ${hex(port)} size 1`, s);
  return s.io.data[0] as number;
}

/** Runs one step and expects KVM_EXIT_HLT. */
export function expectHlt(vcpu: Vcpu, what: string): void {
  const s = step(vcpu);
  if (!isHlt(s)) throw unexpected(what, 'KVM_EXIT_HLT', s);
}

/** Runs one step and expects KVM_EXIT_MMIO at gpa in that direction; returns the step (mmio.len, mmio.data). */
export function expectMmio(vcpu: Vcpu, gpa: bigint, isWrite: boolean, what: string): Step {
  const s = step(vcpu);
  if (!(s.ret === 0 && s.reason === KVM_EXIT_MMIO && s.mmio && s.mmio.physAddr === gpa && s.mmio.isWrite === isWrite))
    throw unexpected(what, `KVM_EXIT_MMIO ${isWrite ? 'write' : 'read'} at ${hex(gpa)}`, s);
  return s;
}

/** Supplies the data of a pending MMIO read: the next KVM_RUN completes the guest's load with these bytes. */
export function completeMmioRead(vcpu: Vcpu, data: number[]): void {
  const off = layoutOf('kvm_run').fields['mmio.data']?.offset;
  if (off === undefined) throw new Error('kvm_run layout has no mmio.data');
  vcpu.run.bytes.set(data, off);
}

/** The fields a KVM_EXIT_MEMORY_FAULT must carry. */
export interface MemoryFaultWant {
  /** KVM_MEMORY_EXIT_FLAG_* bits. */ flags: bigint;
  /** Faulting GPA (page aligned). */ gpa: bigint;
  /** Size of the faulting range. */ size: bigint;
}

/** Runs one step and expects KVM_RUN to fail with EFAULT and KVM_EXIT_MEMORY_FAULT with exactly these fields. */
export function expectMemoryFault(vcpu: Vcpu, given: MemoryFaultWant, what: string): Step {
  const want = MUTATING
    ? { flags: mutatedValue(given.flags), gpa: mutatedValue(given.gpa), size: mutatedValue(given.size) }
    : given;
  const s = step(vcpu);
  const efault = errnoValue('EFAULT');
  const mf = s.memoryFault;
  if (
    !(s.ret < 0 && s.errno === efault && s.reason === KVM_EXIT_MEMORY_FAULT && mf) ||
    mf.flags !== want.flags ||
    mf.gpa !== want.gpa ||
    mf.size !== want.size
  ) {
    const fields = `flags ${hex(want.flags)} gpa ${hex(want.gpa)} size ${hex(want.size)}`;
    throw unexpected(what, `KVM_RUN failed with ${formatErrno(efault)}, KVM_EXIT_MEMORY_FAULT ${fields}`, s);
  }
  return s;
}

/** A step that is a KVM_EXIT_HYPERCALL. */
export type HypercallStep = Step & { hypercall: NonNullable<Exit['hypercall']> };

/** Runs one step and expects KVM_EXIT_HYPERCALL with number `nr` (KVM_HC_*); returns it (hypercall.args). */
export function expectHypercall(vcpu: Vcpu, nr: number, what: string): HypercallStep {
  const s = step(vcpu);
  if (!(s.ret === 0 && s.reason === KVM_EXIT_HYPERCALL && s.hypercall && s.hypercall.nr === BigInt(nr)))
    throw unexpected(what, `KVM_EXIT_HYPERCALL nr ${nr}`, s);
  return s as HypercallStep;
}

/** Completes a pending KVM_EXIT_HYPERCALL: the guest sees `ret` in RAX when KVM_RUN re-enters it. */
export function completeHypercall(vcpu: Vcpu, ret: bigint): void {
  vcpu.setHypercallRet(ret);
}

/** How a run to HLT went: the OUTs in order, the step that ended it, and whether that step was HLT. */
export interface Trace {
  /** One-byte OUTs before the end, as [port, byte]. */ outs: Out[];
  /** The last step: HLT, the first exit that is neither OUT nor HLT, or the last OUT after maxExits. */ end: Step;
  /** True when the guest halted. */ halted: boolean;
}

/** Raw run to HLT: steps while the guest makes one-byte OUTs, at most maxExits steps; never throws. */
export function __runToHlt(vcpu: Vcpu, maxExits = MAX_EXITS): Trace {
  const outs: Out[] = [];
  let end = step(vcpu);
  for (let i = 1; isOut(end) && i < maxExits; i++) {
    outs.push([end.io.port, end.io.data[0] as number]);
    end = step(vcpu);
  }
  return { outs, end, halted: isHlt(end) };
}

/** A trace as text: its OUTs, then how it ended. */
export function describeTrace(t: Trace): string {
  const outs = t.outs.map(([port, byte]) => `OUT ${hex(port)}=${hex(byte)}`);
  return [...outs, describeStep(t.end)].join(', ');
}

/** Runs to HLT and returns the guest's OUTs; anything but one-byte OUTs then HLT within maxExits is a failure. */
export function runToHlt(vcpu: Vcpu, what: string, maxExits = MAX_EXITS): Out[] {
  const t = __runToHlt(vcpu, maxExits);
  if (t.halted) return t.outs;
  if (isOut(t.end)) throw unexpected(what, `KVM_EXIT_HLT within ${maxExits} exits`, describeTrace(t));
  throw unexpected(`${what}: after ${t.outs.length} OUT exits`, 'OUT or KVM_EXIT_HLT', t.end);
}
