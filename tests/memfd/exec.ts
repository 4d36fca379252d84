/**
 * memfd.exec: W^X for memfds — MFD_EXEC, MFD_NOEXEC_SEAL, F_SEAL_EXEC and the per-pid-namespace vm.memfd_noexec policy.
 *
 * Kernel checks: exec bits and seals (mm/shmem.c shmem_setattr, mm/memfd.c memfd_add_seals, memfd_alloc_file;
 * read in 7.2.13 and 7.3-rc7, measured on 6.18)
 *   1. F_SEAL_EXEC: fchmod changing a bit of 0111 → EPERM | refused: memfd.exec.seal_exec_fchmod@to_0777 | accepted: memfd.exec.seal_exec_fchmod@to_0600
 *   2. F_SEAL_EXEC: path chmod through /proc/self/fd/N → EPERM | refused: memfd.exec.seal_exec_path_chmod@chmod | accepted: n/a (the same variant changes rw bits and succeeds)
 *   3. F_SEAL_EXEC on a mode with any exec bit implies SHRINK|GROW|WRITE|FUTURE_WRITE | refused: memfd.exec.seal_exec_implied_seals@mode_0601 | accepted: memfd.exec.seal_exec_implied_seals@mode_0666
 *   4. the implied F_SEAL_WRITE under a writable shared mapping → EBUSY | refused: memfd.exec.seal_exec_with_writable_mapping@executable | accepted: memfd.exec.seal_exec_with_writable_mapping@not_executable
 *   5. execveat of a memfd without exec bits → EACCES | refused: memfd.exec.execveat@mfd_noexec_seal | accepted: memfd.exec.execveat@mfd_exec
 * Kernel checks: vm.memfd_noexec (kernel/pid_sysctl.h pid_mfd_noexec_dointvec_minmax, include/linux/pid_namespace.h
 * pidns_memfd_noexec_scope; read in 7.2.13 and 7.3-rc7)
 *   1. a value outside 0..2 → EINVAL | refused: memfd.exec.sysctl_invalid_values | accepted: memfd.exec.sysctl_namespaced
 *   2. a value below the parent namespace's → EINVAL | refused: memfd.exec.sysctl_child_inherits_floor | accepted: memfd.exec.sysctl_lower_in_own_namespace
 *   3. the parent's later value is still the floor (max over ancestors) | refused: memfd.exec.sysctl_parent_raises_after_fork | accepted: memfd.exec.sysctl_parent_lowers_after_fork
 */
import { __chmod, __fchmod, decodeStat, STAT_SIZE } from '../../lib/sys/fd.js';
import { readFileSync } from 'node:fs';
import {
  ProbeProgram,
  resultOf,
  runProgram,
  waitExitCode,
  type ProgramOutcome,
  type StepValue,
} from '../../lib/harness/probe-program.js';
import { defineCase } from '../../lib/harness/case.js';
import { expectErrno, expectEq, expectOk, outcome, CaseFailure, HarnessError } from '../../lib/harness/expect.js';
import type { CaseContext } from '../../lib/harness/context.js';
import { close, syscall } from '../../lib/ffi/libc.js';
import { __addSeals, addSeals, __getSeals } from '../../lib/sys/fcntl.js';
import { __open } from '../../lib/sys/fd.js';
import { __write, pwrite } from '../../lib/sys/io.js';
import { __memfdCreate } from '../../lib/sys/memfd.js';
import { __mmap, Mapping } from '../../lib/sys/mman.js';
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  F_GET_SEALS,
  F_SETFD,
  F_SEAL_EXEC,
  F_SEAL_SEAL,
  F_SEAL_WRITE,
  MAP_SHARED,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  MFD_EXEC,
  MFD_HUGETLB,
  MFD_NOEXEC_SEAL,
  O_CLOEXEC,
  O_RDONLY,
  O_WRONLY,
  PROT_READ,
  PROT_WRITE,
  SYSCALL,
} from '../../lib/uapi/index.js';
import { errnoName, type ErrnoName } from '../../lib/uapi/index.js';
import {
  MEMFD_NOEXEC_SYSCTL,
  NEEDS_MEMFD_EXEC_API,
  SEAL_EXEC_IMPLIES,
  expectSeals,
  HUGEPAGES_SYSFS,
  modeOf,
  newMemfd,
  octal,
  requireDefaultExecPolicy,
  sealText,
  uniqueName,
} from '../../lib/cases/memfd.js';
import { MATRIX_SIZE, sealableMemfd } from '../../lib/cases/memfd-seal-matrix.js';

const noexecSeal = defineCase({
  id: 'memfd.exec.noexec_seal_state',
  doc: 'MFD_NOEXEC_SEAL clears the exec bits (0666), sets F_SEAL_EXEC and enables sealing even without MFD_ALLOW_SEALING; exec bits can then never be set',
  requires: NEEDS_MEMFD_EXEC_API,
  tags: { selftest: 'memfd_test.c:test_noexec_seal', linuxGit: ['105ff5339f49'] },
  run(ctx) {
    const fd = newMemfd(ctx, MFD_CLOEXEC | MFD_NOEXEC_SEAL, 'noexec');
    expectEq(modeOf(fd), 0o666, 'mode');
    expectSeals(fd, F_SEAL_EXEC, 'initial seals');
    expectErrno(__fchmod(fd, 0o777), 'EPERM', 'fchmod(0777)');
    expectOk(
      __addSeals(fd, F_SEAL_WRITE),
      'F_ADD_SEALS(WRITE) on a MFD_NOEXEC_SEAL memfd created without MFD_ALLOW_SEALING',
    );
    expectSeals(fd, F_SEAL_EXEC | F_SEAL_WRITE, 'after adding WRITE');
    expectEq(modeOf(fd), 0o666, 'mode after the refused fchmod');
  },
});

const execFlag = defineCase({
  id: 'memfd.exec.exec_flag_state',
  doc: 'MFD_EXEC keeps the exec bits (0777) and, without MFD_ALLOW_SEALING, leaves F_SEAL_SEAL; its mode can be changed freely',
  requires: NEEDS_MEMFD_EXEC_API,
  tags: { selftest: 'memfd_test.c:test_exec_no_seal', linuxGit: ['105ff5339f49'] },
  run(ctx) {
    if (readFileSync(MEMFD_NOEXEC_SYSCTL, 'utf8').trim() === '2')
      ctx.skip('vm.memfd_noexec is 2 in this pid namespace, which refuses MFD_EXEC');
    const fd = newMemfd(ctx, MFD_CLOEXEC | MFD_EXEC, 'exec');
    expectEq(modeOf(fd), 0o777, 'mode');
    expectSeals(fd, F_SEAL_SEAL, 'initial seals');
    expectOk(__fchmod(fd, 0o666), 'fchmod(0666)');
    expectOk(__fchmod(fd, 0o755), 'fchmod(0755)');
    expectEq(modeOf(fd), 0o755, 'mode after fchmod');
  },
});

/** A target mode for fchmod on an F_SEAL_EXEC'd 0644 file, and whether it changes an exec bit. */
interface ChmodParams {
  /** Mode passed to fchmod. */ mode: number;
}

const sealExecChmod = defineCase<ChmodParams>({
  id: 'memfd.exec.seal_exec_fchmod',
  doc: 'with F_SEAL_EXEC on a 0644 memfd, fchmod fails with EPERM exactly when it would change an exec bit (0111); other bits (rw, setuid/setgid/sticky) still change',
  requires: NEEDS_MEMFD_EXEC_API,
  tags: { selftest: 'memfd_test.c:test_exec_seal', linuxGit: ['6fd7353829ca'] },
  variants: [0o600, 0o666, 0o000, 0o4644, 0o2644, 0o1644, 0o777, 0o670, 0o605, 0o700, 0o100, 0o001, 0o010, 0o4755].map(
    (mode) => ({
      name: `to_${mode.toString(8).padStart(4, '0')}`,
      params: { mode },
    }),
  ),
  run(ctx) {
    const fd = sealableMemfd(ctx, 0o644);
    addSeals(fd, F_SEAL_EXEC);
    expectSeals(fd, F_SEAL_EXEC, 'F_SEAL_EXEC on a 0644 file (no exec bit, so no implied write seals)');
    const r = __fchmod(fd, ctx.params.mode);
    ctx.observe('outcome', outcome(r));
    if ((ctx.params.mode ^ 0o644) & 0o111) {
      expectErrno(r, 'EPERM', `fchmod(${octal(ctx.params.mode)}) changes an exec bit`);
      expectEq(modeOf(fd), 0o644, 'mode after the refused fchmod');
    } else {
      expectOk(r, `fchmod(${octal(ctx.params.mode)}) leaves the exec bits alone`);
      expectEq(modeOf(fd), ctx.params.mode, 'mode after fchmod');
    }
  },
});

const sealExecPathChmod = defineCase<{ call: 'chmod' | 'fchmodat' }>({
  id: 'memfd.exec.seal_exec_path_chmod',
  doc: 'F_SEAL_EXEC binds path-based chmod through /proc/self/fd/N as well: adding x fails with EPERM, rw changes succeed',
  requires: NEEDS_MEMFD_EXEC_API,
  variants: [
    { name: 'chmod', params: { call: 'chmod' } },
    { name: 'fchmodat', params: { call: 'fchmodat' } },
  ],
  run(ctx) {
    const fd = newMemfd(ctx, MFD_CLOEXEC | MFD_NOEXEC_SEAL, 'pathchmod');
    const path = `/proc/self/fd/${fd}`;
    const chmod = (mode: number) =>
      ctx.params.call === 'chmod' ? __chmod(path, mode) : syscall(SYSCALL.fchmodat, AT_FDCWD, path, mode);
    expectErrno(chmod(0o755), 'EPERM', `${ctx.params.call}(${path}, 0755)`);
    expectOk(chmod(0o640), `${ctx.params.call}(${path}, 0640)`);
    expectEq(modeOf(fd), 0o640, 'mode after the permitted change');
  },
});

/** The mode of the file when F_SEAL_EXEC is added, and the seals that must result. */
interface ImpliesParams {
  /** Mode before sealing. */ mode: number;
  /** Seals F_GET_SEALS must report afterwards. */ seals: number;
}

const sealExecImplies = defineCase<ImpliesParams>({
  id: 'memfd.exec.seal_exec_implied_seals',
  doc: 'F_SEAL_EXEC on a memfd with any exec bit (user, group or other) also applies SHRINK|GROW|WRITE|FUTURE_WRITE; without exec bits it adds only EXEC',
  requires: NEEDS_MEMFD_EXEC_API,
  tags: { selftest: 'memfd_test.c:test_exec_seal', linuxGit: ['c4f75bc8bd6b'] },
  variants: [
    { name: 'mode_0777', params: { mode: 0o777, seals: F_SEAL_EXEC | SEAL_EXEC_IMPLIES } },
    { name: 'mode_0700', params: { mode: 0o700, seals: F_SEAL_EXEC | SEAL_EXEC_IMPLIES } },
    { name: 'mode_0610', params: { mode: 0o610, seals: F_SEAL_EXEC | SEAL_EXEC_IMPLIES } },
    { name: 'mode_0601', params: { mode: 0o601, seals: F_SEAL_EXEC | SEAL_EXEC_IMPLIES } },
    { name: 'mode_0666', params: { mode: 0o666, seals: F_SEAL_EXEC } },
    { name: 'mode_0000', params: { mode: 0o000, seals: F_SEAL_EXEC } },
  ],
  run(ctx) {
    const fd = sealableMemfd(ctx, ctx.params.mode);
    expectOk(__addSeals(fd, F_SEAL_EXEC), `F_ADD_SEALS(EXEC) on a ${octal(ctx.params.mode)} file`);
    ctx.observe('seals', sealText(Number(__getSeals(fd).ret)));
    expectSeals(fd, ctx.params.seals, `after F_ADD_SEALS(EXEC) on a ${octal(ctx.params.mode)} file`);
  },
});

/** File mode and the expected answer of F_ADD_SEALS(EXEC) while a writable shared mapping exists. */
interface BusyParams {
  /** Mode before sealing. */ mode: number;
  /** 'OK' or errno. */ outcome: 'OK' | ErrnoName;
}

const sealExecBusy = defineCase<BusyParams>({
  id: 'memfd.exec.seal_exec_with_writable_mapping',
  doc: 'F_SEAL_EXEC on an executable memfd implies F_SEAL_WRITE, so it fails with EBUSY (no seal added) while a writable shared mapping exists; on a non-executable memfd it succeeds',
  requires: NEEDS_MEMFD_EXEC_API,
  tags: { linuxGit: ['c4f75bc8bd6b', '3b041514cb6e'] },
  variants: [
    { name: 'executable', params: { mode: 0o755, outcome: 'EBUSY' } },
    { name: 'not_executable', params: { mode: 0o644, outcome: 'OK' } },
  ],
  run(ctx) {
    const fd = sealableMemfd(ctx, ctx.params.mode);
    const m = __mmap(MATRIX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
    const map = ctx.track(new Mapping(BigInt(expectOk(m, 'mmap(RW, MAP_SHARED)')), MATRIX_SIZE));
    const r = __addSeals(fd, F_SEAL_EXEC);
    ctx.observe('outcome', outcome(r));
    const want = ctx.expected<'OK' | ErrnoName>('outcome', ctx.params.outcome);
    if (want === 'OK') {
      expectOk(r, `F_ADD_SEALS(EXEC) on a ${octal(ctx.params.mode)} file with a writable shared mapping`);
      expectSeals(fd, F_SEAL_EXEC, 'after sealing');
      map.bytes[0] = 1;
    } else {
      expectErrno(r, want, `F_ADD_SEALS(EXEC) on a ${octal(ctx.params.mode)} file with a writable shared mapping`);
      expectSeals(fd, 0, 'after the refused F_SEAL_EXEC (the implied F_SEAL_WRITE must not slip through)');
      map.close();
      expectOk(__addSeals(fd, F_SEAL_EXEC), 'F_ADD_SEALS(EXEC) after munmap');
      expectSeals(fd, F_SEAL_EXEC | SEAL_EXEC_IMPLIES, 'after munmap and sealing');
    }
  },
});

/**
 * execveat(3, "", [arg0], [], AT_EMPTY_PATH) in a probe child that got the memfd as fd 3: the child's outcome (the
 * exec'd script's exit status when the exec worked) and, when execveat returned, its errno name as `value`.
 */
function execveatFd3(fd: number): { status: number | null; signal: string | null; stderr: string; value?: string } {
  const p = new ProbeProgram();
  // The script's interpreter opens /dev/fd/3, which exec would close if fd 3 were close-on-exec (ENOENT).
  p.sysOk('fcntl', 3, F_SETFD, 0);
  const argv = p.buf(16);
  p.put64(argv, 0, p.bytes('gmem-conformance-memfd'));
  const ex = p.sys('execveat', 3, p.bytes(''), argv, p.buf(8), AT_EMPTY_PATH);
  const o = runProgram(p, { fds: [fd], timeoutMs: 15000 });
  const r = resultOf(o, ex);
  return { status: o.status, signal: o.signal, stderr: o.stderr, ...(r ? { value: outcome(r) } : {}) };
}

const SCRIPT_STATUS = 42;

/** How the memfd is prepared before execveat, and what must happen. */
interface ExecveatParams {
  /** memfd_create flags. */ flags: number;
  /** fchmod before sealing (null: keep). */ chmod: number | null;
  /** Seal to add (0: none). */ seal: number;
  /** 'runs' (the script exits 42) or the errno execveat fails with. */ result: string;
}

const execveat = defineCase<ExecveatParams>({
  id: 'memfd.exec.execveat',
  doc: 'execveat(AT_EMPTY_PATH) runs a memfd script that has an exec bit (also when W^X-sealed) and fails with EACCES on MFD_NOEXEC_SEAL or a mode without exec bits',
  requires: { ...NEEDS_MEMFD_EXEC_API, files: [MEMFD_NOEXEC_SYSCTL, '/bin/sh', '/dev/fd'] },
  tags: { linuxGit: ['105ff5339f49'] },
  variants: [
    { name: 'mfd_exec', params: { flags: MFD_EXEC, chmod: null, seal: 0, result: 'runs' } },
    {
      name: 'mfd_exec_sealed_exec',
      params: { flags: MFD_EXEC | MFD_ALLOW_SEALING, chmod: 0o755, seal: F_SEAL_EXEC, result: 'runs' },
    },
    { name: 'mfd_noexec_seal', params: { flags: MFD_NOEXEC_SEAL, chmod: null, seal: 0, result: 'EACCES' } },
    { name: 'mfd_exec_chmod_0644', params: { flags: MFD_EXEC, chmod: 0o644, seal: 0, result: 'EACCES' } },
  ],
  run(ctx) {
    if (ctx.params.flags & MFD_EXEC && readFileSync(MEMFD_NOEXEC_SYSCTL, 'utf8').trim() === '2')
      ctx.skip('vm.memfd_noexec is 2 in this pid namespace, which refuses MFD_EXEC');
    const rw = Number(expectOk(__memfdCreate(uniqueName('execveat'), MFD_CLOEXEC | ctx.params.flags), 'memfd_create'));
    let ro: number;
    try {
      pwrite(rw, Buffer.from(`#!/bin/sh\nexit ${SCRIPT_STATUS}\n`), 0);
      if (ctx.params.chmod !== null) expectOk(__fchmod(rw, ctx.params.chmod), `fchmod(${octal(ctx.params.chmod)})`);
      if (ctx.params.seal) addSeals(rw, ctx.params.seal);
      // exec refuses files open for writing (ETXTBSY): hand the child a read-only open and drop the writer.
      ro = ctx.trackFd(Number(expectOk(__open(`/proc/self/fd/${rw}`, O_RDONLY | O_CLOEXEC), 'reopen O_RDONLY')));
    } finally {
      close(rw);
    }
    const p = execveatFd3(ro);
    ctx.observe('status', p.status);
    if (ctx.params.result === 'runs') {
      if (p.status === 0) throw new CaseFailure(`execveat of the memfd failed with ${String(p.value)}`);
      expectEq(
        p.status,
        SCRIPT_STATUS,
        `exit status of the exec'd memfd script (signal ${p.signal}; stderr ${p.stderr.trim().slice(-200)})`,
      );
    } else {
      if (p.status !== 0)
        throw new CaseFailure(
          `expected execveat to fail with ${ctx.params.result}, but the child ended with status ${p.status} signal ${p.signal}`,
        );
      expectEq(p.value, ctx.params.result, 'execveat outcome');
    }
  },
});

// ---- vm.memfd_noexec, always inside a pid namespace of the case's own ----

/** One step a child performs inside its new pid namespace. */
export type NsStep =
  | { op: 'write'; value: string }
  | { op: 'read' }
  | { op: 'create'; flags: number }
  | { op: 'nested'; steps: NsStep[] }
  | { op: 'nested_then_write'; value: string; steps: NsStep[] };

/** What a step found. */
export type NsResult =
  | { op: 'write'; value: string; outcome: string }
  | { op: 'read'; value: string }
  | { op: 'create'; flags: number; outcome: string; mode?: number; seals?: number }
  | { op: 'nested'; results?: NsResult[]; error?: string }
  | { op: 'nested_then_write'; outcome: string; results?: NsResult[]; error?: string };

/** How a namespace's results are read back from the program's outcome. */
type NsDecoder = (o: ProgramOutcome) => NsResult[];

/** The errno name of a step's result, or how far the child got when the step never reported. */
function stepOutcome(o: ProgramOutcome, v: StepValue): string {
  const r = resultOf(o, v);
  return r ? outcome(r) : 'never ran';
}

/** The result of a nested namespace: its steps' results, or why it did not run to the end. */
function nestedResult(o: ProgramOutcome, fork: StepValue, waited: StepValue, decode: NsDecoder) {
  const unshare = o.unshareErrno.get(fork.index);
  const w = resultOf(o, waited);
  if (unshare === undefined || unshare !== 0)
    return { error: `unshare(CLONE_NEWPID) ${unshare === undefined ? 'never ran' : errnoName(unshare)}` };
  if (!w || w.ret === -1n) return { error: `wait for the namespace's pid 1: ${w ? outcome(w) : 'never ran'}` };
  const code = waitExitCode(BigInt(w.ret));
  if (code !== 0) return { error: `its pid 1 ended with status ${code}: ${o.stderr.trim().slice(-300)}` };
  return { results: decode(o) };
}

/**
 * Adds the steps to p, to run as pid 1 of a pid namespace (inside a pidnsFork block), and returns how to read their
 * results. The first step refuses to touch vm.memfd_noexec unless the child really is pid 1 (of a new namespace,
 * as only there a process other than the machine's init has pid 1).
 */
function emitNsSteps(p: ProbeProgram, steps: NsStep[]): NsDecoder {
  p.checkEq(p.sys('getpid'), 1);
  const path = p.bytes(MEMFD_NOEXEC_SYSCTL);
  const writeSysctl = (value: string) => {
    const fd = p.sys('openat', AT_FDCWD, path, O_WRONLY | O_CLOEXEC);
    const text = Buffer.from(`${value}\n`);
    const w = p.sys('write', fd, p.bytes(text), text.length);
    p.sys('close', fd);
    return (o: ProgramOutcome) => {
      const opened = resultOf(o, fd);
      return opened && opened.ret === -1n ? `open: ${outcome(opened)}` : stepOutcome(o, w);
    };
  };
  const decoders: ((o: ProgramOutcome) => NsResult)[] = steps.map((step): ((o: ProgramOutcome) => NsResult) => {
    switch (step.op) {
      case 'write': {
        const written = writeSysctl(step.value);
        return (o) => ({ op: 'write', value: step.value, outcome: written(o) });
      }
      case 'read': {
        const text = p.readFile(MEMFD_NOEXEC_SYSCTL);
        return (o) => {
          const got = o.output.get(text.index);
          return { op: 'read', value: got ? got.toString().trim() : 'read: never ran' };
        };
      }
      case 'create': {
        const fd = p.sys('memfd_create', p.bytes(uniqueName('ns')), step.flags | MFD_CLOEXEC);
        const seals = p.sys('fcntl', fd, F_GET_SEALS);
        const st = p.buf(STAT_SIZE);
        p.sys('fstat', fd, st);
        const stat = p.out(st, STAT_SIZE);
        p.sys('close', fd);
        return (o) => {
          const r = resultOf(o, fd);
          if (!r || r.ret === -1n) return { op: 'create', flags: step.flags, outcome: stepOutcome(o, fd) };
          const raw = o.output.get(stat.index);
          return {
            op: 'create',
            flags: step.flags,
            outcome: 'OK',
            mode: raw ? decodeStat(raw).mode & 0o7777 : -1,
            seals: Number(resultOf(o, seals)?.ret ?? -1n),
          };
        };
      }
      case 'nested': {
        let decode: NsDecoder = () => [];
        const fork = p.pidnsFork(() => {
          decode = emitNsSteps(p, step.steps);
        });
        const waited = p.wait(fork);
        return (o) => ({ op: 'nested', ...nestedResult(o, fork, waited, decode) });
      }
      case 'nested_then_write': {
        // memfd_test.c's test_sysctl_nested "after fork": the child namespace exists (it says so through pipe
        // `ready`) before its parent changes vm.memfd_noexec, and waits (on pipe `go`) until the parent has
        const pipes = [p.buf(8), p.buf(8)] as const;
        for (const fds of pipes) p.sysOk('pipe2', fds, O_CLOEXEC);
        const [readyR, readyW, goR, goW] = pipes.flatMap((fds) => [p.load32(fds, 0), p.load32(fds, 4)]) as StepValue[];
        const byte = p.buf(1);
        let decode: NsDecoder = () => [];
        const fork = p.pidnsFork(() => {
          p.sysOk('write', readyW as StepValue, byte, 1);
          p.sysOk('read', goR as StepValue, byte, 1);
          decode = emitNsSteps(p, step.steps);
        });
        p.sys('close', readyW as StepValue);
        const ready = p.sys('read', readyR as StepValue, byte, 1);
        const written = writeSysctl(step.value);
        p.sys('write', goW as StepValue, byte, 1);
        const waited = p.wait(fork);
        return (o) => {
          const r = resultOf(o, ready);
          const became = r !== undefined && r.ret === 1n;
          return {
            op: 'nested_then_write',
            outcome: became ? written(o) : 'child namespace never became ready',
            ...nestedResult(o, fork, waited, decode),
          };
        };
      }
    }
  });
  return (o) => decoders.map((d) => d(o));
}

/** Runs steps as pid 1 of a new pid namespace (a probe-exec child) and returns their results; asserts the host's sysctl did not move. */
function runNsSteps(ctx: CaseContext<unknown>, steps: NsStep[]): NsResult[] {
  requireDefaultExecPolicy(ctx);
  const hostBefore = readFileSync(MEMFD_NOEXEC_SYSCTL, 'utf8').trim();
  const p = new ProbeProgram();
  let decode: NsDecoder = () => [];
  const fork = p.pidnsFork(() => {
    decode = emitNsSteps(p, steps);
  });
  const waited = p.wait(fork);
  const o = runProgram(p, { timeoutMs: 20000 });
  const hostAfter = readFileSync(MEMFD_NOEXEC_SYSCTL, 'utf8').trim();
  expectEq(hostAfter, hostBefore, `vm.memfd_noexec of the suite's own pid namespace after the case`);
  const unshare = o.unshareErrno.get(fork.index);
  if (unshare !== undefined && unshare !== 0) ctx.skip(`unshare(CLONE_NEWPID) refused here: ${errnoName(unshare)}`);
  const n = nestedResult(o, fork, waited, decode);
  if (o.status !== 0 || !n.results)
    throw new HarnessError(
      `pid-namespace child failed: status ${o.status} signal ${o.signal}${o.timedOut ? ' (timed out)' : ''}: ${n.error ?? ''} ${o.stderr.trim().slice(-400)}`,
    );
  return n.results;
}

/** Expected result of one step, matched against what the child found. */
type Want =
  | { op: 'write'; outcome: string }
  | { op: 'read'; value: string }
  | { op: 'create'; outcome: string; mode?: number; seals?: number }
  | { op: 'nested'; wants: Want[] }
  | { op: 'nested_then_write'; outcome: string; wants: Want[] };

function expectResults(got: NsResult[], wants: Want[], where: string): void {
  expectEq(got.length, wants.length, `${where}: number of step results`);
  wants.forEach((w, i) => {
    const g = got[i] as NsResult;
    const at = `${where} step ${i + 1} (${w.op})`;
    if (w.op === 'write' && g.op === 'write')
      expectEq(g.outcome, w.outcome, `${at}: writing "${g.value}" to vm.memfd_noexec`);
    else if (w.op === 'read' && g.op === 'read') expectEq(g.value, w.value, `${at}: vm.memfd_noexec`);
    else if (w.op === 'create' && g.op === 'create') {
      const flags = `memfd_create(flags 0x${g.flags.toString(16)})`;
      expectEq(g.outcome, w.outcome, `${at}: ${flags}`);
      if (w.mode !== undefined) expectEq(g.mode, w.mode, `${at}: mode of ${flags} (${octal(g.mode ?? 0)})`);
      if (w.seals !== undefined) expectEq(g.seals, w.seals, `${at}: seals of ${flags} (${sealText(g.seals ?? 0)})`);
    } else if (w.op === 'nested' && g.op === 'nested') {
      if (g.error !== undefined || !g.results)
        throw new HarnessError(`${at}: nested pid-namespace child failed: ${g.error}`);
      expectResults(g.results, w.wants, `${where} > nested namespace`);
    } else if (w.op === 'nested_then_write' && g.op === 'nested_then_write') {
      if (g.error !== undefined || !g.results)
        throw new HarnessError(`${at}: nested pid-namespace child failed: ${g.error}`);
      expectEq(g.outcome, w.outcome, `${at}: the parent writing vm.memfd_noexec while the child namespace exists`);
      expectResults(g.results, w.wants, `${where} > nested namespace (parent wrote after it was created)`);
    } else throw new HarnessError(`${at}: result of kind ${g.op} for a ${w.op} step`);
  });
}

const NS_REQUIRES = { ...NEEDS_MEMFD_EXEC_API, root: true };
const NS_LINUX_GIT = ['105ff5339f49', '9876cfe8ec1c', '202e14222fad'];
/** The memfd_test.c functions each scenario covers (sysctl_invalid_values has no selftest counterpart). */
const NS_SELFTESTS: Record<string, readonly string[]> = {
  'memfd.exec.sysctl_namespaced': ['memfd_test.c:test_sysctl_simple', 'memfd_test.c:test_sysctl_nested'],
  'memfd.exec.sysctl_0': [
    'memfd_test.c:test_sysctl_simple',
    'memfd_test.c:test_sysctl_sysctl0',
    'memfd_test.c:test_sysctl_set_sysctl0',
  ],
  'memfd.exec.sysctl_1': [
    'memfd_test.c:test_sysctl_simple',
    'memfd_test.c:test_sysctl_sysctl1',
    'memfd_test.c:test_sysctl_set_sysctl1',
  ],
  'memfd.exec.sysctl_2': [
    'memfd_test.c:test_sysctl_simple',
    'memfd_test.c:test_sysctl_sysctl2',
    'memfd_test.c:test_sysctl_set_sysctl2',
  ],
  'memfd.exec.sysctl_lower_in_own_namespace': [
    'memfd_test.c:test_sysctl_simple',
    'memfd_test.c:test_sysctl_set_sysctl0',
  ],
  'memfd.exec.sysctl_parent_raises_after_fork': [
    'memfd_test.c:test_sysctl_nested',
    'memfd_test.c:test_sysctl_sysctl1_failset',
    'memfd_test.c:test_sysctl_sysctl2_failset',
  ],
  'memfd.exec.sysctl_parent_lowers_after_fork': [
    'memfd_test.c:test_sysctl_nested',
    'memfd_test.c:test_sysctl_sysctl1',
    'memfd_test.c:test_sysctl_sysctl2',
  ],
  'memfd.exec.sysctl_child_inherits_floor': [
    'memfd_test.c:test_sysctl_nested',
    'memfd_test.c:test_sysctl_sysctl1_failset',
    'memfd_test.c:test_sysctl_sysctl2_failset',
  ],
};
const NOEXEC = { outcome: 'OK', mode: 0o666, seals: F_SEAL_EXEC };

/** A vm.memfd_noexec scenario: steps for the namespaced child and what each must find. */
interface Scenario {
  /** Case id. */ id: string;
  /** Doc sentence. */ doc: string;
  /** Steps and their expected results, side by side. */ plan: [NsStep, Want][];
}

function nested(plan: [NsStep, Want][]): [NsStep, Want] {
  return [
    { op: 'nested', steps: plan.map(([s]) => s) },
    { op: 'nested', wants: plan.map(([, w]) => w) },
  ];
}

/** Steps run in a child namespace that already exists when its parent writes value to vm.memfd_noexec. */
function nestedThenWrite(value: string, plan: [NsStep, Want][]): [NsStep, Want] {
  return [
    { op: 'nested_then_write', value, steps: plan.map(([s]) => s) },
    { op: 'nested_then_write', outcome: 'OK', wants: plan.map(([, w]) => w) },
  ];
}

const write = (value: string, outcomeName = 'OK'): [NsStep, Want] => [
  { op: 'write', value },
  { op: 'write', outcome: outcomeName },
];
const read = (value: string): [NsStep, Want] => [{ op: 'read' }, { op: 'read', value }];
const create = (flags: number, want: Omit<Extract<Want, { op: 'create' }>, 'op'>): [NsStep, Want] => [
  { op: 'create', flags },
  { op: 'create', ...want },
];

const SCENARIOS: Scenario[] = [
  {
    id: 'memfd.exec.sysctl_namespaced',
    doc: "vm.memfd_noexec is per pid namespace: a new namespace starts with its parent value, takes 1 and 2, and the suite's own namespace keeps its value",
    plan: [read('0'), write('1'), read('1'), write('2'), read('2')],
  },
  {
    id: 'memfd.exec.sysctl_0',
    doc: 'vm.memfd_noexec=0: memfd_create without MFD_EXEC/MFD_NOEXEC_SEAL behaves as MFD_EXEC (0777, sealing as requested); both explicit flags work',
    plan: [
      write('0'),
      create(0, { outcome: 'OK', mode: 0o777, seals: F_SEAL_SEAL }),
      create(MFD_ALLOW_SEALING, { outcome: 'OK', mode: 0o777, seals: 0 }),
      create(MFD_EXEC, { outcome: 'OK', mode: 0o777, seals: F_SEAL_SEAL }),
      create(MFD_NOEXEC_SEAL, NOEXEC),
    ],
  },
  {
    id: 'memfd.exec.sysctl_1',
    doc: 'vm.memfd_noexec=1: memfd_create without exec flags behaves as MFD_NOEXEC_SEAL (0666, F_SEAL_EXEC, sealing enabled); MFD_EXEC is still honoured',
    plan: [
      write('1'),
      create(0, NOEXEC),
      create(MFD_ALLOW_SEALING, NOEXEC),
      create(MFD_EXEC, { outcome: 'OK', mode: 0o777, seals: F_SEAL_SEAL }),
      create(MFD_EXEC | MFD_ALLOW_SEALING, { outcome: 'OK', mode: 0o777, seals: 0 }),
      create(MFD_NOEXEC_SEAL, NOEXEC),
    ],
  },
  {
    id: 'memfd.exec.sysctl_2',
    doc: 'vm.memfd_noexec=2: MFD_EXEC fails with EACCES; without exec flags memfd_create behaves as MFD_NOEXEC_SEAL (6.6+: not refused)',
    plan: [
      write('2'),
      create(MFD_EXEC, { outcome: 'EACCES' }),
      create(MFD_EXEC | MFD_ALLOW_SEALING, { outcome: 'EACCES' }),
      create(0, NOEXEC),
      create(MFD_ALLOW_SEALING, NOEXEC),
      create(MFD_NOEXEC_SEAL, NOEXEC),
    ],
  },
  {
    id: 'memfd.exec.sysctl_lower_in_own_namespace',
    doc: "a namespace may lower its own vm.memfd_noexec down to its parent's value (6.6+: no ratchet), and the lowered value takes effect",
    plan: [
      write('2'),
      write('1'),
      read('1'),
      write('0'),
      read('0'),
      create(0, { outcome: 'OK', mode: 0o777, seals: F_SEAL_SEAL }),
    ],
  },
  {
    id: 'memfd.exec.sysctl_child_inherits_floor',
    doc: "a child pid namespace inherits its parent's vm.memfd_noexec as a floor: writing a lower value fails with EINVAL, a higher one applies only to the child",
    plan: [
      write('1'),
      nested([
        read('1'),
        write('0', 'EINVAL'),
        read('1'),
        create(0, NOEXEC),
        write('2'),
        create(MFD_EXEC, { outcome: 'EACCES' }),
      ]),
      read('1'),
      create(MFD_EXEC, { outcome: 'OK', mode: 0o777, seals: F_SEAL_SEAL }),
    ],
  },
  {
    id: 'memfd.exec.sysctl_parent_raises_after_fork',
    doc: "a parent raising vm.memfd_noexec after a child pid namespace exists raises the child's effective value too (the parent stays its floor): 0 → 1 and 0 → 2",
    plan: [
      write('0'),
      nestedThenWrite('1', [
        read('1'),
        write('0', 'EINVAL'),
        create(0, NOEXEC),
        create(MFD_EXEC, { outcome: 'OK', mode: 0o777 }),
      ]),
      write('0'),
      nestedThenWrite('2', [
        read('2'),
        write('1', 'EINVAL'),
        create(MFD_EXEC, { outcome: 'EACCES' }),
        create(0, NOEXEC),
      ]),
    ],
  },
  {
    id: 'memfd.exec.sysctl_parent_lowers_after_fork',
    doc: 'a parent lowering vm.memfd_noexec after a child pid namespace exists leaves the child at the value it inherited: 2 → 1, 2 → 0, 1 → 0',
    plan: [
      write('2'),
      nestedThenWrite('1', [read('2'), create(MFD_EXEC, { outcome: 'EACCES' }), create(0, NOEXEC)]),
      write('2'),
      nestedThenWrite('0', [read('2'), create(MFD_EXEC, { outcome: 'EACCES' })]),
      write('1'),
      nestedThenWrite('0', [read('1'), create(0, NOEXEC), create(MFD_EXEC, { outcome: 'OK', mode: 0o777 })]),
    ],
  },
  {
    id: 'memfd.exec.sysctl_invalid_values',
    doc: 'vm.memfd_noexec accepts only 0, 1 and 2: 3, -1 and a non-number fail with EINVAL and leave the value unchanged',
    plan: [write('1'), write('3', 'EINVAL'), write('-1', 'EINVAL'), write('x', 'EINVAL'), read('1')],
  },
];

const sysctlCases = SCENARIOS.map((s) =>
  defineCase({
    id: s.id,
    doc: `${s.doc}; runs in a new pid namespace (unshare --pid --fork) so the host value is never touched`,
    requires: NS_REQUIRES,
    tags: { linuxGit: NS_LINUX_GIT, ...(NS_SELFTESTS[s.id] ? { selftest: NS_SELFTESTS[s.id] } : {}) },
    timeoutMs: 60000,
    run(ctx) {
      const got = runNsSteps(
        ctx,
        s.plan.map(([step]) => step),
      );
      ctx.observe('results', got);
      expectResults(
        got,
        s.plan.map(([, w]) => w),
        'namespace',
      );
    },
  }),
);

/** A step list with MFD_HUGETLB added to every memfd_create, nested namespaces included (memfd_test.c's hugetlbfs mode). */
function onHugetlb(plan: [NsStep, Want][]): [NsStep, Want][] {
  return plan.map(([st, w]): [NsStep, Want] => {
    if (st.op === 'create') return [{ op: 'create', flags: (st.flags | MFD_HUGETLB) >>> 0 }, w];
    if (st.op === 'nested' && w.op === 'nested') {
      const inner = onHugetlb(st.steps.map((x, i) => [x, w.wants[i] as Want]));
      return [
        { op: 'nested', steps: inner.map(([x]) => x) },
        { op: 'nested', wants: inner.map(([, y]) => y) },
      ];
    }
    if (st.op === 'nested_then_write' && w.op === 'nested_then_write') {
      const inner = onHugetlb(st.steps.map((x, i) => [x, w.wants[i] as Want]));
      return [
        { ...st, steps: inner.map(([x]) => x) },
        { ...w, wants: inner.map(([, y]) => y) },
      ];
    }
    return [st, w];
  });
}

const HUGETLB_SCENARIOS: [string, string][] = [
  ['sysctl_0', 'memfd.exec.sysctl_0'],
  ['sysctl_1', 'memfd.exec.sysctl_1'],
  ['sysctl_2', 'memfd.exec.sysctl_2'],
  ['child_floor', 'memfd.exec.sysctl_child_inherits_floor'],
  ['parent_raises_after_fork', 'memfd.exec.sysctl_parent_raises_after_fork'],
  ['parent_lowers_after_fork', 'memfd.exec.sysctl_parent_lowers_after_fork'],
];

const hugetlbSysctl = defineCase<{ scenario: string }>({
  id: 'memfd.hugetlb.sysctl',
  doc: 'vm.memfd_noexec applies to MFD_HUGETLB memfds exactly as to shmem ones (the vm.memfd_noexec scenarios with MFD_HUGETLB added to every memfd_create; no huge page is needed); runs in a new pid namespace',
  requires: { ...NS_REQUIRES, files: [...(NS_REQUIRES.files ?? []), HUGEPAGES_SYSFS] },
  tags: {
    selftest: ['memfd_test.c:test_sysctl_simple', 'memfd_test.c:test_sysctl_nested'],
    linuxGit: ['105ff5339f49'],
  },
  timeoutMs: 60000,
  variants: HUGETLB_SCENARIOS.map(([name, scenario]) => ({ name, params: { scenario } })),
  run(ctx) {
    const s = SCENARIOS.find((x) => x.id === ctx.params.scenario);
    if (!s) throw new HarnessError(`unknown scenario ${ctx.params.scenario}`);
    const plan = onHugetlb(s.plan);
    const got = runNsSteps(
      ctx,
      plan.map(([step]) => step),
    );
    ctx.observe('results', got);
    expectResults(
      got,
      plan.map(([, w]) => w),
      'namespace (MFD_HUGETLB)',
    );
  },
});

export default [
  noexecSeal,
  execFlag,
  sealExecChmod,
  sealExecPathChmod,
  sealExecImplies,
  sealExecBusy,
  execveat,
  ...sysctlCases,
  hugetlbSysctl,
];
