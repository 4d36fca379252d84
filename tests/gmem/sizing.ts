/**
 * gmem.sizing: the O_LARGEFILE story of seed 001 ("The new file should also be marked as
 * O_LARGEFILE otherwise setting the initial size greater than 2^31 on the fd will be refused by
 * ftruncate()"). guest_memfd takes its size at creation and sets f_flags |= O_LARGEFILE, so sizes
 * and offsets beyond 2^31 and 2^32 must work for create, fstat, fallocate, punch and mmap. memfd,
 * which UPM v7 built on, is the baseline: it also carries O_LARGEFILE and is sized by ftruncate and
 * read/written with pwrite/pread at those offsets.
 *
 * Creation is lazy (no page is allocated until fallocate or a fault), so a 1 TiB file costs
 * nothing; every case here touches at most a few pages.
 */
import { defineCase } from '../../lib/harness/case.js';
import { expectEq, expectErrno, expectOk } from '../../lib/harness/expect.js';
import { fstat } from '../../lib/sys/fd.js';
import { getFl } from '../../lib/sys/fcntl.js';
import { __fallocate, __ftruncate, __pread, __pwrite, fallocate, ftruncate } from '../../lib/sys/io.js';
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  MAP_SHARED,
  MFD_CLOEXEC,
  O_LARGEFILE,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
} from '../../lib/uapi/index.js';
import { NEEDS_GMEM, NEEDS_GMEM_MMAP_SHARED, PAGE, hex } from '../../lib/cases/gmem.js';
import {
  GIB2,
  GIB4,
  LARGE_OFFSETS,
  LARGE_SIZES,
  TIB1,
  expectResidentIfObservable,
  residentPages,
  type OffsetCase,
  type SizeCase,
} from '../../lib/cases/sizing.js';

/** fallocate(2) allocate mode for guest_memfd. */
const ALLOCATE = FALLOC_FL_KEEP_SIZE;
/** fallocate(2) punch mode. */
const PUNCH = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE;

const sizeVariants = () => LARGE_SIZES.map((s) => ({ name: s.name, params: s }));
const offsetVariants = () => LARGE_OFFSETS.map((o) => ({ name: o.name, params: o }));

const create = defineCase<SizeCase>({
  id: 'gmem.sizing.create',
  doc: 'a guest_memfd of a size just below, at or above 2^31 or 2^32, or of 1 TiB, is created O_LARGEFILE with st_size equal to that size and no page allocated',
  requires: NEEDS_GMEM,
  variants: sizeVariants(),
  tags: { seed: '001' },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), ctx.params.size);
    expectEq(fstat(g.fd).size, ctx.params.size, 'st_size');
    expectEq(getFl(g.fd) & O_LARGEFILE, O_LARGEFILE, 'O_LARGEFILE in F_GETFL');
    expectResidentIfObservable(ctx, g.fd, 0n, 'pages cached right after creation (creation must be lazy)');
  },
});

const allocatePage = defineCase<OffsetCase>({
  id: 'gmem.sizing.allocate_page',
  doc: 'fallocate(KEEP_SIZE) of one page at an offset around 2^31, 2^32 or at the end of a 1 TiB guest_memfd allocates exactly that page (no truncated offset)',
  requires: NEEDS_GMEM,
  variants: offsetVariants(),
  tags: { seed: '001' },
  run(ctx) {
    const { size, offset } = ctx.params;
    const g = ctx.gmem(ctx.vm(), size);
    expectOk(
      __fallocate(g.fd, ALLOCATE, offset, PAGE),
      `allocate the page at ${hex(offset)} of a ${hex(size)}-byte file`,
    );
    expectEq(residentPages(ctx, g.fd, offset, PAGE), 1n, `pages cached at ${hex(offset)}`);
    expectEq(residentPages(ctx, g.fd), 1n, 'pages cached in the whole file');
    expectEq(fstat(g.fd).size, size, 'st_size after the allocation');
  },
});

const punchPage = defineCase<OffsetCase>({
  id: 'gmem.sizing.punch_page',
  doc: 'PUNCH_HOLE of one page at an offset around 2^31, 2^32 or at the end of a 1 TiB guest_memfd frees exactly that page and keeps its neighbour',
  requires: NEEDS_GMEM,
  variants: offsetVariants(),
  tags: { seed: '001' },
  run(ctx) {
    const { size, offset } = ctx.params;
    const g = ctx.gmem(ctx.vm(), size);
    fallocate(g.fd, ALLOCATE, offset - PAGE, 2n * PAGE);
    expectOk(__fallocate(g.fd, PUNCH, offset, PAGE), `PUNCH_HOLE the page at ${hex(offset)}`);
    expectEq(residentPages(ctx, g.fd, offset, PAGE), 0n, `pages cached at ${hex(offset)} after the punch`);
    expectEq(
      residentPages(ctx, g.fd, offset - PAGE, PAGE),
      1n,
      `pages cached at ${hex(offset - PAGE)} (the neighbour)`,
    );
    expectEq(residentPages(ctx, g.fd), 1n, 'pages cached in the whole file');
  },
});

interface BeyondParams {
  /** File size. */ size: bigint;
  /** Allocation offset. */ offset: bigint;
  /** Allocation length. */ len: bigint;
}

const allocateBeyondEof = defineCase<BeyondParams>({
  id: 'gmem.sizing.allocate_beyond_eof',
  doc: 'allocating at or across the EOF of a guest_memfd larger than 2^32 fails with EINVAL and allocates nothing',
  requires: NEEDS_GMEM,
  variants: [
    { name: 's4g_plus_page_at_eof', params: { size: GIB4 + PAGE, offset: GIB4 + PAGE, len: PAGE } },
    { name: 's4g_plus_page_straddle', params: { size: GIB4 + PAGE, offset: GIB4, len: 2n * PAGE } },
    { name: 's1t_at_eof', params: { size: TIB1, offset: TIB1, len: PAGE } },
    { name: 's1t_straddle', params: { size: TIB1, offset: TIB1 - PAGE, len: 2n * PAGE } },
  ],
  tags: { seed: '001' },
  run(ctx) {
    const { size, offset, len } = ctx.params;
    const g = ctx.gmem(ctx.vm(), size);
    expectErrno(
      __fallocate(g.fd, ALLOCATE, offset, len),
      'EINVAL',
      `allocate [${hex(offset)}, +${hex(len)}) of a ${hex(size)}-byte file`,
    );
    expectResidentIfObservable(ctx, g.fd, 0n, 'pages allocated by the refused fallocate');
  },
});

const mmapHighOffset = defineCase<OffsetCase>({
  id: 'gmem.sizing.mmap_high_offset',
  doc: 'one page of an MMAP|INIT_SHARED guest_memfd mapped at a file offset of 2^31, 2^32 or the end of 1 TiB is writable, is the page at that offset, and reads zero after it is punched',
  requires: NEEDS_GMEM_MMAP_SHARED,
  variants: LARGE_OFFSETS.filter((o) => ['at_2g', 'at_4g', 'end_of_1t'].includes(o.name)).map((o) => ({
    name: o.name,
    params: o,
  })),
  tags: { seed: '001' },
  run(ctx) {
    const { size, offset } = ctx.params;
    const g = ctx.gmem(ctx.vm(), size, BigInt(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED));
    const m = ctx.map(Number(PAGE), PROT_READ | PROT_WRITE, MAP_SHARED, g.fd, offset);
    m.bytes.fill(0x5a);
    expectEq(m.bytes[m.length - 1], 0x5a, 'last byte written through the mapping');
    expectEq(residentPages(ctx, g.fd, offset, PAGE), 1n, `pages cached at ${hex(offset)} after the write`);
    expectEq(residentPages(ctx, g.fd), 1n, 'pages cached in the whole file');
    expectOk(__fallocate(g.fd, PUNCH, offset, PAGE), `PUNCH_HOLE the page at ${hex(offset)}`);
    expectEq(
      m.bytes.findIndex((b) => b !== 0),
      -1,
      'first non-zero byte of the punched page',
    );
  },
});

const memfdLargefile = defineCase({
  id: 'gmem.sizing.memfd_largefile',
  doc: 'baseline: F_GETFL on a memfd is O_RDWR | O_LARGEFILE, the marking seed 001 asked the inaccessible memfd to keep',
  tags: { seed: '001' },
  run(ctx) {
    const fd = ctx.memfd('gmem-conformance', MFD_CLOEXEC);
    expectEq(getFl(fd), O_RDWR | O_LARGEFILE, 'F_GETFL of a memfd');
  },
});

const memfdFtruncate = defineCase<SizeCase>({
  id: 'gmem.sizing.memfd_ftruncate',
  doc: 'baseline: ftruncate of a memfd to a size just below, at or above 2^31 or 2^32, or to 1 TiB, succeeds and st_size follows',
  variants: sizeVariants(),
  tags: { seed: '001' },
  run(ctx) {
    const fd = ctx.memfd('gmem-conformance', MFD_CLOEXEC);
    expectOk(__ftruncate(fd, ctx.params.size), `ftruncate to ${hex(ctx.params.size)}`);
    expectEq(fstat(fd).size, ctx.params.size, 'st_size');
    expectResidentIfObservable(ctx, fd, 0n, 'pages cached after ftruncate (sparse)');
  },
});

const memfdAllocatePunch = defineCase<OffsetCase>({
  id: 'gmem.sizing.memfd_allocate_punch',
  doc: 'baseline: on a memfd, fallocate(KEEP_SIZE) of one page at an offset around 2^31, 2^32 or the end of 1 TiB allocates that page (st_blocks counts it, unlike guest_memfd) and PUNCH_HOLE frees it',
  variants: offsetVariants(),
  tags: { seed: '001' },
  run(ctx) {
    const { size, offset } = ctx.params;
    const fd = ctx.memfd('gmem-conformance', MFD_CLOEXEC);
    ftruncate(fd, size);
    expectOk(__fallocate(fd, ALLOCATE, offset, PAGE), `allocate the page at ${hex(offset)}`);
    expectEq(residentPages(ctx, fd, offset, PAGE), 1n, `pages cached at ${hex(offset)}`);
    expectEq(fstat(fd).blocks, PAGE / 512n, 'st_blocks after allocating one page');
    expectOk(__fallocate(fd, PUNCH, offset, PAGE), `PUNCH_HOLE the page at ${hex(offset)}`);
    expectEq(residentPages(ctx, fd), 0n, 'pages cached after the punch');
    expectEq(fstat(fd).blocks, 0n, 'st_blocks after the punch');
  },
});

interface PwriteParams {
  /** File size. */ size: bigint;
  /** Offset of the 16 bytes written. */ offset: bigint;
}

const memfdPwritePread = defineCase<PwriteParams>({
  id: 'gmem.sizing.memfd_pwrite_pread',
  doc: 'baseline: pwrite then pread of 16 bytes at offsets at 2^31, across and beyond 2^32 and at the end of 1 TiB of a memfd round-trips, and the 32-bit-truncated offset does not alias it',
  variants: [
    { name: 'at_2g', params: { size: GIB2 + PAGE, offset: GIB2 } },
    { name: 'across_4g', params: { size: GIB4 + PAGE, offset: GIB4 - 8n } },
    { name: 'above_4g', params: { size: GIB4 + 2n * PAGE, offset: GIB4 + PAGE + 3n } },
    { name: 'end_of_1t', params: { size: TIB1, offset: TIB1 - 16n } },
  ],
  tags: { seed: '001' },
  run(ctx) {
    const { size, offset } = ctx.params;
    const fd = ctx.memfd('gmem-conformance', MFD_CLOEXEC);
    ftruncate(fd, size);
    const data = Buffer.from('gmem-conformance', 'ascii');
    expectEq(expectOk(__pwrite(fd, data, offset), `pwrite at ${hex(offset)}`), BigInt(data.length), 'bytes written');
    const r = __pread(fd, data.length, offset);
    expectEq(expectOk(r, `pread at ${hex(offset)}`), BigInt(data.length), 'bytes read');
    expectEq(r.data.toString('ascii'), data.toString('ascii'), `data read back at ${hex(offset)}`);
    const truncated = offset & 0xffffffffn;
    if (truncated !== offset && truncated + BigInt(data.length) <= size) {
      const alias = __pread(fd, data.length, truncated);
      expectOk(alias, `pread at the truncated offset ${hex(truncated)}`);
      expectEq(
        alias.data.equals(Buffer.alloc(data.length)),
        true,
        `bytes at ${hex(truncated)} are still zero (no 32-bit aliasing)`,
      );
    }
  },
});

const memfdAllocateExtends = defineCase({
  id: 'gmem.sizing.memfd_allocate_extends',
  doc: 'baseline: fallocate without KEEP_SIZE of the page at 2^32 of an empty memfd extends st_size to 2^32 + PAGE (guest_memfd refuses that mode: its size is fixed)',
  tags: { seed: '001' },
  run(ctx) {
    const fd = ctx.memfd('gmem-conformance', MFD_CLOEXEC);
    expectOk(__fallocate(fd, 0, GIB4, PAGE), 'fallocate mode 0 at 2^32');
    expectEq(fstat(fd).size, GIB4 + PAGE, 'st_size after fallocate mode 0');
  },
});

export default [
  create,
  allocatePage,
  punchPage,
  allocateBeyondEof,
  mmapHighOffset,
  memfdLargefile,
  memfdFtruncate,
  memfdAllocatePunch,
  memfdPwritePread,
  memfdAllocateExtends,
];
