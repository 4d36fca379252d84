/** The seal × operation matrix of the memfd.seals cases, on shmem and on hugetlbfs: operations, rows, verdict helpers. */
import type { CaseContext } from '../harness/context.js';
import { CaseFailure, expectEq, expectOk, outcome } from '../harness/expect.js';
import type { RawResult } from '../sys/errors.js';
import { __fchmod, __open, fstat } from '../sys/fd.js';
import { __addSeals, __getSeals, getSeals } from '../sys/fcntl.js';
import { __fallocate, __ftruncate, __pwrite, __write, pread, pwrite } from '../sys/io.js';
import { __memfdCreate } from '../sys/memfd.js';
import { __mmap, __mprotect, Mapping } from '../sys/mman.js';
import {
  F_SEAL_EXEC,
  F_SEAL_FUTURE_WRITE,
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
  MFD_HUGE_1GB,
  MFD_HUGE_2MB,
  MFD_HUGETLB,
  O_RDWR,
  O_TRUNC,
  PROT_READ,
  PROT_WRITE,
} from '../uapi/index.js';
import { PAGE, SEAL_EXEC_IMPLIES, expectSeals, hostMemfdNoexec, modeOf, octal, sealText, uniqueName } from './memfd.js';

/** Byte pattern the seal-matrix memfds are filled with. */
export const FILL = 0x5a;

/** Size of the seal-matrix memfd: four pages of FILL. */
export const MATRIX_SIZE = 4 * PAGE;

// Created without MFD_EXEC/MFD_NOEXEC_SEAL so it works on every kernel with sealing (3.17+).
/** An unsealed MFD_ALLOW_SEALING memfd of MATRIX_SIZE bytes of FILL with the given mode (skips if pre-sealed by policy). */
export function sealableMemfd(ctx: CaseContext<unknown>, mode: number): number {
  const r = __memfdCreate(uniqueName('seal'), MFD_ALLOW_SEALING);
  const fd = ctx.trackFd(Number(expectOk(r, 'memfd_create(MFD_ALLOW_SEALING)')));
  const initial = getSeals(fd);
  if (initial !== 0)
    ctx.skip(
      `a new MFD_ALLOW_SEALING memfd already carries ${sealText(initial)} (vm.memfd_noexec=${hostMemfdNoexec()} in this pid namespace); the seal cases need an unsealed memfd`,
    );
  expectOk(__fchmod(fd, mode), `fchmod(${octal(mode)}) before sealing`);
  pwrite(fd, Buffer.alloc(MATRIX_SIZE, FILL), 0);
  return fd;
}

/** What one seal-matrix operation did: the raw result of the decisive call, and what that call was. */
export interface SealOpResult {
  /** Result of the call whose outcome the case asserts. */ r: RawResult;
  /** The call, for messages. */ what: string;
  /** Checks the effect when the call succeeded (e.g. the bytes arrived); throws CaseFailure. */ verify?: () => void;
}

/** One operation of the seal matrix: which seals refuse it and with which errno. */
export interface SealOp {
  /** Variant name. */ name: string;
  /** Seals (any of them) that make the kernel refuse the operation. */ refusedBy: number;
  /** errno of a refusal. */ errno: string;
  /** Performs the operation on a MATRIX_SIZE memfd of FILL. */ run(
    ctx: CaseContext<unknown>,
    fd: number,
  ): SealOpResult;
}

function expectBytes(fd: number, offset: number, want: Buffer, what: string): void {
  const got = pread(fd, want.length, offset);
  if (!got.equals(want))
    throw new CaseFailure(
      `${what}: bytes at ${offset} are <${got.toString('hex')}>, expected <${want.toString('hex')}>`,
    );
}

function expectSize(fd: number, want: number, what: string): void {
  expectEq(fstat(fd).size, BigInt(want), `${what}: st_size`);
}

function mapRaw(ctx: CaseContext<unknown>, prot: number, flags: number, fd: number): { r: RawResult; map?: Mapping } {
  const r = __mmap(MATRIX_SIZE, prot, flags, fd, 0n);
  if (r.ret === -1n) return { r };
  const map = ctx.track(new Mapping(r.ret, MATRIX_SIZE));
  return { r, map };
}

/** The operations of the seal matrix, each with the seals that refuse it (mm/shmem.c, mm/memfd.c, mm/mmap.c). */
export const SEAL_OPS: readonly SealOp[] = [
  {
    name: 'write',
    refusedBy: F_SEAL_WRITE | F_SEAL_FUTURE_WRITE,
    errno: 'EPERM',
    run(_ctx, fd) {
      const data = Buffer.from('sealed?');
      return {
        r: __pwrite(fd, data, 0),
        what: 'pwrite of 7 bytes at offset 0 (inside the file)',
        verify: () => expectBytes(fd, 0, data, 'after pwrite'),
      };
    },
  },
  {
    name: 'write_fd_offset',
    refusedBy: F_SEAL_WRITE | F_SEAL_FUTURE_WRITE,
    errno: 'EPERM',
    run(_ctx, fd) {
      const data = Buffer.from('abc');
      return {
        r: __write(fd, data),
        what: 'write(2) of 3 bytes at the file offset 0',
        verify: () => expectBytes(fd, 0, data, 'after write'),
      };
    },
  },
  {
    name: 'pwrite_beyond_eof',
    refusedBy: F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | F_SEAL_GROW,
    errno: 'EPERM',
    run(_ctx, fd) {
      const data = Buffer.from('grow');
      return {
        r: __pwrite(fd, data, MATRIX_SIZE),
        what: `pwrite of 4 bytes at offset ${MATRIX_SIZE} (the end of the file)`,
        verify: () => {
          expectSize(fd, MATRIX_SIZE + 4, 'after pwrite beyond EOF');
          expectBytes(fd, MATRIX_SIZE, data, 'after pwrite beyond EOF');
        },
      };
    },
  },
  {
    name: 'mmap_shared_rw',
    refusedBy: F_SEAL_WRITE | F_SEAL_FUTURE_WRITE,
    errno: 'EPERM',
    run(ctx, fd) {
      const { r, map } = mapRaw(ctx, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
      return {
        r,
        what: 'mmap(PROT_READ|PROT_WRITE, MAP_SHARED)',
        verify: () => {
          (map as Mapping).bytes[5] = 0x11;
          expectBytes(fd, 5, Buffer.from([0x11]), 'a store through the shared mapping');
        },
      };
    },
  },
  {
    name: 'mmap_shared_ro',
    refusedBy: 0,
    errno: 'EPERM',
    run(ctx, fd) {
      const { r, map } = mapRaw(ctx, PROT_READ, MAP_SHARED, fd);
      return {
        r,
        what: 'mmap(PROT_READ, MAP_SHARED)',
        verify: () => expectEq((map as Mapping).bytes[100], FILL, 'byte 100 read through the mapping'),
      };
    },
  },
  {
    name: 'mprotect_write',
    refusedBy: F_SEAL_WRITE | F_SEAL_FUTURE_WRITE,
    errno: 'EACCES',
    run(ctx, fd) {
      const { r, map } = mapRaw(ctx, PROT_READ, MAP_SHARED, fd);
      if (!map) return { r, what: 'mmap(PROT_READ, MAP_SHARED) (before mprotect)' };
      return {
        r: __mprotect(map.addr, MATRIX_SIZE, PROT_READ | PROT_WRITE),
        what: 'mprotect(PROT_READ|PROT_WRITE) of a read-only MAP_SHARED mapping',
        verify: () => {
          map.bytes[7] = 0x22;
          expectBytes(fd, 7, Buffer.from([0x22]), 'a store after mprotect');
        },
      };
    },
  },
  {
    name: 'mmap_private_rw',
    refusedBy: 0,
    errno: 'EPERM',
    run(ctx, fd) {
      const { r, map } = mapRaw(ctx, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
      return {
        r,
        what: 'mmap(PROT_READ|PROT_WRITE, MAP_PRIVATE)',
        verify: () => {
          (map as Mapping).bytes[9] = 0x33;
          expectEq((map as Mapping).bytes[9], 0x33, 'the private copy holds the store');
          expectBytes(fd, 9, Buffer.from([FILL]), 'the file after a store to a MAP_PRIVATE copy');
        },
      };
    },
  },
  {
    name: 'ftruncate_grow',
    refusedBy: F_SEAL_GROW,
    errno: 'EPERM',
    run(_ctx, fd) {
      return {
        r: __ftruncate(fd, 2 * MATRIX_SIZE),
        what: `ftruncate(${2 * MATRIX_SIZE}) (grow)`,
        verify: () => expectSize(fd, 2 * MATRIX_SIZE, 'after growing'),
      };
    },
  },
  {
    name: 'ftruncate_shrink',
    refusedBy: F_SEAL_SHRINK,
    errno: 'EPERM',
    run(_ctx, fd) {
      return {
        r: __ftruncate(fd, PAGE),
        what: `ftruncate(${PAGE}) (shrink)`,
        verify: () => expectSize(fd, PAGE, 'after shrinking'),
      };
    },
  },
  {
    name: 'ftruncate_same_size',
    refusedBy: 0,
    errno: 'EPERM',
    run(_ctx, fd) {
      return {
        r: __ftruncate(fd, MATRIX_SIZE),
        what: `ftruncate(${MATRIX_SIZE}) (the current size)`,
        verify: () => expectSize(fd, MATRIX_SIZE, 'after ftruncate to the same size'),
      };
    },
  },
  {
    name: 'open_o_trunc',
    refusedBy: F_SEAL_SHRINK,
    errno: 'EPERM',
    run(ctx, fd) {
      const r = __open(`/proc/self/fd/${fd}`, O_RDWR | O_TRUNC);
      if (r.ret >= 0) ctx.trackFd(r.ret);
      return { r, what: 'open(/proc/self/fd/N, O_RDWR|O_TRUNC)', verify: () => expectSize(fd, 0, 'after O_TRUNC') };
    },
  },
  {
    name: 'fallocate_within',
    refusedBy: 0,
    errno: 'EPERM',
    run(_ctx, fd) {
      return {
        r: __fallocate(fd, 0, 0, MATRIX_SIZE),
        what: `fallocate(0, 0, ${MATRIX_SIZE}) (inside the file)`,
        verify: () => expectBytes(fd, 0, Buffer.alloc(16, FILL), 'data after fallocate inside the file'),
      };
    },
  },
  {
    name: 'fallocate_grow',
    refusedBy: F_SEAL_GROW,
    errno: 'EPERM',
    run(_ctx, fd) {
      return {
        r: __fallocate(fd, 0, MATRIX_SIZE, PAGE),
        what: `fallocate(0, ${MATRIX_SIZE}, ${PAGE}) (beyond EOF)`,
        verify: () => expectSize(fd, MATRIX_SIZE + PAGE, 'after fallocate beyond EOF'),
      };
    },
  },
  {
    name: 'fallocate_keep_size_beyond',
    refusedBy: F_SEAL_GROW,
    errno: 'EPERM',
    run(_ctx, fd) {
      return {
        r: __fallocate(fd, FALLOC_FL_KEEP_SIZE, MATRIX_SIZE, PAGE),
        what: `fallocate(KEEP_SIZE, ${MATRIX_SIZE}, ${PAGE}) (beyond EOF)`,
        verify: () => expectSize(fd, MATRIX_SIZE, 'after KEEP_SIZE fallocate'),
      };
    },
  },
  {
    name: 'punch_hole',
    refusedBy: F_SEAL_WRITE | F_SEAL_FUTURE_WRITE,
    errno: 'EPERM',
    run(_ctx, fd) {
      return {
        r: __fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PAGE, PAGE),
        what: `fallocate(PUNCH_HOLE|KEEP_SIZE, ${PAGE}, ${PAGE})`,
        verify: () => {
          expectBytes(fd, PAGE, Buffer.alloc(16), 'the punched page');
          expectSize(fd, MATRIX_SIZE, 'after punching');
        },
      };
    },
  },
  {
    name: 'add_more_seals',
    refusedBy: F_SEAL_SEAL,
    errno: 'EPERM',
    run(_ctx, fd) {
      const before = getSeals(fd);
      const more = F_SEAL_SHRINK | F_SEAL_GROW;
      return {
        r: __addSeals(fd, more),
        what: 'F_ADD_SEALS(SHRINK|GROW)',
        verify: () => expectSeals(fd, before | more, 'after adding SHRINK|GROW'),
      };
    },
  },
  {
    name: 'fchmod_exec_bit',
    refusedBy: F_SEAL_EXEC,
    errno: 'EPERM',
    run(_ctx, fd) {
      const mode = modeOf(fd) ^ 0o100;
      return {
        r: __fchmod(fd, mode),
        what: `fchmod(${octal(mode)}) (toggles the owner exec bit)`,
        verify: () => expectEq(modeOf(fd), mode, 'mode after fchmod'),
      };
    },
  },
  {
    name: 'fchmod_other_bits',
    refusedBy: 0,
    errno: 'EPERM',
    run(_ctx, fd) {
      const mode = modeOf(fd) ^ 0o040;
      return {
        r: __fchmod(fd, mode),
        what: `fchmod(${octal(mode)}) (toggles group read, no exec bit)`,
        verify: () => expectEq(modeOf(fd), mode, 'mode after fchmod'),
      };
    },
  },
];

/** A row of the seal matrix: the seal applied, the mode of the file before it, the seals that result. */
export interface SealRow {
  /** Case id segment. */ name: string;
  /** Seal passed to F_ADD_SEALS. */ seal: number;
  /** Mode set before sealing. */ mode: number;
  /** Seals F_GET_SEALS reports afterwards (F_SEAL_EXEC on an executable file adds write seals). */ effective: number;
  /** Row needs the 6.3 exec API. */ needsExecApi: boolean;
  /** Sentence for the case doc. */ doc: string;
}

/** The seal matrix rows: each seal alone, and F_SEAL_EXEC on a file with and without exec bits. */
export const SEAL_ROWS: readonly SealRow[] = [
  {
    name: 'seal',
    seal: F_SEAL_SEAL,
    mode: 0o600,
    effective: F_SEAL_SEAL,
    needsExecApi: false,
    doc: 'F_SEAL_SEAL refuses only further F_ADD_SEALS',
  },
  {
    name: 'shrink',
    seal: F_SEAL_SHRINK,
    mode: 0o600,
    effective: F_SEAL_SHRINK,
    needsExecApi: false,
    doc: 'F_SEAL_SHRINK refuses every size reduction (ftruncate, O_TRUNC)',
  },
  {
    name: 'grow',
    seal: F_SEAL_GROW,
    mode: 0o600,
    effective: F_SEAL_GROW,
    needsExecApi: false,
    doc: 'F_SEAL_GROW refuses every size increase (ftruncate, writes and fallocate beyond EOF, even KEEP_SIZE)',
  },
  {
    name: 'write',
    seal: F_SEAL_WRITE,
    mode: 0o600,
    effective: F_SEAL_WRITE,
    needsExecApi: false,
    doc: 'F_SEAL_WRITE refuses writes, writable shared mappings and hole punching, not resizing',
  },
  {
    name: 'future_write',
    seal: F_SEAL_FUTURE_WRITE,
    mode: 0o600,
    effective: F_SEAL_FUTURE_WRITE,
    needsExecApi: false,
    doc: 'F_SEAL_FUTURE_WRITE refuses new writes and writable shared mappings like F_SEAL_WRITE',
  },
  {
    name: 'exec',
    seal: F_SEAL_EXEC,
    mode: 0o600,
    effective: F_SEAL_EXEC,
    needsExecApi: true,
    doc: 'F_SEAL_EXEC on a file without exec bits refuses only exec-bit changes',
  },
  {
    name: 'exec_on_executable',
    seal: F_SEAL_EXEC,
    mode: 0o700,
    effective: F_SEAL_EXEC | SEAL_EXEC_IMPLIES,
    needsExecApi: true,
    doc: 'F_SEAL_EXEC on a file with an exec bit also applies SHRINK|GROW|WRITE|FUTURE_WRITE (W^X) and refuses all of their operations',
  },
];

/** The outcome the contract gives an operation on a file carrying the given seals: 'OK' or an errno name. */
export function sealOutcome(effective: number, op: SealOp): string {
  return effective & op.refusedBy ? op.errno : 'OK';
}

/** Observes outcome(r) and returns it; the common first line of a matrix assertion. */
export function observeOutcome(ctx: CaseContext<unknown>, r: RawResult): string {
  const got = outcome(r);
  ctx.observe('outcome', got);
  return got;
}

/** Host-side snapshot of a memfd: size and the first MATRIX_SIZE bytes, to prove a refused call changed nothing. */
export function snapshot(fd: number): { size: bigint; data: Buffer; seals: number; mode: number } {
  const st = fstat(fd);
  return { size: st.size, data: pread(fd, MATRIX_SIZE, 0), seals: Number(__getSeals(fd).ret), mode: st.mode & 0o7777 };
}

/** Expects a snapshot to be unchanged after a refused call. */
export function expectUnchanged(fd: number, before: ReturnType<typeof snapshot>, what: string): void {
  const after = snapshot(fd);
  expectEq(after.size, before.size, `${what} was refused but st_size changed`);
  if (!after.data.equals(before.data)) throw new CaseFailure(`${what} was refused but the file's bytes changed`);
  expectEq(after.seals, before.seals, `${what} was refused but the seals changed`);
  expectEq(after.mode, before.mode, `${what} was refused but the mode changed`);
}
// ---------------------------------------------------------------- the seal matrix on hugetlb backing

/** A hugetlb backing of the seal matrix: MFD_HUGE_* encoding and page size. */
export interface HugeBacking {
  /** Variant prefix, e.g. hugetlb_2m. */ name: string;
  /** MFD_HUGE_2MB / MFD_HUGE_1GB. */ encoding: number;
  /** Huge page size in kB. */ kb: number;
}

/** The huge page sizes the seal matrix runs on (each variant requires its hstate to exist). */
export const HUGE_BACKINGS: readonly HugeBacking[] = [
  { name: 'hugetlb_2m', encoding: MFD_HUGE_2MB, kb: 2048 },
  { name: 'hugetlb_1g', encoding: MFD_HUGE_1GB, kb: 1048576 },
];

/** Size of a hugetlb seal-matrix memfd, in huge pages (memfd_test.c's mfd_def_size in hugetlbfs mode). */
export const HUGE_MATRIX_PAGES = 2;

/** One operation of the seal matrix on a hugetlb memfd of HUGE_MATRIX_PAGES huge pages. */
export interface HugeSealOp {
  /** Name (the shmem op it mirrors). */ name: string;
  /** Seals that make the kernel refuse it. */ refusedBy: number;
  /** errno of a refusal. */ errno: string;
  /** Outcome when no seal refuses it: 'OK', or the errno hugetlbfs always gives (it has no write(2)). */ base: string;
  /** Huge pages the operation allocates when it succeeds (the variant then needs that many free). */ allocates: number;
  /** Performs it; `faultable` says whether free huge pages allow touching mappings to verify the effect. */
  run(ctx: CaseContext<unknown>, fd: number, huge: number, faultable: boolean): SealOpResult;
}

function hugeMap(
  ctx: CaseContext<unknown>,
  prot: number,
  flags: number,
  fd: number,
  huge: number,
): { r: RawResult; map?: Mapping } {
  // MAP_NORESERVE: no reservation at mmap time, so the mapping itself needs no free huge page.
  const len = HUGE_MATRIX_PAGES * huge;
  const r = __mmap(len, prot, flags | MAP_NORESERVE, fd, 0n);
  if (r.ret === -1n) return { r };
  return { r, map: ctx.track(new Mapping(r.ret, len)) };
}

/** The seal-matrix operations as hugetlbfs implements them (fs/hugetlbfs/inode.c, mm/memfd.c, mm/mmap.c). */
export const HUGE_SEAL_OPS: readonly HugeSealOp[] = [
  {
    name: 'write',
    refusedBy: 0,
    errno: 'EINVAL',
    base: 'EINVAL',
    allocates: 0,
    run: (_c, fd) => ({
      r: __pwrite(fd, Buffer.from('sealed?'), 0),
      what: 'pwrite of 7 bytes at offset 0 (hugetlbfs has no write_iter)',
    }),
  },
  {
    name: 'write_fd_offset',
    refusedBy: 0,
    errno: 'EINVAL',
    base: 'EINVAL',
    allocates: 0,
    run: (_c, fd) => ({
      r: __write(fd, Buffer.from('abc')),
      what: 'write(2) of 3 bytes (hugetlbfs has no write_iter)',
    }),
  },
  {
    name: 'pwrite_beyond_eof',
    refusedBy: 0,
    errno: 'EINVAL',
    base: 'EINVAL',
    allocates: 0,
    run: (_c, fd, huge) => ({
      r: __pwrite(fd, Buffer.from('grow'), HUGE_MATRIX_PAGES * huge),
      what: 'pwrite of 4 bytes at EOF (hugetlbfs has no write_iter)',
    }),
  },
  {
    name: 'mmap_shared_rw',
    refusedBy: F_SEAL_WRITE | F_SEAL_FUTURE_WRITE,
    errno: 'EPERM',
    base: 'OK',
    allocates: 0,
    run(ctx, fd, huge, faultable) {
      const { r, map } = hugeMap(ctx, PROT_READ | PROT_WRITE, MAP_SHARED, fd, huge);
      return {
        r,
        what: 'mmap(PROT_READ|PROT_WRITE, MAP_SHARED|MAP_NORESERVE)',
        verify: () => {
          if (faultable) {
            (map as Mapping).bytes[5] = 0x11;
            expectBytes(fd, 5, Buffer.from([0x11]), 'a store through the shared mapping');
          }
        },
      };
    },
  },
  {
    name: 'mmap_shared_ro',
    refusedBy: 0,
    errno: 'EPERM',
    base: 'OK',
    allocates: 0,
    run(ctx, fd, huge, faultable) {
      const { r, map } = hugeMap(ctx, PROT_READ, MAP_SHARED, fd, huge);
      return {
        r,
        what: 'mmap(PROT_READ, MAP_SHARED|MAP_NORESERVE)',
        verify: () => {
          if (faultable)
            expectBytes(
              fd,
              100,
              Buffer.from([(map as Mapping).bytes[100] as number]),
              'byte 100 read through the mapping',
            );
        },
      };
    },
  },
  {
    name: 'mprotect_write',
    refusedBy: F_SEAL_WRITE | F_SEAL_FUTURE_WRITE,
    errno: 'EACCES',
    base: 'OK',
    allocates: 0,
    run(ctx, fd, huge) {
      const { r, map } = hugeMap(ctx, PROT_READ, MAP_SHARED, fd, huge);
      if (!map) return { r, what: 'mmap(PROT_READ, MAP_SHARED|MAP_NORESERVE) (before mprotect)' };
      return {
        r: __mprotect(map.addr, HUGE_MATRIX_PAGES * huge, PROT_READ | PROT_WRITE),
        what: 'mprotect(PROT_READ|PROT_WRITE) of a read-only MAP_SHARED mapping',
      };
    },
  },
  {
    name: 'mmap_private_rw',
    refusedBy: 0,
    errno: 'EPERM',
    base: 'OK',
    allocates: 0,
    run: (ctx, fd, huge) => ({
      r: hugeMap(ctx, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, huge).r,
      what: 'mmap(PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_NORESERVE)',
    }),
  },
  {
    name: 'ftruncate_grow',
    refusedBy: F_SEAL_GROW,
    errno: 'EPERM',
    base: 'OK',
    allocates: 0,
    run: (_c, fd, huge) => ({
      r: __ftruncate(fd, 2 * HUGE_MATRIX_PAGES * huge),
      what: 'ftruncate to twice the size (grow)',
      verify: () => expectSize(fd, 2 * HUGE_MATRIX_PAGES * huge, 'after growing'),
    }),
  },
  {
    name: 'ftruncate_shrink',
    refusedBy: F_SEAL_SHRINK,
    errno: 'EPERM',
    base: 'OK',
    allocates: 0,
    run: (_c, fd, huge) => ({
      r: __ftruncate(fd, huge),
      what: 'ftruncate to one huge page (shrink)',
      verify: () => expectSize(fd, huge, 'after shrinking'),
    }),
  },
  {
    name: 'ftruncate_same_size',
    refusedBy: 0,
    errno: 'EPERM',
    base: 'OK',
    allocates: 0,
    run: (_c, fd, huge) => ({ r: __ftruncate(fd, HUGE_MATRIX_PAGES * huge), what: 'ftruncate to the current size' }),
  },
  {
    name: 'open_o_trunc',
    refusedBy: F_SEAL_SHRINK,
    errno: 'EPERM',
    base: 'OK',
    allocates: 0,
    run(ctx, fd) {
      const r = __open(`/proc/self/fd/${fd}`, O_RDWR | O_TRUNC);
      if (r.ret >= 0) ctx.trackFd(r.ret);
      return { r, what: 'open(/proc/self/fd/N, O_RDWR|O_TRUNC)', verify: () => expectSize(fd, 0, 'after O_TRUNC') };
    },
  },
  {
    name: 'fallocate_within',
    refusedBy: 0,
    errno: 'EPERM',
    base: 'OK',
    allocates: HUGE_MATRIX_PAGES,
    run: (_c, fd, huge) => ({
      r: __fallocate(fd, 0, 0, HUGE_MATRIX_PAGES * huge),
      what: 'fallocate over the whole file',
    }),
  },
  {
    name: 'fallocate_grow',
    refusedBy: F_SEAL_GROW,
    errno: 'EPERM',
    base: 'OK',
    allocates: 1,
    run: (_c, fd, huge) => ({
      r: __fallocate(fd, 0, HUGE_MATRIX_PAGES * huge, huge),
      what: 'fallocate of one huge page beyond EOF',
      verify: () => expectSize(fd, (HUGE_MATRIX_PAGES + 1) * huge, 'after fallocate beyond EOF'),
    }),
  },
  {
    name: 'fallocate_keep_size_beyond',
    refusedBy: F_SEAL_GROW,
    errno: 'EPERM',
    base: 'OK',
    allocates: 1,
    run: (_c, fd, huge) => ({
      r: __fallocate(fd, FALLOC_FL_KEEP_SIZE, HUGE_MATRIX_PAGES * huge, huge),
      what: 'fallocate(KEEP_SIZE) of one huge page beyond EOF',
      verify: () => expectSize(fd, HUGE_MATRIX_PAGES * huge, 'after KEEP_SIZE fallocate'),
    }),
  },
  {
    name: 'punch_hole',
    refusedBy: F_SEAL_WRITE | F_SEAL_FUTURE_WRITE,
    errno: 'EPERM',
    base: 'OK',
    allocates: 0,
    run: (_c, fd, huge) => ({
      r: __fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, huge, huge),
      what: 'fallocate(PUNCH_HOLE|KEEP_SIZE) of the second huge page',
      verify: () => expectSize(fd, HUGE_MATRIX_PAGES * huge, 'after punching'),
    }),
  },
  {
    name: 'add_more_seals',
    refusedBy: F_SEAL_SEAL,
    errno: 'EPERM',
    base: 'OK',
    allocates: 0,
    run(_c, fd) {
      const before = getSeals(fd);
      const more = F_SEAL_SHRINK | F_SEAL_GROW;
      return {
        r: __addSeals(fd, more),
        what: 'F_ADD_SEALS(SHRINK|GROW)',
        verify: () => expectSeals(fd, before | more, 'after adding SHRINK|GROW'),
      };
    },
  },
  {
    name: 'fchmod_exec_bit',
    refusedBy: F_SEAL_EXEC,
    errno: 'EPERM',
    base: 'OK',
    allocates: 0,
    run(_c, fd) {
      const mode = modeOf(fd) ^ 0o100;
      return {
        r: __fchmod(fd, mode),
        what: `fchmod(${octal(mode)}) (toggles the owner exec bit)`,
        verify: () => expectEq(modeOf(fd), mode, 'mode after fchmod'),
      };
    },
  },
  {
    name: 'fchmod_other_bits',
    refusedBy: 0,
    errno: 'EPERM',
    base: 'OK',
    allocates: 0,
    run(_c, fd) {
      const mode = modeOf(fd) ^ 0o040;
      return {
        r: __fchmod(fd, mode),
        what: `fchmod(${octal(mode)}) (toggles group read, no exec bit)`,
        verify: () => expectEq(modeOf(fd), mode, 'mode after fchmod'),
      };
    },
  },
];

/** The outcome the contract gives a hugetlb operation on a file carrying the given seals. */
export function hugeSealOutcome(effective: number, op: HugeSealOp): string {
  return effective & op.refusedBy ? op.errno : op.base;
}

/**
 * An unsealed MFD_ALLOW_SEALING|MFD_HUGETLB memfd of HUGE_MATRIX_PAGES huge pages with the given mode. Its pages are
 * filled with FILL only when `fill` (that faults them in, so it needs free huge pages); otherwise they stay holes.
 */
export function sealableHugeMemfd(ctx: CaseContext<unknown>, b: HugeBacking, mode: number, fill: boolean): number {
  const r = __memfdCreate(uniqueName('hseal'), (MFD_ALLOW_SEALING | MFD_HUGETLB | b.encoding) >>> 0);
  const fd = ctx.trackFd(Number(expectOk(r, `memfd_create(MFD_ALLOW_SEALING|MFD_HUGETLB|${b.name})`)));
  const initial = getSeals(fd);
  if (initial !== 0)
    ctx.skip(
      `a new MFD_ALLOW_SEALING hugetlb memfd already carries ${sealText(initial)} (vm.memfd_noexec=${hostMemfdNoexec()} in this pid namespace); the seal cases need an unsealed memfd`,
    );
  expectOk(__fchmod(fd, mode), `fchmod(${octal(mode)}) before sealing`);
  const len = HUGE_MATRIX_PAGES * b.kb * 1024;
  expectOk(__ftruncate(fd, len), `ftruncate(${len})`);
  if (fill) {
    const m = ctx.track(
      new Mapping(expectOk(__mmap(len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n), 'mmap to fill'), len),
    );
    m.bytes.fill(FILL);
    m.close();
  }
  return fd;
}
