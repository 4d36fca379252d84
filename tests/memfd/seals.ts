/**
 * memfd.seals: the seal × operation matrix, F_ADD_SEALS argument checking, and how seals travel with the inode.
 *
 * Kernel checks: F_ADD_SEALS / F_GET_SEALS (mm/memfd.c memfd_fcntl, memfd_add_seals, memfd_get_seals;
 * read in 7.2.13 and 7.3-rc7, measured on 6.18 and 6.1.176)
 *   1. fd not open for writing (FMODE_WRITE) → EPERM | refused: memfd.seals.rdonly_fd_cannot_add | accepted: memfd.seals.shared_through_proc_reopen
 *   2. a bit outside F_ALL_SEALS → EINVAL | refused: memfd.seals.unknown_bits | accepted: memfd.seals.all_seals_at_once
 *   3. the arg is an unsigned int since 6.4: bits 32..63 are dropped | refused: n/a (nothing above bit 31 reaches the check) | accepted: memfd.seals.upper_32_bits
 *   4. not a shmem/hugetlbfs file (no seals pointer) → EINVAL | refused: memfd.seals.other_files@dev_null | accepted: memfd.seals.other_files@shmem_tmpfile
 *   5. F_SEAL_SEAL already set → EPERM | refused: memfd.seals.seal_seal_blocks_every_seal@shrink | accepted: memfd.seals.add_zero_and_repeat
 *   6. memfd without MFD_ALLOW_SEALING carries F_SEAL_SEAL → EPERM | refused: memfd.seals.without_allow_sealing | accepted: memfd.create.flags@allow_sealing
 *   7. F_SEAL_WRITE while a writable shared mapping exists → EBUSY | refused: memfd.seals.write_with_existing_mapping@shared_rw | accepted: memfd.seals.write_with_existing_mapping@shared_rw_unmapped
 *   8. F_SEAL_WRITE while pages are pinned (memfd_wait_for_pins) → EBUSY | refused: memfd.seals.write_while_pinned@shmem | accepted: memfd.seals.write_with_existing_mapping@private_rw
 *   9. the order of checks 1, 2, 5, 7 | refused: memfd.seals.check_order@rdonly_fd_unknown_bit | accepted: n/a (each variant makes two checks fail)
 * Kernel checks: sealed operations (mm/shmem.c shmem_setattr, shmem_fallocate, shmem_file_write_iter via
 * file_remove_privs/generic_write_checks, mm/memfd.c memfd_check_seals_mmap, fs/hugetlbfs/inode.c; read in 7.2.13
 * and 7.3-rc7)
 *   1. F_SEAL_WRITE/FUTURE_WRITE: write → EPERM | refused: memfd.seals.write@write | accepted: memfd.seals.shrink@write
 *   2. F_SEAL_WRITE: writable MAP_SHARED mmap → EPERM | refused: memfd.seals.write@mmap_shared_rw | accepted: memfd.seals.write@mmap_private_rw
 *   3. F_SEAL_WRITE: mprotect(PROT_WRITE) of a read-only shared mapping → EACCES (6.7+) | refused: memfd.seals.write@mprotect_write | accepted: memfd.seals.grow@mprotect_write
 *   4. F_SEAL_GROW: size increase (ftruncate, fallocate, write beyond EOF) → EPERM | refused: memfd.seals.grow@ftruncate_grow | accepted: memfd.seals.grow@ftruncate_shrink
 *   5. F_SEAL_SHRINK: size decrease (ftruncate, O_TRUNC) → EPERM | refused: memfd.seals.shrink@ftruncate_shrink | accepted: memfd.seals.shrink@ftruncate_grow
 *   6. F_SEAL_EXEC: a mode change of the exec bits → EPERM | refused: memfd.seals.exec@fchmod_exec_bit | accepted: memfd.seals.exec@fchmod_other_bits
 *   7. F_SEAL_GROW on hugetlbfs against mmap growth (hugetlbfs_file_mmap) | refused: memfd.seals.grow_by_mmap@hugetlb_2m_shared_rw | accepted: memfd.seals.grow_by_mmap@hugetlb_2m_shared_ro
 */
import { __pipe2 } from '../../lib/sys/fd.js';
import { defineCase, type CaseDef } from '../../lib/harness/case.js';
import { expectFinished, ProbeProgram, resultOf, runProgram, type StepValue } from '../../lib/harness/probe-program.js';
import type { RawResult } from '../../lib/sys/errors.js';
import type { CaseContext } from '../../lib/harness/context.js';
import { expectErrno, expectEq, expectOk, expectTrue, outcome, outcomeName } from '../../lib/harness/expect.js';
import { addSeals, __addSeals, __getSeals } from '../../lib/sys/fcntl.js';
import { __open, __dup, fstat } from '../../lib/sys/fd.js';
import { __ftruncate, __pwrite, ftruncate, pread, pwrite } from '../../lib/sys/io.js';
import { __mmap, __mprotect, Mapping } from '../../lib/sys/mman.js';
import { socketpair, sendFds, recvFds } from '../../lib/sys/socket.js';
import { syscall } from '../../lib/ffi/libc.js';
import {
  F_ADD_SEALS,
  F_GET_SEALS,
  F_SEAL_EXEC,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  MAP_PRIVATE,
  MAP_SHARED,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  MFD_HUGETLB,
  O_CLOEXEC,
  O_RDONLY,
  O_RDWR,
  O_TMPFILE,
  O_WRONLY,
  PROT_READ,
  PROT_WRITE,
  SYSCALL,
} from '../../lib/uapi/index.js';
import type { ErrnoName } from '../../lib/uapi/index.js';
import {
  ALL_SEALS,
  NEEDS_HUGETLBFS,
  NEEDS_MEMFD_EXEC_API,
  expectSeals,
  newMemfd,
  octal,
  requireDefaultExecPolicy,
  sealText,
} from '../../lib/cases/memfd.js';
import {
  HUGE_BACKINGS,
  HUGE_MATRIX_PAGES,
  HUGE_SEAL_OPS,
  MATRIX_SIZE,
  hugeSealOutcome,
  sealableHugeMemfd,
  SEAL_OPS,
  SEAL_ROWS,
  expectUnchanged,
  observeOutcome,
  sealOutcome,
  sealableMemfd,
  snapshot,
  type SealRow,
} from '../../lib/cases/memfd-seal-matrix.js';
import {
  availableHugepages,
  hugepageDir,
  defaultHugepageKb,
  hugepagePoolText,
} from '../../lib/cases/memfd-hugepages.js';

/** Parameters of one cell of the seal matrix. */
interface CellParams {
  /** SEAL_OPS (or HUGE_SEAL_OPS) name. */ op: string;
  /** 'OK' or the errno the contract gives this cell (a fixture may override it per kernel). */ outcome: string;
  /** HUGE_BACKINGS name for the hugetlb variants; absent on shmem. */ backing?: string;
}

/** The hugetlb variants of a row: every HUGE_SEAL_OPS operation on each huge page size the machine has. */
function hugeVariants(row: SealRow) {
  return HUGE_BACKINGS.flatMap((b) =>
    HUGE_SEAL_OPS.map((op) => ({
      name: `${b.name}_${op.name}`,
      params: { op: op.name, outcome: hugeSealOutcome(row.effective, op), backing: b.name },
      requires: { files: [hugepageDir(b.kb), ...(row.needsExecApi ? (NEEDS_MEMFD_EXEC_API.files ?? []) : [])] },
    })),
  );
}

/** One hugetlb cell: like the shmem body, on a two-huge-page file that is faulted in only where free huge pages allow. */
function runHugeCell(ctx: CaseContext<CellParams>, row: SealRow): void {
  const b = HUGE_BACKINGS.find((x) => x.name === ctx.params.backing);
  const op = HUGE_SEAL_OPS.find((o) => o.name === ctx.params.op);
  if (!b || !op) throw new Error(`unknown hugetlb cell ${ctx.params.backing}/${ctx.params.op}`);
  const huge = b.kb * 1024;
  const free = availableHugepages(b.kb);
  const want = outcomeName(ctx.expected<string>('outcome', ctx.params.outcome), ['OK']);
  if (want === 'OK' && op.allocates > 0 && free < op.allocates)
    ctx.skip(
      `needs ${op.allocates} free ${b.kb} kB huge page(s) for the allocation to succeed, ${free} available (${hugepagePoolText(b.kb)})`,
    );
  const faultable = free >= HUGE_MATRIX_PAGES + op.allocates;
  if (!faultable)
    ctx.note(
      `no free ${b.kb} kB huge pages to fault: the file stays a hole and stores through mappings are not verified`,
    );
  const fd = sealableHugeMemfd(ctx, b, row.mode, faultable);
  addSeals(fd, row.seal);
  expectSeals(fd, row.effective, `F_ADD_SEALS(${sealText(row.seal)}) on a ${octal(row.mode)} hugetlb file`);
  const before = snapshot(fd);
  const res = op.run(ctx, fd, huge, faultable);
  observeOutcome(ctx, res.r);
  const what = `${res.what} on a ${b.name} file sealed ${sealText(row.effective)}`;
  judgeSealedOp(res, want, what, fd, before);
}

/** The memfd_test.c functions each matrix row covers (the exec row on a 0600 file has no selftest counterpart). */
/** The verdict of one operation on a sealed file: success (and its own check), or the errno with the file unchanged. */
function judgeSealedOp(
  res: { r: Parameters<typeof expectOk>[0]; what: string; verify?: () => void },
  want: 'OK' | ErrnoName,
  what: string,
  fd: number,
  before: ReturnType<typeof snapshot>,
): void {
  if (want === 'OK') {
    expectOk(res.r, what);
    res.verify?.();
  } else {
    expectErrno(res.r, want, what);
    expectUnchanged(fd, before, res.what);
  }
}

const ROW_SELFTESTS: Record<string, readonly string[]> = {
  seal: ['memfd_test.c:test_basic'],
  shrink: ['memfd_test.c:test_seal_shrink'],
  grow: ['memfd_test.c:test_seal_grow'],
  write: ['memfd_test.c:test_seal_write', 'memfd_test.c:test_seal_write_map_read_shared'],
  future_write: ['memfd_test.c:test_seal_future_write'],
  exec_on_executable: ['memfd_test.c:test_exec_seal'],
};

function matrixRow(row: SealRow): CaseDef<CellParams> {
  return defineCase<CellParams>({
    id: `memfd.seals.${row.name}`,
    doc: `${row.doc}; one variant per operation on shmem and on hugetlb (2 MiB, 1 GiB where the machine has it), each asserting success or the exact errno and that a refused call changed nothing`,
    ...(row.needsExecApi ? { requires: NEEDS_MEMFD_EXEC_API } : {}),
    tags: {
      ...(ROW_SELFTESTS[row.name] ? { selftest: ROW_SELFTESTS[row.name] } : {}),
      linuxGit: row.needsExecApi
        ? ['6fd7353829ca', 'c4f75bc8bd6b']
        : row.seal === F_SEAL_FUTURE_WRITE
          ? ['ab3948f58ff8']
          : ['40e041a2c858'],
    },
    variants: [
      ...SEAL_OPS.map((op) => ({ name: op.name, params: { op: op.name, outcome: sealOutcome(row.effective, op) } })),
      ...hugeVariants(row),
    ],
    run(ctx) {
      if (ctx.params.backing) {
        runHugeCell(ctx, row);
        return;
      }
      const op = SEAL_OPS.find((o) => o.name === ctx.params.op);
      if (!op) throw new Error(`unknown seal op ${ctx.params.op}`);
      const fd = sealableMemfd(ctx, row.mode);
      addSeals(fd, row.seal);
      expectSeals(fd, row.effective, `F_ADD_SEALS(${sealText(row.seal)}) on a ${octal(row.mode)} file`);
      const before = snapshot(fd);
      const res = op.run(ctx, fd);
      observeOutcome(ctx, res.r);
      const want = outcomeName(ctx.expected<string>('outcome', ctx.params.outcome), ['OK']);
      const what = `${res.what} on a file sealed ${sealText(row.effective)}`;
      judgeSealedOp(res, want, what, fd, before);
    },
  });
}

const matrix = SEAL_ROWS.map(matrixRow);

const SEALS_AFTER_SEAL: [string, number][] = [
  ['none', 0],
  ['seal', F_SEAL_SEAL],
  ['shrink', F_SEAL_SHRINK],
  ['grow', F_SEAL_GROW],
  ['write', F_SEAL_WRITE],
  ['future_write', F_SEAL_FUTURE_WRITE],
  ['exec', F_SEAL_EXEC],
];

// Before 6.3 F_SEAL_EXEC is an unknown bit, refused with EINVAL before F_SEAL_SEAL is looked at, so that variant
// needs the exec API (memfd.seals.unknown_bits covers the order of the two checks).
const sealSealBlocksAll = defineCase<{ seal: number }>({
  id: 'memfd.seals.seal_seal_blocks_every_seal',
  doc: 'after F_SEAL_SEAL, F_ADD_SEALS fails with EPERM for every seal bit and for 0, and the mask stays F_SEAL_SEAL',
  tags: { selftest: 'memfd_test.c:test_basic' },
  variants: SEALS_AFTER_SEAL.map(([name, seal]) => ({
    name,
    params: { seal },
    ...(seal === F_SEAL_EXEC ? { requires: NEEDS_MEMFD_EXEC_API } : {}),
  })),
  run(ctx) {
    const fd = sealableMemfd(ctx, 0o600);
    addSeals(fd, F_SEAL_SEAL);
    const seal = ctx.params.seal;
    const r = __addSeals(fd, seal);
    ctx.observe('outcome', outcome(r));
    expectErrno(r, 'EPERM', `F_ADD_SEALS(${sealText(seal)}) after F_SEAL_SEAL`);
    expectSeals(fd, F_SEAL_SEAL, 'after the refused addition');
  },
});

// memfd_add_seals() checks, in this order: FMODE_WRITE (EPERM), unknown bits (EINVAL), a memfd at all (EINVAL),
// F_SEAL_SEAL (EPERM), then F_SEAL_WRITE against writable mappings (EBUSY). Each variant makes two checks fail at once
// and asserts the errno of the earlier one.
const CHECK_ORDER: [string, string, string][] = [
  ['rdonly_fd_unknown_bit', 'EPERM', 'an O_RDONLY fd and bit 6: FMODE_WRITE is checked first'],
  ['sealed_unknown_bit', 'EINVAL', 'F_SEAL_SEAL already set and bit 6: the bit mask is checked before F_SEAL_SEAL'],
  [
    'sealed_write_with_mapping',
    'EPERM',
    'F_SEAL_SEAL set and F_SEAL_WRITE under a writable mapping: F_SEAL_SEAL before EBUSY',
  ],
];

const checkOrder = defineCase<{ kind: string; errno: string; what: string }>({
  id: 'memfd.seals.check_order',
  doc: "when two of F_ADD_SEALS's checks fail at once the earlier one decides: O_RDONLY before unknown bits, unknown bits before F_SEAL_SEAL, F_SEAL_SEAL before a writable mapping",
  tags: { kernelFn: 'memfd.c:memfd_add_seals' },
  variants: CHECK_ORDER.map(([kind, errno, what]) => ({ name: kind, params: { kind, errno, what } })),
  run(ctx) {
    const p = ctx.params;
    const fd = sealableMemfd(ctx, 0o600);
    let target = fd;
    let seal = 1 << 6;
    if (p.kind === 'rdonly_fd_unknown_bit') {
      target = ctx.trackFd(Number(expectOk(__open(`/proc/self/fd/${fd}`, O_RDONLY | O_CLOEXEC), 'open O_RDONLY')));
    } else if (p.kind === 'sealed_unknown_bit') {
      addSeals(fd, F_SEAL_SEAL);
    } else {
      const m = __mmap(MATRIX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
      ctx.track(new Mapping(expectOk(m, 'mmap(PROT_READ|PROT_WRITE, MAP_SHARED)'), MATRIX_SIZE));
      addSeals(fd, F_SEAL_SEAL);
      seal = F_SEAL_WRITE;
    }
    const r = syscall(SYSCALL.fcntl, target, F_ADD_SEALS, seal);
    ctx.observe('outcome', outcome(r));
    expectErrno(r, outcomeName(p.errno, []), `F_ADD_SEALS(${sealText(seal)}) with ${p.what}`);
  },
});

const withoutAllowSealing = defineCase({
  id: 'memfd.seals.without_allow_sealing',
  doc: 'a memfd created without MFD_ALLOW_SEALING reports F_SEAL_SEAL and refuses every F_ADD_SEALS with EPERM',
  tags: { selftest: 'memfd_test.c:test_basic' },
  run(ctx) {
    requireDefaultExecPolicy(ctx);
    const fd = newMemfd(ctx, 0, 'nosealing');
    expectSeals(fd, F_SEAL_SEAL, 'initial seals');
    for (const seal of [
      F_SEAL_SHRINK,
      F_SEAL_GROW,
      F_SEAL_WRITE,
      F_SEAL_FUTURE_WRITE,
      F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE,
      0,
    ])
      expectErrno(__addSeals(fd, seal), 'EPERM', `F_ADD_SEALS(${sealText(seal)}) without MFD_ALLOW_SEALING`);
    expectSeals(fd, F_SEAL_SEAL, 'after the refused additions');
  },
});

const unknownBits = defineCase({
  id: 'memfd.seals.unknown_bits',
  doc: 'F_ADD_SEALS with any bit outside F_ALL_SEALS (bits 6..31) fails with EINVAL and adds nothing, even together with a valid seal',
  run(ctx) {
    const fd = sealableMemfd(ctx, 0o600);
    for (let bit = 6; bit < 32; bit++) {
      const v = (1 << bit) >>> 0;
      expectErrno(syscall(SYSCALL.fcntl, fd, F_ADD_SEALS, v), 'EINVAL', `F_ADD_SEALS(0x${v.toString(16)})`);
      expectErrno(
        syscall(SYSCALL.fcntl, fd, F_ADD_SEALS, (v | F_SEAL_GROW) >>> 0),
        'EINVAL',
        `F_ADD_SEALS(GROW|0x${v.toString(16)})`,
      );
    }
    expectSeals(fd, 0, 'after the refused additions');
  },
});

const upperBits = defineCase({
  id: 'memfd.seals.upper_32_bits',
  doc: 'F_ADD_SEALS takes an int: bits 32..63 of the fcntl argument are ignored since 6.4 (were EINVAL), so 1<<32|GROW adds exactly GROW',
  tags: { linuxGit: ['f7b8f70ba44f'] },
  expect: { upper: 'ignored' },
  run(ctx) {
    const fd = sealableMemfd(ctx, 0o600);
    const r = syscall(SYSCALL.fcntl, fd, F_ADD_SEALS, (1n << 32n) | BigInt(F_SEAL_GROW));
    ctx.observe('outcome', outcome(r));
    const want = ctx.expected<'ignored' | ErrnoName>('upper');
    if (want === 'ignored') {
      expectOk(r, 'F_ADD_SEALS(1<<32 | GROW) through the raw syscall');
      expectSeals(fd, F_SEAL_GROW, 'after F_ADD_SEALS(1<<32 | GROW)');
    } else {
      expectErrno(r, want, 'F_ADD_SEALS(1<<32 | GROW) through the raw syscall');
      expectSeals(fd, 0, 'after the refused F_ADD_SEALS');
    }
  },
});

const addZero = defineCase({
  id: 'memfd.seals.add_zero_and_repeat',
  doc: 'F_ADD_SEALS(0) succeeds and changes nothing; adding a seal twice succeeds; seals accumulate (never removed)',
  run(ctx) {
    const fd = sealableMemfd(ctx, 0o600);
    expectOk(__addSeals(fd, 0), 'F_ADD_SEALS(0)');
    expectSeals(fd, 0, 'after F_ADD_SEALS(0)');
    expectOk(__addSeals(fd, F_SEAL_SHRINK), 'F_ADD_SEALS(SHRINK)');
    expectOk(__addSeals(fd, F_SEAL_SHRINK), 'F_ADD_SEALS(SHRINK) again');
    expectOk(__addSeals(fd, F_SEAL_GROW), 'F_ADD_SEALS(GROW)');
    expectSeals(fd, F_SEAL_SHRINK | F_SEAL_GROW, 'SHRINK then GROW');
    expectOk(__addSeals(fd, F_SEAL_SHRINK | F_SEAL_WRITE | F_SEAL_SEAL), 'F_ADD_SEALS(SHRINK|WRITE|SEAL)');
    expectSeals(fd, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL, 'after the combined addition');
  },
});

const allAtOnce = defineCase({
  id: 'memfd.seals.all_seals_at_once',
  doc: 'F_ADD_SEALS(F_ALL_SEALS) on an unmapped memfd succeeds and F_GET_SEALS returns all six seals',
  requires: NEEDS_MEMFD_EXEC_API,
  run(ctx) {
    const fd = sealableMemfd(ctx, 0o600);
    addSeals(fd, ALL_SEALS);
    expectSeals(fd, ALL_SEALS, 'after F_ADD_SEALS(all)');
  },
});

/** A non-memfd file for F_ADD_SEALS/F_GET_SEALS. */
interface OtherFileParams {
  /** How to open it; returns the fds to close and the one to test. */ kind:
    | 'dev_null'
    | 'dev_null_rdonly'
    | 'pipe_write_end'
    | 'pipe_read_end'
    | 'socket'
    | 'shmem_tmpfile';
  /** Expected F_ADD_SEALS errno. */ add: ErrnoName;
  /** Expected F_GET_SEALS outcome: an errno, or a seal mask as a number. */ get: ErrnoName | number;
}

const otherFiles = defineCase<OtherFileParams>({
  id: 'memfd.seals.other_files',
  doc: 'F_ADD_SEALS/F_GET_SEALS on files that are not memfds: EINVAL on non-shmem files (EPERM first when not open for writing); a plain shmem file carries F_SEAL_SEAL',
  variants: [
    { name: 'dev_null', params: { kind: 'dev_null', add: 'EINVAL', get: 'EINVAL' } },
    { name: 'dev_null_rdonly', params: { kind: 'dev_null_rdonly', add: 'EPERM', get: 'EINVAL' } },
    { name: 'pipe_write_end', params: { kind: 'pipe_write_end', add: 'EINVAL', get: 'EINVAL' } },
    { name: 'pipe_read_end', params: { kind: 'pipe_read_end', add: 'EPERM', get: 'EINVAL' } },
    { name: 'socket', params: { kind: 'socket', add: 'EINVAL', get: 'EINVAL' } },
    {
      name: 'shmem_tmpfile',
      params: { kind: 'shmem_tmpfile', add: 'EPERM', get: F_SEAL_SEAL },
      requires: { files: ['/dev/shm'] },
    },
  ],
  run(ctx) {
    let fd: number;
    switch (ctx.params.kind) {
      case 'dev_null':
        fd = ctx.trackFd(Number(expectOk(__open('/dev/null', O_RDWR | O_CLOEXEC), 'open /dev/null')));
        break;
      case 'dev_null_rdonly':
        fd = ctx.trackFd(Number(expectOk(__open('/dev/null', O_RDONLY | O_CLOEXEC), 'open /dev/null')));
        break;
      case 'pipe_write_end':
      case 'pipe_read_end': {
        const p = __pipe2(O_CLOEXEC);
        expectOk(p, 'pipe2');
        ctx.trackFd(p.fds[0]);
        ctx.trackFd(p.fds[1]);
        fd = ctx.params.kind === 'pipe_write_end' ? p.fds[1] : p.fds[0];
        break;
      }
      case 'socket': {
        const [a, b] = socketpair();
        ctx.trackFd(a);
        ctx.trackFd(b);
        fd = a;
        break;
      }
      case 'shmem_tmpfile': {
        const r = __open('/dev/shm', O_TMPFILE | O_RDWR | O_CLOEXEC, 0o600);
        if (r.ret < 0) ctx.skip(`O_TMPFILE on /dev/shm failed with ${outcome(r)} (not tmpfs here)`);
        fd = ctx.trackFd(r.ret);
        break;
      }
    }
    ctx.observe('add', outcome(__addSeals(fd, F_SEAL_SEAL)));
    expectErrno(__addSeals(fd, F_SEAL_SHRINK), ctx.params.add, `F_ADD_SEALS(SHRINK) on ${ctx.params.kind}`);
    const g = __getSeals(fd);
    if (typeof ctx.params.get === 'number')
      expectEq(
        Number(expectOk(g, `F_GET_SEALS on ${ctx.params.kind}`)),
        ctx.params.get,
        `F_GET_SEALS on ${ctx.params.kind}`,
      );
    else expectErrno(g, ctx.params.get, `F_GET_SEALS on ${ctx.params.kind}`);
  },
});

const rdonlyCannotAdd = defineCase({
  id: 'memfd.seals.rdonly_fd_cannot_add',
  doc: 'an O_RDONLY reopen of a memfd (/proc/self/fd/N) can read the seals but F_ADD_SEALS fails with EPERM; an O_WRONLY reopen can add them',
  tags: { selftest: 'memfd_test.c:test_share_open' },
  run(ctx) {
    const fd = sealableMemfd(ctx, 0o600);
    addSeals(fd, F_SEAL_SHRINK);
    const ro = ctx.trackFd(Number(expectOk(__open(`/proc/self/fd/${fd}`, O_RDONLY | O_CLOEXEC), 'open O_RDONLY')));
    expectSeals(ro, F_SEAL_SHRINK, 'F_GET_SEALS through the O_RDONLY fd');
    expectErrno(__addSeals(ro, F_SEAL_GROW), 'EPERM', 'F_ADD_SEALS(GROW) through an O_RDONLY fd');
    expectErrno(__addSeals(ro, F_SEAL_SEAL), 'EPERM', 'F_ADD_SEALS(SEAL) through an O_RDONLY fd');
    expectSeals(fd, F_SEAL_SHRINK, 'after the refused additions');
    const wo = ctx.trackFd(Number(expectOk(__open(`/proc/self/fd/${fd}`, O_WRONLY | O_CLOEXEC), 'open O_WRONLY')));
    expectOk(__addSeals(wo, F_SEAL_GROW), 'F_ADD_SEALS(GROW) through an O_WRONLY fd');
    expectSeals(fd, F_SEAL_SHRINK | F_SEAL_GROW, 'seals seen through the first fd');
  },
});

const throughDup = defineCase({
  id: 'memfd.seals.shared_through_dup',
  doc: 'seals added through a dup() are visible through the original fd and vice versa, and survive closing either',
  tags: { selftest: 'memfd_test.c:test_share_dup' },
  run(ctx) {
    const fd = sealableMemfd(ctx, 0o600);
    const d = ctx.trackFd(Number(expectOk(__dup(fd), 'dup')));
    addSeals(fd, F_SEAL_WRITE);
    expectSeals(d, F_SEAL_WRITE, 'dup after sealing the original');
    addSeals(d, F_SEAL_SHRINK);
    expectSeals(fd, F_SEAL_WRITE | F_SEAL_SHRINK, 'original after sealing the dup');
    addSeals(fd, F_SEAL_SEAL);
    expectErrno(__addSeals(d, F_SEAL_GROW), 'EPERM', 'F_ADD_SEALS(GROW) through the dup after F_SEAL_SEAL');
    expectErrno(__pwrite(d, Buffer.from('x'), 0), 'EPERM', 'pwrite through the dup');
  },
});

const throughProcReopen = defineCase({
  id: 'memfd.seals.shared_through_proc_reopen',
  doc: 'open("/proc/self/fd/N", O_RDWR) yields a new open file of the same inode: seals added through either are seen by both and bind writes through both',
  tags: { selftest: 'memfd_test.c:test_share_open' },
  run(ctx) {
    const fd = sealableMemfd(ctx, 0o600);
    const re = ctx.trackFd(
      Number(expectOk(__open(`/proc/self/fd/${fd}`, O_RDWR | O_CLOEXEC), 'open /proc/self/fd/N O_RDWR')),
    );
    expectEq(fstat(re).ino, fstat(fd).ino, 'inode of the reopened fd');
    addSeals(fd, F_SEAL_WRITE);
    expectSeals(re, F_SEAL_WRITE, 'reopened fd after sealing the original');
    expectErrno(__pwrite(re, Buffer.from('x'), 0), 'EPERM', 'pwrite through the reopened fd');
    addSeals(re, F_SEAL_SHRINK);
    expectSeals(fd, F_SEAL_WRITE | F_SEAL_SHRINK, 'original after sealing through the reopened fd');
  },
});

/**
 * In a probe child that got the sealed memfd as fd 3: F_GET_SEALS, a pwrite, a pread of 5 bytes, then
 * F_ADD_SEALS(F_SEAL_SEAL); what each returned.
 */
function childSealView(fd: number): { seals: number; write: string; read: string; addSeal: string } {
  const p = new ProbeProgram();
  const seals = p.sys('fcntl', 3, F_GET_SEALS);
  const write = p.sys('pwrite64', 3, p.bytes(Buffer.from('child')), 5, 0);
  const buf = p.buf(5);
  const read = p.sys('pread64', 3, buf, 5, 0);
  const bytes = p.out(buf, read);
  const add = p.sys('fcntl', 3, F_ADD_SEALS, F_SEAL_SEAL);
  const o = runProgram(p, { fds: [fd] });
  expectFinished(o, 'the child holding the sealed memfd');
  const r = (v: StepValue) => resultOf(o, v) as RawResult;
  return {
    seals: Number(r(seals).ret),
    write: outcome(r(write)),
    read: o.output.get(bytes.index)?.toString('latin1') ?? '',
    addSeal: outcome(r(add)),
  };
}

const inChild = defineCase({
  id: 'memfd.seals.shared_with_child_process',
  doc: 'a child process that inherits the memfd sees its seals, is refused writes with EPERM, and a seal it adds is seen by the parent',
  tags: { selftest: 'memfd_test.c:test_share_fork' },
  run(ctx) {
    const fd = sealableMemfd(ctx, 0o600);
    pwrite(fd, Buffer.from('hello'), 0);
    addSeals(fd, F_SEAL_WRITE | F_SEAL_SHRINK);
    const v = childSealView(fd);
    expectEq(v.seals, F_SEAL_WRITE | F_SEAL_SHRINK, 'F_GET_SEALS in the child');
    expectEq(v.write, 'EPERM', 'pwrite in the child');
    expectEq(v.read, 'hello', 'bytes the child reads');
    expectEq(v.addSeal, 'OK', 'F_ADD_SEALS(SEAL) in the child');
    expectSeals(fd, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_SEAL, 'parent after the child added F_SEAL_SEAL');
  },
});

const throughScmRights = defineCase({
  id: 'memfd.seals.shared_through_scm_rights',
  doc: 'a memfd passed over a unix socket (SCM_RIGHTS) arrives with its seals, which still refuse writes and further sealing',
  run(ctx) {
    const fd = sealableMemfd(ctx, 0o600);
    addSeals(fd, F_SEAL_WRITE | F_SEAL_SEAL);
    const [a, b] = socketpair();
    ctx.trackFd(a);
    ctx.trackFd(b);
    sendFds(a, [fd]);
    const got = recvFds(b, 1);
    for (const f of got) ctx.trackFd(f);
    expectEq(got.length, 1, 'fds received');
    const r = got[0] as number;
    expectEq(fstat(r).ino, fstat(fd).ino, 'inode of the received fd');
    expectSeals(r, F_SEAL_WRITE | F_SEAL_SEAL, 'received fd');
    expectErrno(__pwrite(r, Buffer.from('x'), 0), 'EPERM', 'pwrite through the received fd');
    expectErrno(__addSeals(r, F_SEAL_GROW), 'EPERM', 'F_ADD_SEALS through the received fd');
  },
});

/** How a mapping exists while F_SEAL_WRITE is added, and what F_ADD_SEALS must answer. */
interface BusyParams {
  /** Mapping kind. */ map: 'shared_rw' | 'shared_ro' | 'shared_ro_of_rdonly_fd' | 'private_rw' | 'shared_rw_unmapped';
  /** 'OK' or the errno. */ outcome: string;
}

const writeSealWithMappings = defineCase<BusyParams>({
  id: 'memfd.seals.write_with_existing_mapping',
  doc: 'F_SEAL_WRITE fails with EBUSY while a MAP_SHARED mapping that may become writable exists (VM_MAYWRITE, even if PROT_READ), and succeeds with private or read-only-fd mappings or after munmap',
  tags: { selftest: 'memfd_test.c:test_share_mmap' },
  variants: [
    { name: 'shared_rw', params: { map: 'shared_rw', outcome: 'EBUSY' } },
    { name: 'shared_ro', params: { map: 'shared_ro', outcome: 'EBUSY' } },
    { name: 'shared_ro_of_rdonly_fd', params: { map: 'shared_ro_of_rdonly_fd', outcome: 'OK' } },
    { name: 'private_rw', params: { map: 'private_rw', outcome: 'OK' } },
    { name: 'shared_rw_unmapped', params: { map: 'shared_rw_unmapped', outcome: 'OK' } },
  ],
  run(ctx) {
    const fd = sealableMemfd(ctx, 0o600);
    const kind = ctx.params.map;
    let mapFd = fd;
    if (kind === 'shared_ro_of_rdonly_fd')
      mapFd = ctx.trackFd(Number(expectOk(__open(`/proc/self/fd/${fd}`, O_RDONLY | O_CLOEXEC), 'open O_RDONLY')));
    const prot =
      kind === 'shared_rw' || kind === 'private_rw' || kind === 'shared_rw_unmapped'
        ? PROT_READ | PROT_WRITE
        : PROT_READ;
    const flags = kind === 'private_rw' ? MAP_PRIVATE : MAP_SHARED;
    const m = __mmap(MATRIX_SIZE, prot, flags, mapFd, 0n);
    const map = ctx.track(new Mapping(BigInt(expectOk(m, `mmap for ${kind}`)), MATRIX_SIZE));
    if (kind === 'shared_rw_unmapped') map.close();
    const r = __addSeals(fd, F_SEAL_WRITE);
    observeOutcome(ctx, r);
    const want = outcomeName(ctx.expected<string>('outcome', ctx.params.outcome), ['OK']);
    if (want === 'OK') {
      expectOk(r, `F_ADD_SEALS(WRITE) with a ${kind} mapping`);
      expectSeals(fd, F_SEAL_WRITE, 'after sealing');
    } else {
      expectErrno(r, want, `F_ADD_SEALS(WRITE) with a ${kind} mapping`);
      expectSeals(fd, 0, 'after the refused F_SEAL_WRITE');
      expectOk(__addSeals(fd, F_SEAL_SHRINK), 'F_ADD_SEALS(SHRINK) with the same mapping (only WRITE is busy)');
      map.close();
      expectOk(__addSeals(fd, F_SEAL_WRITE), 'F_ADD_SEALS(WRITE) after munmap');
      expectSeals(fd, F_SEAL_WRITE | F_SEAL_SHRINK, 'after munmap and sealing');
    }
  },
});

const futureWriteKeepsMapping = defineCase({
  id: 'memfd.seals.future_write_keeps_existing_mapping',
  doc: 'F_SEAL_FUTURE_WRITE is accepted while shared mappings exist; they keep writing (a read-only one may still be mprotect()ed writable), while write() and new writable shared mappings fail with EPERM',
  tags: { selftest: 'memfd_test.c:test_seal_future_write', linuxGit: ['ab3948f58ff8'] },
  run(ctx) {
    const fd = sealableMemfd(ctx, 0o600);
    const map = ctx.map(MATRIX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    const ro = ctx.map(MATRIX_SIZE, PROT_READ, MAP_SHARED, fd);
    expectOk(__addSeals(fd, F_SEAL_FUTURE_WRITE), 'F_ADD_SEALS(FUTURE_WRITE) with shared mappings');
    map.bytes[3] = 0x77;
    expectEq(pread(fd, 1, 3)[0], 0x77, 'a store through the pre-existing writable mapping reaches the file');
    expectOk(
      __mprotect(ro.addr, MATRIX_SIZE, PROT_READ | PROT_WRITE),
      'mprotect(RW) of a read-only shared mapping made before the seal',
    );
    ro.bytes[4] = 0x78;
    expectEq(pread(fd, 1, 4)[0], 0x78, 'a store through the re-protected mapping reaches the file');
    expectErrno(__pwrite(fd, Buffer.from('x'), 0), 'EPERM', 'pwrite after FUTURE_WRITE');
    const again = __mmap(MATRIX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
    if (again.ret !== -1n) ctx.track(new Mapping(again.ret, MATRIX_SIZE));
    expectErrno(again, 'EPERM', 'a new writable shared mapping after FUTURE_WRITE');
    const re = ctx.trackFd(Number(expectOk(__open(`/proc/self/fd/${fd}`, O_RDWR | O_CLOEXEC), 'reopen O_RDWR')));
    expectErrno(__pwrite(re, Buffer.from('x'), 0), 'EPERM', 'pwrite through a reopened fd after FUTURE_WRITE');
  },
});

const sealsPerInode = defineCase({
  id: 'memfd.seals.per_inode',
  doc: 'seals belong to the inode: two memfds are sealed independently, and closing the sealing fd leaves the seals on a reopened fd',
  run(ctx) {
    const a = sealableMemfd(ctx, 0o600);
    const b = sealableMemfd(ctx, 0o600);
    addSeals(a, F_SEAL_GROW);
    expectSeals(b, 0, 'the other memfd');
    const re = ctx.trackFd(Number(expectOk(__open(`/proc/self/fd/${a}`, O_RDWR | O_CLOEXEC), 'reopen O_RDWR')));
    expectOk(syscall(SYSCALL.close, a), 'close the sealing fd');
    expectSeals(re, F_SEAL_GROW, 'reopened fd after the original was closed');
    expectErrno(
      __pwrite(re, Buffer.from('x'), BigInt(MATRIX_SIZE)),
      'EPERM',
      'pwrite beyond EOF through the reopened fd',
    );
  },
});

const resize = defineCase({
  id: 'memfd.seals.resize',
  doc: 'F_SEAL_SHRINK|F_SEAL_GROW together fix the size: reads, writes and writable shared mappings still work, every ftruncate to another size and a pwrite past EOF fail with EPERM',
  tags: { selftest: 'memfd_test.c:test_seal_resize', linuxGit: ['40e041a2c858'] },
  run(ctx) {
    const fd = sealableMemfd(ctx, 0o600);
    addSeals(fd, F_SEAL_SHRINK | F_SEAL_GROW);
    expectSeals(fd, F_SEAL_SHRINK | F_SEAL_GROW, 'after F_ADD_SEALS(SHRINK|GROW)');
    expectEq(pread(fd, 4, 0).length, 4, 'pread');
    expectOk(__pwrite(fd, Buffer.from('\0\0\0\0'), 0), 'pwrite inside the file');
    const m = __mmap(MATRIX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
    if (m.ret !== -1n) ctx.track(new Mapping(m.ret, MATRIX_SIZE));
    expectOk(m, 'writable shared mapping');
    expectErrno(__ftruncate(fd, MATRIX_SIZE / 2), 'EPERM', 'ftruncate to half the size');
    expectErrno(__ftruncate(fd, MATRIX_SIZE * 2), 'EPERM', 'ftruncate to twice the size');
    // A pwrite across EOF writes up to EOF and stops there (short count), or fails with EPERM; it never grows the file.
    const big = __pwrite(fd, Buffer.alloc(MATRIX_SIZE * 8), 0);
    ctx.observe('grow_write', big.ret < 0 ? outcome(big) : String(big.ret));
    if (big.ret >= 0)
      expectTrue(BigInt(big.ret) <= BigInt(MATRIX_SIZE), `pwrite of 8x the size wrote ${big.ret} bytes, past EOF`);
    else expectErrno(big, 'EPERM', 'pwrite growing the file 8x');
    expectEq(fstat(fd).size, BigInt(MATRIX_SIZE), 'st_size');
  },
});

/** Which backing the pinned memfd has. */
type PinBacking = 'shmem' | 'hugetlb';

const IORING_REGISTER_BUFFERS = 0;
const IORING_UNREGISTER_BUFFERS = 1;

const writeWhilePinned = defineCase<{ backing: PinBacking }>({
  id: 'memfd.seals.write_while_pinned',
  doc: 'F_SEAL_WRITE is not granted while pages of the memfd are pinned for writing (an io_uring fixed buffer over its shared mapping, no mapping left): EBUSY, or success only if the kernel replaced the pinned pages; once the pin is gone it succeeds',
  variants: [
    { name: 'shmem', params: { backing: 'shmem' } },
    { name: 'hugetlb', params: { backing: 'hugetlb' }, requires: NEEDS_HUGETLBFS },
  ],
  tags: { selftest: 'fuse_test.c:main', kernelFn: 'memfd.c:memfd_wait_for_pins', linuxGit: ['40e041a2c858'] },
  run(ctx) {
    let size = MATRIX_SIZE;
    let fd: number;
    if (ctx.params.backing === 'hugetlb') {
      const kb = defaultHugepageKb();
      if (kb === 0) ctx.skip('no Hugepagesize in /proc/meminfo');
      if (availableHugepages(kb) < 2)
        ctx.skip(
          `needs two free ${kb} kB huge pages (pinning faults them in), ${availableHugepages(kb)} available (${hugepagePoolText(kb)})`,
        );
      size = 2 * kb * 1024;
      fd = newMemfd(ctx, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB, 'pinned');
      ftruncate(fd, size);
    } else {
      fd = sealableMemfd(ctx, 0o600);
    }
    const map = ctx.map(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    map.bytes.fill(0x11);
    const params = Buffer.alloc(120);
    const ring = syscall(SYSCALL.io_uring_setup, 1, params);
    if (ring.ret < 0n)
      ctx.skip(
        `io_uring_setup failed with ${outcome(ring)} (io_uring unavailable: kernel.io_uring_disabled or no CONFIG_IO_URING), so no long-term pin can be taken`,
      );
    const ringFd = ctx.trackFd(Number(ring.ret));
    const iov = Buffer.alloc(16);
    iov.writeBigUInt64LE(map.addr, 0);
    iov.writeBigUInt64LE(BigInt(size), 8);
    const reg = syscall(SYSCALL.io_uring_register, ringFd, IORING_REGISTER_BUFFERS, iov, 1);
    if (reg.ret < 0n)
      ctx.skip(
        `IORING_REGISTER_BUFFERS over the memfd mapping failed with ${outcome(reg)}: the kernel refused the long-term pin`,
      );
    map.close();
    const busy = __addSeals(fd, F_SEAL_WRITE);
    ctx.observe('seal_while_pinned', outcome(busy));
    if (busy.ret === 0) ctx.note('F_SEAL_WRITE succeeded while pinned: the kernel must have replaced the pinned pages');
    else expectErrno(busy, 'EBUSY', 'F_ADD_SEALS(WRITE) while the pages are pinned for writing');
    expectOk(
      syscall(SYSCALL.io_uring_register, ringFd, IORING_UNREGISTER_BUFFERS, null, 0),
      'IORING_UNREGISTER_BUFFERS',
    );
    if (busy.ret !== 0) expectOk(__addSeals(fd, F_SEAL_WRITE), 'F_ADD_SEALS(WRITE) after the pin is gone');
    expectSeals(fd, F_SEAL_WRITE, 'final seals');
  },
});

export default [
  ...matrix,
  sealSealBlocksAll,
  checkOrder,
  withoutAllowSealing,
  unknownBits,
  upperBits,
  addZero,
  allAtOnce,
  otherFiles,
  rdonlyCannotAdd,
  throughDup,
  throughProcReopen,
  inChild,
  throughScmRights,
  writeSealWithMappings,
  futureWriteKeepsMapping,
  sealsPerInode,
  resize,
  writeWhilePinned,
];
