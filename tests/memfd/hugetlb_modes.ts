/**
 * memfd.hugetlb (memfd_test.c's hugetlbfs mode): the selftest's checks re-run on MFD_HUGETLB memfds, the way
 * run_hugetlbfs_test.sh runs `memfd_test hugetlbfs` (every memfd_create gets MFD_HUGETLB, files are two huge
 * pages, and write(2) — which hugetlbfs does not have — is left out).
 *
 * Huge pages are needed only where a page is faulted (seal_ops: reads and writes through mappings); the other
 * cases map with MAP_NORESERVE, which takes no reservation, or never map at all, so they run without any
 * huge page reserved (the suite never reserves huge pages on the host).
 */
import { mergeRequires } from '../../lib/harness/requirements.js';
import { existsSync } from 'node:fs';
import { defineCase } from '../../lib/harness/case.js';
import { expectFinished, ProbeProgram, resultOf, runProgram } from '../../lib/harness/probe-program.js';
import type { RawResult } from '../../lib/sys/errors.js';
import type { CaseContext } from '../../lib/harness/context.js';
import { CaseFailure, expectEq, expectErrno, expectOk, expectTrue, outcome } from '../../lib/harness/expect.js';
import { close } from '../../lib/ffi/libc.js';
import { __addSeals, addSeals } from '../../lib/sys/fcntl.js';
import { __fchmod, __open, dup, fstat } from '../../lib/sys/fd.js';
import { __ftruncate, ftruncate } from '../../lib/sys/io.js';
import { __memfdCreate } from '../../lib/sys/memfd.js';
import { __mmap, Mapping } from '../../lib/sys/mman.js';
import {
  F_ADD_SEALS,
  F_SEAL_EXEC,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  MFD_EXEC,
  MFD_HUGETLB,
  MFD_NOEXEC_SEAL,
  O_RDONLY,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
} from '../../lib/uapi/index.js';
import {
  MEMFD_NOEXEC_SYSCTL,
  NEEDS_HUGETLBFS,
  NEEDS_MEMFD_EXEC_API,
  __memfdCreateRawName,
  expectSeals,
  modeOf,
  octal,
  requireDefaultExecPolicy,
  uniqueName,
} from '../../lib/cases/memfd.js';
import { availableHugepages, defaultHugepageKb, hugepagePoolText } from '../../lib/cases/memfd-hugepages.js';

const ST = 'memfd_test.c';

/** The default huge page size in bytes; skips when the kernel has none. */
function hugeBytes(ctx: CaseContext<unknown>): bigint {
  const kb = defaultHugepageKb();
  if (kb === 0) ctx.skip('no Hugepagesize in /proc/meminfo: this kernel has no default huge page size');
  return BigInt(kb) * 1024n;
}

/** memfd_create(name, flags | MFD_HUGETLB), sized to two huge pages (mfd_def_size in hugetlbfs mode), closed after the case. */
function hugeMemfd(ctx: CaseContext<unknown>, flags: number, size?: bigint): number {
  const fd = ctx.trackFd(
    Number(
      expectOk(
        __memfdCreate(uniqueName('huge'), (flags | MFD_HUGETLB) >>> 0),
        `memfd_create(MFD_HUGETLB|0x${flags.toString(16)})`,
      ),
    ),
  );
  if (size !== undefined) ftruncate(fd, size);
  return fd;
}

/** A MAP_NORESERVE mapping (no reservation, no fault): whether the kernel permits the mapping at all. */
function __mapNoreserve(ctx: CaseContext<unknown>, fd: number, size: bigint, prot: number, flags: number) {
  const r = __mmap(Number(size), prot, flags | MAP_NORESERVE, fd, 0n);
  if (r.ret !== -1n) ctx.track(new Mapping(r.ret, Number(size)));
  return r;
}

const createChecks = defineCase({
  id: 'memfd.hugetlb.create_checks',
  doc: 'memfd_create with MFD_HUGETLB checks its name and flags like shmem: NULL name EFAULT, over-long names EINVAL, "" accepted; invalid flag sets and MFD_EXEC|MFD_NOEXEC_SEAL refused; CLOEXEC and ALLOW_SEALING accepted',
  requires: NEEDS_HUGETLBFS,
  tags: { selftest: `${ST}:test_create` },
  run(ctx) {
    const H = MFD_HUGETLB;
    expectErrno(__memfdCreateRawName(null, H), 'EFAULT', 'NULL name');
    expectErrno(__memfdCreateRawName(Buffer.alloc(2048, 0xff), H), 'EINVAL', '2048-byte name without NUL');
    const long = Buffer.alloc(2048, 0xff);
    long[2047] = 0;
    expectErrno(__memfdCreateRawName(long, H), 'EINVAL', '2047-byte NUL-terminated name');
    ctx.trackFd(Number(expectOk(__memfdCreateRawName(Buffer.from([0]), H), 'empty name')));
    for (const bad of [0x0100, ~MFD_CLOEXEC >>> 0, ~MFD_ALLOW_SEALING >>> 0, 0xffff_ffff, 0x8000_0000]) {
      const flags = (bad | H) >>> 0;
      const r = __memfdCreate('', flags);
      if (r.ret >= 0) {
        close(Number(r.ret));
        throw new CaseFailure(`memfd_create("", 0x${flags.toString(16)}) succeeded`);
      }
      ctx.note(`flags 0x${flags.toString(16)}: ${outcome(r)}`);
    }
    if (existsSync(MEMFD_NOEXEC_SYSCTL))
      expectErrno(__memfdCreate('', (MFD_EXEC | MFD_NOEXEC_SEAL | H) >>> 0), 'EINVAL', 'MFD_EXEC|MFD_NOEXEC_SEAL');
    for (const ok of [MFD_CLOEXEC, MFD_ALLOW_SEALING, MFD_ALLOW_SEALING | MFD_CLOEXEC])
      ctx.trackFd(
        Number(expectOk(__memfdCreate('', (ok | H) >>> 0), `memfd_create("", MFD_HUGETLB|0x${ok.toString(16)})`)),
      );
  },
});

const basicSeals = defineCase({
  id: 'memfd.hugetlb.basic_seals',
  doc: 'a hugetlb memfd (two huge pages, never faulted) takes SHRINK|WRITE twice, then GROW|SEAL, after which F_ADD_SEALS fails with EPERM even for 0; without MFD_ALLOW_SEALING it reports F_SEAL_SEAL and refuses every seal',
  requires: NEEDS_HUGETLBFS,
  tags: { selftest: `${ST}:test_basic` },
  run(ctx) {
    requireDefaultExecPolicy(ctx);
    const huge = hugeBytes(ctx);
    const fd = hugeMemfd(ctx, MFD_CLOEXEC | MFD_ALLOW_SEALING, 2n * huge);
    expectSeals(fd, 0, 'initial seals');
    addSeals(fd, F_SEAL_SHRINK | F_SEAL_WRITE);
    expectSeals(fd, F_SEAL_SHRINK | F_SEAL_WRITE, 'after SHRINK|WRITE');
    addSeals(fd, F_SEAL_SHRINK | F_SEAL_WRITE);
    expectSeals(fd, F_SEAL_SHRINK | F_SEAL_WRITE, 'after SHRINK|WRITE again');
    addSeals(fd, F_SEAL_GROW | F_SEAL_SEAL);
    expectSeals(fd, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL, 'after GROW|SEAL');
    expectErrno(__addSeals(fd, F_SEAL_GROW), 'EPERM', 'F_ADD_SEALS(GROW) after F_SEAL_SEAL');
    expectErrno(__addSeals(fd, 0), 'EPERM', 'F_ADD_SEALS(0) after F_SEAL_SEAL');
    const plain = hugeMemfd(ctx, MFD_CLOEXEC, 2n * huge);
    expectSeals(plain, F_SEAL_SEAL, 'without MFD_ALLOW_SEALING');
    expectErrno(
      __addSeals(plain, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE),
      'EPERM',
      'F_ADD_SEALS without MFD_ALLOW_SEALING',
    );
    expectSeals(plain, F_SEAL_SEAL, 'after the refused addition');
  },
});

type ExecMode = 'exec_seal' | 'exec_no_seal' | 'noexec_seal';

const execModes = defineCase<{ mode: ExecMode }>({
  id: 'memfd.hugetlb.exec_modes',
  doc: 'MFD_EXEC, MFD_NOEXEC_SEAL and F_SEAL_EXEC behave on hugetlb memfds as on shmem: modes 0777/0666, chmod of exec bits refused once F_SEAL_EXEC is set, W^X seals on an executable file refuse writable shared mappings',
  requires: mergeRequires(NEEDS_HUGETLBFS, NEEDS_MEMFD_EXEC_API),
  variants: (['exec_seal', 'exec_no_seal', 'noexec_seal'] as const).map((mode) => ({ name: mode, params: { mode } })),
  tags: { selftest: [`${ST}:test_exec_seal`, `${ST}:test_exec_no_seal`, `${ST}:test_noexec_seal`] },
  run(ctx) {
    const huge = hugeBytes(ctx);
    const size = 2n * huge;
    const chmodOk = (fd: number, m: number) => expectOk(__fchmod(fd, m), `fchmod(${octal(m)})`);
    const chmodFails = (fd: number, m: number) =>
      expectErrno(__fchmod(fd, m), 'EPERM', `fchmod(${octal(m)}) after F_SEAL_EXEC`);
    switch (ctx.params.mode) {
      case 'exec_seal': {
        const fd = hugeMemfd(ctx, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC, size);
        expectEq(modeOf(fd), 0o777, 'mode with MFD_EXEC');
        chmodOk(fd, 0o644);
        expectSeals(fd, 0, 'before F_SEAL_EXEC');
        addSeals(fd, F_SEAL_EXEC);
        expectSeals(fd, F_SEAL_EXEC, 'F_SEAL_EXEC on a 0644 file adds no write seals');
        chmodOk(fd, 0o600);
        for (const m of [0o777, 0o670, 0o605, 0o700, 0o100]) chmodFails(fd, m);
        chmodOk(fd, 0o666);
        expectOk(
          __mapNoreserve(ctx, fd, size, PROT_READ | PROT_WRITE, MAP_SHARED),
          'writable shared mapping (MAP_NORESERVE) of the exec-sealed 0666 file',
        );
        const wx = hugeMemfd(ctx, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC, size);
        chmodOk(wx, 0o700);
        addSeals(wx, F_SEAL_EXEC);
        expectSeals(
          wx,
          F_SEAL_EXEC | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE,
          'F_SEAL_EXEC on a 0700 file (W^X)',
        );
        chmodFails(wx, 0o711);
        chmodFails(wx, 0o600);
        expectErrno(
          __mapNoreserve(ctx, wx, size, PROT_READ | PROT_WRITE, MAP_SHARED),
          'EPERM',
          'writable shared mapping of the W^X-sealed file',
        );
        break;
      }
      case 'exec_no_seal': {
        const fd = hugeMemfd(ctx, MFD_CLOEXEC | MFD_EXEC, size);
        expectEq(modeOf(fd), 0o777, 'mode with MFD_EXEC');
        expectSeals(fd, F_SEAL_SEAL, 'MFD_EXEC without MFD_ALLOW_SEALING');
        chmodOk(fd, 0o666);
        break;
      }
      case 'noexec_seal':
        for (const flags of [MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL, MFD_CLOEXEC | MFD_NOEXEC_SEAL]) {
          const fd = hugeMemfd(ctx, flags, size);
          expectEq(modeOf(fd), 0o666, `mode with flags 0x${flags.toString(16)}`);
          expectSeals(fd, F_SEAL_EXEC, `seals with flags 0x${flags.toString(16)}`);
          chmodFails(fd, 0o777);
        }
        break;
    }
  },
});

type SealOp = 'write' | 'future_write' | 'write_map_read_shared' | 'shrink' | 'grow' | 'resize';
const SEAL_OF: Record<SealOp, number> = {
  write: F_SEAL_WRITE,
  future_write: F_SEAL_FUTURE_WRITE,
  write_map_read_shared: F_SEAL_WRITE,
  shrink: F_SEAL_SHRINK,
  grow: F_SEAL_GROW,
  resize: F_SEAL_SHRINK | F_SEAL_GROW,
};

const sealOps = defineCase<{ op: SealOp }>({
  id: 'memfd.hugetlb.seal_ops',
  doc: 'on a hugetlb memfd of two huge pages, each seal refuses what memfd_test.c checks: WRITE/FUTURE_WRITE refuse writable shared mappings (reads through private and read-only shared ones still work), SHRINK/GROW refuse the size change, while everything else keeps working with the data faulted in',
  requires: NEEDS_HUGETLBFS,
  serial: true,
  variants: (['write', 'future_write', 'write_map_read_shared', 'shrink', 'grow', 'resize'] as const).map((op) => ({
    name: op,
    params: { op },
  })),
  tags: {
    selftest: [
      `${ST}:test_seal_write`,
      `${ST}:test_seal_future_write`,
      `${ST}:test_seal_write_map_read_shared`,
      `${ST}:test_seal_shrink`,
      `${ST}:test_seal_grow`,
      `${ST}:test_seal_resize`,
    ],
  },
  run(ctx) {
    const kb = defaultHugepageKb();
    if (availableHugepages(kb) < 2)
      ctx.skip(
        `needs two free ${kb} kB huge pages (pages are faulted), ${availableHugepages(kb)} available (${hugepagePoolText(kb)})`,
      );
    const huge = hugeBytes(ctx);
    const size = 2n * huge;
    const fd = hugeMemfd(ctx, MFD_CLOEXEC | MFD_ALLOW_SEALING, size);
    // Fill through a writable shared mapping before sealing (hugetlbfs has no write(2)).
    const w = ctx.map(Number(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    w.bytes.fill(0x5a);
    w.close();
    const seal = SEAL_OF[ctx.params.op];
    addSeals(fd, seal);
    expectSeals(fd, seal, 'after sealing');
    const priv = ctx.map(Number(size), PROT_READ, MAP_PRIVATE, fd);
    expectTrue(
      priv.bytes[0] === 0x5a && priv.bytes[Number(size) - 1] === 0x5a,
      'a private read-only mapping reads the data',
    );
    priv.close();
    const writeSealed = (seal & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) !== 0;
    const rw = __mmap(Number(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
    if (rw.ret !== -1n) ctx.track(new Mapping(rw.ret, Number(size)));
    if (writeSealed) expectErrno(rw, 'EPERM', 'writable shared mapping after the write seal');
    else expectOk(rw, 'writable shared mapping (not write-sealed)');
    if (ctx.params.op === 'write_map_read_shared') {
      const ro = ctx.map(Number(size), PROT_READ, MAP_SHARED, fd);
      expectEq(ro.bytes[Number(huge)], 0x5a, 'a read-only shared mapping after F_SEAL_WRITE reads the data');
    }
    const shrink = __ftruncate(fd, huge);
    if (seal & F_SEAL_SHRINK) expectErrno(shrink, 'EPERM', 'ftruncate to one huge page');
    else expectOk(shrink, 'ftruncate to one huge page');
    const grow = __ftruncate(fd, 4n * huge);
    if (seal & F_SEAL_GROW) expectErrno(grow, 'EPERM', 'ftruncate to four huge pages');
    else expectOk(grow, 'ftruncate to four huge pages');
    ctx.note(`st_size ${fstat(fd).size}`);
  },
});

/** F_ADD_SEALS(F_SEAL_SEAL) in a probe child that got the hugetlb memfd as fd 3 (another holder of the file). */
function childAddsSealSeal(fd: number): string {
  const p = new ProbeProgram();
  const add = p.sys('fcntl', 3, F_ADD_SEALS, F_SEAL_SEAL);
  const o = runProgram(p, { fds: [fd] });
  expectFinished(o, 'the child holding the hugetlb memfd');
  return outcome(resultOf(o, add) as RawResult);
}

type ShareKind = 'dup' | 'mmap' | 'open' | 'fork';

const share = defineCase<{ kind: ShareKind }>({
  id: 'memfd.hugetlb.share',
  doc: 'seals of a hugetlb memfd belong to its inode: they are shared through dup(), /proc/self/fd reopens and a child process; a writable shared mapping (MAP_NORESERVE, no huge page needed) blocks F_SEAL_WRITE with EBUSY and a private one does not',
  requires: NEEDS_HUGETLBFS,
  variants: (['dup', 'mmap', 'open', 'fork'] as const).map((kind) => ({ name: kind, params: { kind } })),
  tags: {
    selftest: [`${ST}:test_share_dup`, `${ST}:test_share_mmap`, `${ST}:test_share_open`, `${ST}:test_share_fork`],
  },
  run(ctx) {
    const huge = hugeBytes(ctx);
    const size = 2n * huge;
    const fd = hugeMemfd(ctx, MFD_CLOEXEC | MFD_ALLOW_SEALING, size);
    expectSeals(fd, 0, 'initial seals');
    const reopen = (from: number, flags: number) =>
      ctx.trackFd(
        Number(
          expectOk(__open(`/proc/self/fd/${from}`, flags), `open(/proc/self/fd/${from}, 0x${flags.toString(16)})`),
        ),
      );
    switch (ctx.params.kind) {
      case 'dup': {
        const fd2 = ctx.trackFd(dup(fd));
        addSeals(fd, F_SEAL_WRITE);
        expectSeals(fd2, F_SEAL_WRITE, 'dup after sealing the original');
        addSeals(fd2, F_SEAL_SHRINK);
        expectSeals(fd, F_SEAL_WRITE | F_SEAL_SHRINK, 'original after sealing the dup');
        addSeals(fd, F_SEAL_SEAL);
        expectSeals(fd2, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_SEAL, 'dup after F_SEAL_SEAL');
        for (const f of [fd, fd2])
          for (const s of [F_SEAL_GROW, F_SEAL_SEAL])
            expectErrno(__addSeals(f, s), 'EPERM', `F_ADD_SEALS(${s}) after F_SEAL_SEAL`);
        break;
      }
      case 'mmap': {
        const shared = __mapNoreserve(ctx, fd, size, PROT_READ | PROT_WRITE, MAP_SHARED);
        expectOk(shared, 'writable shared mapping (MAP_NORESERVE)');
        expectErrno(__addSeals(fd, F_SEAL_WRITE), 'EBUSY', 'F_SEAL_WRITE with a writable shared mapping');
        expectSeals(fd, 0, 'after the refused F_SEAL_WRITE');
        addSeals(fd, F_SEAL_SHRINK);
        new Mapping(shared.ret, Number(size)).close();
        expectOk(__mapNoreserve(ctx, fd, size, PROT_READ, MAP_PRIVATE), 'private mapping');
        expectOk(__addSeals(fd, F_SEAL_WRITE), 'F_SEAL_WRITE with only a private mapping');
        expectSeals(fd, F_SEAL_WRITE | F_SEAL_SHRINK, 'final seals');
        break;
      }
      case 'open': {
        const fd2 = reopen(fd, O_RDWR);
        addSeals(fd, F_SEAL_WRITE);
        expectSeals(fd2, F_SEAL_WRITE, 'reopened fd after sealing the original');
        addSeals(fd2, F_SEAL_SHRINK);
        expectSeals(fd, F_SEAL_WRITE | F_SEAL_SHRINK, 'original after sealing the reopened fd');
        const ro = reopen(fd2, O_RDONLY);
        expectErrno(__addSeals(ro, F_SEAL_SEAL), 'EPERM', 'F_ADD_SEALS through an O_RDONLY reopen');
        expectSeals(ro, F_SEAL_WRITE | F_SEAL_SHRINK, 'seals read through the O_RDONLY reopen');
        const rw = reopen(ro, O_RDWR);
        addSeals(rw, F_SEAL_SEAL);
        expectSeals(
          fd,
          F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_SEAL,
          'original after F_SEAL_SEAL through a second reopen',
        );
        break;
      }
      case 'fork': {
        expectEq(childAddsSealSeal(fd), 'OK', 'F_ADD_SEALS(SEAL) in the child');
        expectSeals(fd, F_SEAL_SEAL, 'parent after the child added F_SEAL_SEAL');
        expectErrno(
          __addSeals(fd, F_SEAL_WRITE),
          'EPERM',
          'F_ADD_SEALS(WRITE) in the parent after the child sealed sealing',
        );
        break;
      }
    }
  },
});

export default [createChecks, basicSeals, execModes, sealOps, share];
