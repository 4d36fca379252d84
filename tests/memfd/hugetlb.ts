/**
 * memfd.hugetlb: MFD_HUGETLB memfds — size encodings, hugetlbfs file rules, seals, and what happens without reserved huge pages.
 *
 * Kernel checks: hugetlbfs files (fs/hugetlbfs/inode.c hugetlb_file_setup, hugetlbfs_setattr, hugetlbfs_file_mmap,
 * hugetlbfs_fallocate; mm/hugetlb.c hugetlb_reserve_pages; read in 7.2.13 and 7.3-rc7, measured on 6.18)
 *   1. size encoding of a size without hstate → ENODEV | refused: memfd.hugetlb.size_encoding@16gb | accepted: memfd.hugetlb.size_encoding@2mb
 *   2. ftruncate to a size not a multiple of the huge page size → EINVAL | refused: memfd.hugetlb.ftruncate_alignment | accepted: memfd.hugetlb.ftruncate_alignment
 *   3. write/pwrite (no write_iter) → EINVAL | refused: memfd.hugetlb.write_refused | accepted: n/a (hugetlbfs has no write path)
 *   4. mmap at an offset not huge-page aligned → EINVAL | refused: memfd.hugetlb.mmap_unaligned_offset | accepted: memfd.hugetlb.mmap_roundtrip
 *   5. mmap that cannot reserve huge pages (no MAP_NORESERVE) → ENOMEM | refused: memfd.hugetlb.no_pages_mmap_reserve_fails@shared_rw | accepted: memfd.hugetlb.no_pages_noreserve_sigbus@read
 *   6. fallocate without free huge pages → ENOSPC | refused: memfd.hugetlb.no_pages_fallocate_enospc@extend | accepted: memfd.hugetlb.fallocate_and_punch
 *   7. F_SEAL_EXEC against fchmod of the exec bits (hugetlbfs_setattr never checks it: defect) | refused: memfd.hugetlb.seal_exec_fchmod@to_0755 | accepted: memfd.hugetlb.seal_exec_fchmod@to_0600
 */
import { mergeRequires } from '../../lib/harness/requirements.js';
import { ProbeProgram, resultOf, runProgram } from '../../lib/harness/probe-program.js';
import { existsSync } from 'node:fs';
import { defineCase } from '../../lib/harness/case.js';
import type { CaseContext } from '../../lib/harness/context.js';
import { CaseFailure, expectErrno, expectEq, expectOk, expectTrue, outcome } from '../../lib/harness/expect.js';
import { __addSeals, __getSeals, addSeals, getFl } from '../../lib/sys/fcntl.js';
import { __fchmod, fstat } from '../../lib/sys/fd.js';
import { __fallocate, __ftruncate, __pread, __pwrite, __write, fallocate, ftruncate, pread } from '../../lib/sys/io.js';
import { __memfdCreate } from '../../lib/sys/memfd.js';
import { __mmap, Mapping } from '../../lib/sys/mman.js';
import {
  F_SEAL_EXEC,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  MFD_HUGE_16GB,
  MFD_HUGE_16MB,
  MFD_HUGE_1GB,
  MFD_HUGE_1MB,
  MFD_HUGE_256MB,
  MFD_HUGE_2GB,
  MFD_HUGE_2MB,
  MFD_HUGE_32MB,
  MFD_HUGE_512KB,
  MFD_HUGE_512MB,
  MFD_HUGE_64KB,
  MFD_HUGE_8MB,
  MFD_HUGE_MASK,
  MFD_HUGE_SHIFT,
  MFD_HUGETLB,
  MFD_NOEXEC_SEAL,
  O_LARGEFILE,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
} from '../../lib/uapi/index.js';
import {
  NEEDS_HUGETLBFS,
  NEEDS_MEMFD_EXEC_API,
  expectSeals,
  fdLink,
  memfdLink,
  modeOf,
  requireDefaultExecPolicy,
  sealText,
  uniqueName,
} from '../../lib/cases/memfd.js';
import {
  availableHugepages,
  defaultHugepageKb,
  hugepageDir,
  hugepagePoolText,
} from '../../lib/cases/memfd-hugepages.js';

/** A huge page size encoding: log2 of the size in bytes in bits 26..31 (0 = the default size). */
interface SizeParams {
  /** MFD_HUGE_* value (already shifted), 0 for the default size. */ encoding: number;
  /** Size in kB it names (0: the default size). */ kb: number;
}

const SIZES: [string, number, number][] = [
  ['default', 0, 0],
  ['64kb', MFD_HUGE_64KB, 64],
  ['512kb', MFD_HUGE_512KB, 512],
  ['1mb', MFD_HUGE_1MB, 1024],
  ['2mb', MFD_HUGE_2MB, 2048],
  ['8mb', MFD_HUGE_8MB, 8192],
  ['16mb', MFD_HUGE_16MB, 16384],
  ['32mb', MFD_HUGE_32MB, 32768],
  ['256mb', MFD_HUGE_256MB, 262144],
  ['512mb', MFD_HUGE_512MB, 524288],
  ['1gb', MFD_HUGE_1GB, 1048576],
  ['2gb', MFD_HUGE_2GB, 2097152],
  ['16gb', MFD_HUGE_16GB, 16777216],
];

function createHuge(
  ctx: CaseContext<unknown>,
  flags: number,
  what = `memfd_create(MFD_HUGETLB|0x${flags.toString(16)})`,
): number {
  return ctx.trackFd(Number(expectOk(__memfdCreate(uniqueName('huge'), (MFD_HUGETLB | flags) >>> 0), what)));
}

/** Bytes of the default huge page size; skips when the kernel has none. */
function defaultHugeBytes(ctx: CaseContext<unknown>): bigint {
  const kb = defaultHugepageKb();
  if (kb === 0) ctx.skip('no Hugepagesize in /proc/meminfo: this kernel has no default huge page size');
  return BigInt(kb) * 1024n;
}

/** Skips unless at least one default-size huge page is free (the suite never reserves huge pages on the host). */
function requireFreeHugepage(ctx: CaseContext<unknown>): void {
  const kb = defaultHugepageKb();
  if (availableHugepages(kb) < 1)
    ctx.skip(`needs one free ${kb} kB huge page, none available (${hugepagePoolText(kb)})`);
}

/** The most huge pages a case drains from the pool: a guest reserves tens, a pool beyond this is not a test pool. */
const MAX_DRAINED_BYTES = 1n << 30n;

/**
 * Makes sure no default-size huge page is available: the case asserts what happens without any. In a
 * suite guest, whose pool exists for the suite, the free pages are taken by a holder memfd that the
 * case's cleanup closes (returning them); on a host the pool belongs to others and the case skips.
 */
function requireNoFreeHugepage(ctx: CaseContext<unknown>): void {
  const kb = defaultHugepageKb();
  const free = availableHugepages(kb);
  if (free <= 0) return;
  const bytes = BigInt(free) * BigInt(kb) * 1024n;
  if (!ctx.env.inSuiteGuest)
    ctx.skip(
      `asserts the behaviour without huge pages, but ${free} are available (${hugepagePoolText(kb)}); only a suite guest drains the pool`,
    );
  if (bytes > MAX_DRAINED_BYTES)
    ctx.skip(
      `asserts the behaviour without huge pages, but ${free} are available, more than the ${MAX_DRAINED_BYTES >> 20n} MiB this case drains`,
    );
  const holder = createHuge(ctx, MFD_CLOEXEC, 'memfd_create(MFD_HUGETLB) holding the free pool');
  expectOk(__fallocate(holder, 0, 0n, bytes), `fallocate of the ${free} free ${kb} kB huge pages into a holder memfd`);
  const left = availableHugepages(kb);
  if (left > 0) ctx.skip(`${left} huge pages are still available after taking ${free} (another user of the pool?)`);
  ctx.note(
    `drained the ${free} free ${kb} kB huge pages of this guest into a holder memfd (returned when the case ends)`,
  );
}

const sizeEncoding = defineCase<SizeParams>({
  id: 'memfd.hugetlb.size_encoding',
  doc: 'MFD_HUGETLB with an MFD_HUGE_* size succeeds exactly when the kernel has that huge page size (/sys/kernel/mm/hugepages), with st_blksize of that size; otherwise ENODEV',
  requires: NEEDS_HUGETLBFS,
  tags: { linuxGit: ['749df87bd7be'] },
  variants: SIZES.map(([name, encoding, kb]) => ({ name, params: { encoding, kb } })),
  run(ctx) {
    const kb = ctx.params.kb || defaultHugepageKb();
    if (kb === 0) ctx.skip('no default huge page size on this kernel');
    const exists = existsSync(hugepageDir(kb));
    const name = uniqueName('hsize');
    const r = __memfdCreate(name, (MFD_HUGETLB | MFD_CLOEXEC | ctx.params.encoding) >>> 0);
    if (r.ret >= 0) ctx.trackFd(r.ret);
    ctx.observe('outcome', outcome(r));
    const what = `memfd_create(MFD_HUGETLB|0x${ctx.params.encoding.toString(16)}) for ${kb} kB pages (${exists ? 'present' : 'absent'} in sysfs)`;
    if (!exists) {
      expectErrno(r, 'ENODEV', what);
      return;
    }
    const fd = Number(expectOk(r, what));
    expectEq(fstat(fd).blksize, BigInt(kb) * 1024n, 'st_blksize');
    expectEq(fdLink(fd), memfdLink(name), 'readlink /proc/self/fd/N');
  },
});

const sizeSweep = defineCase({
  id: 'memfd.hugetlb.size_encoding_sweep',
  doc: 'for every log2 size 1..63 in bits 26..31, MFD_HUGETLB succeeds iff /sys/kernel/mm/hugepages lists that size, else ENODEV',
  requires: NEEDS_HUGETLBFS,
  run(ctx) {
    const accepted: number[] = [];
    for (let log2 = 1; log2 <= MFD_HUGE_MASK; log2++) {
      const r = __memfdCreate(uniqueName('sweep'), (MFD_HUGETLB | MFD_CLOEXEC | (log2 << MFD_HUGE_SHIFT)) >>> 0);
      if (r.ret >= 0) {
        ctx.trackFd(r.ret);
        accepted.push(log2);
      }
      const exists = log2 >= 10 && existsSync(hugepageDir(2 ** (log2 - 10)));
      const what = `memfd_create(MFD_HUGETLB | ${log2} << 26) (2^${log2} bytes ${exists ? 'present' : 'absent'} in sysfs)`;
      if (exists) expectOk(r, what);
      else expectErrno(r, 'ENODEV', what);
    }
    ctx.observe('acceptedLog2', accepted);
  },
});

const unknownBits = defineCase({
  id: 'memfd.hugetlb.unknown_bits',
  doc: 'with MFD_HUGETLB only bits 26..31 may carry a size: each of bits 5..25 still fails with EINVAL',
  requires: NEEDS_HUGETLBFS,
  run(ctx) {
    for (let bit = 5; bit < MFD_HUGE_SHIFT; bit++) {
      const flags = (MFD_HUGETLB | (1 << bit)) >>> 0;
      const r = __memfdCreate(uniqueName('hbit'), flags);
      if (r.ret >= 0) ctx.trackFd(r.ret);
      expectErrno(r, 'EINVAL', `memfd_create(0x${flags.toString(16)})`);
    }
  },
});

const sizeWithoutHugetlb = defineCase<{ flags: number }>({
  id: 'memfd.hugetlb.size_without_hugetlb',
  doc: 'a huge page size encoding without MFD_HUGETLB is an unknown flag: EINVAL',
  variants: [
    { name: 'huge_2mb', params: { flags: MFD_HUGE_2MB } },
    { name: 'huge_1gb_allow_sealing', params: { flags: MFD_HUGE_1GB | MFD_ALLOW_SEALING } },
  ],
  run(ctx) {
    const r = __memfdCreate(uniqueName('nohuge'), ctx.params.flags >>> 0);
    if (r.ret >= 0) ctx.trackFd(r.ret);
    expectErrno(r, 'EINVAL', `memfd_create(0x${(ctx.params.flags >>> 0).toString(16)})`);
  },
});

/** Flags beside MFD_HUGETLB and the state the new file must have. */
interface StateParams {
  /** Extra flags. */ flags: number;
  /** Expected seals. */ seals: number;
  /** Expected permission bits. */ mode: number;
}

const initialState = defineCase<StateParams>({
  id: 'memfd.hugetlb.initial_state',
  doc: 'a hugetlb memfd starts like a shmem one: size 0, F_GETFL O_RDWR|O_LARGEFILE, F_SEAL_SEAL unless MFD_ALLOW_SEALING, 0666 + F_SEAL_EXEC with MFD_NOEXEC_SEAL',
  requires: NEEDS_HUGETLBFS,
  variants: [
    { name: 'plain', params: { flags: 0, seals: F_SEAL_SEAL, mode: 0o777 } },
    { name: 'allow_sealing', params: { flags: MFD_ALLOW_SEALING, seals: 0, mode: 0o777 } },
    {
      name: 'noexec_seal',
      params: { flags: MFD_NOEXEC_SEAL, seals: F_SEAL_EXEC, mode: 0o666 },
      requires: NEEDS_MEMFD_EXEC_API,
    },
  ],
  run(ctx) {
    if (!(ctx.params.flags & MFD_NOEXEC_SEAL)) requireDefaultExecPolicy(ctx);
    const fd = createHuge(ctx, MFD_CLOEXEC | ctx.params.flags);
    const seals = Number(expectOk(__getSeals(fd), 'F_GET_SEALS'));
    expectEq(seals, ctx.params.seals, `F_GET_SEALS (${sealText(seals)})`);
    expectEq(modeOf(fd), ctx.params.mode, 'mode');
    expectEq(fstat(fd).size, 0n, 'st_size');
    expectEq(getFl(fd), O_RDWR | O_LARGEFILE, 'F_GETFL');
  },
});

/** A target mode for fchmod on an F_SEAL_EXEC'd 0644 hugetlb memfd. */
interface HugeChmodParams {
  /** Mode passed to fchmod. */ mode: number;
  /** Create with MFD_NOEXEC_SEAL (0666 + F_SEAL_EXEC from the start) instead of sealing a 0644 file. */ noexecSeal: boolean;
}

const sealExecFchmod = defineCase<HugeChmodParams>({
  id: 'memfd.hugetlb.seal_exec_fchmod',
  doc: 'F_SEAL_EXEC binds a hugetlb memfd as it binds a shmem one: fchmod fails with EPERM exactly when it would change an exec bit (0111), other bits still change (needs no huge page: nothing is faulted)',
  requires: mergeRequires(NEEDS_HUGETLBFS, NEEDS_MEMFD_EXEC_API),
  tags: {
    selftest: 'memfd_test.c:test_exec_seal',
    kernelFn: 'hugetlbfs/inode.c:hugetlbfs_setattr',
    linuxGit: ['6fd7353829ca'],
  },
  variants: [
    ...[0o755, 0o744, 0o645, 0o600, 0o666, 0o4644].map((mode) => ({
      name: `to_${mode.toString(8).padStart(4, '0')}`,
      params: { mode, noexecSeal: false },
    })),
    { name: 'noexec_seal_to_0777', params: { mode: 0o777, noexecSeal: true } },
    { name: 'noexec_seal_to_0644', params: { mode: 0o644, noexecSeal: true } },
  ],
  run(ctx) {
    const { mode, noexecSeal } = ctx.params;
    let before: number;
    let fd: number;
    if (noexecSeal) {
      fd = createHuge(ctx, MFD_CLOEXEC | MFD_NOEXEC_SEAL);
      before = 0o666;
    } else {
      requireDefaultExecPolicy(ctx);
      fd = createHuge(ctx, MFD_CLOEXEC | MFD_ALLOW_SEALING);
      expectOk(__fchmod(fd, 0o644), 'fchmod(0644) before any seal');
      addSeals(fd, F_SEAL_EXEC);
      before = 0o644;
    }
    expectEq(Number(expectOk(__getSeals(fd), 'F_GET_SEALS')) & F_SEAL_EXEC, F_SEAL_EXEC, 'F_SEAL_EXEC is set');
    const r = __fchmod(fd, mode);
    ctx.observe('outcome', outcome(r));
    const what = `fchmod(0${mode.toString(8)}) of an F_SEAL_EXEC hugetlb memfd (mode 0${before.toString(8)})`;
    if ((mode ^ before) & 0o111) {
      if (r.ret === 0n)
        throw new CaseFailure(
          `${what} succeeded and the mode is now 0${modeOf(fd).toString(8)}: hugetlbfs_setattr() does not enforce F_SEAL_EXEC (shmem_setattr() refuses with EPERM)`,
        );
      expectErrno(r, 'EPERM', `${what} changes an exec bit`);
      expectEq(modeOf(fd), before, 'mode after the refused fchmod');
    } else {
      expectOk(r, `${what} leaves the exec bits alone`);
      expectEq(modeOf(fd), mode, 'mode after fchmod');
    }
  },
});

const truncAlign = defineCase({
  id: 'memfd.hugetlb.ftruncate_alignment',
  doc: 'ftruncate of a hugetlb memfd must be a multiple of the huge page size: 4096 and 1.5 huge pages fail with EINVAL; 0 and whole huge pages succeed without allocating',
  requires: NEEDS_HUGETLBFS,
  run(ctx) {
    const huge = defaultHugeBytes(ctx);
    const fd = createHuge(ctx, MFD_CLOEXEC);
    expectErrno(__ftruncate(fd, 4096), 'EINVAL', 'ftruncate(4096)');
    expectErrno(__ftruncate(fd, huge + huge / 2n), 'EINVAL', 'ftruncate(1.5 huge pages)');
    expectOk(__ftruncate(fd, 2n * huge), 'ftruncate(2 huge pages)');
    expectEq(fstat(fd).size, 2n * huge, 'st_size');
    expectEq(fstat(fd).blocks, 0n, 'st_blocks after ftruncate');
    expectOk(__ftruncate(fd, 0), 'ftruncate(0)');
  },
});

const writeRefused = defineCase({
  id: 'memfd.hugetlb.write_refused',
  doc: 'hugetlbfs files have no write(2): write and pwrite fail with EINVAL; pread of an unallocated range within st_size returns zeros',
  requires: NEEDS_HUGETLBFS,
  run(ctx) {
    const huge = defaultHugeBytes(ctx);
    const fd = createHuge(ctx, MFD_CLOEXEC);
    ftruncate(fd, huge);
    expectErrno(__write(fd, Buffer.from('x')), 'EINVAL', 'write');
    expectErrno(__pwrite(fd, Buffer.from('x'), 0), 'EINVAL', 'pwrite');
    const r = __pread(fd, 64, 4096);
    expectEq(expectOk(r, 'pread of a hole'), 64n, 'bytes read');
    expectTrue(r.data.equals(Buffer.alloc(64)), 'a hole reads as zeros');
  },
});

const mmapOffset = defineCase({
  id: 'memfd.hugetlb.mmap_unaligned_offset',
  doc: 'mmap of a hugetlb memfd at an offset that is not huge-page aligned fails with EINVAL',
  requires: NEEDS_HUGETLBFS,
  run(ctx) {
    const huge = defaultHugeBytes(ctx);
    const fd = createHuge(ctx, MFD_CLOEXEC);
    ftruncate(fd, 2n * huge);
    const r = __mmap(huge, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 4096n);
    if (r.ret !== -1n) ctx.track(new Mapping(r.ret, Number(huge)));
    expectErrno(r, 'EINVAL', 'mmap at offset 4096');
  },
});

/** A seal and the hugetlb operations it must refuse with EPERM. */
interface HugeSealParams {
  /** Seal added. */ seal: number;
}

const seals = defineCase<HugeSealParams>({
  id: 'memfd.hugetlb.seals',
  doc: 'seals bind hugetlb memfds too: GROW refuses growing (ftruncate, fallocate), SHRINK refuses shrinking, WRITE refuses writable shared mmap and hole punching — all with EPERM',
  requires: NEEDS_HUGETLBFS,
  tags: { linuxGit: ['749df87bd7be'] },
  variants: [
    { name: 'grow', params: { seal: F_SEAL_GROW } },
    { name: 'shrink', params: { seal: F_SEAL_SHRINK } },
    { name: 'write', params: { seal: F_SEAL_WRITE } },
  ],
  run(ctx) {
    const huge = defaultHugeBytes(ctx);
    const fd = createHuge(ctx, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    ftruncate(fd, 2n * huge);
    addSeals(fd, ctx.params.seal);
    expectSeals(fd, ctx.params.seal, 'after sealing');
    switch (ctx.params.seal) {
      case F_SEAL_GROW:
        expectErrno(__ftruncate(fd, 3n * huge), 'EPERM', 'ftruncate grow');
        expectErrno(__fallocate(fd, 0, 2n * huge, huge), 'EPERM', 'fallocate beyond EOF');
        expectOk(__ftruncate(fd, huge), 'ftruncate shrink');
        break;
      case F_SEAL_SHRINK:
        expectErrno(__ftruncate(fd, huge), 'EPERM', 'ftruncate shrink');
        expectErrno(__ftruncate(fd, 0), 'EPERM', 'ftruncate(0)');
        expectOk(__ftruncate(fd, 3n * huge), 'ftruncate grow');
        break;
      case F_SEAL_WRITE: {
        const m = __mmap(Number(huge), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0n);
        if (m.ret !== -1n) ctx.track(new Mapping(m.ret, Number(huge)));
        expectErrno(m, 'EPERM', 'mmap(RW, MAP_SHARED|MAP_NORESERVE)');
        expectErrno(__fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, huge), 'EPERM', 'PUNCH_HOLE');
        expectOk(__ftruncate(fd, 3n * huge), 'ftruncate grow (WRITE does not seal the size)');
        break;
      }
    }
  },
});

const noPagesMmap = defineCase<{ flags: number; prot: number }>({
  id: 'memfd.hugetlb.no_pages_mmap_reserve_fails',
  doc: 'without free huge pages, mmap of a hugetlb memfd fails with ENOMEM at mmap time (the reservation), shared or private, read-only or not',
  requires: NEEDS_HUGETLBFS,
  variants: [
    { name: 'shared_rw', params: { flags: MAP_SHARED, prot: PROT_READ | PROT_WRITE } },
    { name: 'shared_ro', params: { flags: MAP_SHARED, prot: PROT_READ } },
    { name: 'private_rw', params: { flags: MAP_PRIVATE, prot: PROT_READ | PROT_WRITE } },
  ],
  run(ctx) {
    requireNoFreeHugepage(ctx);
    const huge = defaultHugeBytes(ctx);
    const fd = createHuge(ctx, MFD_CLOEXEC);
    ftruncate(fd, huge);
    const r = __mmap(Number(huge), ctx.params.prot, ctx.params.flags, fd, 0n);
    if (r.ret !== -1n) ctx.track(new Mapping(r.ret, Number(huge)));
    ctx.observe('outcome', outcome(r));
    expectErrno(
      r,
      'ENOMEM',
      `mmap(prot ${ctx.params.prot}, flags 0x${ctx.params.flags.toString(16)}) with no free huge page`,
    );
  },
});

/**
 * In a probe-exec child: a fresh hugetlb memfd of one default-size huge page, mapped MAP_SHARED|MAP_NORESERVE, then
 * the page touched (written first when write); returns the outcome and the mmap step, which must have succeeded.
 */
function touchNoreserveHugepage(hugeBytes: number, write: boolean) {
  const p = new ProbeProgram();
  const fd = p.sysOk('memfd_create', p.bytes('gmem-conformance-hugetlb'), MFD_CLOEXEC | MFD_HUGETLB);
  p.sysOk('ftruncate', fd, hugeBytes);
  const map = p.sysOk('mmap', 0, hugeBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (write) p.store(map, 0, 1);
  p.load(map, 0);
  return { outcome: runProgram(p), map };
}

const noPagesNoreserve = defineCase<{ write: boolean }>({
  id: 'memfd.hugetlb.no_pages_noreserve_sigbus',
  doc: 'without free huge pages, MAP_NORESERVE skips the reservation so mmap succeeds, and the first touch (read or write) raises SIGBUS',
  requires: NEEDS_HUGETLBFS,
  variants: [
    { name: 'read', params: { write: false } },
    { name: 'write', params: { write: true } },
  ],
  run(ctx) {
    requireNoFreeHugepage(ctx);
    const huge = defaultHugeBytes(ctx);
    const fd = createHuge(ctx, MFD_CLOEXEC);
    ftruncate(fd, huge);
    const m = __mmap(Number(huge), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0n);
    ctx.track(new Mapping(BigInt(expectOk(m, 'mmap(RW, MAP_SHARED|MAP_NORESERVE)')), Number(huge)));
    const { outcome: p, map } = touchNoreserveHugepage(Number(huge), ctx.params.write);
    ctx.observe('signal', p.signal);
    const mapped = resultOf(p, map);
    if (!mapped || mapped.ret === -1n)
      throw new CaseFailure(
        `the child's mmap(MAP_SHARED|MAP_NORESERVE) of a fresh hugetlb memfd ${mapped ? `failed with ${outcome(mapped)}` : `never ran (status ${p.status} signal ${p.signal}: ${p.stderr.trim()})`}`,
      );
    expectEq(
      p.signal,
      'SIGBUS',
      `${ctx.params.write ? 'writing' : 'reading'} the unbacked huge page (status ${p.status})`,
    );
  },
});

const noPagesFallocate = defineCase<{ mode: number }>({
  id: 'memfd.hugetlb.no_pages_fallocate_enospc',
  doc: 'without free huge pages, fallocate of a hugetlb memfd fails with ENOSPC and changes neither st_size nor st_blocks',
  requires: NEEDS_HUGETLBFS,
  variants: [
    { name: 'extend', params: { mode: 0 } },
    { name: 'keep_size', params: { mode: FALLOC_FL_KEEP_SIZE } },
  ],
  run(ctx) {
    requireNoFreeHugepage(ctx);
    const huge = defaultHugeBytes(ctx);
    const fd = createHuge(ctx, MFD_CLOEXEC);
    const r = __fallocate(fd, ctx.params.mode, 0, huge);
    ctx.observe('outcome', outcome(r));
    expectErrno(r, 'ENOSPC', `fallocate(mode ${ctx.params.mode}, 0, one huge page) with no free huge page`);
    expectEq(fstat(fd).size, 0n, 'st_size after the failed fallocate');
    expectEq(fstat(fd).blocks, 0n, 'st_blocks after the failed fallocate');
  },
});

const punchEmpty = defineCase({
  id: 'memfd.hugetlb.punch_unallocated',
  doc: 'punching a hole in an unallocated hugetlb range succeeds and leaves st_size alone',
  requires: NEEDS_HUGETLBFS,
  run(ctx) {
    const huge = defaultHugeBytes(ctx);
    const fd = createHuge(ctx, MFD_CLOEXEC);
    ftruncate(fd, 2n * huge);
    expectOk(
      __fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, huge),
      'PUNCH_HOLE of an unallocated huge page',
    );
    expectEq(fstat(fd).size, 2n * huge, 'st_size');
  },
});

const mmapRoundtrip = defineCase({
  id: 'memfd.hugetlb.mmap_roundtrip',
  doc: 'with a free huge page, a shared mapping of a hugetlb memfd stores data that pread and a second mapping see',
  requires: NEEDS_HUGETLBFS,
  serial: true,
  run(ctx) {
    requireFreeHugepage(ctx);
    const huge = defaultHugeBytes(ctx);
    const fd = createHuge(ctx, MFD_CLOEXEC);
    ftruncate(fd, huge);
    const a = ctx.map(Number(huge), PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    a.bytes.set(Buffer.from('hugetlb'), 12345);
    expectTrue(pread(fd, 7, 12345).equals(Buffer.from('hugetlb')), 'pread sees the store');
    const b = ctx.map(Number(huge), PROT_READ, MAP_SHARED, fd);
    expectEq(Buffer.from(b.bytes.subarray(12345, 12352)).toString(), 'hugetlb', 'second mapping');
  },
});

const fallocateAllocates = defineCase({
  id: 'memfd.hugetlb.fallocate_and_punch',
  doc: 'with a free huge page, fallocate takes it from the pool (free_hugepages drops by one, st_blocks grows) and PUNCH_HOLE returns it',
  requires: NEEDS_HUGETLBFS,
  serial: true,
  run(ctx) {
    requireFreeHugepage(ctx);
    const kb = defaultHugepageKb();
    const huge = defaultHugeBytes(ctx);
    const fd = createHuge(ctx, MFD_CLOEXEC);
    const before = availableHugepages(kb);
    fallocate(fd, 0, 0, huge);
    expectEq(fstat(fd).size, huge, 'st_size');
    expectEq(fstat(fd).blocks, huge / 512n, 'st_blocks');
    expectEq(availableHugepages(kb), before - 1, 'available huge pages after fallocate');
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, huge);
    expectEq(fstat(fd).blocks, 0n, 'st_blocks after punching');
    expectEq(availableHugepages(kb), before, 'available huge pages after punching');
  },
});

const writeSealBusy = defineCase({
  id: 'memfd.hugetlb.write_seal_busy',
  doc: 'with a free huge page, F_SEAL_WRITE fails with EBUSY while a writable shared mapping of the hugetlb memfd exists, and succeeds after munmap',
  requires: NEEDS_HUGETLBFS,
  serial: true,
  run(ctx) {
    requireFreeHugepage(ctx);
    const huge = defaultHugeBytes(ctx);
    const fd = createHuge(ctx, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    ftruncate(fd, huge);
    const map = ctx.map(Number(huge), PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    expectErrno(__addSeals(fd, F_SEAL_WRITE), 'EBUSY', 'F_ADD_SEALS(WRITE) with a writable shared mapping');
    map.close();
    expectOk(__addSeals(fd, F_SEAL_WRITE), 'F_ADD_SEALS(WRITE) after munmap');
    expectSeals(fd, F_SEAL_WRITE, 'after sealing');
  },
});

export default [
  sizeEncoding,
  sizeSweep,
  unknownBits,
  sizeWithoutHugetlb,
  initialState,
  truncAlign,
  writeRefused,
  mmapOffset,
  seals,
  sealExecFchmod,
  noPagesMmap,
  noPagesNoreserve,
  noPagesFallocate,
  punchEmpty,
  mmapRoundtrip,
  fallocateAllocates,
  writeSealBusy,
];
