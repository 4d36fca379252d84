/**
 * Probe programs: the raw steps a probe child performs (syscalls by number, byte loads and stores on a mapping,
 * an idle CLONE_FILES|CLONE_VM task), composed in TypeScript and run by the small interpreter
 * lib/harness/probe-exec.c in a process of its own — a child that may die of SIGBUS without a Node.js start.
 * The interpreter reports each step's raw value and errno; the case judges them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RawResult } from '../sys/errors.js';
import {
  AT_FDCWD,
  errnoName,
  MAP_SHARED,
  O_CLOEXEC,
  O_RDONLY,
  PROT_READ,
  PROT_WRITE,
  SYSCALL,
  type SyscallName,
} from '../uapi/index.js';
import { CaseFailure, HarnessError } from './expect.js';
import { timeoutScale } from './timeout-scale.js';

/** Path of the compiled interpreter (ci/bootstrap.sh builds it beside this module in dist/). */
export const PROBE_EXEC = fileURLToPath(new URL('./probe-exec', import.meta.url));

/** The value of an earlier step, plus a constant (an address inside a mapping, say). */
export class StepValue {
  /** index: the step whose value this is; plus: added to it. */
  constructor(
    readonly index: number,
    readonly plus = 0n,
  ) {}
  /** The same step's value plus k more. */
  add(k: number | bigint): StepValue {
    return new StepValue(this.index, this.plus + BigInt(k));
  }
}

/** An argument of a step: a literal integer or an earlier step's value. */
export type ProbeArg = number | bigint | StepValue;

/** A program for probe-exec, built step by step; each builder returns the step's value for later arguments. */
export class ProbeProgram {
  private readonly lines: string[] = [];
  /** A zeroed buffer of len bytes; its value is its address. */
  buf(len: number): StepValue {
    return this.step(`buf ${len}`);
  }
  /** A buffer holding data (a string is written as UTF-8 with a terminating NUL); its value is its address. */
  bytes(data: Buffer | string): StepValue {
    const b = typeof data === 'string' ? Buffer.from(`${data}\0`) : data;
    if (b.length === 0) return this.buf(0);
    return this.step(`bytes ${b.toString('hex')}`);
  }
  /** syscall(name, args…): its raw return value and errno are reported. */
  sys(name: SyscallName, ...args: ProbeArg[]): StepValue {
    return this.step(['sys', SYSCALL[name], ...args.map(argText)].join(' '));
  }
  /** syscall(name, args…) that must succeed: the child stops (exit 3) when it returns -1. */
  sysOk(name: SyscallName, ...args: ProbeArg[]): StepValue {
    return this.step(['sys', SYSCALL[name], ...args.map(argText), '!'].join(' '));
  }
  /** Reads the byte at addr + off (a fault kills the child); the byte is the step's value. */
  load(addr: ProbeArg, off: ProbeArg = 0): StepValue {
    return this.step(`load ${argText(addr)} ${argText(off)}`);
  }
  /** Writes byte value at addr + off. */
  store(addr: ProbeArg, off: ProbeArg, value: number): StepValue {
    return this.step(`store ${argText(addr)} ${argText(off)} ${value & 0xff}`);
  }
  /** Writes the 64-bit value at addr + off (a pointer into a buffer for an argv array, say). */
  put64(addr: ProbeArg, off: ProbeArg, value: ProbeArg): StepValue {
    return this.step(`put64 ${argText(addr)} ${argText(off)} ${argText(value)}`);
  }
  /** Writes value over [addr + from, addr + to). */
  fill(addr: ProbeArg, from: number, to: number, value: number): StepValue {
    return this.step(`fill ${argText(addr)} ${from} ${to} ${value & 0xff}`);
  }
  /** The first offset in [from, to) whose byte is not value, or -1, as the step's value. */
  scan(addr: ProbeArg, from: number, to: number, value: number): StepValue {
    return this.step(`scan ${argText(addr)} ${from} ${to} ${value & 0xff}`);
  }
  /** Reports len bytes at addr (ProgramOutcome.output of this step). */
  out(addr: ProbeArg, len: ProbeArg): StepValue {
    return this.step(`out ${argText(addr)} ${argText(len)}`);
  }
  /** Reads up to max bytes of a file (open, read, close); its bytes are ProgramOutcome.output of the returned step. */
  readFile(path: string, max = 64): StepValue {
    const fd = this.sys('openat', AT_FDCWD, this.bytes(path), O_RDONLY | O_CLOEXEC);
    const buf = this.buf(max);
    const text = this.out(buf, this.sys('read', fd, buf, max));
    this.sys('close', fd);
    return text;
  }
  /** Starts a task sharing this one's file table, fs and mm (clone CLONE_FILES|CLONE_FS|CLONE_VM) that waits; value: its pid. */
  idleTask(): StepValue {
    return this.step('idle_task');
  }
  /** Kills and waits for an idle task. */
  reap(pid: StepValue): StepValue {
    return this.step(`reap ${argText(pid)}`);
  }
  /** The 32-bit value at addr + off (an fd that pipe2 stored, say). */
  load32(addr: ProbeArg, off: ProbeArg = 0): StepValue {
    return this.step(`load32 ${argText(addr)} ${argText(off)}`);
  }
  /** Stops the child (exit 3) unless a equals b. */
  checkEq(a: ProbeArg, b: ProbeArg): StepValue {
    return this.step(`check_eq ${argText(a)} ${argText(b)}`);
  }
  /**
   * The steps `body` adds run in a child that is pid 1 of a new pid namespace (a helper unshares CLONE_NEWPID and
   * forks it, as unshare --pid --fork does; ProgramOutcome.unshareErrno says how the unshare went); this process goes
   * on at once. The value is the helper's pid, whose wait() status is the child's exit status.
   */
  pidnsFork(body: () => void): StepValue {
    const fork = this.step('pidns_fork');
    body();
    this.step('block_end');
    return fork;
  }
  /** waitpid(pid); the raw wait status is the value. */
  wait(pid: StepValue): StepValue {
    return this.step(`wait ${argText(pid)}`);
  }
  /** The program text probe-exec reads. */
  text(): string {
    return this.lines.join('\n');
  }
  private step(line: string): StepValue {
    this.lines.push(line);
    return new StepValue(this.lines.length - 1);
  }
}

function argText(a: ProbeArg): string {
  if (a instanceof StepValue) return a.plus ? `$${a.index}+${a.plus}` : `$${a.index}`;
  return BigInt.asIntN(64, BigInt(a)).toString();
}

/** Options of a probe program's child. */
export interface ProgramOptions {
  /** fds of this process to hand to the child as fds 3, 4, … (in order). */ fds?: number[];
  /** Milliseconds before the child is killed (default 10000, scaled like every probe timeout). */ timeoutMs?: number;
}

/** How a probe program's child ended and what each step it finished reported. */
export interface ProgramOutcome {
  /** Exit code (0 every step ran, 3 a must-succeed step failed), null when killed by a signal. */ status:
    | number
    | null;
  /** Signal name (SIGBUS…) when killed by one. */ signal: string | null;
  /** True when the parent killed it for exceeding the timeout. */ timedOut: boolean;
  /** stderr text. */ stderr: string;
  /** Steps that reported, in order (a fault leaves the ones before the faulting step). */ results: RawResult[];
  /** Bytes reported by out() steps, by step index. */ output: Map<number, Buffer>;
  /** errno of each pidnsFork's unshare(CLONE_NEWPID) (0: it worked), by step index. */ unshareErrno: Map<
    number,
    number
  >;
}

/** The exit status a raw wait status stands for (128 + signal for a signal, as a shell says it). */
export function waitExitCode(status: bigint): number {
  const s = Number(status);
  return (s & 0x7f) === 0 ? (s >> 8) & 0xff : 128 + (s & 0x7f);
}

/** The result step v reported, undefined when the child never finished it. */
export function resultOf(o: ProgramOutcome, v: StepValue): RawResult | undefined {
  return o.results[v.index];
}

/** How the child ended, for messages: "timed out", "was killed by SIGBUS", "exited with status 3". */
export function endedText(o: ProgramOutcome): string {
  return o.timedOut ? 'timed out' : o.signal ? `was killed by ${o.signal}` : `exited with status ${o.status}`;
}

/** Fails unless the child ran every step (exit 0): names how it ended and the last step it finished. */
export function expectFinished(o: ProgramOutcome, what: string): void {
  if (o.status === 0 && o.signal === null) return;
  const how = endedText(o);
  const last = o.results.length - 1;
  const r = o.results[last];
  const step = r ? `step ${last} returned ${r.ret}${r.errno ? ` (${errnoName(r.errno)})` : ''}` : 'no step finished';
  throw new CaseFailure(`${what}: the probe child ${how}; ${step}${o.stderr.trim() ? `: ${o.stderr.trim()}` : ''}`);
}

/** Parses probe-exec's stdout; null when it never printed READY (it did not start the program). */
export function parseProgramOutput(stdout: string): Pick<ProgramOutcome, 'results' | 'output' | 'unshareErrno'> | null {
  const lines = stdout.split('\n');
  if (lines[0] !== 'READY') return null;
  const results: RawResult[] = [];
  const output = new Map<number, Buffer>();
  const unshareErrno = new Map<number, number>();
  for (const l of lines.slice(1)) {
    const r = /^R (\d+) (-?\d+) (\d+)$/.exec(l);
    if (r) {
      results[Number(r[1])] = { ret: BigInt(r[2] as string), errno: Number(r[3]) };
      continue;
    }
    const o = /^O (\d+) ([0-9a-f]*)$/.exec(l);
    if (o) output.set(Number(o[1]), Buffer.from(o[2] as string, 'hex'));
    const n = /^N (\d+) (\d+)$/.exec(l);
    if (n) unshareErrno.set(Number(n[1]), Number(n[2]));
  }
  return { results, output, unshareErrno };
}

function programSpawn(p: ProbeProgram, opts: ProgramOptions) {
  if (!existsSync(PROBE_EXEC))
    throw new HarnessError(
      `${PROBE_EXEC} is missing: ci/bootstrap.sh builds it from lib/harness/probe-exec.c with gcc`,
    );
  return {
    args: [p.text()],
    stdio: ['ignore', 'pipe', 'pipe', ...(opts.fds ?? [])] as ('ignore' | 'pipe' | number)[],
    timeoutMs: Math.round((opts.timeoutMs ?? 10000) * timeoutScale()),
    env: { ...process.env, GMEM_PROBE_PARENT: String(process.pid) },
  };
}

function programOutcome(
  stdout: string,
  stderr: string,
  status: number | null,
  signal: string | null,
  timedOut: boolean,
  how: string,
): ProgramOutcome {
  const parsed = parseProgramOutput(stdout);
  if (!parsed && !timedOut)
    throw new HarnessError(`probe-exec did not start its program (${how}): ${stderr.trim().slice(-300)}`);
  return {
    status,
    signal,
    timedOut,
    stderr,
    ...(parsed ?? { results: [], output: new Map(), unshareErrno: new Map() }),
  };
}

/**
 * Runs the program in a probe-exec child with the given fds as 3, 4, …, dying with this process. A child that did
 * not start the program (interpreter missing, bad program) is a HarnessError: the kernel was never asked.
 */
export function runProgram(p: ProbeProgram, opts: ProgramOptions = {}): ProgramOutcome {
  const c = programSpawn(p, opts);
  const r = spawnSync(PROBE_EXEC, c.args, {
    stdio: c.stdio,
    timeout: c.timeoutMs,
    killSignal: 'SIGKILL',
    encoding: 'utf8',
    env: c.env,
  });
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  const how = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
  return programOutcome(r.stdout ?? '', r.stderr ?? '', r.status, r.signal ?? null, timedOut, how);
}

/**
 * Starts the program without waiting for it (for a child whose exit may never finish: a kernel BUG while it closes
 * its files); `done` resolves when it has exited and closed its output, or at the timeout: it is then SIGKILLed and,
 * two seconds later, given up on even if it never dies, with what it reported so far.
 */
export function startProgram(p: ProbeProgram, opts: ProgramOptions = {}): { done: Promise<ProgramOutcome> } {
  const c = programSpawn(p, opts);
  const child = spawn(PROBE_EXEC, c.args, { stdio: c.stdio, env: c.env });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const done = new Promise<ProgramOutcome>((resolve, reject) => {
    let timedOut = false;
    let settled = false;
    const finish = (status: number | null, signal: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        resolve(
          programOutcome(
            stdout,
            stderr,
            status,
            signal,
            timedOut,
            signal ? `killed by ${signal}` : `exit status ${status}`,
          ),
        );
      } catch (e) {
        reject(e);
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
      setTimeout(() => finish(null, null), 2000).unref();
    }, c.timeoutMs);
    child.on('close', (status, signal) => finish(status, signal ?? null));
  });
  return { done };
}

/**
 * In a probe-exec child: maps fd (its fd 3) MAP_SHARED read-write over length bytes, writes value at offset and
 * reads it back. 'ok' when the byte came back, 'SIGBUS'/'SIGSEGV' when the access killed the child, else
 * 'error: …' saying how it ended (the mmap failing included).
 */
export function writeThroughSharedMapping(fd: number, length: number, offset: number, value: number): string {
  const p = new ProbeProgram();
  const map = p.sysOk('mmap', 0, length, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
  p.store(map, offset, value);
  const back = p.load(map, offset);
  const o = runProgram(p, { fds: [fd], timeoutMs: 15000 });
  if (o.signal === 'SIGBUS' || o.signal === 'SIGSEGV') return o.signal;
  const m = resultOf(o, map);
  if (m?.ret === -1n) return `error: mmap failed with ${errnoName(m.errno)}`;
  if (o.status === 0 && resultOf(o, back)?.ret === BigInt(value & 0xff)) return 'ok';
  return `error: ${o.timedOut ? 'timed out' : (o.signal ?? `exit ${o.status}`)} ${o.stderr.trim()}`.trimEnd();
}
