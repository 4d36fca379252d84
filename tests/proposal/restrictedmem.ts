/** proposal.restrictedmem: memfd_restricted (v10), its RMFD_USERMNT mount RFC and memfd_restricted_bind — each run only where its probe finds it. */
import { defineCase } from '../../lib/harness/case.js';
import { PAGE_SIZE } from '../../lib/arch.js';
import type { CaseContext } from '../../lib/harness/context.js';
import { expectEq, expectErrno, expectOk } from '../../lib/harness/expect.js';
import * as libc from '../../lib/ffi/libc.js';
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  MAP_SHARED,
  MFD_CLOEXEC,
  MPOL_DEFAULT,
  PROT_READ,
  PROT_WRITE,
  S_IFMT,
  S_IFREG,
  SYSCALL,
} from '../../lib/uapi/index.js';
import { fstat } from '../../lib/sys/fd.js';
import { __fallocate, __ftruncate, __read, __write } from '../../lib/sys/io.js';
import { __mmap } from '../../lib/sys/mman.js';
import { memfdCreate } from '../../lib/sys/memfd.js';
import { requireProposal } from '../../lib/features/proposals/case-support.js';
import {
  __memfdRestricted,
  __memfdRestrictedBind,
  rmfdUsermnt,
  type PresentProof,
} from '../../lib/features/proposals/calls.js';

const PAGE = PAGE_SIZE;
const TAGS = { proposal: 'restrictedmem-v10' };

/** A new restrictedmem fd (memfd_restricted(0)), closed after the case. */
function restricted(
  ctx: CaseContext<unknown>,
  proof: PresentProof<'restrictedmem_v10_memfd_restricted' | 'restrictedmem_rfc_usermnt' | 'restrictedmem_rfc_bind'>,
): number {
  return ctx.trackFd(Number(expectOk(__memfdRestricted(proof, 0), 'memfd_restricted(0)')));
}

const create = defineCase({
  id: 'proposal.restrictedmem.create',
  doc: 'memfd_restricted(0) returns an fd of an empty regular file',
  tags: TAGS,
  run(ctx) {
    const fd = restricted(ctx, requireProposal(ctx, 'restrictedmem_v10_memfd_restricted'));
    const st = fstat(fd);
    expectEq(st.mode & S_IFMT, S_IFREG, 'file type of a restrictedmem fd');
    expectEq(st.size, 0n, 'st_size of a new restrictedmem file');
  },
});

const unknownFlags = defineCase({
  id: 'proposal.restrictedmem.unknown_flags',
  doc: 'memfd_restricted refuses unknown flag bits with EINVAL',
  tags: TAGS,
  run(ctx) {
    const proof = requireProposal(ctx, 'restrictedmem_v10_memfd_restricted');
    for (const flags of [0x2, 0x80000000]) {
      const r = __memfdRestricted(proof, flags);
      if (r.ret >= 0n) ctx.trackFd(Number(r.ret));
      expectErrno(r, 'EINVAL', `flags 0x${flags.toString(16)}`);
    }
  },
});

const refusesIo = defineCase<{ op: 'read' | 'write' | 'mmap' }>({
  id: 'proposal.restrictedmem.refuses_io',
  doc: 'a restrictedmem file has no read/write/mmap: read and write fail with EINVAL, mmap with ENODEV',
  tags: TAGS,
  variants: (['read', 'write', 'mmap'] as const).map((op) => ({ name: op, params: { op } })),
  run(ctx) {
    const fd = restricted(ctx, requireProposal(ctx, 'restrictedmem_v10_memfd_restricted'));
    expectOk(__ftruncate(fd, PAGE), 'ftruncate(4096)');
    if (ctx.params.op === 'read') expectErrno(__read(fd, 16), 'EINVAL', 'read() of a restrictedmem fd');
    else if (ctx.params.op === 'write')
      expectErrno(__write(fd, Buffer.alloc(16)), 'EINVAL', 'write() to a restrictedmem fd');
    else {
      const m = __mmap(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
      if (m.ret !== -1n) libc.munmap(m.ret, PAGE);
      expectErrno(m, 'ENODEV', 'mmap of a restrictedmem fd');
    }
  },
});

const sizeAndFallocate = defineCase({
  id: 'proposal.restrictedmem.size_and_fallocate',
  doc: 'ftruncate sets the size of a restrictedmem file (fstat reports it); fallocate allocates and punches page-aligned ranges',
  tags: TAGS,
  run(ctx) {
    const fd = restricted(ctx, requireProposal(ctx, 'restrictedmem_v10_memfd_restricted'));
    expectOk(__ftruncate(fd, 4 * PAGE), 'ftruncate(4 pages)');
    expectEq(fstat(fd).size, BigInt(4 * PAGE), 'st_size after ftruncate');
    expectOk(__fallocate(fd, 0, 0, 4 * PAGE), 'fallocate(0, 4 pages)');
    expectOk(__fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PAGE, PAGE), 'PUNCH_HOLE of page 1');
    expectEq(fstat(fd).size, BigInt(4 * PAGE), 'st_size after PUNCH_HOLE with KEEP_SIZE');
  },
});

/** A detached tmpfs mount (fsopen/fsconfig(CREATE)/fsmount), closed after the case. */
function tmpfsMount(ctx: CaseContext<unknown>): number {
  const FSCONFIG_CMD_CREATE = 6;
  const fs = Number(expectOk(libc.syscall(SYSCALL.fsopen, 'tmpfs', 1), 'fsopen(tmpfs)'));
  try {
    expectOk(libc.syscall(SYSCALL.fsconfig, fs, FSCONFIG_CMD_CREATE, null, null, 0), 'fsconfig(FSCONFIG_CMD_CREATE)');
    return ctx.trackFd(Number(expectOk(libc.syscall(SYSCALL.fsmount, fs, 1, 0), 'fsmount')));
  } finally {
    libc.close(fs);
  }
}

const userMount = defineCase({
  id: 'proposal.restrictedmem.usermnt',
  doc: 'memfd_restricted(RMFD_USERMNT, mount_fd) creates the file on a tmpfs mount; a negative fd or a non-mount fd is refused with EINVAL (RFC v3 selftests)',
  tags: {
    proposal: 'restrictedmem-mount-rfc-v3',
    rfcSelftest: 'restrictedmem RFC v3 2/2: restrictedmem_tmpfile_invalid_fd, restrictedmem_tmpfile_fd_not_a_mount',
  },
  run(ctx) {
    const proof = requireProposal(ctx, 'restrictedmem_rfc_usermnt');
    const flag = rmfdUsermnt(proof);
    const mnt = tmpfsMount(ctx);
    const r = __memfdRestricted(proof, flag, mnt);
    const fd = ctx.trackFd(Number(expectOk(r, 'memfd_restricted(RMFD_USERMNT, tmpfs mount)')));
    expectEq(fstat(fd).mode & S_IFMT, S_IFREG, 'file type of the new fd');
    for (const [what, mountFd] of [
      ['mount_fd -2', -2],
      ['mount_fd = stdout (not a mount)', 1],
    ] as const) {
      const bad = __memfdRestricted(proof, flag, mountFd);
      if (bad.ret >= 0n) ctx.trackFd(Number(bad.ret));
      expectErrno(bad, 'EINVAL', what);
    }
  },
});

const bind = defineCase({
  id: 'proposal.restrictedmem.bind',
  doc: 'memfd_restricted_bind sets a policy on a range of a restrictedmem file; a plain memfd or nonzero flags → EINVAL, a closed fd → EBADF',
  tags: { proposal: 'restrictedmem-bind-rfc' },
  run(ctx) {
    const proof = requireProposal(ctx, 'restrictedmem_rfc_bind');
    const fd = restricted(ctx, proof);
    expectOk(__ftruncate(fd, 2 * PAGE), 'ftruncate(2 pages)');
    expectOk(__memfdRestrictedBind(proof, fd, 0n, BigInt(2 * PAGE), MPOL_DEFAULT), 'bind MPOL_DEFAULT over the file');
    expectErrno(__memfdRestrictedBind(proof, fd, 0n, BigInt(PAGE), MPOL_DEFAULT, null, 0, 1), 'EINVAL', 'flags 1');
    const mfd = ctx.trackFd(memfdCreate('not_restricted', MFD_CLOEXEC));
    expectErrno(__memfdRestrictedBind(proof, mfd, 0n, BigInt(PAGE), MPOL_DEFAULT), 'EINVAL', 'a plain memfd');
    const closed = memfdCreate('closed', MFD_CLOEXEC);
    libc.close(closed);
    expectErrno(__memfdRestrictedBind(proof, closed, 0n, BigInt(PAGE), MPOL_DEFAULT), 'EBADF', 'a closed fd');
  },
});

export default [create, unknownFlags, refusesIo, sizeAndFallocate, userMount, bind];
