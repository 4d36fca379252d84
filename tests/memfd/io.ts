/**
 * memfd.io: the file behaviour memfd_test.c relies on — read/write, mmap coherence, resizing, fallocate, holes, large offsets;
 * the cases that do not depend on shmem's limits run on every backing (shmem, hugetlbfs 2 MiB and 1 GiB) as variants.
 *
 * Kernel checks: I/O on a shmem memfd (fs/read_write.c rw_verify_area, generic_write_checks; fs/open.c
 * vfs_fallocate, do_ftruncate; mm/shmem.c shmem_fallocate; read in 7.2.13 and 7.3-rc7, measured on 6.18)
 *   1. pread/pwrite with a negative offset → EINVAL | refused: memfd.io.offset_limits | accepted: memfd.io.pwrite_gap_reads_zero@shmem
 *   2. pwrite whose end overflows loff_t → EINVAL | refused: memfd.io.offset_limits | accepted: memfd.io.large_sparse_offset
 *   3. ftruncate(-1) → EINVAL; 2^63-1 accepted | refused: memfd.io.ftruncate_limits | accepted: memfd.io.ftruncate_limits
 *   4. fallocate mode other than KEEP_SIZE/PUNCH_HOLE → EOPNOTSUPP | refused: memfd.io.fallocate_unsupported_mode@zero_range | accepted: memfd.io.fallocate_allocates
 *   5. PUNCH_HOLE without KEEP_SIZE → EOPNOTSUPP | refused: memfd.io.punch_hole_needs_keep_size | accepted: memfd.io.punch_hole_zeroes
 *   6. write, ftruncate, fallocate, writable mmap through an O_RDONLY fd → EBADF/EINVAL/EBADF/EACCES (fs/read_write.c vfs_write,
 *      fs/open.c do_ftruncate, vfs_fallocate, mm/mmap.c do_mmap; every backing) | refused: memfd.io.readonly_reopen | accepted: memfd.io.mmap_shared_coherent
 *   7. SEEK_DATA/SEEK_HOLE at or beyond EOF → ENXIO | refused: memfd.io.seek_data_hole@shmem | accepted: memfd.io.seek_sparse_file@shmem
 *   8. touching a mapped page beyond EOF → SIGBUS | refused: memfd.io.access_beyond_eof@shmem_beyond_eof, memfd.io.access_beyond_eof@shmem_after_shrink
 *      | accepted: memfd.io.access_beyond_eof@shmem_inside_eof
 *
 * Kernel checks: I/O on a hugetlbfs memfd, where it differs from shmem by design (fs/hugetlbfs/inode.c hugetlbfs_file_operations,
 *   hugetlbfs_read_iter, hugetlbfs_setattr, hugetlb_vmtruncate, hugetlbfs_file_mmap, hugetlbfs_fallocate; fs/file_table.c
 *   file_init_path; fs/read_write.c vfs_write, default_llseek; mm/hugetlb.c hugetlb_reserve_pages, hugetlb_wp, hugetlb_no_page;
 *   read in 7.2.13, measured on 6.18 and 7.2.13)
 *   1. write(2)/pwrite(2): no write/write_iter, so no FMODE_CAN_WRITE → EINVAL, offset and size unchanged; read_iter returns
 *      what a mapping stored, holes as zeros | refused: memfd.io.write_read_roundtrip@hugetlb_2m, memfd.io.pwrite_gap_reads_zero@hugetlb_2m,
 *      memfd.io.mmap_shared_coherent@hugetlb_2m | accepted: memfd.io.write_read_roundtrip@hugetlb_2m, memfd.io.pwrite_gap_reads_zero@hugetlb_1g
 *   2. through an O_RDONLY fd vfs_write checks FMODE_WRITE (EBADF) before FMODE_CAN_WRITE (EINVAL) | refused: memfd.io.readonly_reopen@hugetlb_2m,
 *      memfd.io.readonly_reopen@hugetlb_1g | accepted: n/a (hugetlbfs accepts no write(2) on any fd)
 *   3. ftruncate to a size that is not a multiple of the huge page → EINVAL; shrinking frees the pages beyond | refused:
 *      memfd.io.ftruncate_shrink_discards@hugetlb_2m | accepted: memfd.io.ftruncate_shrink_discards@hugetlb_1g
 *   4. SEEK_DATA/SEEK_HOLE are default_llseek: all of [0, i_size) is data, punched pages included; ENXIO at or beyond EOF
 *      | refused: memfd.io.seek_data_hole@hugetlb_2m | accepted: memfd.io.seek_data_hole@hugetlb_1g, memfd.io.seek_sparse_file@hugetlb_2m
 *   5. a MAP_PRIVATE mapping reserves its whole length at mmap ("even if read-only"; with no huge page to reserve
 *      hugetlbfs_file_mmap fails with ENOMEM), and a store copies into a second huge page
 *      | refused: memfd.io.mmap_private_reserve_refused@hugetlb_2m, memfd.io.mmap_private_reserve_refused@hugetlb_1g
 *      | accepted: memfd.io.mmap_private_cow@hugetlb_2m,
 *      memfd.io.mmap_private_cow@hugetlb_1g
 *   6. a writable shared mapping past EOF grows i_size to its end (touching there works); a read-only one does not (SIGBUS)
 *      | refused: memfd.io.access_beyond_eof@hugetlb_2m_beyond_eof_readonly, memfd.io.access_beyond_eof@hugetlb_1g_beyond_eof_readonly
 *      | accepted: memfd.io.access_beyond_eof@hugetlb_2m_beyond_eof, memfd.io.access_beyond_eof@hugetlb_1g_beyond_eof
 *   7. a fault at or beyond i_size after ftruncate shrank the file → SIGBUS (hugetlb_no_page) | refused:
 *      memfd.io.access_beyond_eof@hugetlb_2m_after_shrink, memfd.io.access_beyond_eof@hugetlb_1g_after_shrink | accepted:
 *      memfd.io.access_beyond_eof@hugetlb_2m_inside_eof, memfd.io.access_beyond_eof@hugetlb_1g_inside_eof
 */
import { defineCase, type Variant } from '../../lib/harness/case.js';
import { expectErrno, expectEq, expectOk, expectTrue, outcome, CaseFailure } from '../../lib/harness/expect.js';
import { syscall } from '../../lib/ffi/libc.js';
import { __open, decodeStat, fstat, STAT_SIZE } from '../../lib/sys/fd.js';
import { expectFinished, ProbeProgram, resultOf, runProgram, type StepValue } from '../../lib/harness/probe-program.js';
import {
  __fallocate,
  __ftruncate,
  __lseek,
  __pread,
  __pwrite,
  __read,
  __write,
  fallocate,
  ftruncate,
  pread,
  pwrite,
} from '../../lib/sys/io.js';
import { __mmap, Mapping } from '../../lib/sys/mman.js';
import {
  FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_INSERT_RANGE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_UNSHARE_RANGE,
  FALLOC_FL_WRITE_ZEROES,
  FALLOC_FL_ZERO_RANGE,
  MAP_PRIVATE,
  MAP_SHARED,
  MFD_CLOEXEC,
  O_CLOEXEC,
  O_RDONLY,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  SEEK_CUR,
  SEEK_DATA,
  SEEK_END,
  SEEK_HOLE,
  SEEK_SET,
  SYSCALL,
} from '../../lib/uapi/index.js';
import { PAGE, newMemfd } from '../../lib/cases/memfd.js';
import {
  BACKINGS,
  backingNamed,
  backingRequires,
  blocksOf,
  fillOn,
  freePages,
  leaveFreePages,
  memfdOn,
  requireFreePages,
  storeOn,
  type MemfdBacking,
} from '../../lib/cases/memfd-backing.js';

const P = BigInt(PAGE);

/** One variant per backing (shmem, hugetlb_2m, hugetlb_1g), each requiring its hstate. */
function onEveryBacking(): Variant<{ backing: string }>[] {
  return BACKINGS.map((b) => ({ name: b.name, params: { backing: b.name }, requires: backingRequires(b) }));
}

function fill(len: number, byte: number): Buffer {
  return Buffer.alloc(len, byte);
}

function expectRead(fd: number, offset: bigint | number, want: Buffer, what: string): void {
  const got = pread(fd, want.length, offset);
  if (!got.equals(want))
    throw new CaseFailure(
      `${what}: read <${got.subarray(0, 32).toString('hex')}${got.length > 32 ? '…' : ''}> (${got.length} bytes), expected <${want.subarray(0, 32).toString('hex')}${want.length > 32 ? '…' : ''}> (${want.length} bytes)`,
    );
}

const roundTrip = defineCase<{ backing: string }>({
  id: 'memfd.io.write_read_roundtrip',
  doc:
    'write(2) stores bytes at the file offset and advances it; after lseek(0) read(2) returns them; read at EOF returns 0; ' +
    'on hugetlbfs write(2) fails with EINVAL (offset and size unchanged) and read(2) returns what a shared mapping stored',
  variants: onEveryBacking(),
  serial: true,
  run(ctx) {
    const b = backingNamed(ctx.params.backing);
    const fd = memfdOn(ctx, b, MFD_CLOEXEC, 'rw');
    const data = Buffer.from('guest private memory, or not');
    const offset = () => expectOk(__lseek(fd, 0, SEEK_CUR), 'lseek(SEEK_CUR)');
    if (!b.hugeKb) {
      expectEq(expectOk(__write(fd, data), 'write'), BigInt(data.length), 'bytes written');
      expectEq(offset(), BigInt(data.length), 'offset after write');
      expectEq(fstat(fd).size, BigInt(data.length), 'st_size after write');
      expectOk(__lseek(fd, 0, SEEK_SET), 'lseek(0)');
      const r = __read(fd, 64);
      expectEq(expectOk(r, 'read'), BigInt(data.length), 'bytes read');
      expectTrue(r.data.subarray(0, data.length).equals(data), 'read returns the written bytes');
      expectEq(expectOk(__read(fd, 16), 'read at EOF'), 0n, 'read at EOF');
      return;
    }
    // hugetlbfs_file_operations has read_iter but neither write nor write_iter, so the file never gets
    // FMODE_CAN_WRITE (file_init_path) and vfs_write refuses with EINVAL: by design, not a defect.
    expectErrno(__write(fd, data), 'EINVAL', 'write(2) on hugetlbfs (no write_iter)');
    expectEq(offset(), 0n, 'offset after the refused write');
    expectEq(fstat(fd).size, 0n, 'st_size after the refused write');
    requireFreePages(ctx, b, 1);
    ftruncate(fd, b.page);
    storeOn(b, fd, 0n, data);
    // hugetlbfs_read_iter copies from the huge page up to i_size, which is the whole page
    const r = __read(fd, 64);
    expectEq(expectOk(r, 'read'), 64n, 'bytes read from a one-huge-page file');
    expectTrue(r.data.subarray(0, data.length).equals(data), 'read returns the stored bytes');
    expectTrue(r.data.subarray(data.length).equals(fill(64 - data.length, 0)), 'read returns zeros after them');
    expectEq(offset(), 64n, 'offset after read');
    expectEq(expectOk(__lseek(fd, 0, SEEK_END), 'lseek(SEEK_END)'), b.page, 'offset of EOF');
    expectEq(expectOk(__read(fd, 16), 'read at EOF'), 0n, 'read at EOF');
  },
});

const pwriteGap = defineCase<{ backing: string }>({
  id: 'memfd.io.pwrite_gap_reads_zero',
  doc:
    'pwrite across a page boundary and beyond EOF extends the file; the gap reads as zeros and the bytes read back exactly; ' +
    'on hugetlbfs pwrite fails with EINVAL and bytes stored across a huge page boundary of a file grown by ftruncate read back, the gap (a hole, then a zeroed page) as zeros',
  variants: onEveryBacking(),
  serial: true,
  run(ctx) {
    const b = backingNamed(ctx.params.backing);
    const fd = memfdOn(ctx, b, MFD_CLOEXEC, 'gap');
    const data = fill(100, 0xab);
    if (!b.hugeKb) {
      const at = 3n * P - 50n;
      expectEq(expectOk(__pwrite(fd, data, at), 'pwrite across the page boundary'), 100n, 'bytes written');
      expectEq(fstat(fd).size, at + 100n, 'st_size');
      expectRead(fd, 0, fill(Number(at), 0), 'the gap before the write');
      expectRead(fd, at, data, 'the written bytes');
      expectEq(expectOk(__pread(fd, 10, at + 100n), 'pread at EOF'), 0n, 'pread at EOF');
      return;
    }
    const at = 2n * b.page - 50n;
    // no write_iter on hugetlbfs: ksys_pwrite64 → vfs_write → EINVAL (FMODE_CAN_WRITE clear)
    expectErrno(__pwrite(fd, data, at), 'EINVAL', 'pwrite on hugetlbfs (no write_iter)');
    expectEq(fstat(fd).size, 0n, 'st_size after the refused pwrite');
    requireFreePages(ctx, b, 2);
    // sizes come in huge pages (hugetlbfs_setattr): the file holding the bytes is three pages long
    ftruncate(fd, 3n * b.page);
    storeOn(b, fd, at, data);
    const st = fstat(fd);
    expectEq(st.size, 3n * b.page, 'st_size');
    expectEq(st.blocks, blocksOf(b, 2n), 'st_blocks: the two huge pages the bytes touch');
    // page 0 was never faulted: hugetlbfs_read_iter zero-fills the hole; page 1 before the bytes was zeroed at fault
    expectRead(fd, 0, fill(PAGE, 0), 'the start of huge page 0 (a hole)');
    expectRead(fd, b.page - P, fill(PAGE, 0), 'the end of huge page 0 (a hole)');
    expectRead(fd, b.page, fill(PAGE, 0), 'the start of huge page 1');
    expectRead(fd, at - P, fill(PAGE, 0), 'the gap just before the bytes');
    expectRead(fd, at, data, 'the bytes across the huge page boundary');
    expectRead(fd, at + 100n, fill(PAGE, 0), 'the bytes after them');
    expectEq(expectOk(__pread(fd, 10, 3n * b.page), 'pread at EOF'), 0n, 'pread at EOF');
  },
});

const mmapCoherent = defineCase<{ backing: string }>({
  id: 'memfd.io.mmap_shared_coherent',
  doc:
    'MAP_SHARED mappings and read/write see the same page cache: writes through the fd appear in every mapping and stores appear in pread; ' +
    'on hugetlbfs (no write through the fd: EINVAL) a store through one mapping appears in pread, in another mapping and in a mapping made afterwards',
  variants: onEveryBacking(),
  serial: true,
  run(ctx) {
    const b = backingNamed(ctx.params.backing);
    const fd = memfdOn(ctx, b, MFD_CLOEXEC, 'mmap');
    if (!b.hugeKb) {
      ftruncate(fd, 2n * P);
      const a = ctx.map(2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
      const m = ctx.map(2 * PAGE, PROT_READ, MAP_SHARED, fd);
      pwrite(fd, Buffer.from('via-fd'), P + 10n);
      expectEq(Buffer.from(a.bytes.subarray(PAGE + 10, PAGE + 16)).toString(), 'via-fd', 'first mapping after pwrite');
      a.bytes.set(Buffer.from('via-map'), 100);
      expectRead(fd, 100, Buffer.from('via-map'), 'pread after a store through the first mapping');
      expectEq(Buffer.from(m.bytes.subarray(100, 107)).toString(), 'via-map', 'second mapping after the store');
      return;
    }
    const pg = Number(b.page);
    // hugetlbfs has no write_iter (vfs_write → EINVAL): its only way in is a mapping
    expectErrno(__pwrite(fd, Buffer.from('via-fd'), 10n), 'EINVAL', 'pwrite on hugetlbfs (no write_iter)');
    requireFreePages(ctx, b, 1);
    ftruncate(fd, b.page);
    const a = ctx.map(pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    const m = ctx.map(pg, PROT_READ, MAP_SHARED, fd);
    a.bytes.set(Buffer.from('via-map'), PAGE + 10);
    expectRead(fd, P + 10n, Buffer.from('via-map'), 'pread after a store through the first mapping');
    expectEq(
      Buffer.from(m.bytes.subarray(PAGE + 10, PAGE + 17)).toString(),
      'via-map',
      'second mapping after the store',
    );
    const later = ctx.map(pg, PROT_READ, MAP_SHARED, fd);
    expectEq(
      Buffer.from(later.bytes.subarray(PAGE + 10, PAGE + 17)).toString(),
      'via-map',
      'a mapping made after the store',
    );
    expectEq(fstat(fd).blocks, blocksOf(b, 1n), 'st_blocks: the three mappings share one huge page');
  },
});

const privateCow = defineCase<{ backing: string }>({
  id: 'memfd.io.mmap_private_cow',
  doc:
    'a store to a MAP_PRIVATE mapping stays private (copy-on-write): the file and a shared mapping keep the old bytes; ' +
    'on hugetlbfs the private mapping reserves a second huge page at mmap for the copy',
  variants: onEveryBacking(),
  serial: true,
  // hugetlb_wp copies the whole huge page: 55 s for 1 GiB in a 7.2 guest under TCG (base page by base page)
  timeoutMs: 60000,
  run(ctx) {
    const b = backingNamed(ctx.params.backing);
    const fd = memfdOn(ctx, b, MFD_CLOEXEC, 'cow');
    const pg = Number(b.page);
    // hugetlbfs: the file page plus the private copy (hugetlb_wp allocates it from the mapping's reservation)
    requireFreePages(ctx, b, 2);
    if (b.hugeKb) ftruncate(fd, b.page);
    fillOn(b, fd, 0n, P, 0x11);
    const free = freePages(b);
    const priv = ctx.map(pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
    // hugetlb_reserve_pages: "Private mappings need to reserve the full area even if read-only"
    if (b.hugeKb) expectEq(freePages(b), free - 1, 'free minus reserved huge pages after mmap(MAP_PRIVATE)');
    const shared = ctx.map(pg, PROT_READ, MAP_SHARED, fd);
    expectEq(priv.bytes[0], 0x11, 'private mapping before the store');
    priv.bytes[0] = 0x22;
    expectEq(priv.bytes[0], 0x22, 'private mapping after the store');
    expectRead(fd, 0, Buffer.from([0x11]), 'file after a private store');
    expectEq(shared.bytes[0], 0x11, 'shared mapping after a private store');
    expectEq(fstat(fd).blocks, blocksOf(b, 1n), 'st_blocks after the copy (the copy is not the file)');
  },
});

const privateReserveRefused = defineCase<{ backing: string }>({
  id: 'memfd.io.mmap_private_reserve_refused',
  doc:
    'on hugetlbfs a MAP_PRIVATE mapping must reserve a huge page for its copy at mmap: with the pool empty (the one ' +
    'free page holding the file) mmap fails with ENOMEM, read-only or not, and the pool is as it was',
  variants: BACKINGS.filter((b) => b.hugeKb).map((b) => ({
    name: b.name,
    params: { backing: b.name },
    requires: backingRequires(b),
  })),
  serial: true,
  run(ctx) {
    const b = backingNamed(ctx.params.backing);
    // one free page, which the file's own page then takes: nothing is left to reserve for a private copy
    leaveFreePages(ctx, b, 1);
    const fd = memfdOn(ctx, b, MFD_CLOEXEC, 'cow-refused');
    ftruncate(fd, b.page);
    fillOn(b, fd, 0n, P, 0x11);
    expectEq(freePages(b), 0, 'free minus reserved huge pages once the file holds its page');
    const pg = Number(b.page);
    for (const [prot, what] of [
      [PROT_READ | PROT_WRITE, 'read-write'],
      [PROT_READ, 'read-only'],
    ] as const) {
      const m = __mmap(pg, prot, MAP_PRIVATE, fd, 0n);
      if (m.ret !== -1n) ctx.track(new Mapping(m.ret, pg));
      // hugetlbfs_file_mmap: ret = -ENOMEM before hugetlb_reserve_pages(), which fails with no page to reserve
      expectErrno(m, 'ENOMEM', `mmap(${what}, MAP_PRIVATE) of a hugetlb memfd with no free huge page`);
    }
    expectEq(freePages(b), 0, 'free minus reserved huge pages after the refused mmaps (nothing leaked a reservation)');
    expectRead(fd, 0, Buffer.from([0x11]), 'the file after the refused mmaps');
  },
});

const truncGrow = defineCase<{ backing: string }>({
  id: 'memfd.io.ftruncate_grow_sparse',
  doc: 'ftruncate growing a memfd sets st_size, allocates nothing (st_blocks 0) and the new range reads as zeros, on every backing',
  variants: onEveryBacking(),
  run(ctx) {
    const b = backingNamed(ctx.params.backing);
    const fd = memfdOn(ctx, b, MFD_CLOEXEC, 'grow');
    ftruncate(fd, 16n * b.page);
    const st = fstat(fd);
    expectEq(st.size, 16n * b.page, 'st_size');
    expectEq(st.blocks, 0n, 'st_blocks after growing by ftruncate');
    expectRead(fd, 5n * b.page, fill(PAGE, 0), 'the first bytes of a page inside the grown range');
  },
});

const truncShrink = defineCase<{ backing: string }>({
  id: 'memfd.io.ftruncate_shrink_discards',
  doc:
    'ftruncate shrinking a memfd discards the data beyond the new size: growing again reads zeros there, st_blocks drops; ' +
    'on hugetlbfs sizes are whole huge pages (anything else fails with EINVAL)',
  variants: onEveryBacking(),
  serial: true,
  run(ctx) {
    const b = backingNamed(ctx.params.backing);
    const fd = memfdOn(ctx, b, MFD_CLOEXEC, 'shrink');
    if (!b.hugeKb) {
      pwrite(fd, fill(4 * PAGE, 0x7e), 0);
      expectEq(fstat(fd).blocks, 32n, 'st_blocks of four written pages');
      ftruncate(fd, P);
      expectEq(fstat(fd).size, P, 'st_size after shrinking');
      expectEq(fstat(fd).blocks, 8n, 'st_blocks after shrinking to one page');
      ftruncate(fd, 4n * P);
      expectRead(fd, P, fill(3 * PAGE, 0), 'the range beyond the old shrink point');
      expectRead(fd, 0, fill(PAGE, 0x7e), 'the page that stayed');
      return;
    }
    // hugetlbfs_setattr: "if (newsize & ~huge_page_mask(h)) return -EINVAL" (by design: the file is made of huge pages)
    expectErrno(__ftruncate(fd, P), 'EINVAL', 'ftruncate to one base page');
    expectEq(fstat(fd).size, 0n, 'st_size after the refused ftruncate');
    requireFreePages(ctx, b, 2);
    ftruncate(fd, 2n * b.page);
    fillOn(b, fd, 0n, P, 0x7e);
    fillOn(b, fd, b.page, P, 0x7e);
    expectEq(fstat(fd).blocks, blocksOf(b, 2n), 'st_blocks of two stored huge pages');
    expectErrno(__ftruncate(fd, b.page + P), 'EINVAL', 'ftruncate to one huge page and one base page');
    expectEq(fstat(fd).size, 2n * b.page, 'st_size after the refused ftruncate');
    // hugetlb_vmtruncate → remove_inode_hugepages(inode, offset, LLONG_MAX) frees the pages beyond
    ftruncate(fd, b.page);
    expectEq(fstat(fd).size, b.page, 'st_size after shrinking');
    expectEq(fstat(fd).blocks, blocksOf(b, 1n), 'st_blocks after shrinking to one huge page');
    ftruncate(fd, 2n * b.page);
    expectEq(fstat(fd).blocks, blocksOf(b, 1n), 'st_blocks after growing again');
    expectRead(fd, b.page, fill(PAGE, 0), 'the page beyond the old shrink point');
    expectRead(fd, 0, fill(PAGE, 0x7e), 'the page that stayed');
  },
});

const truncInvalid = defineCase({
  id: 'memfd.io.ftruncate_limits',
  doc: 'ftruncate accepts sizes up to 2^63-1 (MAX_LFS_FILESIZE) and fails with EINVAL for a negative length',
  run(ctx) {
    const fd = newMemfd(ctx, MFD_CLOEXEC, 'trunclimits');
    expectOk(__ftruncate(fd, (1n << 63n) - 1n), 'ftruncate(2^63-1)');
    expectEq(fstat(fd).size, (1n << 63n) - 1n, 'st_size');
    expectErrno(__ftruncate(fd, -1), 'EINVAL', 'ftruncate(-1)');
    expectOk(__ftruncate(fd, 0), 'ftruncate(0)');
  },
});

const fallocateAlloc = defineCase<{ backing: string }>({
  id: 'memfd.io.fallocate_allocates',
  doc: 'fallocate(0) beyond EOF extends st_size and allocates pages; with KEEP_SIZE it allocates without changing st_size; data already there survives; on every backing',
  variants: onEveryBacking(),
  run(ctx) {
    const b = backingNamed(ctx.params.backing);
    requireFreePages(ctx, b, 8);
    const fd = memfdOn(ctx, b, MFD_CLOEXEC, 'falloc');
    if (b.hugeKb) ftruncate(fd, b.page);
    fillOn(b, fd, 0n, 4n, 0x6b);
    fallocate(fd, 0, 0, 4n * b.page);
    expectEq(fstat(fd).size, 4n * b.page, 'st_size after fallocate(0, 0, 4 pages)');
    expectEq(fstat(fd).blocks, blocksOf(b, 4n), 'st_blocks after allocating four pages');
    expectRead(fd, 0, fill(4, 0x6b), 'data written before fallocate');
    fallocate(fd, FALLOC_FL_KEEP_SIZE, 4n * b.page, 4n * b.page);
    expectEq(fstat(fd).size, 4n * b.page, 'st_size after KEEP_SIZE fallocate beyond EOF');
    expectEq(fstat(fd).blocks, blocksOf(b, 8n), 'st_blocks after KEEP_SIZE fallocate of four more pages');
  },
});

const punch = defineCase<{ backing: string }>({
  id: 'memfd.io.punch_hole_zeroes',
  doc: 'FALLOC_FL_PUNCH_HOLE|KEEP_SIZE frees the pages (st_blocks drops), keeps st_size, and the range reads as zeros through read and a shared mapping; on every backing',
  variants: onEveryBacking(),
  run(ctx) {
    const b = backingNamed(ctx.params.backing);
    requireFreePages(ctx, b, 4);
    const fd = memfdOn(ctx, b, MFD_CLOEXEC, 'punch');
    if (b.hugeKb) ftruncate(fd, 4n * b.page);
    fillOn(b, fd, 0n, 4n * b.page, 0x42);
    const pg = Number(b.page);
    const map = ctx.map(4 * pg, PROT_READ, MAP_SHARED, fd);
    expectEq(map.bytes[pg + 5], 0x42, 'mapping before punching');
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, b.page, 2n * b.page);
    const st = fstat(fd);
    expectEq(st.size, 4n * b.page, 'st_size after punching');
    expectEq(st.blocks, blocksOf(b, 2n), 'st_blocks after punching two of four pages');
    expectRead(fd, b.page, fill(PAGE, 0), 'the start of the punched range');
    expectRead(fd, 3n * b.page - P, fill(PAGE, 0), 'the end of the punched range');
    expectEq(map.bytes[pg + 5], 0, 'mapping inside the punched range');
    expectEq(map.bytes[5], 0x42, 'mapping before the punched range');
    expectRead(fd, 3n * b.page, fill(PAGE, 0x42), 'the page after the punched range');
  },
});

const punchPartial = defineCase({
  id: 'memfd.io.punch_hole_partial_page',
  doc: 'punching a range that is not page-aligned zeroes exactly that range and leaves the rest of the partial pages intact',
  run(ctx) {
    const fd = newMemfd(ctx, MFD_CLOEXEC, 'punchpart');
    pwrite(fd, fill(3 * PAGE, 0x42), 0);
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, P - 100n, P + 200n);
    expectRead(fd, 0, fill(PAGE - 100, 0x42), 'bytes before the range');
    expectRead(fd, P - 100n, fill(PAGE + 200, 0), 'the punched range');
    expectRead(fd, 2n * P + 100n, fill(PAGE - 100, 0x42), 'bytes after the range');
  },
});

const punchNeedsKeep = defineCase({
  id: 'memfd.io.punch_hole_needs_keep_size',
  doc: 'FALLOC_FL_PUNCH_HOLE without FALLOC_FL_KEEP_SIZE fails with EOPNOTSUPP and leaves the data',
  run(ctx) {
    const fd = newMemfd(ctx, MFD_CLOEXEC, 'punchnokeep');
    pwrite(fd, fill(2 * PAGE, 0x42), 0);
    expectErrno(__fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, P), 'EOPNOTSUPP', 'fallocate(PUNCH_HOLE) without KEEP_SIZE');
    expectRead(fd, 0, fill(2 * PAGE, 0x42), 'data after the refused punch');
  },
});

const unsupportedModes = defineCase<{ mode: number }>({
  id: 'memfd.io.fallocate_unsupported_mode',
  doc: 'shmem implements only allocate, KEEP_SIZE and PUNCH_HOLE: every other fallocate mode fails with EOPNOTSUPP',
  variants: [
    { name: 'zero_range', params: { mode: FALLOC_FL_ZERO_RANGE } },
    { name: 'zero_range_keep_size', params: { mode: FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE } },
    { name: 'collapse_range', params: { mode: FALLOC_FL_COLLAPSE_RANGE } },
    { name: 'insert_range', params: { mode: FALLOC_FL_INSERT_RANGE } },
    { name: 'unshare_range', params: { mode: FALLOC_FL_UNSHARE_RANGE } },
    { name: 'write_zeroes', params: { mode: FALLOC_FL_WRITE_ZEROES } },
    { name: 'unknown_bit8', params: { mode: 0x100 } },
  ],
  run(ctx) {
    const fd = newMemfd(ctx, MFD_CLOEXEC, 'fallocmode');
    pwrite(fd, fill(2 * PAGE, 0x42), 0);
    const r = __fallocate(fd, ctx.params.mode, 0, P);
    ctx.observe('outcome', outcome(r));
    expectErrno(r, 'EOPNOTSUPP', `fallocate(mode 0x${ctx.params.mode.toString(16)})`);
    expectRead(fd, 0, fill(2 * PAGE, 0x42), 'data after the refused fallocate');
  },
});

const fallocateArgs = defineCase({
  id: 'memfd.io.fallocate_invalid_args',
  doc: 'fallocate with a negative offset or a zero length fails with EINVAL; offset+len beyond the maximum file size fails with EFBIG',
  run(ctx) {
    const fd = newMemfd(ctx, MFD_CLOEXEC, 'fallocargs');
    expectErrno(__fallocate(fd, 0, -1, P), 'EINVAL', 'fallocate(offset -1)');
    expectErrno(__fallocate(fd, 0, 0, 0), 'EINVAL', 'fallocate(len 0)');
    expectErrno(__fallocate(fd, 0, 0, -1), 'EINVAL', 'fallocate(len -1)');
    expectErrno(__fallocate(fd, 0, (1n << 63n) - 1n, P), 'EFBIG', 'fallocate(offset 2^63-1, len 1 page)');
    expectEq(fstat(fd).size, 0n, 'st_size after the refused calls');
  },
});

const seekDataHole = defineCase<{ backing: string }>({
  id: 'memfd.io.seek_data_hole',
  doc:
    'SEEK_DATA/SEEK_HOLE report the punched page of a four-page memfd as a hole, EOF as the final hole, and ENXIO at or beyond EOF; ' +
    'hugetlbfs (default_llseek) reports all of [0, EOF) as data, punched and never-allocated pages included',
  variants: onEveryBacking(),
  serial: true,
  run(ctx) {
    const b = backingNamed(ctx.params.backing);
    const fd = memfdOn(ctx, b, MFD_CLOEXEC, 'seek');
    const pg = b.page;
    const seek = (off: bigint, whence: number) => __lseek(fd, off, whence);
    const eof = 4n * pg;
    if (!b.hugeKb) {
      pwrite(fd, fill(4 * PAGE, 0x42), 0);
      fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, P, P);
      expectEq(expectOk(seek(0n, SEEK_DATA), 'SEEK_DATA from 0'), 0n, 'SEEK_DATA from 0');
      expectEq(expectOk(seek(0n, SEEK_HOLE), 'SEEK_HOLE from 0'), P, 'SEEK_HOLE from 0');
      expectEq(expectOk(seek(P, SEEK_DATA), 'SEEK_DATA from the hole'), 2n * P, 'SEEK_DATA from the hole');
      expectEq(expectOk(seek(P + 10n, SEEK_HOLE), 'SEEK_HOLE inside the hole'), P + 10n, 'SEEK_HOLE inside the hole');
      expectEq(expectOk(seek(2n * P, SEEK_HOLE), 'SEEK_HOLE after the hole'), eof, 'SEEK_HOLE after the hole (EOF)');
    } else {
      // pages 0 and 1 allocated, page 1 punched again, pages 2-3 never allocated
      requireFreePages(ctx, b, 2);
      ftruncate(fd, eof);
      fallocate(fd, 0, 0, 2n * pg);
      fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, pg, pg);
      expectEq(fstat(fd).blocks, blocksOf(b, 1n), 'st_blocks after punching huge page 1 (it is a hole)');
      // hugetlbfs_file_operations.llseek = default_llseek: "In the generic case the entire file is data", and
      // SEEK_HOLE finds only "a virtual hole at the end of the file" (by design, not a defect)
      expectEq(expectOk(seek(0n, SEEK_DATA), 'SEEK_DATA from 0'), 0n, 'SEEK_DATA from 0');
      expectEq(expectOk(seek(0n, SEEK_HOLE), 'SEEK_HOLE from 0'), eof, 'SEEK_HOLE from 0 (EOF)');
      expectEq(expectOk(seek(pg, SEEK_DATA), 'SEEK_DATA from the hole'), pg, 'SEEK_DATA from the punched page');
      expectEq(
        expectOk(seek(pg + 10n, SEEK_HOLE), 'SEEK_HOLE inside the hole'),
        eof,
        'SEEK_HOLE inside the hole (EOF)',
      );
      expectEq(expectOk(seek(3n * pg, SEEK_DATA), 'SEEK_DATA'), 3n * pg, 'SEEK_DATA from a never-allocated page');
    }
    expectErrno(seek(eof, SEEK_DATA), 'ENXIO', 'SEEK_DATA at EOF');
    expectErrno(seek(eof, SEEK_HOLE), 'ENXIO', 'SEEK_HOLE at EOF');
    expectErrno(seek(eof + pg, SEEK_DATA), 'ENXIO', 'SEEK_DATA beyond EOF');
  },
});

// hugetlbfs has no SEEK_DATA/SEEK_HOLE of its own (default_llseek): the whole of [0, i_size) is data.
const seekSparse = defineCase<{ backing: string; data: string; hole: string }>({
  id: 'memfd.io.seek_sparse_file',
  doc: 'in a memfd grown by ftruncate, shmem reports no data (SEEK_DATA from 0 fails with ENXIO, SEEK_HOLE returns 0); hugetlbfs reports all of it as data (SEEK_DATA 0, SEEK_HOLE at EOF)',
  variants: BACKINGS.map((b) => ({
    name: b.name,
    params: { backing: b.name, data: b.hugeKb ? '0' : 'ENXIO', hole: b.hugeKb ? 'EOF' : '0' },
    requires: backingRequires(b),
  })),
  run(ctx) {
    const b = backingNamed(ctx.params.backing);
    const fd = memfdOn(ctx, b, MFD_CLOEXEC, 'sparse');
    ftruncate(fd, 8n * b.page);
    const d = __lseek(fd, 0, SEEK_DATA);
    ctx.observe('seek_data', outcome(d) === 'OK' ? `${d.ret}` : outcome(d));
    if (ctx.params.data === 'ENXIO') expectErrno(d, 'ENXIO', 'SEEK_DATA in an all-hole file');
    else expectEq(expectOk(d, 'SEEK_DATA from 0'), 0n, 'SEEK_DATA from 0');
    const h = expectOk(__lseek(fd, 0, SEEK_HOLE), 'SEEK_HOLE');
    expectEq(h, ctx.params.hole === 'EOF' ? 8n * b.page : 0n, 'SEEK_HOLE from 0');
  },
});

const largeOffset = defineCase({
  id: 'memfd.io.large_sparse_offset',
  doc: 'a pwrite at 1 TiB makes a sparse memfd of 1 TiB + 5 bytes that allocates one page; the data reads back, the hole reads zero, SEEK_DATA finds it, punching frees it',
  run(ctx) {
    const fd = newMemfd(ctx, MFD_CLOEXEC, 'large');
    const at = 1n << 40n;
    expectEq(expectOk(__pwrite(fd, Buffer.from('hello'), at), 'pwrite at 1 TiB'), 5n, 'bytes written');
    const st = fstat(fd);
    expectEq(st.size, at + 5n, 'st_size');
    expectEq(st.blocks, 8n, 'st_blocks (one page)');
    expectRead(fd, at, Buffer.from('hello'), 'bytes at 1 TiB');
    expectRead(fd, 1n << 39n, fill(16, 0), 'bytes at 512 GiB (hole)');
    expectEq(expectOk(__lseek(fd, 0, SEEK_DATA), 'SEEK_DATA'), at, 'SEEK_DATA from 0');
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at, P);
    expectEq(fstat(fd).blocks, 0n, 'st_blocks after punching the page');
  },
});

const offsetLimits = defineCase({
  id: 'memfd.io.offset_limits',
  doc: 'pwrite/pread with a negative offset fail with EINVAL, and so does a pwrite whose end overflows loff_t; a pwrite at 2^62 succeeds',
  run(ctx) {
    const fd = newMemfd(ctx, MFD_CLOEXEC, 'limits');
    const data = Buffer.from('hello');
    expectErrno(__pwrite(fd, data, -5), 'EINVAL', 'pwrite at offset -5');
    expectErrno(__pread(fd, 5, -5), 'EINVAL', 'pread at offset -5');
    expectErrno(__pwrite(fd, data, (1n << 63n) - 2n), 'EINVAL', 'pwrite of 5 bytes at 2^63-2 (end overflows)');
    expectEq(expectOk(__pwrite(fd, data, 1n << 62n), 'pwrite at 2^62'), 5n, 'bytes written at 2^62');
    expectEq(fstat(fd).size, (1n << 62n) + 5n, 'st_size');
  },
});

const readonlyReopen = defineCase<{ backing: string }>({
  id: 'memfd.io.readonly_reopen',
  doc:
    'an O_RDONLY reopen of a memfd reads the same data but write fails with EBADF, ftruncate with EINVAL, fallocate with EBADF and a writable shared mmap with EACCES; ' +
    'on hugetlbfs too (EBADF before the EINVAL of its missing write_iter)',
  variants: onEveryBacking(),
  serial: true,
  run(ctx) {
    const b = backingNamed(ctx.params.backing);
    const fd = memfdOn(ctx, b, MFD_CLOEXEC, 'ro');
    const ro = ctx.trackFd(Number(expectOk(__open(`/proc/self/fd/${fd}`, O_RDONLY | O_CLOEXEC), 'open O_RDONLY')));
    // vfs_write checks FMODE_WRITE (EBADF) before FMODE_CAN_WRITE (EINVAL, hugetlbfs's missing write_iter)
    if (b.hugeKb) expectErrno(__pwrite(fd, Buffer.from('x'), 0), 'EINVAL', 'pwrite through the O_RDWR fd');
    expectErrno(__pwrite(ro, Buffer.from('x'), 0), 'EBADF', 'pwrite through the O_RDONLY fd');
    // do_ftruncate: !FMODE_WRITE → EINVAL, before hugetlbfs_setattr sees the (huge-page aligned) size
    expectErrno(__ftruncate(ro, b.page), 'EINVAL', 'ftruncate through the O_RDONLY fd');
    expectErrno(__fallocate(ro, 0, 0, b.page), 'EBADF', 'fallocate through the O_RDONLY fd');
    const pg = Number(b.page);
    const m = __mmap(pg, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0n);
    if (m.ret !== -1n) ctx.track(new Mapping(m.ret, pg));
    expectErrno(m, 'EACCES', 'mmap(RW, MAP_SHARED) of the O_RDONLY fd');
    expectEq(fstat(fd).size, 0n, 'st_size after the refused calls');
    requireFreePages(ctx, b, 1);
    if (b.hugeKb) ftruncate(fd, b.page);
    storeOn(b, fd, 0n, Buffer.from('shared'));
    expectRead(ro, 0, Buffer.from('shared'), 'pread through the O_RDONLY fd');
  },
});

/**
 * In a probe child: a fresh memfd on the backing of `filePages` pages (byte 0 = 7, through pwrite on shmem and a
 * mapping on hugetlbfs, which has no write(2)), a shared mapping of `mapPages` pages (read-only when `readonly`),
 * st_size right after the mmap, byte 0, an optional shrink to `shrinkTo` pages, then page `touch` read; a SIGBUS
 * kills it in that last read.
 */
function touchBeyondEof(b: MemfdBacking, p: BeyondEofParams) {
  const prog = new ProbeProgram();
  const pg = Number(b.page);
  const fd = prog.sysOk('memfd_create', prog.bytes('gmem-conformance-sigbus'), (MFD_CLOEXEC | b.flags) >>> 0);
  prog.sysOk('ftruncate', fd, BigInt(p.filePages) * b.page);
  if (b.hugeKb) {
    const first = prog.sysOk('mmap', 0, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    prog.store(first, 0, 7);
    prog.sysOk('munmap', first, pg);
  } else prog.sysOk('pwrite64', fd, prog.bytes(Buffer.from([7])), 1, 0);
  const prot = p.readonly ? PROT_READ : PROT_READ | PROT_WRITE;
  const map = prog.sysOk('mmap', 0, p.mapPages * pg, prot, MAP_SHARED, fd, 0);
  const st = prog.buf(STAT_SIZE);
  prog.sysOk('fstat', fd, st);
  const stat = prog.out(st, STAT_SIZE);
  const byte0 = prog.load(map, 0);
  const beforeTouch = p.shrinkTo !== null ? prog.sysOk('ftruncate', fd, BigInt(p.shrinkTo) * b.page) : byte0;
  const touched = prog.load(map, p.touch * pg);
  const o = runProgram(prog, { timeoutMs: 30000 });
  const raw = o.output.get(stat.index);
  const v = (s: StepValue) => resultOf(o, s);
  return {
    o,
    /** the step before the touch finished: a signal then came from the touch itself */
    reachedTouch: v(beforeTouch) !== undefined,
    sum: v(byte0) && v(touched) ? Number(v(byte0)?.ret) + Number(v(touched)?.ret) : undefined,
    pagesAfterMap: raw ? Number(decodeStat(raw).size / b.page) : undefined,
  };
}

interface BeyondEofParams {
  backing: string;
  filePages: number;
  mapPages: number;
  touch: number;
  shrinkTo: number | null;
  readonly: boolean;
  signal: string | null;
  pagesAfterMap: number;
}

/** The touches of access_beyond_eof; `grows` where hugetlbfs_file_mmap sets i_size to the end of a VM_WRITE mapping. */
const TOUCHES = [
  { name: 'inside_eof', filePages: 2, mapPages: 2, touch: 1, shrinkTo: null, readonly: false, beyond: false },
  { name: 'beyond_eof', filePages: 1, mapPages: 2, touch: 1, shrinkTo: null, readonly: false, beyond: true },
  { name: 'beyond_eof_readonly', filePages: 1, mapPages: 2, touch: 1, shrinkTo: null, readonly: true, beyond: true },
  { name: 'after_shrink', filePages: 2, mapPages: 2, touch: 1, shrinkTo: 1, readonly: false, beyond: true },
] as const;

const sigbus = defineCase<BeyondEofParams>({
  id: 'memfd.io.access_beyond_eof',
  doc:
    'a shared mapping may extend past EOF, but touching a page beyond EOF raises SIGBUS (also after ftruncate shrank the file under the mapping); pages inside EOF work; ' +
    'on hugetlbfs a writable mapping first grows the file to its end (so the touch works) and a read-only one does not',
  variants: BACKINGS.flatMap((b) =>
    TOUCHES.map((t) => {
      // hugetlbfs_file_mmap: "if (vma_test(vma, VMA_WRITE_BIT) && inode->i_size < len) i_size_write(inode, len)"
      const grows = b.hugeKb !== 0 && !t.readonly && t.mapPages > t.filePages;
      return {
        name: `${b.name}_${t.name}`,
        params: {
          backing: b.name,
          filePages: t.filePages,
          mapPages: t.mapPages,
          touch: t.touch,
          shrinkTo: t.shrinkTo,
          readonly: t.readonly,
          signal: t.beyond && !grows ? 'SIGBUS' : null,
          pagesAfterMap: grows ? t.mapPages : t.filePages,
        },
        requires: backingRequires(b),
      };
    }),
  ),
  serial: true,
  run(ctx) {
    const p = ctx.params;
    const b = backingNamed(p.backing);
    // hugetlbfs: page 0 holds the data; the shared mapping reserves the rest of its pages at mmap (hugetlb_reserve_pages)
    requireFreePages(ctx, b, Math.max(p.filePages, p.mapPages));
    const r = touchBeyondEof(b, p);
    ctx.observe('signal', r.o.signal);
    const what = `touching page ${p.touch} of a ${p.readonly ? 'read-only ' : ''}${p.mapPages}-page mapping of a ${p.filePages}-page file${p.shrinkTo === null ? '' : ` shrunk to ${p.shrinkTo}`}`;
    if (!r.reachedTouch) {
      expectFinished(r.o, `${what}: the steps before the touch`);
      throw new CaseFailure(`${what}: the child never reached the touch`);
    }
    expectEq(r.pagesAfterMap, p.pagesAfterMap, `st_size in pages after the mmap (${what})`);
    if (p.signal === null) {
      expectFinished(r.o, what);
      expectEq(r.sum, 7, 'bytes read through the mapping (7 + 0)');
    } else expectEq(r.o.signal, p.signal, `${what} (status ${r.o.status})`);
  },
});

const dupSharesOffset = defineCase({
  id: 'memfd.io.dup_shares_offset',
  doc: 'a dup() shares the file offset with the original, while a /proc/self/fd reopen has its own',
  run(ctx) {
    const fd = newMemfd(ctx, MFD_CLOEXEC, 'offset');
    const d = ctx.trackFd(Number(expectOk(syscall(SYSCALL.dup, fd), 'dup')));
    const re = ctx.trackFd(Number(expectOk(__open(`/proc/self/fd/${fd}`, O_RDWR | O_CLOEXEC), 'reopen O_RDWR')));
    expectOk(__write(fd, Buffer.from('0123456789')), 'write 10 bytes');
    expectEq(expectOk(__lseek(d, 0, SEEK_CUR), 'lseek on the dup'), 10n, 'offset seen by the dup');
    expectEq(expectOk(__lseek(re, 0, SEEK_CUR), 'lseek on the reopen'), 0n, 'offset of the reopened file');
  },
});

export default [
  roundTrip,
  pwriteGap,
  mmapCoherent,
  privateCow,
  privateReserveRefused,
  truncGrow,
  truncShrink,
  truncInvalid,
  fallocateAlloc,
  punch,
  punchPartial,
  punchNeedsKeep,
  unsupportedModes,
  fallocateArgs,
  seekDataHole,
  seekSparse,
  largeOffset,
  offsetLimits,
  readonlyReopen,
  sigbus,
  dupSharesOffset,
];
