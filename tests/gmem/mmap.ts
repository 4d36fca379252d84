/**
 * gmem.mmap: host mappings of guest_memfd (GUEST_MEMFD_FLAG_MMAP / INIT_SHARED): sharing, holes, faults past EOF,
 * protections, madvise, mremap.
 *
 * Kernel checks: mmap(2) of a guest_memfd (arch/x86/kernel/sys_x86_64.c sys_mmap; mm/mmap.c do_mmap, file_mmap_ok;
 *   virt/kvm/guest_memfd.c kvm_gmem_mmap, kvm_gmem_fault_user_mapping; read in 7.3-rc7 for mm and in 7.2.13 and
 *   7.3-rc7 for guest_memfd.c; 6.18 not read)
 *   1. offset not page-aligned → EINVAL | refused: gmem.mmap.unaligned_offset_einval
 *      | accepted: gmem.mmap.nonzero_offset
 *   2. file_mmap_ok: pgoff > (MAX_LFS_FILESIZE - len) >> PAGE_SHIFT → EOVERFLOW (the mapping must end by INT64_MAX)
 *      | refused: gmem.mmap.max_offset | accepted: gmem.mmap.max_offset
 *   3. noexec filesystem: PROT_EXEC → EPERM | refused: gmem.refuse.mmap_exec, gmem.mmap.prot_exec_refused
 *      | accepted: gmem.mmap.read_write_whole_file
 *   4. kvm_gmem_mmap: no GUEST_MEMFD_FLAG_MMAP → ENODEV | refused: gmem.mmap.without_mmap_flag_enodev,
 *      gmem.refuse.mmap_without_mmap_flag | accepted: gmem.mmap.read_write_whole_file
 *   5. not VM_SHARED | VM_MAYSHARE (MAP_PRIVATE) → EINVAL | refused: gmem.mmap.map_private_refused,
 *      gmem.refuse.mmap_private | accepted: gmem.mmap.map_shared_validate_accepted
 *   6. no size check when mapping: offsets at and past EOF map | refused: n/a (kvm_gmem_mmap does not check i_size)
 *      | accepted: gmem.mmap.offset_beyond_eof, gmem.mmap.mapping_straddles_eof
 *   7. fault: pgoff << PAGE_SHIFT >= i_size → SIGBUS | refused: gmem.mmap.sigbus_beyond_eof,
 *      gmem.mmap.offset_beyond_eof | accepted: gmem.mmap.sigbus_beyond_eof, gmem.mmap.max_offset
 *   8. fault on private memory (no INIT_SHARED) → SIGBUS | refused: gmem.mmap.private_memory_sigbus
 *      | accepted: gmem.mmap.read_write_whole_file
 *   9. mprotect adding PROT_EXEC → EACCES (no VM_MAYEXEC) | refused: gmem.refuse.mprotect_exec
 *      | accepted: gmem.mmap.mprotect_readonly_to_readwrite
 */
import { __mremap } from '../../lib/sys/mman.js';
import { defineCase } from '../../lib/harness/case.js';
import { expectEq, expectErrno, expectOk, expectTrue } from '../../lib/harness/expect.js';
import type { CaseContext } from '../../lib/harness/context.js';
import * as libc from '../../lib/ffi/libc.js';
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  MADV_COLLAPSE,
  MADV_DONTNEED,
  MADV_HUGEPAGE,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_REMOVE,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MLOCK_ONFAULT,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  SYSCALL,
} from '../../lib/uapi/index.js';
import type { ErrnoName } from '../../lib/uapi/index.js';
import { __mmap, __madvise, __mprotect, Mapping } from '../../lib/sys/mman.js';
import { dup } from '../../lib/sys/fd.js';
import { fallocate } from '../../lib/sys/io.js';
import { NEEDS_GMEM, PAGE, hex } from '../../lib/cases/gmem.js';
import {
  NEEDS_GMEM_MMAP,
  NEEDS_GMEM_SHARED,
  NEEDS_GMEM_SLOT,
  RW,
  STORED_VALUE,
  expectCompleted,
  expectFilled,
  expectKilledAt,
  expectProgramRan,
  guestReadingGmem,
  mapGmem,
  touchGmem,
} from '../../lib/cases/mmap.js';
import { __runToHlt, describeTrace } from '../../lib/kvm/vcpu-run.js';
import { readFileSync } from 'node:fs';

const MMAP = BigInt(GUEST_MEMFD_FLAG_MMAP);
const SHARED = BigInt(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
const P = Number(PAGE);
/** Size of the file most cases use (upstream guest_memfd_test uses 4 pages). */
const SIZE = 4 * P;
const PUNCH = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE;
const SELFTEST = 'guest_memfd_test.c';

/** A fresh VM and a guest_memfd of size bytes with flags, both closed after the case. */
function gmemOf(ctx: CaseContext<unknown>, flags: bigint, size = SIZE) {
  return ctx.gmem(ctx.vm(), BigInt(size), flags);
}

const readWriteWhole = defineCase<{ pages: number }>({
  id: 'gmem.mmap.read_write_whole_file',
  doc: 'every byte of a MAP_SHARED mapping of the whole file can be written and reads back what was written',
  requires: NEEDS_GMEM_SHARED,
  variants: [1, 4, 512].map((pages) => ({ name: `pages${pages}`, params: { pages } })),
  tags: { selftest: `${SELFTEST}:test_mmap_supported` },
  run(ctx) {
    const size = ctx.params.pages * P;
    const m = mapGmem(ctx, gmemOf(ctx, SHARED, size));
    m.bytes.fill(0xaa);
    expectFilled(m.bytes, 0, size, 0xaa, 'after writing 0xaa over the whole mapping');
  },
});

const freshZero = defineCase<{ fallocateFirst: boolean }>({
  id: 'gmem.mmap.new_pages_read_zero',
  doc: 'pages never written (fresh, or only allocated by fallocate) read as zero through the mapping',
  requires: NEEDS_GMEM_SHARED,
  variants: [
    { name: 'fresh', params: { fallocateFirst: false } },
    { name: 'fallocated', params: { fallocateFirst: true } },
  ],
  run(ctx) {
    const g = gmemOf(ctx, SHARED);
    if (ctx.params.fallocateFirst) fallocate(g.fd, FALLOC_FL_KEEP_SIZE, 0n, BigInt(SIZE));
    expectFilled(mapGmem(ctx, g).bytes, 0, SIZE, 0, 'a page the host never wrote');
  },
});

const secondMapping = defineCase({
  id: 'gmem.mmap.second_mapping_shares_data',
  doc: "two MAP_SHARED mappings of one guest_memfd see each other's writes",
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const g = gmemOf(ctx, SHARED);
    const a = mapGmem(ctx, g);
    const b = mapGmem(ctx, g);
    expectTrue(a.addr !== b.addr, 'the two mappings have the same address');
    a.bytes.fill(0x5a);
    expectFilled(b.bytes, 0, SIZE, 0x5a, 'second mapping after writes through the first');
    b.bytes.fill(0xa5, P, 2 * P);
    expectFilled(a.bytes, P, 2 * P, 0xa5, 'first mapping after writes through the second');
    expectFilled(a.bytes, 0, P, 0x5a, 'first mapping, page 0 (not written through the second)');
  },
});

const dupMapping = defineCase({
  id: 'gmem.mmap.dup_fd_mapping_shares_data',
  doc: 'a mapping made through a dup of the guest_memfd fd maps the same pages',
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const g = gmemOf(ctx, SHARED);
    const a = mapGmem(ctx, g);
    a.bytes.fill(0x3c);
    const d = ctx.trackFd(dup(g.fd));
    const b = ctx.map(SIZE, RW, MAP_SHARED, d);
    expectFilled(b.bytes, 0, SIZE, 0x3c, "mapping of the dup'd fd");
    b.bytes[SIZE - 1] = 0xc3;
    expectEq(a.bytes[SIZE - 1], 0xc3, "last byte in the original mapping after a write through the dup's mapping");
  },
});

const punchZeroes = defineCase<{ page: number }>({
  id: 'gmem.mmap.punch_hole_zeroes_page',
  doc: 'PUNCH_HOLE of one page makes it read zero in the mapping, the others keep their data, and the page re-faults writable',
  requires: NEEDS_GMEM_SHARED,
  variants: [0, 1, 3].map((page) => ({ name: `page${page}`, params: { page } })),
  tags: { selftest: `${SELFTEST}:test_mmap_supported` },
  run(ctx) {
    const g = gmemOf(ctx, SHARED);
    const m = mapGmem(ctx, g);
    const at = ctx.params.page * P;
    m.bytes.fill(0xaa);
    fallocate(g.fd, PUNCH, BigInt(at), PAGE);
    expectFilled(m.bytes, at, at + P, 0, `punched page ${ctx.params.page}`);
    expectFilled(m.bytes, 0, at, 0xaa, 'pages before the hole');
    expectFilled(m.bytes, at + P, SIZE, 0xaa, 'pages after the hole');
    m.bytes.fill(0xaa, at, at + P);
    expectFilled(m.bytes, 0, SIZE, 0xaa, 'whole file after rewriting the punched page');
  },
});

const punchAllMappings = defineCase({
  id: 'gmem.mmap.punch_hole_seen_by_every_mapping',
  doc: "a hole punched with fallocate reads zero through every mapping of the file, including one of a dup'd fd",
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const g = gmemOf(ctx, SHARED);
    const a = mapGmem(ctx, g);
    const b = ctx.map(SIZE, RW, MAP_SHARED, ctx.trackFd(dup(g.fd)));
    a.bytes.fill(0x77);
    expectFilled(b.bytes, 0, SIZE, 0x77, 'second mapping before the punch');
    fallocate(g.fd, PUNCH, PAGE, 2n * PAGE);
    expectFilled(b.bytes, P, 3 * P, 0, 'punched pages through the second mapping');
    expectFilled(b.bytes, 3 * P, SIZE, 0x77, 'page after the hole through the second mapping');
    expectFilled(a.bytes, P, 3 * P, 0, 'punched pages through the first mapping');
  },
});

const sigbusBeyondEof = defineCase<{ op: 'read' | 'write' }>({
  id: 'gmem.mmap.sigbus_beyond_eof',
  doc: 'in a mapping 4x the file size, the first byte past EOF raises SIGBUS while the last byte before EOF is accessible',
  requires: NEEDS_GMEM_SHARED,
  variants: [
    { name: 'read', params: { op: 'read' } },
    { name: 'write', params: { op: 'write' } },
  ],
  tags: { selftest: `${SELFTEST}:test_fault_overflow` },
  run(ctx) {
    const g = gmemOf(ctx, SHARED);
    const at = (where: number) =>
      ctx.params.op === 'read' ? { op: 'read' as const, at: where } : { op: 'write' as const, at: where, value: 0x11 };
    const past = touchGmem(g.fd, { length: 4 * SIZE, prot: RW, ops: [at(SIZE)] });
    ctx.observe('past_eof', past.signal ?? `exit ${past.status}`);
    expectKilledAt(past, 'SIGBUS', 0, `${ctx.params.op} of the first byte past EOF (offset ${hex(SIZE)})`);
    const inside = touchGmem(g.fd, { length: 4 * SIZE, prot: RW, ops: [at(SIZE - 1)] });
    expectCompleted(
      inside,
      `${ctx.params.op} of the last byte before EOF (offset ${hex(SIZE - 1)}) in the same 4x mapping`,
    );
  },
});

const overflowKeepsPrefix = defineCase({
  id: 'gmem.mmap.overflowing_write_keeps_prefix',
  doc: 'a memset over a 4x-sized mapping dies with SIGBUS at EOF and the bytes it wrote before EOF are in the file',
  requires: NEEDS_GMEM_SHARED,
  tags: { selftest: `${SELFTEST}:test_fault_sigbus` },
  run(ctx) {
    const g = gmemOf(ctx, SHARED);
    const o = touchGmem(g.fd, {
      length: 4 * SIZE,
      prot: RW,
      ops: [{ op: 'fill', from: 0, to: 4 * SIZE, value: 0xaa }],
    });
    expectKilledAt(o, 'SIGBUS', 0, 'memset of the whole 4x mapping');
    expectFilled(mapGmem(ctx, g).bytes, 0, SIZE, 0xaa, 'file contents written by the child before it hit EOF');
  },
});

const privateSigbus = defineCase<{ op: 'read' | 'write' | 'fill' }>({
  id: 'gmem.mmap.private_memory_sigbus',
  doc: 'without INIT_SHARED the pages are private: mmap succeeds but any host access raises SIGBUS',
  requires: NEEDS_GMEM_MMAP,
  variants: [
    { name: 'read', params: { op: 'read' } },
    { name: 'write', params: { op: 'write' } },
    { name: 'fill', params: { op: 'fill' } },
  ],
  tags: { selftest: `${SELFTEST}:test_fault_private` },
  run(ctx) {
    const g = gmemOf(ctx, MMAP);
    mapGmem(ctx, g); // mmap itself must succeed; only faults are refused
    const op =
      ctx.params.op === 'read'
        ? { op: 'read' as const, at: 0 }
        : ctx.params.op === 'write'
          ? { op: 'write' as const, at: 0, value: 1 }
          : { op: 'fill' as const, from: 0, to: SIZE, value: 0xaa };
    const o = touchGmem(g.fd, { length: SIZE, prot: RW, ops: [op] });
    ctx.observe('outcome', o.signal ?? `exit ${o.status}`);
    expectKilledAt(o, 'SIGBUS', 0, `${ctx.params.op} of private guest_memfd memory`);
  },
});

const mapPrivate = defineCase<{ flags: bigint }>({
  id: 'gmem.mmap.map_private_refused',
  doc: 'MAP_PRIVATE (copy-on-write) mappings of a guest_memfd are refused with EINVAL, read-only or not',
  requires: NEEDS_GMEM_MMAP,
  variants: [
    { name: 'mmap', params: { flags: MMAP } },
    { name: 'mmap_init_shared', params: { flags: SHARED }, requires: { gmemFlags: ['GUEST_MEMFD_FLAG_INIT_SHARED'] } },
  ],
  tags: { selftest: `${SELFTEST}:test_mmap_cow` },
  run(ctx) {
    const g = gmemOf(ctx, ctx.params.flags);
    for (const prot of [RW, PROT_READ]) {
      const r = __mmap(SIZE, prot, MAP_PRIVATE, g.fd);
      if (r.ret !== -1n) ctx.defer(() => void libc.munmap(r.ret, SIZE));
      expectErrno(r, 'EINVAL', `MAP_PRIVATE prot ${hex(prot)}`);
    }
  },
});

const noMmapFlag = defineCase({
  id: 'gmem.mmap.without_mmap_flag_enodev',
  doc: 'a guest_memfd created without GUEST_MEMFD_FLAG_MMAP cannot be mapped: mmap fails with ENODEV',
  requires: NEEDS_GMEM,
  tags: { selftest: `${SELFTEST}:test_mmap_not_supported` },
  run(ctx) {
    const g = gmemOf(ctx, 0n);
    for (const [len, flags, what] of [
      [P, MAP_SHARED, 'one page MAP_SHARED'],
      [SIZE, MAP_SHARED, 'whole file MAP_SHARED'],
      [SIZE, MAP_PRIVATE, 'whole file MAP_PRIVATE'],
    ] as const) {
      const r = __mmap(len, RW, flags, g.fd);
      if (r.ret !== -1n) ctx.defer(() => void libc.munmap(r.ret, len));
      expectErrno(r, 'ENODEV', what);
    }
  },
});

const sharedValidate = defineCase({
  id: 'gmem.mmap.map_shared_validate_accepted',
  doc: 'MAP_SHARED_VALIDATE maps a guest_memfd like MAP_SHARED (no unknown flags involved)',
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const g = gmemOf(ctx, SHARED);
    const v = ctx.map(SIZE, RW, MAP_SHARED_VALIDATE, g.fd);
    v.bytes.fill(0x42);
    expectFilled(
      mapGmem(ctx, g).bytes,
      0,
      SIZE,
      0x42,
      'MAP_SHARED mapping after writes through the MAP_SHARED_VALIDATE one',
    );
  },
});

const offsetMapping = defineCase({
  id: 'gmem.mmap.nonzero_offset',
  doc: 'a mapping at file offset 2 pages maps pages 2 and 3 of the file, in both directions',
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const g = gmemOf(ctx, SHARED);
    const whole = mapGmem(ctx, g);
    for (let p = 0; p < 4; p++) whole.bytes.fill(0x10 + p, p * P, (p + 1) * P);
    const tail = mapGmem(ctx, g, 2 * P, RW, 2n * PAGE);
    expectFilled(tail.bytes, 0, P, 0x12, 'offset mapping page 0 (file page 2)');
    expectFilled(tail.bytes, P, 2 * P, 0x13, 'offset mapping page 1 (file page 3)');
    tail.bytes[0] = 0xee;
    expectEq(
      whole.bytes[2 * P],
      0xee,
      'file page 2 in the whole-file mapping after a write through the offset mapping',
    );
  },
});

const offsetBeyondEof = defineCase<{ pagesPastEof: number }>({
  id: 'gmem.mmap.offset_beyond_eof',
  doc: 'mmap at an offset at or past EOF succeeds (kvm_gmem_mmap does not check the size) and the first touch raises SIGBUS',
  requires: NEEDS_GMEM_SHARED,
  variants: [
    { name: 'at_eof', params: { pagesPastEof: 0 } },
    { name: 'past_eof', params: { pagesPastEof: 4 } },
  ],
  run(ctx) {
    const g = gmemOf(ctx, SHARED);
    const offset = BigInt(SIZE + ctx.params.pagesPastEof * P);
    const r = __mmap(P, RW, MAP_SHARED, g.fd, offset);
    if (r.ret !== -1n) ctx.defer(() => void libc.munmap(r.ret, P));
    ctx.observe('mmap', r.ret === -1n ? `errno ${r.errno}` : 'OK');
    expectOk(r, `mmap at offset ${hex(offset)} of a ${hex(SIZE)}-byte file`);
    const o = touchGmem(g.fd, { length: P, prot: RW, offset, ops: [{ op: 'read', at: 0 }] });
    expectKilledAt(o, 'SIGBUS', 0, `read of a mapping at offset ${hex(offset)}`);
  },
});

const straddleEof = defineCase({
  id: 'gmem.mmap.mapping_straddles_eof',
  doc: 'a two-page mapping starting at the last page of the file: its first page works, its second raises SIGBUS',
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const g = gmemOf(ctx, SHARED);
    const offset = BigInt(SIZE - P);
    const o = touchGmem(g.fd, {
      length: 2 * P,
      prot: RW,
      offset,
      ops: [
        { op: 'write', at: P - 1, value: 0x99 },
        { op: 'read', at: P },
      ],
    });
    expectKilledAt(o, 'SIGBUS', 1, "read of the mapping's second page (past EOF)");
    expectEq(
      mapGmem(ctx, g).bytes[SIZE - 1],
      0x99,
      'last byte of the file, written by the child through its first page',
    );
  },
});

const unalignedOffset = defineCase({
  id: 'gmem.mmap.unaligned_offset_einval',
  doc: 'mmap at a file offset that is not page-aligned fails with EINVAL',
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const g = gmemOf(ctx, SHARED);
    for (const off of [1n, PAGE - 1n, PAGE + 1n]) {
      const r = __mmap(P, RW, MAP_SHARED, g.fd, off);
      if (r.ret !== -1n) ctx.defer(() => void libc.munmap(r.ret, P));
      expectErrno(r, 'EINVAL', `offset ${hex(off)}`);
    }
  },
});

const mprotectReadOnly = defineCase({
  id: 'gmem.mmap.mprotect_readonly_write_sigsegv',
  doc: 'after mprotect(PROT_READ) a read still works and a write raises SIGSEGV without reaching the file',
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const g = gmemOf(ctx, SHARED);
    const o = touchGmem(g.fd, {
      length: SIZE,
      prot: RW,
      ops: [
        { op: 'write', at: 0, value: 0x11 },
        { op: 'mprotect', prot: PROT_READ },
        { op: 'read', at: 0 },
        { op: 'write', at: 0, value: 0x22 },
      ],
    });
    expectKilledAt(o, 'SIGSEGV', 3, 'write after mprotect(PROT_READ)');
    expectEq(
      mapGmem(ctx, g).bytes[0],
      0x11,
      'byte 0 of the file (written before mprotect; the refused write must not land)',
    );
  },
});

const readOnlyMapping = defineCase({
  id: 'gmem.mmap.readonly_mapping_write_sigsegv',
  doc: 'a PROT_READ mapping reads the file and a write through it raises SIGSEGV',
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const g = gmemOf(ctx, SHARED);
    mapGmem(ctx, g).bytes.fill(0x31);
    const o = touchGmem(g.fd, {
      length: SIZE,
      prot: PROT_READ,
      ops: [
        { op: 'scan', from: 0, to: SIZE, value: 0x31 },
        { op: 'write', at: 0, value: 0 },
      ],
    });
    expectKilledAt(o, 'SIGSEGV', 1, 'write through a PROT_READ mapping');
  },
});

const mprotectReadWrite = defineCase({
  id: 'gmem.mmap.mprotect_readonly_to_readwrite',
  doc: 'a PROT_READ MAP_SHARED mapping of the O_RDWR guest_memfd can be made writable with mprotect, and its writes reach the file',
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const g = gmemOf(ctx, SHARED);
    const ro = mapGmem(ctx, g, SIZE, PROT_READ);
    expectFilled(ro.bytes, 0, SIZE, 0, 'read-only mapping of a fresh file');
    expectOk(__mprotect(ro.addr, SIZE, RW), 'mprotect(PROT_READ|PROT_WRITE)');
    ro.bytes.fill(0x64);
    expectFilled(mapGmem(ctx, g).bytes, 0, SIZE, 0x64, 'second mapping after writes through the re-protected one');
  },
});

const protExec = defineCase<{ how: 'mmap_rwx' | 'mmap_rx' | 'mprotect_add_exec' }>({
  id: 'gmem.mmap.prot_exec_refused',
  doc: 'guest_memfd lives on a noexec mount: PROT_EXEC mmap fails with EPERM and adding PROT_EXEC with mprotect fails with EACCES',
  requires: NEEDS_GMEM_SHARED,
  variants: [
    { name: 'mmap_rwx', params: { how: 'mmap_rwx' } },
    { name: 'mmap_rx', params: { how: 'mmap_rx' } },
    { name: 'mprotect_add_exec', params: { how: 'mprotect_add_exec' } },
  ],
  expect: { mmapErrno: 'EPERM', mprotectErrno: 'EACCES' },
  run(ctx) {
    const g = gmemOf(ctx, SHARED);
    if (ctx.params.how === 'mprotect_add_exec') {
      const m = mapGmem(ctx, g);
      expectErrno(
        __mprotect(m.addr, SIZE, RW | PROT_EXEC),
        ctx.expected<ErrnoName>('mprotectErrno'),
        'mprotect adding PROT_EXEC',
      );
      return;
    }
    const prot = ctx.params.how === 'mmap_rwx' ? RW | PROT_EXEC : PROT_READ | PROT_EXEC;
    const r = __mmap(SIZE, prot, MAP_SHARED, g.fd);
    if (r.ret !== -1n) ctx.defer(() => void libc.munmap(r.ret, SIZE));
    expectErrno(r, ctx.expected<ErrnoName>('mmapErrno'), `mmap prot ${hex(prot)}`);
  },
});

const dontneed = defineCase({
  id: 'gmem.mmap.madv_dontneed_keeps_data',
  doc: 'MADV_DONTNEED only drops the page-table entries: the file-backed data reads back unchanged',
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const m = mapGmem(ctx, gmemOf(ctx, SHARED));
    m.bytes.fill(0xd0);
    expectOk(__madvise(m.addr, SIZE, MADV_DONTNEED), 'MADV_DONTNEED');
    expectFilled(m.bytes, 0, SIZE, 0xd0, 'after MADV_DONTNEED');
  },
});

const remove = defineCase({
  id: 'gmem.mmap.madv_remove_punches_hole',
  doc: 'MADV_REMOVE on one page punches it out of the file: it reads zero in every mapping while the other pages keep their data',
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const g = gmemOf(ctx, SHARED);
    const a = mapGmem(ctx, g);
    const b = mapGmem(ctx, g);
    a.bytes.fill(0xaa);
    expectOk(__madvise(a.addr + PAGE, P, MADV_REMOVE), 'MADV_REMOVE of page 1');
    expectFilled(a.bytes, P, 2 * P, 0, 'page 1 in the advised mapping');
    expectFilled(b.bytes, P, 2 * P, 0, 'page 1 in another mapping');
    expectFilled(b.bytes, 0, P, 0xaa, 'page 0');
    expectFilled(b.bytes, 2 * P, SIZE, 0xaa, 'pages 2-3');
  },
});

const populate = defineCase<{ flags: bigint; advice: number; errno: ErrnoName | null }>({
  id: 'gmem.mmap.madv_populate',
  doc: 'MADV_POPULATE_READ/WRITE succeed on shared guest_memfd pages and fail with EFAULT on private ones (the fault is VM_FAULT_SIGBUS)',
  requires: NEEDS_GMEM_MMAP,
  variants: [
    {
      name: 'shared_read',
      params: { flags: SHARED, advice: MADV_POPULATE_READ, errno: null },
      requires: { gmemFlags: ['GUEST_MEMFD_FLAG_INIT_SHARED'] },
    },
    {
      name: 'shared_write',
      params: { flags: SHARED, advice: MADV_POPULATE_WRITE, errno: null },
      requires: { gmemFlags: ['GUEST_MEMFD_FLAG_INIT_SHARED'] },
    },
    { name: 'private_read', params: { flags: MMAP, advice: MADV_POPULATE_READ, errno: 'EFAULT' } },
    { name: 'private_write', params: { flags: MMAP, advice: MADV_POPULATE_WRITE, errno: 'EFAULT' } },
  ],
  run(ctx) {
    const m = mapGmem(ctx, gmemOf(ctx, ctx.params.flags));
    const r = __madvise(m.addr, SIZE, ctx.params.advice);
    const what = `madvise(${ctx.params.advice === MADV_POPULATE_READ ? 'MADV_POPULATE_READ' : 'MADV_POPULATE_WRITE'})`;
    if (ctx.params.errno) {
      expectErrno(r, ctx.params.errno, what);
      return;
    }
    expectOk(r, what);
    const vec = Buffer.alloc(SIZE / P);
    expectOk(libc.syscall(SYSCALL.mincore, m.addr, SIZE, vec), 'mincore');
    expectTrue(
      vec.every((v) => (v & 1) === 1),
      `mincore after populate reports non-resident pages: ${vec.toString('hex')}`,
    );
  },
});

const madvisePrivate = defineCase<{ advice: number }>({
  id: 'gmem.mmap.madvise_private_memory',
  doc: 'MADV_DONTNEED and MADV_REMOVE need no fault and succeed on a mapping of private (not INIT_SHARED) guest_memfd memory',
  requires: NEEDS_GMEM_MMAP,
  variants: [
    { name: 'dontneed', params: { advice: MADV_DONTNEED } },
    { name: 'remove', params: { advice: MADV_REMOVE } },
  ],
  run(ctx) {
    const m = mapGmem(ctx, gmemOf(ctx, MMAP));
    expectOk(
      __madvise(m.addr, SIZE, ctx.params.advice),
      `madvise(${ctx.params.advice === MADV_DONTNEED ? 'MADV_DONTNEED' : 'MADV_REMOVE'})`,
    );
  },
});

const mlock = defineCase<{ flags: bigint; onFault: boolean; errno: ErrnoName | null }>({
  id: 'gmem.mmap.mlock',
  doc: 'mlock populates shared pages; on private pages it fails with ENOMEM (population faults), while mlock2(MLOCK_ONFAULT) needs no fault and succeeds',
  requires: NEEDS_GMEM_MMAP,
  variants: [
    {
      name: 'shared',
      params: { flags: SHARED, onFault: false, errno: null },
      requires: { gmemFlags: ['GUEST_MEMFD_FLAG_INIT_SHARED'] },
    },
    { name: 'private', params: { flags: MMAP, onFault: false, errno: 'ENOMEM' } },
    { name: 'private_onfault', params: { flags: MMAP, onFault: true, errno: null } },
  ],
  run(ctx) {
    const m = mapGmem(ctx, gmemOf(ctx, ctx.params.flags));
    const r = ctx.params.onFault
      ? libc.syscall(SYSCALL.mlock2, m.addr, SIZE, MLOCK_ONFAULT)
      : libc.syscall(SYSCALL.mlock, m.addr, SIZE);
    if (r.ret === 0n) ctx.defer(() => void libc.syscall(SYSCALL.munlock, m.addr, SIZE));
    const what = ctx.params.onFault ? 'mlock2(MLOCK_ONFAULT)' : 'mlock';
    if (ctx.params.errno) expectErrno(r, ctx.params.errno, what);
    else expectOk(r, what);
  },
});

function pmdSize(): number {
  return Number(readFileSync('/sys/kernel/mm/transparent_hugepage/hpage_pmd_size', 'utf8').trim());
}

const collapse = defineCase({
  id: 'gmem.mmap.madv_collapse_refused',
  doc: 'on a PMD-aligned, read-populated mapping of a PMD-sized guest_memfd, MADV_HUGEPAGE is accepted but MADV_COLLAPSE fails with EINVAL, and the pages still fault in afterwards',
  requires: {
    ...NEEDS_GMEM_SHARED,
    kconfig: ['CONFIG_TRANSPARENT_HUGEPAGE'],
    files: ['/sys/kernel/mm/transparent_hugepage/hpage_pmd_size'],
  },
  tags: { selftest: `${SELFTEST}:test_collapse`, linuxGit: ['9830209b4ae8'] },
  run(ctx) {
    const pmd = pmdSize();
    const g = gmemOf(ctx, SHARED, pmd);
    const reserved = __mmap(2 * pmd, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    const base = expectOk(reserved, 'reserve 2 PMDs of address space') as bigint;
    ctx.defer(() => void libc.munmap(base, 2 * pmd));
    const aligned = (base + BigInt(pmd) - 1n) & ~(BigInt(pmd) - 1n);
    const fixed = __mmap(pmd, RW, MAP_FIXED | MAP_SHARED, g.fd, 0n, aligned);
    expectEq(
      expectOk(fixed, 'MAP_FIXED mapping of the guest_memfd at a PMD-aligned address'),
      aligned,
      'address of the MAP_FIXED mapping',
    );
    const bytes = new Uint8Array(libc.viewAt(aligned, pmd));
    let sum = 0;
    for (let i = 0; i < pmd; i += P) sum += bytes[i] ?? 0; // read-populate without dirtying
    expectEq(sum, 0, 'sum of the first byte of every fresh page');
    expectOk(__madvise(aligned, pmd, MADV_HUGEPAGE), 'MADV_HUGEPAGE');
    const r = __madvise(aligned, pmd, MADV_COLLAPSE);
    ctx.observe('collapse', r.ret === 0 ? 'OK' : r.errno);
    expectErrno(r, 'EINVAL', 'MADV_COLLAPSE');
    expectOk(__madvise(aligned, pmd, MADV_DONTNEED), 'MADV_DONTNEED after the refused collapse');
    expectEq(bytes[0], 0, 'first byte after re-faulting');
  },
});

const mremapGrow = defineCase({
  id: 'gmem.mmap.mremap_grow_beyond_eof',
  doc: 'mremap may grow a mapping past EOF: the data moves with it and the grown part raises SIGBUS when touched',
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const g = gmemOf(ctx, SHARED);
    const first = __mmap(SIZE, RW, MAP_SHARED, g.fd);
    let addr = expectOk(first, 'mmap') as bigint;
    let length = SIZE;
    ctx.defer(() => void libc.munmap(addr, length));
    new Uint8Array(libc.viewAt(addr, SIZE)).fill(0x5a);
    const moved = __mremap(addr, SIZE, 2 * SIZE);
    addr = expectOk(moved, `mremap ${hex(SIZE)} -> ${hex(2 * SIZE)}`) as bigint;
    length = 2 * SIZE;
    expectFilled(new Uint8Array(libc.viewAt(addr, SIZE)), 0, SIZE, 0x5a, 'file part of the grown mapping');
    const o = touchGmem(g.fd, {
      length: SIZE,
      prot: RW,
      ops: [
        { op: 'mremap', length: 2 * SIZE },
        { op: 'scan', from: 0, to: SIZE, value: 0x5a },
        { op: 'read', at: SIZE },
      ],
    });
    expectKilledAt(o, 'SIGBUS', 2, 'read of the first byte past EOF in the grown mapping');
  },
});

const childProcess = defineCase({
  id: 'gmem.mmap.other_process_shares_data',
  doc: "another process that inherits the guest_memfd and maps it sees this process's writes, and this process sees its writes",
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const g = gmemOf(ctx, SHARED);
    const m = mapGmem(ctx, g);
    m.bytes.fill(0x3c);
    const o = touchGmem(g.fd, {
      length: SIZE,
      prot: RW,
      ops: [
        { op: 'scan', from: 0, to: SIZE, value: 0x3c },
        { op: 'fill', from: SIZE / 2, to: SIZE, value: 0xc3 },
      ],
    });
    const res = expectCompleted(o, 'child mapping the inherited guest_memfd');
    expectEq(
      res.reads[0],
      -1,
      "first offset at which the child saw something other than the parent's 0x3c (-1 = none)",
    );
    expectFilled(m.bytes, 0, SIZE / 2, 0x3c, 'first half (not written by the child)');
    expectFilled(m.bytes, SIZE / 2, SIZE, 0xc3, 'second half, written by the child');
  },
});

const remapKeeps = defineCase({
  id: 'gmem.mmap.munmap_remap_keeps_data',
  doc: 'data written through a mapping survives munmap: a new mapping of the file reads it back',
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const g = gmemOf(ctx, SHARED);
    const a = mapGmem(ctx, g);
    a.bytes.fill(0x6b);
    a.close();
    expectFilled(mapGmem(ctx, g).bytes, 0, SIZE, 0x6b, 'new mapping after munmap of the one that wrote');
  },
});

const populatePrivate = defineCase({
  id: 'gmem.mmap.map_populate_private_memory',
  doc: 'MAP_POPULATE on private guest_memfd memory still returns a mapping (population failures are ignored) and access still raises SIGBUS',
  requires: NEEDS_GMEM_MMAP,
  run(ctx) {
    const g = gmemOf(ctx, MMAP);
    const r = __mmap(SIZE, RW, MAP_SHARED | MAP_POPULATE, g.fd);
    if (r.ret !== -1n) ctx.track(new Mapping(r.ret, SIZE));
    expectOk(r, 'mmap(MAP_SHARED | MAP_POPULATE) of private memory');
    const o = touchGmem(g.fd, { length: SIZE, prot: RW, ops: [{ op: 'read', at: 0 }] });
    expectKilledAt(o, 'SIGBUS', 0, 'read of private memory');
  },
});

const writeVisibleAfterPunchAll = defineCase({
  id: 'gmem.mmap.punch_whole_file_then_rewrite',
  doc: 'punching the whole file zeroes every mapped page; rewriting re-faults fresh pages that keep the new data',
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const g = gmemOf(ctx, SHARED);
    const m = mapGmem(ctx, g);
    m.bytes.fill(0xaa);
    fallocate(g.fd, PUNCH, 0n, BigInt(SIZE));
    expectFilled(m.bytes, 0, SIZE, 0, 'after punching the whole file');
    m.bytes.fill(0x55);
    expectFilled(mapGmem(ctx, g).bytes, 0, SIZE, 0x55, 'a new mapping after rewriting through the old one');
  },
});

const guestUsesSlot = defineCase<{ hva: 'null' | 'gmem_mapping' }>({
  id: 'gmem.mmap.guest_uses_gmem_slot',
  doc: 'a vCPU reads what the host wrote through the mmap of a guest_memfd-only memslot, and the host sees the byte the guest stored',
  requires: NEEDS_GMEM_SLOT,
  variants: [
    { name: 'hva_null', params: { hva: 'null' } },
    { name: 'hva_gmem_mapping', params: { hva: 'gmem_mapping' } },
  ],
  tags: { selftest: `${SELFTEST}:test_guest_memfd_guest` },
  run(ctx) {
    const vm = ctx.vm();
    const size = 16n * PAGE;
    const g = ctx.gmem(vm, size, SHARED);
    const host = mapGmem(ctx, g);
    host.bytes.fill(0xaa);
    let hva = 0n;
    if (ctx.params.hva === 'null')
      host.close(); // upstream unmaps before running the guest and passes userspace_addr NULL
    else hva = host.addr;
    const vcpu = guestReadingGmem(ctx, vm, g.fd, hva, size);
    const trace = __runToHlt(vcpu);
    ctx.observe('exits', describeTrace(trace));
    expectProgramRan(
      trace,
      0xaa,
      `guest run with userspace_addr ${ctx.params.hva === 'null' ? '0' : 'the guest_memfd mapping'}`,
    );
    const after = mapGmem(ctx, g);
    expectEq(after.bytes[1], STORED_VALUE, 'byte the guest stored, read through a new host mapping');
    expectFilled(after.bytes, 2, Number(size), 0xaa, 'bytes the guest did not touch');
  },
});

/** ALIGN_DOWN(INT64_MAX, PAGE): the largest guest_memfd size, and the file offset whose page ends at 2^63. */
const MAX_SIZE = ((1n << 63n) - 1n) & ~(PAGE - 1n);

const maxOffset = defineCase({
  id: 'gmem.mmap.max_offset',
  doc:
    'in a guest_memfd of size ALIGN_DOWN(INT64_MAX, PAGE), the last page maps (offset i_size - PAGE), is ' +
    'writable and keeps its data; mapping it with one more page, or the page at i_size, fails with ' +
    'EOVERFLOW',
  requires: NEEDS_GMEM_SHARED,
  tags: { kernelFn: 'mmap.c:file_mmap_ok; guest_memfd.c:kvm_gmem_mmap' },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), MAX_SIZE, SHARED);
    const last = MAX_SIZE - PAGE;
    const r = __mmap(P, RW, MAP_SHARED, g.fd, last);
    if (r.ret !== -1n) ctx.defer(() => void libc.munmap(r.ret, P));
    expectOk(r, `mmap one page at offset ${hex(last)} of a ${hex(MAX_SIZE)}-byte file`);
    for (const [len, offset] of [
      [2 * P, last],
      [P, MAX_SIZE],
    ] as const) {
      const bad = __mmap(len, RW, MAP_SHARED, g.fd, offset);
      if (bad.ret !== -1n) ctx.defer(() => void libc.munmap(bad.ret, len));
      expectErrno(bad, 'EOVERFLOW', `mmap ${hex(len)} bytes at offset ${hex(offset)} (would end past INT64_MAX)`);
    }
    const ops = [
      { op: 'write' as const, at: P - 1, value: 0x5c },
      { op: 'read' as const, at: 0 },
    ];
    const wrote = expectCompleted(
      touchGmem(g.fd, { length: P, prot: RW, offset: last, ops }),
      `write and read the last page (offset ${hex(last)})`,
    );
    expectEq(wrote.reads[0], 0, 'first byte of the fresh last page');
    const again = expectCompleted(
      touchGmem(g.fd, { length: P, prot: RW, offset: last, ops: [{ op: 'read', at: P - 1 }] }),
      'read the last page in a second mapping',
    );
    expectEq(again.reads[0], 0x5c, 'last byte of the file, written through the first mapping');
  },
});

export default [
  readWriteWhole,
  freshZero,
  secondMapping,
  dupMapping,
  punchZeroes,
  punchAllMappings,
  writeVisibleAfterPunchAll,
  sigbusBeyondEof,
  overflowKeepsPrefix,
  privateSigbus,
  mapPrivate,
  noMmapFlag,
  sharedValidate,
  offsetMapping,
  offsetBeyondEof,
  straddleEof,
  unalignedOffset,
  mprotectReadOnly,
  readOnlyMapping,
  mprotectReadWrite,
  protExec,
  dontneed,
  remove,
  populate,
  madvisePrivate,
  mlock,
  collapse,
  mremapGrow,
  childProcess,
  remapKeeps,
  populatePrivate,
  guestUsesSlot,
  maxOffset,
];
