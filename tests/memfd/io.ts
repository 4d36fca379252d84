/**
 * memfd.io: the file behaviour memfd_test.c relies on — read/write, mmap coherence, resizing, fallocate, holes, large offsets.
 *
 * Kernel checks: I/O on a shmem memfd (fs/read_write.c rw_verify_area, generic_write_checks; fs/open.c
 * vfs_fallocate, do_ftruncate; mm/shmem.c shmem_fallocate; read in 7.2.13 and 7.3-rc7, measured on 6.18)
 *   1. pread/pwrite with a negative offset → EINVAL | refused: memfd.io.offset_limits | accepted: memfd.io.pwrite_gap_reads_zero
 *   2. pwrite whose end overflows loff_t → EINVAL | refused: memfd.io.offset_limits | accepted: memfd.io.large_sparse_offset
 *   3. ftruncate(-1) → EINVAL; 2^63-1 accepted | refused: memfd.io.ftruncate_limits | accepted: memfd.io.ftruncate_limits
 *   4. fallocate mode other than KEEP_SIZE/PUNCH_HOLE → EOPNOTSUPP | refused: memfd.io.fallocate_unsupported_mode@zero_range | accepted: memfd.io.fallocate_allocates
 *   5. PUNCH_HOLE without KEEP_SIZE → EOPNOTSUPP | refused: memfd.io.punch_hole_needs_keep_size | accepted: memfd.io.punch_hole_zeroes
 *   6. write, ftruncate, fallocate, writable mmap through an O_RDONLY fd → EBADF/EINVAL/EBADF/EACCES | refused: memfd.io.readonly_reopen | accepted: memfd.io.mmap_shared_coherent
 *   7. SEEK_DATA/SEEK_HOLE at or beyond EOF → ENXIO | refused: memfd.io.seek_data_hole | accepted: memfd.io.seek_sparse_file
 *   8. touching a mapped page beyond EOF → SIGBUS | refused: memfd.io.access_beyond_eof@beyond_eof | accepted: memfd.io.access_beyond_eof@inside_eof
 */
import { defineCase } from '../../lib/harness/case.js';
import { expectErrno, expectEq, expectOk, expectTrue, outcome, CaseFailure } from '../../lib/harness/expect.js';
import { syscall } from '../../lib/ffi/libc.js';
import { __open, fstat } from '../../lib/sys/fd.js';
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
import { memfdCreate } from '../../lib/sys/memfd.js';
import { __mmap, mmap, Mapping } from '../../lib/sys/mman.js';
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
  memfdOn,
  requireFreePages,
} from '../../lib/cases/memfd-backing.js';

const P = BigInt(PAGE);

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

const roundTrip = defineCase({
  id: 'memfd.io.write_read_roundtrip',
  doc: 'write(2) stores bytes at the file offset and advances it; after lseek(0) read(2) returns them; read at EOF returns 0',
  run(ctx) {
    const fd = newMemfd(ctx, MFD_CLOEXEC, 'rw');
    const data = Buffer.from('guest private memory, or not');
    expectEq(expectOk(__write(fd, data), 'write'), BigInt(data.length), 'bytes written');
    expectEq(expectOk(__lseek(fd, 0, SEEK_CUR), 'lseek(SEEK_CUR)'), BigInt(data.length), 'offset after write');
    expectEq(fstat(fd).size, BigInt(data.length), 'st_size after write');
    expectOk(__lseek(fd, 0, SEEK_SET), 'lseek(0)');
    const r = __read(fd, 64);
    expectEq(expectOk(r, 'read'), BigInt(data.length), 'bytes read');
    expectTrue(r.data.subarray(0, data.length).equals(data), 'read returns the written bytes');
    expectEq(expectOk(__read(fd, 16), 'read at EOF'), 0n, 'read at EOF');
  },
});

const pwriteGap = defineCase({
  id: 'memfd.io.pwrite_gap_reads_zero',
  doc: 'pwrite across a page boundary and beyond EOF extends the file; the gap reads as zeros and the bytes read back exactly',
  run(ctx) {
    const fd = newMemfd(ctx, MFD_CLOEXEC, 'gap');
    const data = fill(100, 0xab);
    const at = 3n * P - 50n;
    expectEq(expectOk(__pwrite(fd, data, at), 'pwrite across the page boundary'), 100n, 'bytes written');
    expectEq(fstat(fd).size, at + 100n, 'st_size');
    expectRead(fd, 0, fill(Number(at), 0), 'the gap before the write');
    expectRead(fd, at, data, 'the written bytes');
    expectEq(expectOk(__pread(fd, 10, at + 100n), 'pread at EOF'), 0n, 'pread at EOF');
  },
});

const mmapCoherent = defineCase({
  id: 'memfd.io.mmap_shared_coherent',
  doc: 'MAP_SHARED mappings and read/write see the same page cache: writes through the fd appear in every mapping and stores appear in pread',
  run(ctx) {
    const fd = newMemfd(ctx, MFD_CLOEXEC, 'mmap');
    ftruncate(fd, 2n * P);
    const a = ctx.map(2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    const b = ctx.map(2 * PAGE, PROT_READ, MAP_SHARED, fd);
    pwrite(fd, Buffer.from('via-fd'), P + 10n);
    expectEq(Buffer.from(a.bytes.subarray(PAGE + 10, PAGE + 16)).toString(), 'via-fd', 'first mapping after pwrite');
    a.bytes.set(Buffer.from('via-map'), 100);
    expectRead(fd, 100, Buffer.from('via-map'), 'pread after a store through the first mapping');
    expectEq(Buffer.from(b.bytes.subarray(100, 107)).toString(), 'via-map', 'second mapping after the store');
  },
});

const privateCow = defineCase({
  id: 'memfd.io.mmap_private_cow',
  doc: 'a store to a MAP_PRIVATE mapping stays private (copy-on-write): the file and a shared mapping keep the old bytes',
  run(ctx) {
    const fd = newMemfd(ctx, MFD_CLOEXEC, 'cow');
    pwrite(fd, fill(PAGE, 0x11), 0);
    const priv = ctx.map(PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
    const shared = ctx.map(PAGE, PROT_READ, MAP_SHARED, fd);
    expectEq(priv.bytes[0], 0x11, 'private mapping before the store');
    priv.bytes[0] = 0x22;
    expectEq(priv.bytes[0], 0x22, 'private mapping after the store');
    expectRead(fd, 0, Buffer.from([0x11]), 'file after a private store');
    expectEq(shared.bytes[0], 0x11, 'shared mapping after a private store');
  },
});

const truncGrow = defineCase<{ backing: string }>({
  id: 'memfd.io.ftruncate_grow_sparse',
  doc: 'ftruncate growing a memfd sets st_size, allocates nothing (st_blocks 0) and the new range reads as zeros, on every backing',
  variants: BACKINGS.map((b) => ({ name: b.name, params: { backing: b.name }, requires: backingRequires(b) })),
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

const truncShrink = defineCase({
  id: 'memfd.io.ftruncate_shrink_discards',
  doc: 'ftruncate shrinking a memfd discards the data beyond the new size: growing again reads zeros there, st_blocks drops',
  run(ctx) {
    const fd = newMemfd(ctx, MFD_CLOEXEC, 'shrink');
    pwrite(fd, fill(4 * PAGE, 0x7e), 0);
    expectEq(fstat(fd).blocks, 32n, 'st_blocks of four written pages');
    ftruncate(fd, P);
    expectEq(fstat(fd).size, P, 'st_size after shrinking');
    expectEq(fstat(fd).blocks, 8n, 'st_blocks after shrinking to one page');
    ftruncate(fd, 4n * P);
    expectRead(fd, P, fill(3 * PAGE, 0), 'the range beyond the old shrink point');
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
  variants: BACKINGS.map((b) => ({ name: b.name, params: { backing: b.name }, requires: backingRequires(b) })),
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
  variants: BACKINGS.map((b) => ({ name: b.name, params: { backing: b.name }, requires: backingRequires(b) })),
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

const seekDataHole = defineCase({
  id: 'memfd.io.seek_data_hole',
  doc: 'SEEK_DATA/SEEK_HOLE report the punched page of a four-page memfd as a hole, EOF as the final hole, and ENXIO at or beyond EOF',
  run(ctx) {
    const fd = newMemfd(ctx, MFD_CLOEXEC, 'seek');
    pwrite(fd, fill(4 * PAGE, 0x42), 0);
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, P, P);
    const seek = (off: bigint, whence: number) => __lseek(fd, off, whence);
    expectEq(expectOk(seek(0n, SEEK_DATA), 'SEEK_DATA from 0'), 0n, 'SEEK_DATA from 0');
    expectEq(expectOk(seek(0n, SEEK_HOLE), 'SEEK_HOLE from 0'), P, 'SEEK_HOLE from 0');
    expectEq(expectOk(seek(P, SEEK_DATA), 'SEEK_DATA from the hole'), 2n * P, 'SEEK_DATA from the hole');
    expectEq(expectOk(seek(P + 10n, SEEK_HOLE), 'SEEK_HOLE inside the hole'), P + 10n, 'SEEK_HOLE inside the hole');
    expectEq(expectOk(seek(2n * P, SEEK_HOLE), 'SEEK_HOLE after the hole'), 4n * P, 'SEEK_HOLE after the hole (EOF)');
    expectErrno(seek(4n * P, SEEK_DATA), 'ENXIO', 'SEEK_DATA at EOF');
    expectErrno(seek(4n * P, SEEK_HOLE), 'ENXIO', 'SEEK_HOLE at EOF');
    expectErrno(seek(5n * P, SEEK_DATA), 'ENXIO', 'SEEK_DATA beyond EOF');
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

const readonlyReopen = defineCase({
  id: 'memfd.io.readonly_reopen',
  doc: 'an O_RDONLY reopen of a memfd reads the same data but write fails with EBADF, ftruncate with EINVAL, fallocate with EBADF and a writable shared mmap with EACCES',
  run(ctx) {
    const fd = newMemfd(ctx, MFD_CLOEXEC, 'ro');
    pwrite(fd, Buffer.from('shared'), 0);
    const ro = ctx.trackFd(Number(expectOk(__open(`/proc/self/fd/${fd}`, O_RDONLY | O_CLOEXEC), 'open O_RDONLY')));
    expectRead(ro, 0, Buffer.from('shared'), 'pread through the O_RDONLY fd');
    expectErrno(__pwrite(ro, Buffer.from('x'), 0), 'EBADF', 'pwrite through the O_RDONLY fd');
    expectErrno(__ftruncate(ro, 0), 'EINVAL', 'ftruncate through the O_RDONLY fd');
    expectErrno(__fallocate(ro, 0, 0, P), 'EBADF', 'fallocate through the O_RDONLY fd');
    const m = __mmap(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0n);
    if (m.ret !== -1n) ctx.track(new Mapping(m.ret, PAGE));
    expectErrno(m, 'EACCES', 'mmap(RW, MAP_SHARED) of the O_RDONLY fd');
  },
});

/** Probe: maps `mapPages` pages of a fresh memfd of `filePages` pages, reads page `touch`; returns the byte (a SIGBUS kills it). */
export function touchBeyondEof(filePages: number, mapPages: number, touch: number, shrinkTo: number | null): number {
  const fd = memfdCreate('gmem-conformance-sigbus', MFD_CLOEXEC);
  ftruncate(fd, BigInt(filePages * PAGE));
  pwrite(fd, Buffer.from([7]), 0);
  const m = mmap(mapPages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
  const first = m.bytes[0] as number;
  if (shrinkTo !== null) ftruncate(fd, BigInt(shrinkTo * PAGE));
  return first + (m.bytes[touch * PAGE] as number);
}

const sigbus = defineCase<{
  filePages: number;
  mapPages: number;
  touch: number;
  shrinkTo: number | null;
  signal: string | null;
}>({
  id: 'memfd.io.access_beyond_eof',
  doc: 'a shared mapping may extend past EOF, but touching a page beyond EOF raises SIGBUS (also after ftruncate shrank the file under the mapping); pages inside EOF work',
  variants: [
    { name: 'inside_eof', params: { filePages: 2, mapPages: 2, touch: 1, shrinkTo: null, signal: null } },
    { name: 'beyond_eof', params: { filePages: 1, mapPages: 2, touch: 1, shrinkTo: null, signal: 'SIGBUS' } },
    { name: 'after_shrink', params: { filePages: 2, mapPages: 2, touch: 1, shrinkTo: 1, signal: 'SIGBUS' } },
  ],
  run(ctx) {
    const p = ctx.params;
    const r = ctx.probe('touchBeyondEof', [p.filePages, p.mapPages, p.touch, p.shrinkTo]);
    ctx.observe('signal', r.signal);
    if (p.signal === null) {
      if (r.status !== 0)
        throw new CaseFailure(
          `touching page ${p.touch} of a ${p.filePages}-page file: child ended with status ${r.status} signal ${r.signal}`,
        );
      expectEq(r.value, 7, 'bytes read through the mapping (7 + 0)');
    } else
      expectEq(
        r.signal,
        p.signal,
        `touching page ${p.touch} with the file ${p.shrinkTo ?? p.filePages} page(s) long (status ${r.status})`,
      );
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
