/** proposal.upm_v7: the UPM v7 ABIs (seed 001) — F_SEAL_AUTO_ALLOCATE, MFD_INACCESSIBLE, KVM_MEM_PRIVATE — each run only where its probe finds it. */
import { defineCase } from '../../lib/harness/case.js';
import { PAGE_SIZE } from '../../lib/arch.js';
import type { CaseContext } from '../../lib/harness/context.js';
import { CaseFailure, expectEq, expectErrno, expectOk, expectTrue, outcome } from '../../lib/harness/expect.js';
import * as libc from '../../lib/ffi/libc.js';
import { writeThroughSharedMapping } from '../../lib/harness/probe-program.js';
import {
  F_SEAL_GROW,
  F_SEAL_SEAL,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  PROT_READ,
  PROT_WRITE,
} from '../../lib/uapi/index.js';
import { __addSeals, __getSeals, getSeals } from '../../lib/sys/fcntl.js';
import {
  __fallocate,
  __ftruncate,
  __pread,
  __pwrite,
  __read,
  __write,
  fallocate,
  ftruncate,
  pread,
} from '../../lib/sys/io.js';
import { __mmap } from '../../lib/sys/mman.js';
import { __memfdCreate, memfdCreate } from '../../lib/sys/memfd.js';
import { requireProposal } from '../../lib/features/proposals/case-support.js';
import { __setUserMemoryRegionPrivate, mfdInaccessible, sealAutoAllocate } from '../../lib/features/proposals/calls.js';

const PAGE = PAGE_SIZE;
/** mfd_def_size of memfd_test.c. */
const DEF_SIZE = 2 * PAGE;
const PUNCH = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
const SELFTEST = 'memfd_test.c:test_seal_auto_allocate (UPM v7 02/14)';
const TAGS = { proposal: 'upm-v7', seed: '001' };

/** Writes 'H' through a shared mapping of len bytes in a probe child: 'ok' when it read back, else the signal/error. */
function mappedWrite(fd: number, offset: number, len = DEF_SIZE): string {
  return writeThroughSharedMapping(fd, len, offset, 0x48);
}

/** mfd_assert_read: pread of 16 bytes at 0 succeeds. */
function assertRead(fd: number, what: string): void {
  expectOk(__pread(fd, 16, 0), `${what}: pread`);
}

/** mfd_assert_hole_write: write() of 4 bytes at the file position and a mapped write of the last byte succeed. */
function assertHoleWrite(ctx: CaseContext<unknown>, fd: number, what: string): void {
  const w = __write(fd, Buffer.alloc(4));
  expectEq(w.ret, 4n, `${what}: write() of 4 bytes (${outcome(w)})`);
  expectEq(mappedWrite(fd, DEF_SIZE - 1), 'ok', `${what}: write through a shared mapping`);
}

/** mfd_fail_hole_write: write() into the hole fails and the mapped write gets SIGBUS. */
function failHoleWrite(ctx: CaseContext<unknown>, fd: number, what: string): void {
  const w = __write(fd, Buffer.from('data'));
  ctx.observe('hole_write', outcome(w));
  if (w.ret > 0n)
    throw new CaseFailure(
      `${what}: write() into the hole succeeded (${w.ret} bytes): the seal did not stop allocation`,
    );
  expectEq(mappedWrite(fd, DEF_SIZE - 1), 'SIGBUS', `${what}: write through a shared mapping into the hole`);
}

const selftestSequence = defineCase({
  id: 'proposal.upm_v7.auto_allocate_selftest_sequence',
  doc: 'the v7 selftest sequence: writes allocate before the seal and into allocated pages after it; after PUNCH_HOLE write() fails and a mapped write gets SIGBUS; after fallocate() both work again',
  tags: { ...TAGS, rfcSelftest: SELFTEST },
  run(ctx) {
    const seal = sealAutoAllocate(requireProposal(ctx, 'upm_v7_seal_auto_allocate'));
    const fd = ctx.memfd('kern_memfd_seal_auto_allocate', MFD_CLOEXEC | MFD_ALLOW_SEALING);
    ftruncate(fd, DEF_SIZE);
    assertRead(fd, 'unsealed');
    assertHoleWrite(ctx, fd, 'unsealed');
    expectEq(getSeals(fd), 0, 'seals of a fresh MFD_ALLOW_SEALING memfd');
    expectOk(__addSeals(fd, seal), 'F_ADD_SEALS(F_SEAL_AUTO_ALLOCATE)');
    expectEq(getSeals(fd), seal, 'F_GET_SEALS after adding F_SEAL_AUTO_ALLOCATE');
    assertRead(fd, 'sealed, pages allocated');
    assertHoleWrite(ctx, fd, 'sealed, pages allocated');
    expectOk(__fallocate(fd, PUNCH, 0, DEF_SIZE), 'PUNCH_HOLE over the whole file');
    assertRead(fd, 'sealed, all holes');
    failHoleWrite(ctx, fd, 'sealed, all holes');
    expectOk(__fallocate(fd, 0, 0, DEF_SIZE), 'fallocate() over the whole file');
    assertRead(fd, 'sealed, reallocated');
    assertHoleWrite(ctx, fd, 'sealed, reallocated');
  },
});

const partialHole = defineCase({
  id: 'proposal.upm_v7.auto_allocate_partial_hole',
  doc: 'with F_SEAL_AUTO_ALLOCATE only the punched page refuses writes: its neighbours still take pwrite and mapped writes',
  tags: TAGS,
  run(ctx) {
    const seal = sealAutoAllocate(requireProposal(ctx, 'upm_v7_seal_auto_allocate'));
    const fd = ctx.memfd('auto_allocate_partial', MFD_CLOEXEC | MFD_ALLOW_SEALING);
    ftruncate(fd, 3 * PAGE);
    fallocate(fd, 0, 0, 3 * PAGE);
    expectOk(__addSeals(fd, seal), 'F_ADD_SEALS(F_SEAL_AUTO_ALLOCATE)');
    expectOk(__fallocate(fd, PUNCH, PAGE, PAGE), 'PUNCH_HOLE of the middle page');
    expectOk(__pwrite(fd, Buffer.from([1]), 0), 'pwrite into page 0 (allocated)');
    expectOk(__pwrite(fd, Buffer.from([1]), 2 * PAGE), 'pwrite into page 2 (allocated)');
    const hole = __pwrite(fd, Buffer.from([1]), PAGE);
    ctx.observe('hole_pwrite', outcome(hole));
    expectTrue(hole.ret === -1n, `pwrite into the punched page 1 succeeded (${hole.ret})`);
    expectEq(mappedWrite(fd, 2 * PAGE + 7, 3 * PAGE), 'ok', 'mapped write into page 2');
    expectEq(mappedWrite(fd, PAGE + 7, 3 * PAGE), 'SIGBUS', 'mapped write into the punched page 1');
  },
});

const readKeepsHole = defineCase({
  id: 'proposal.upm_v7.auto_allocate_read_keeps_hole',
  doc: 'reading a hole under F_SEAL_AUTO_ALLOCATE returns zeros and does not allocate it: a write afterwards still fails',
  tags: TAGS,
  run(ctx) {
    const seal = sealAutoAllocate(requireProposal(ctx, 'upm_v7_seal_auto_allocate'));
    const fd = ctx.memfd('auto_allocate_read', MFD_CLOEXEC | MFD_ALLOW_SEALING);
    ftruncate(fd, DEF_SIZE);
    expectOk(__addSeals(fd, seal), 'F_ADD_SEALS(F_SEAL_AUTO_ALLOCATE)');
    const data = pread(fd, PAGE, 0);
    expectEq(data.length, PAGE, 'bytes read from the hole');
    expectTrue(
      data.every((b) => b === 0),
      'a hole reads as zeros',
    );
    const w = __pwrite(fd, Buffer.from([1]), 0);
    expectTrue(
      w.ret === -1n,
      `pwrite into the hole after reading it succeeded (${w.ret}): the read allocated the page`,
    );
  },
});

const needsAllowSealing = defineCase({
  id: 'proposal.upm_v7.auto_allocate_needs_allow_sealing',
  doc: 'F_SEAL_AUTO_ALLOCATE is a seal like the others: a memfd created without MFD_ALLOW_SEALING refuses it with EPERM',
  tags: TAGS,
  run(ctx) {
    const seal = sealAutoAllocate(requireProposal(ctx, 'upm_v7_seal_auto_allocate'));
    const fd = ctx.memfd('auto_allocate_unsealable', MFD_CLOEXEC);
    expectErrno(__addSeals(fd, seal), 'EPERM', 'F_ADD_SEALS(F_SEAL_AUTO_ALLOCATE) without MFD_ALLOW_SEALING');
  },
});

/** An MFD_INACCESSIBLE memfd of one page (size set once), closed after the case. */
function inaccessible(ctx: CaseContext<unknown>, flag: number, size = PAGE): number {
  const fd = ctx.trackFd(memfdCreate('inaccessible', MFD_CLOEXEC | flag));
  if (size) ftruncate(fd, size);
  return fd;
}

const refusesIo = defineCase<{ op: 'read' | 'write' | 'mmap' }>({
  id: 'proposal.upm_v7.inaccessible_refuses_io',
  doc: 'an MFD_INACCESSIBLE memfd cannot be read, written or mmap()ed by userspace: EPERM (v7 shmem MEMFILE_F_USER_INACCESSIBLE checks)',
  tags: TAGS,
  variants: (['read', 'write', 'mmap'] as const).map((op) => ({ name: op, params: { op } })),
  run(ctx) {
    const flag = mfdInaccessible(requireProposal(ctx, 'upm_v7_mfd_inaccessible'));
    const fd = inaccessible(ctx, flag);
    if (ctx.params.op === 'read') expectErrno(__read(fd, 16), 'EPERM', 'read() of an MFD_INACCESSIBLE memfd');
    else if (ctx.params.op === 'write')
      expectErrno(__write(fd, Buffer.alloc(16)), 'EPERM', 'write() to an MFD_INACCESSIBLE memfd');
    else {
      const m = __mmap(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
      if (m.ret !== -1n) libc.munmap(m.ret, PAGE);
      expectErrno(m, 'EPERM', 'mmap(MAP_SHARED) of an MFD_INACCESSIBLE memfd');
    }
  },
});

const withAllowSealing = defineCase({
  id: 'proposal.upm_v7.inaccessible_with_allow_sealing',
  doc: 'memfd_create(MFD_INACCESSIBLE | MFD_ALLOW_SEALING) fails with EINVAL (sealing is impossible for an inaccessible memfd)',
  tags: TAGS,
  run(ctx) {
    const flag = mfdInaccessible(requireProposal(ctx, 'upm_v7_mfd_inaccessible'));
    const r = __memfdCreate('inaccessible_sealing', MFD_CLOEXEC | MFD_ALLOW_SEALING | flag);
    if (r.ret >= 0) ctx.trackFd(r.ret);
    expectErrno(r, 'EINVAL', 'MFD_INACCESSIBLE | MFD_ALLOW_SEALING');
  },
});

const noSeals = defineCase({
  id: 'proposal.upm_v7.inaccessible_no_seals',
  doc: 'an MFD_INACCESSIBLE memfd carries F_SEAL_SEAL from birth, so F_ADD_SEALS fails with EPERM',
  tags: TAGS,
  run(ctx) {
    const flag = mfdInaccessible(requireProposal(ctx, 'upm_v7_mfd_inaccessible'));
    const fd = inaccessible(ctx, flag);
    expectEq(expectOk(__getSeals(fd), 'F_GET_SEALS'), F_SEAL_SEAL, 'seals of an MFD_INACCESSIBLE memfd');
    expectErrno(__addSeals(fd, F_SEAL_GROW), 'EPERM', 'F_ADD_SEALS(F_SEAL_GROW) on an MFD_INACCESSIBLE memfd');
  },
});

const sizeOnce = defineCase({
  id: 'proposal.upm_v7.inaccessible_size_set_once',
  doc: 'the size of an MFD_INACCESSIBLE memfd must be page-aligned (else EINVAL) and can be set only once (then EPERM)',
  tags: TAGS,
  run(ctx) {
    const flag = mfdInaccessible(requireProposal(ctx, 'upm_v7_mfd_inaccessible'));
    const fd = inaccessible(ctx, flag, 0);
    expectErrno(__ftruncate(fd, PAGE + 1), 'EINVAL', 'ftruncate to an unaligned size');
    expectOk(__ftruncate(fd, 2 * PAGE), 'first ftruncate to 2 pages');
    expectErrno(__ftruncate(fd, 4 * PAGE), 'EPERM', 'second ftruncate (grow)');
    expectErrno(__ftruncate(fd, PAGE), 'EPERM', 'second ftruncate (shrink)');
  },
});

const fallocateWorks = defineCase({
  id: 'proposal.upm_v7.inaccessible_fallocate',
  doc: 'fallocate() allocates and punches an MFD_INACCESSIBLE memfd (the only way to populate it); an unaligned punch fails with EINVAL',
  tags: TAGS,
  run(ctx) {
    const flag = mfdInaccessible(requireProposal(ctx, 'upm_v7_mfd_inaccessible'));
    const fd = inaccessible(ctx, flag, 2 * PAGE);
    expectOk(__fallocate(fd, 0, 0, 2 * PAGE), 'fallocate(0, 2 pages)');
    expectOk(__fallocate(fd, PUNCH, PAGE, PAGE), 'PUNCH_HOLE of page 1');
    expectErrno(__fallocate(fd, PUNCH, 1, PAGE), 'EINVAL', 'PUNCH_HOLE at offset 1');
  },
});

const memPrivateSlot = defineCase({
  id: 'proposal.upm_v7.mem_private_memslot',
  doc: 'KVM_SET_USER_MEMORY_REGION with KVM_MEM_PRIVATE binds private_fd at private_offset; the private memslot cannot be modified (EINVAL), only deleted',
  requires: { kvm: true },
  tags: TAGS,
  run(ctx) {
    const proof = requireProposal(ctx, 'upm_v7_mem_private');
    const vm = ctx.vm(0);
    const fd = ctx.memfd('private', MFD_CLOEXEC);
    ftruncate(fd, 4 * PAGE);
    const shared = ctx.map(4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    const slot = {
      slot: 1,
      gpa: 0x100000n,
      size: BigInt(4 * PAGE),
      hva: shared.addr,
      privateOffset: 0n,
      privateFd: fd,
    };
    expectOk(__setUserMemoryRegionPrivate(proof, vm, slot), 'create a KVM_MEM_PRIVATE memslot');
    expectErrno(
      __setUserMemoryRegionPrivate(proof, vm, slot),
      'EINVAL',
      'the same call again (modifying a private memslot)',
    );
    expectOk(vm.__setUserMemoryRegion({ slot: 1, gpa: 0x100000n, size: 0n }), 'delete the private memslot (size 0)');
  },
});

const memPrivateOffset = defineCase({
  id: 'proposal.upm_v7.mem_private_unaligned_offset',
  doc: 'a KVM_MEM_PRIVATE memslot whose private_offset is not page-aligned is refused with EINVAL',
  requires: { kvm: true },
  tags: TAGS,
  run(ctx) {
    const proof = requireProposal(ctx, 'upm_v7_mem_private');
    const vm = ctx.vm(0);
    const fd = ctx.memfd('private', MFD_CLOEXEC);
    ftruncate(fd, 4 * PAGE);
    const r = __setUserMemoryRegionPrivate(proof, vm, {
      slot: 1,
      gpa: 0x100000n,
      size: BigInt(PAGE),
      privateOffset: 1n,
      privateFd: fd,
    });
    expectErrno(r, 'EINVAL', 'private_offset 1');
  },
});

export default [
  selftestSequence,
  partialHole,
  readKeepsHole,
  needsAllowSealing,
  refusesIo,
  withAllowSealing,
  noSeals,
  sizeOnce,
  fallocateWorks,
  memPrivateSlot,
  memPrivateOffset,
];
