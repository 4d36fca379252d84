/**
 * Cases that hit resource exhaustion or kill their own worker on purpose, for the fault-injection
 * test (unit/fault-injection.test.ts; never part of the suite's tests/). Every fault case is
 * followed, in its family, by an `intact_after_*` case that must still pass: it checks that the
 * worker it runs in has the fd and address-space limits it started with and can open fds.
 * Every allocation is bounded by a soft rlimit set here (64 MiB or 256 MiB above the worker's
 * current virtual size), so nothing can grow beyond that on the host.
 */
import { defineCase, type CaseDef } from '../../lib/harness/case.js';
import type { CaseContext } from '../../lib/harness/context.js';
import { CaseFailure, expectEq, expectErrno, expectTrue } from '../../lib/harness/expect.js';
import { openFds } from '../../lib/sys/fd.js';
import { __memfdCreate } from '../../lib/sys/memfd.js';
import { __mmap } from '../../lib/sys/mman.js';
import { formatErrno } from '../../lib/sys/errors.js';
import { expectFinished, ProbeProgram, resultOf, runProgram } from '../../lib/harness/probe-program.js';
import * as libc from '../../lib/ffi/libc.js';
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MFD_CLOEXEC,
  PROT_READ,
  PROT_WRITE,
  RLIMIT_AS,
  RLIMIT_NOFILE,
  SIGKILL,
} from '../../lib/uapi/index.js';
import { getLimit, setSoftLimit, virtualSize } from './rlimit.js';

const MiB = 1n << 20n;
/** Address space left to a case that must hit ENOMEM on its next large mmap. */
const AS_HEADROOM = 64n * MiB;
/** Address space left to a worker that must run its JS heap out of memory. */
const HEAP_HEADROOM = 256n * MiB;
/** The large mapping that must not fit within AS_HEADROOM. */
const LARGE_MAP = 1n << 30n;
/** Free fd slots left to a case that must hit EMFILE. */
const FD_HEADROOM = 16;
/** fds an intact worker must be able to open (more than FD_HEADROOM, so a leaked low limit shows). */
const INTACT_FDS = 64;

/** True when this node was built with V8 pointer compression (heap cage reserved at start). */
export const HEAP_IN_RESERVED_CAGE = Boolean(
  (process.config.variables as Record<string, unknown>).v8_enable_pointer_compression,
);

/** Limits of this worker when it loaded the case modules (before any case ran in it). */
const AT_LOAD = { nofile: getLimit(RLIMIT_NOFILE).soft, as: getLimit(RLIMIT_AS).soft };

/** A case that must pass after a fault: its worker has its original limits and free fd slots. */
function intactAfter(fault: string): CaseDef<unknown> {
  return defineCase({
    id: `fault.${fault.split('.')[0]}.intact_after_${fault.split('.')[1]}`,
    doc: `passes after fault.${fault}: the worker it runs in has its original RLIMIT_NOFILE and RLIMIT_AS and can open ${INTACT_FDS} fds`,
    run(ctx) {
      expectErrno(libc.close(-1), 'EBADF', 'close(-1)');
      expectEq(getLimit(RLIMIT_NOFILE).soft, AT_LOAD.nofile, 'soft RLIMIT_NOFILE of this worker');
      expectEq(getLimit(RLIMIT_AS).soft, AT_LOAD.as, 'soft RLIMIT_AS of this worker');
      for (let i = 0; i < INTACT_FDS; i++) {
        const r = __memfdCreate('fault-intact', MFD_CLOEXEC);
        if (r.ret < 0) throw new CaseFailure(`memfd_create #${i + 1} of ${INTACT_FDS} failed: ${formatErrno(r.errno)}`);
        ctx.trackFd(r.ret);
      }
    },
  });
}

/** Lowers the soft RLIMIT_NOFILE to FD_HEADROOM above the fds open now; returns the old and the new soft limit. */
function lowerFdLimit(): { old: bigint; low: bigint } {
  const low = BigInt(openFds().length + FD_HEADROOM);
  return { old: setSoftLimit(RLIMIT_NOFILE, low).soft, low };
}

/** Opens memfds until the kernel refuses; returns the fds opened and the errno of the refusal. */
function fillFdTable(bound: number): { fds: number[]; errno: number } {
  const fds: number[] = [];
  for (let i = 0; i < bound; i++) {
    const r = __memfdCreate('fault-fill', MFD_CLOEXEC);
    if (r.ret < 0) return { fds, errno: r.errno };
    fds.push(r.ret);
  }
  return { fds, errno: 0 };
}

/**
 * In a probe child: lowers its own RLIMIT_AS (soft and hard) to AS_HEADROOM, more than the small interpreter
 * needs, then maps LARGE_MAP; the outcome and the mmap's result.
 */
function mapUnderAddressLimit() {
  const p = new ProbeProgram();
  const limit = p.buf(16);
  p.put64(limit, 0, AS_HEADROOM);
  p.put64(limit, 8, AS_HEADROOM);
  p.sysOk('prlimit64', 0, RLIMIT_AS, limit, 0);
  const map = p.sys('mmap', 0, LARGE_MAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return { o: runProgram(p, { timeoutMs: 10_000 }), map };
}

/** Fails the case with the errno of a refused allocation, naming what was asked for. */
function failWith(what: string, errno: number): never {
  throw new CaseFailure(`${what} failed: ${formatErrno(errno)}`);
}

export default [
  defineCase({
    id: 'fault.fd.before',
    doc: 'passes before any fault',
    run() {
      expectErrno(libc.close(-1), 'EBADF', 'close(-1)');
    },
  }),
  defineCase({
    id: 'fault.fd.emfile',
    doc: `lowers the soft RLIMIT_NOFILE to ${FD_HEADROOM} above the open fds and opens tracked memfds until memfd_create fails with EMFILE; restores the limit`,
    run(ctx: CaseContext<unknown>) {
      const { old, low } = lowerFdLimit();
      ctx.defer(() => void setSoftLimit(RLIMIT_NOFILE, old));
      const { fds, errno } = fillFdTable(FD_HEADROOM * 4);
      for (const fd of fds) ctx.trackFd(fd);
      expectTrue(
        errno !== 0,
        `memfd_create refused within ${FD_HEADROOM * 4} calls under a limit ${FD_HEADROOM} above the open fds`,
      );
      failWith(`memfd_create #${fds.length + 1} under soft RLIMIT_NOFILE ${low}`, errno);
    },
  }),
  intactAfter('fd.emfile'),
  defineCase({
    id: 'fault.fd.exhausted_at_exit',
    doc: 'misbehaves: lowers the soft RLIMIT_NOFILE, fills the fd table with untracked memfds and returns with it full and the limit low',
    run() {
      lowerFdLimit();
      const { errno } = fillFdTable(FD_HEADROOM * 4);
      expectTrue(errno !== 0, 'the fd table filled up');
    },
  }),
  intactAfter('fd.exhausted_at_exit'),

  defineCase({
    id: 'fault.mem.mmap_enomem',
    doc: `lowers the soft RLIMIT_AS to ${AS_HEADROOM / MiB} MiB above the worker's size and maps 1 GiB: mmap fails with ENOMEM; restores the limit`,
    run(ctx) {
      const old = setSoftLimit(RLIMIT_AS, virtualSize() + AS_HEADROOM).soft;
      ctx.defer(() => void setSoftLimit(RLIMIT_AS, old));
      const r = __mmap(LARGE_MAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
      if (r.ret !== -1n) {
        libc.munmap(r.ret, LARGE_MAP);
        throw new CaseFailure(
          `mmap of 1 GiB succeeded under RLIMIT_AS ${AS_HEADROOM / MiB} MiB above the worker's size`,
        );
      }
      failWith(`mmap of 1 GiB under RLIMIT_AS ${AS_HEADROOM / MiB} MiB above the worker's size`, r.errno);
    },
  }),
  intactAfter('mem.mmap_enomem'),
  defineCase({
    id: 'fault.mem.probe_enomem',
    doc: `a probe child lowers its own RLIMIT_AS to ${AS_HEADROOM / MiB} MiB and maps 1 GiB: the case fails with the child's ENOMEM`,
    run(ctx) {
      const { o, map } = mapUnderAddressLimit();
      expectFinished(o, 'probe child mapping under RLIMIT_AS');
      const v = resultOf(o, map);
      const what = `probe child: mmap of 1 GiB under RLIMIT_AS ${AS_HEADROOM / MiB} MiB`;
      if (!v || v.ret !== -1n) throw new CaseFailure(`${what} succeeded`);
      failWith(what, v.errno);
    },
  }),
  defineCase({
    id: 'fault.mem.heap_oom',
    doc: `lowers the soft RLIMIT_AS of its own worker to ${HEAP_HEADROOM / MiB} MiB above its size and fills the JS heap: V8 aborts the worker (out of memory)`,
    isolation: 'fresh',
    run(ctx) {
      // with pointer compression V8 reserves its heap cage up front, so RLIMIT_AS would not bound the heap
      if (HEAP_IN_RESERVED_CAGE)
        ctx.skip(
          'this node keeps its V8 heap in a cage reserved at start (pointer compression): RLIMIT_AS cannot bound it',
        );
      setSoftLimit(RLIMIT_AS, virtualSize() + HEAP_HEADROOM);
      const keep: number[][] = [];
      // bounded by the address-space limit: V8 gives up long before HEAP_HEADROOM / 800 KB arrays
      for (let i = 0; i < Number(HEAP_HEADROOM / (800n * 1024n)) * 4; i++)
        keep.push(new Array<number>(100_000).fill(i));
      throw new CaseFailure(
        `the JS heap grew by ${keep.length} arrays of 100000 numbers under RLIMIT_AS ${HEAP_HEADROOM / MiB} MiB above the worker's size`,
      );
    },
  }),
  intactAfter('mem.heap_oom'),

  defineCase({
    id: 'fault.crash.sigsegv',
    doc: 'writes to a PROT_READ anonymous mapping: the kernel sends SIGSEGV to the worker',
    run(ctx) {
      const m = ctx.map(4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1);
      m.bytes[0] = 1;
      throw new CaseFailure('a write to a PROT_READ mapping did not fault');
    },
  }),
  intactAfter('crash.sigsegv'),
  defineCase({
    id: 'fault.crash.exit_status_3',
    doc: 'calls process.exit(3) in the middle of the case',
    run() {
      process.exit(3);
    },
  }),
  intactAfter('crash.exit_status_3'),
  defineCase({
    id: 'fault.crash.sigkill_self',
    doc: 'sends SIGKILL to its own worker',
    run() {
      libc.kill(libc.getpid(), SIGKILL);
      throw new CaseFailure('kill(getpid(), SIGKILL) returned');
    },
  }),
  intactAfter('crash.sigkill_self'),
];
