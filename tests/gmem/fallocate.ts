/**
 * gmem.fallocate: allocating and punching guest_memfd pages with fallocate(2).
 *
 * Allocation is observed through the page cache (cachestat nr_cache) because st_blocks is never accounted, and
 * through an MMAP|INIT_SHARED mapping where the content matters.
 *
 * Kernel checks: fallocate(2) on a guest_memfd (fs/open.c vfs_fallocate; virt/kvm/guest_memfd.c kvm_gmem_fallocate,
 *   kvm_gmem_allocate, kvm_gmem_punch_hole; read in 7.2.13 and 7.3-rc7, and torvalds/linux 01f492e1817e for
 *   guest_memfd.c (same checks); 6.18 not read)
 *   1. offset < 0 or len <= 0 → EINVAL | refused: gmem.fallocate.negative, gmem.fallocate.zero_length
 *      | accepted: gmem.fallocate.whole_file, gmem.fallocate.punch_reallocate
 *   2. a mode outside FALLOC_FL_MODE_MASK | KEEP_SIZE, PUNCH_HOLE without KEEP_SIZE, or COLLAPSE/INSERT/WRITE_ZEROES
 *      with KEEP_SIZE → EOPNOTSUPP | refused: gmem.refuse.fallocate_mode
 *      | accepted: gmem.fallocate.whole_file, gmem.fallocate.punch_reallocate
 *   3. no FMODE_WRITE → EBADF | refused: gmem.fallocate.o_path_fd | accepted: gmem.fallocate.whole_file
 *   4. offset + len > s_maxbytes (MAX_LFS_FILESIZE, INT64_MAX) or wraps negative → EFBIG
 *      | refused: gmem.fallocate.overflow, gmem.fallocate.max_offset | accepted: gmem.fallocate.max_offset
 *   5. kvm_gmem_fallocate: no KEEP_SIZE, or bits beyond KEEP_SIZE | PUNCH_HOLE → EOPNOTSUPP
 *      | refused: gmem.refuse.fallocate_mode | accepted: gmem.fallocate.whole_file, gmem.fallocate.punch_reallocate
 *   6. offset or len not page-aligned → EINVAL, before any page is touched | refused: gmem.fallocate.invalid_punch,
 *      gmem.fallocate.unaligned_allocate | accepted: gmem.fallocate.whole_file
 *   7. allocate: offset + len > i_size → EINVAL ("dedicated guest is immutable"), before the allocation loop
 *      | refused: gmem.fallocate.beyond_eof, gmem.sizing.allocate_beyond_eof
 *      | accepted: gmem.fallocate.whole_file, gmem.fallocate.max_offset@allocate_max_file, gmem.sizing.allocate_page
 *   8. punch: no size check, any range up to s_maxbytes is valid | refused: n/a (punching past EOF is valid)
 *      | accepted: gmem.fallocate.punch_beyond_eof, gmem.fallocate.max_offset@punch_small_file
 *   9. allocate: signal_pending between pages → EINTR | refused: eintr.gmem.happens
 *      | accepted: gmem.fallocate.whole_file
 */
import { defineCase } from '../../lib/harness/case.js';
import { expectEq, expectErrno, expectOk } from '../../lib/harness/expect.js';
import { __open, fstat } from '../../lib/sys/fd.js';
import { __fallocate, fallocate } from '../../lib/sys/io.js';
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  MAP_SHARED,
  O_CLOEXEC,
  O_PATH,
  PROT_READ,
  PROT_WRITE,
} from '../../lib/uapi/index.js';
import {
  NEEDS_GMEM,
  NEEDS_GMEM_MMAP_SHARED,
  PAGE,
  gmemFlagVariants,
  hex,
  type GmemFlagParams,
} from '../../lib/cases/gmem.js';
import { expectResidentIfObservable, residentPages } from '../../lib/cases/sizing.js';

/** Size of the guest_memfds these cases create: four pages, like upstream's gmem_test(). */
const SIZE = 4n * PAGE;
const NPAGES = SIZE / PAGE;

/** ALIGN_DOWN(INT64_MAX, PAGE): the largest guest_memfd size, and the offset whose page ends at 2^63. */
const MAX_SIZE = ((1n << 63n) - 1n) & ~(PAGE - 1n);

/** fallocate(2) allocate mode for guest_memfd. */
const ALLOCATE = FALLOC_FL_KEEP_SIZE;
/** fallocate(2) punch mode. */
const PUNCH = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE;

/** Flags of a guest_memfd whose pages the host may fault in (content checks). */
const MMAP_SHARED_FLAGS = BigInt(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);

const modeName = (mode: number) => (mode === PUNCH ? 'PUNCH_HOLE|KEEP_SIZE' : 'KEEP_SIZE');

const wholeFile = defineCase<GmemFlagParams>({
  id: 'gmem.fallocate.whole_file',
  doc: 'fallocate(KEEP_SIZE) over the whole file succeeds, puts every page in the page cache and leaves st_size unchanged',
  requires: NEEDS_GMEM,
  variants: gmemFlagVariants(),
  tags: { selftest: 'guest_memfd_test.c:test_fallocate' },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE, ctx.params.flags);
    expectEq(residentPages(ctx, g.fd), 0n, 'pages cached before fallocate (creation allocates nothing)');
    expectOk(__fallocate(g.fd, ALLOCATE, 0n, SIZE), 'fallocate KEEP_SIZE over the whole file');
    expectEq(residentPages(ctx, g.fd), NPAGES, 'pages cached after allocating the whole file');
    expectEq(fstat(g.fd).size, SIZE, 'st_size after fallocate');
  },
});

interface RangeParams {
  /** fallocate offset. */ offset: bigint;
  /** fallocate length. */ len: bigint;
}

const beyondEof = defineCase<RangeParams>({
  id: 'gmem.fallocate.beyond_eof',
  doc: 'allocating at or past EOF, or across it, fails with EINVAL and allocates no page at all (the size check comes before the allocation loop)',
  requires: NEEDS_GMEM,
  variants: [
    { name: 'at_size', params: { offset: SIZE, len: PAGE } },
    { name: 'after_size', params: { offset: SIZE + PAGE, len: PAGE } },
    { name: 'straddle_eof', params: { offset: SIZE - PAGE, len: 2n * PAGE } },
    { name: 'far_2p62', params: { offset: 1n << 62n, len: PAGE } },
  ],
  tags: { selftest: 'guest_memfd_test.c:test_fallocate' },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const { offset, len } = ctx.params;
    expectErrno(
      __fallocate(g.fd, ALLOCATE, offset, len),
      'EINVAL',
      `allocate [${hex(offset)}, +${hex(len)}) of a ${hex(SIZE)}-byte file`,
    );
    expectResidentIfObservable(ctx, g.fd, 0n, 'pages allocated by the refused fallocate');
    expectEq(fstat(g.fd).size, SIZE, 'st_size after the refused fallocate');
  },
});

/** The ten (offset, len) pairs of upstream test_invalid_punch_hole: at least one is not page-aligned. */
const UNALIGNED_PAIRS: readonly { name: string; offset: bigint; len: bigint }[] = [
  { name: 'o0_l1', offset: 0n, len: 1n },
  { name: 'o0_lpage_minus1', offset: 0n, len: PAGE - 1n },
  { name: 'o0_lpage_plus1', offset: 0n, len: PAGE + 1n },
  { name: 'o1_l1', offset: 1n, len: 1n },
  { name: 'o1_lpage_minus1', offset: 1n, len: PAGE - 1n },
  { name: 'o1_lpage', offset: 1n, len: PAGE },
  { name: 'o1_lpage_plus1', offset: 1n, len: PAGE + 1n },
  { name: 'opage_l1', offset: PAGE, len: 1n },
  { name: 'opage_lpage_minus1', offset: PAGE, len: PAGE - 1n },
  { name: 'opage_lpage_plus1', offset: PAGE, len: PAGE + 1n },
];

const invalidPunch = defineCase<RangeParams>({
  id: 'gmem.fallocate.invalid_punch',
  doc: 'PUNCH_HOLE with an offset and/or length that is not page-aligned fails with EINVAL and leaves the allocated pages in place',
  requires: NEEDS_GMEM,
  variants: UNALIGNED_PAIRS.map(({ name, offset, len }) => ({ name, params: { offset, len } })),
  tags: { selftest: 'guest_memfd_test.c:test_invalid_punch_hole' },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    fallocate(g.fd, ALLOCATE, 0n, SIZE);
    const { offset, len } = ctx.params;
    expectErrno(__fallocate(g.fd, PUNCH, offset, len), 'EINVAL', `PUNCH_HOLE offset ${hex(offset)} len ${hex(len)}`);
    expectResidentIfObservable(ctx, g.fd, NPAGES, 'pages cached after the refused punch');
  },
});

const unalignedAllocate = defineCase<RangeParams>({
  id: 'gmem.fallocate.unaligned_allocate',
  doc: 'allocating with an offset and/or length that is not page-aligned fails with EINVAL and allocates nothing (alignment is checked before allocation, like for punching)',
  requires: NEEDS_GMEM,
  variants: UNALIGNED_PAIRS.map(({ name, offset, len }) => ({ name, params: { offset, len } })),
  tags: { selftest: 'guest_memfd_test.c:test_fallocate' },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const { offset, len } = ctx.params;
    expectErrno(__fallocate(g.fd, ALLOCATE, offset, len), 'EINVAL', `allocate offset ${hex(offset)} len ${hex(len)}`);
    expectResidentIfObservable(ctx, g.fd, 0n, 'pages allocated by the refused fallocate');
  },
});

const punchBeyondEof = defineCase<RangeParams>({
  id: 'gmem.fallocate.punch_beyond_eof',
  doc: 'PUNCH_HOLE at or past EOF, or across it, succeeds (there is nothing to free beyond EOF) and frees only what lies inside the file',
  requires: NEEDS_GMEM,
  variants: [
    { name: 'at_size', params: { offset: SIZE, len: PAGE } },
    { name: 'after_size', params: { offset: SIZE + PAGE, len: PAGE } },
    { name: 'straddle_eof', params: { offset: SIZE - PAGE, len: 2n * PAGE } },
    { name: 'far_2p40', params: { offset: 1n << 40n, len: PAGE } },
  ],
  tags: { selftest: 'guest_memfd_test.c:test_fallocate' },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    fallocate(g.fd, ALLOCATE, 0n, SIZE);
    const { offset, len } = ctx.params;
    expectOk(
      __fallocate(g.fd, PUNCH, offset, len),
      `PUNCH_HOLE [${hex(offset)}, +${hex(len)}) of a ${hex(SIZE)}-byte file`,
    );
    const inside = offset >= SIZE ? 0n : (SIZE - offset) / PAGE;
    expectEq(residentPages(ctx, g.fd), NPAGES - inside, 'pages cached after the punch');
    expectEq(fstat(g.fd).size, SIZE, 'st_size after the punch');
  },
});

const punchReallocate = defineCase<GmemFlagParams>({
  id: 'gmem.fallocate.punch_reallocate',
  doc: 'after allocating the file, punching page 1 frees exactly that page and allocating it again brings it back',
  requires: NEEDS_GMEM,
  variants: gmemFlagVariants(),
  tags: { selftest: 'guest_memfd_test.c:test_fallocate' },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE, ctx.params.flags);
    fallocate(g.fd, ALLOCATE, 0n, SIZE);
    expectOk(__fallocate(g.fd, PUNCH, PAGE, PAGE), 'PUNCH_HOLE page 1');
    expectEq(residentPages(ctx, g.fd, PAGE, PAGE), 0n, 'page 1 cached after the punch');
    expectEq(residentPages(ctx, g.fd), NPAGES - 1n, 'pages cached after the punch');
    expectOk(__fallocate(g.fd, ALLOCATE, PAGE, PAGE), 'allocate page 1 again');
    expectEq(residentPages(ctx, g.fd), NPAGES, 'pages cached after re-allocating');
  },
});

const zeroLength = defineCase<{ mode: number }>({
  id: 'gmem.fallocate.zero_length',
  doc: 'fallocate with len 0 fails with EINVAL (vfs_fallocate rejects len <= 0) for allocate and punch alike',
  requires: NEEDS_GMEM,
  variants: [
    { name: 'allocate', params: { mode: ALLOCATE } },
    { name: 'punch', params: { mode: PUNCH } },
  ],
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    expectErrno(__fallocate(g.fd, ctx.params.mode, 0n, 0n), 'EINVAL', `${modeName(ctx.params.mode)} len 0`);
  },
});

const negative = defineCase<RangeParams & { mode: number }>({
  id: 'gmem.fallocate.negative',
  doc: 'fallocate with a negative offset or length fails with EINVAL (vfs_fallocate), for allocate and punch alike',
  requires: NEEDS_GMEM,
  variants: [
    { name: 'offset_allocate', params: { mode: ALLOCATE, offset: -PAGE, len: PAGE } },
    { name: 'offset_punch', params: { mode: PUNCH, offset: -PAGE, len: PAGE } },
    { name: 'len_allocate', params: { mode: ALLOCATE, offset: 0n, len: -PAGE } },
    { name: 'len_punch', params: { mode: PUNCH, offset: 0n, len: -PAGE } },
  ],
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const { mode, offset, len } = ctx.params;
    expectErrno(__fallocate(g.fd, mode, offset, len), 'EINVAL', `${modeName(mode)} offset ${offset} len ${len}`);
  },
});

const overflow = defineCase<RangeParams & { mode: number }>({
  id: 'gmem.fallocate.overflow',
  doc: 'fallocate whose offset + len overflows loff_t fails with EFBIG (vfs_fallocate), before guest_memfd sees it, for allocate and punch alike',
  requires: NEEDS_GMEM,
  variants: [
    { name: 'allocate_2p62_2p62', params: { mode: ALLOCATE, offset: 1n << 62n, len: 1n << 62n } },
    { name: 'punch_2p62_2p62', params: { mode: PUNCH, offset: 1n << 62n, len: 1n << 62n } },
    { name: 'allocate_last_page', params: { mode: ALLOCATE, offset: (1n << 63n) - PAGE, len: PAGE } },
    { name: 'punch_last_page', params: { mode: PUNCH, offset: (1n << 63n) - PAGE, len: PAGE } },
  ],
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const { mode, offset, len } = ctx.params;
    expectErrno(
      __fallocate(g.fd, mode, offset, len),
      'EFBIG',
      `${modeName(mode)} offset ${hex(offset)} len ${hex(len)}`,
    );
  },
});

const oPathFd = defineCase<{ mode: number }>({
  id: 'gmem.fallocate.o_path_fd',
  doc: 'an O_PATH handle on a guest_memfd (opened through /proc/self/fd) cannot allocate or punch: fallocate fails with EBADF',
  requires: NEEDS_GMEM,
  variants: [
    { name: 'allocate', params: { mode: ALLOCATE } },
    { name: 'punch', params: { mode: PUNCH } },
  ],
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    const r = __open(`/proc/self/fd/${g.fd}`, O_PATH | O_CLOEXEC);
    const pathFd = ctx.trackFd(Number(expectOk(r, 'open /proc/self/fd/N with O_PATH')));
    expectEq(fstat(pathFd).ino, fstat(g.fd).ino, 'st_ino of the O_PATH handle');
    expectErrno(
      __fallocate(pathFd, ctx.params.mode, 0n, PAGE),
      'EBADF',
      `${modeName(ctx.params.mode)} through the O_PATH fd`,
    );
    expectResidentIfObservable(ctx, g.fd, 0n, 'pages cached after the refused fallocate');
  },
});

const idempotent = defineCase<{ mode: number }>({
  id: 'gmem.fallocate.repeat',
  doc: 'repeating the same allocate or punch succeeds and changes nothing: allocating twice keeps one page per index, punching twice (or punching never-allocated pages) is a no-op',
  requires: NEEDS_GMEM,
  variants: [
    { name: 'allocate_twice', params: { mode: ALLOCATE } },
    { name: 'punch_twice', params: { mode: PUNCH } },
  ],
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE);
    if (ctx.params.mode === PUNCH) {
      expectOk(__fallocate(g.fd, PUNCH, 0n, SIZE), 'PUNCH_HOLE of never-allocated pages');
      fallocate(g.fd, ALLOCATE, 0n, SIZE);
      expectOk(__fallocate(g.fd, PUNCH, 0n, 2n * PAGE), 'first PUNCH_HOLE of pages 0-1');
      expectOk(__fallocate(g.fd, PUNCH, 0n, 2n * PAGE), 'second PUNCH_HOLE of pages 0-1');
      expectEq(residentPages(ctx, g.fd), NPAGES - 2n, 'pages cached after punching pages 0-1 twice');
    } else {
      expectOk(__fallocate(g.fd, ALLOCATE, 0n, 2n * PAGE), 'first allocation of pages 0-1');
      expectOk(__fallocate(g.fd, ALLOCATE, 0n, 2n * PAGE), 'second allocation of pages 0-1');
      expectEq(residentPages(ctx, g.fd), 2n, 'pages cached after allocating pages 0-1 twice');
    }
  },
});

const FILL = 0xaa;

/** Index of the first byte of bytes[from, to) that is not value, or -1. */
function firstOther(bytes: Uint8Array, from: number, to: number, value: number): number {
  for (let i = from; i < to; i++) if (bytes[i] !== value) return i;
  return -1;
}

const contentAfterAllocate = defineCase({
  id: 'gmem.fallocate.content_zero',
  doc: 'pages allocated by fallocate read back as zeroes through a shared mapping of an MMAP|INIT_SHARED guest_memfd',
  requires: NEEDS_GMEM_MMAP_SHARED,
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE, MMAP_SHARED_FLAGS);
    fallocate(g.fd, ALLOCATE, 0n, SIZE);
    const m = ctx.map(Number(SIZE), PROT_READ | PROT_WRITE, MAP_SHARED, g.fd);
    const at = firstOther(m.bytes, 0, m.length, 0);
    expectEq(at, -1, `first non-zero byte offset after allocation (value ${at >= 0 ? m.bytes[at] : 0})`);
  },
});

const allocateKeepsData = defineCase({
  id: 'gmem.fallocate.allocate_keeps_data',
  doc: 'allocating pages that already hold data does not clear them: the content written through the mapping survives fallocate(KEEP_SIZE) over the whole file',
  requires: NEEDS_GMEM_MMAP_SHARED,
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE, MMAP_SHARED_FLAGS);
    const m = ctx.map(Number(SIZE), PROT_READ | PROT_WRITE, MAP_SHARED, g.fd);
    m.bytes.fill(FILL, 0, Number(PAGE)); // fault in and dirty page 0 only
    fallocate(g.fd, ALLOCATE, 0n, SIZE);
    expectEq(firstOther(m.bytes, 0, Number(PAGE), FILL), -1, 'first changed byte of page 0 after fallocate');
    expectEq(firstOther(m.bytes, Number(PAGE), m.length, 0), -1, 'first non-zero byte of pages 1-3 after fallocate');
  },
});

interface PunchRangeParams {
  /** First page to punch. */ first: number;
  /** Number of pages to punch. */ count: number;
}

const punchZeroes = defineCase<PunchRangeParams>({
  id: 'gmem.fallocate.punch_zeroes_range',
  doc: 'PUNCH_HOLE on a mapped MMAP|INIT_SHARED guest_memfd zeroes exactly the punched pages (they refault as fresh zero pages), keeps the data of every other page, and the punched pages are writable again',
  requires: NEEDS_GMEM_MMAP_SHARED,
  variants: [
    { name: 'first_page', params: { first: 0, count: 1 } },
    { name: 'middle_pages', params: { first: 1, count: 2 } },
    { name: 'last_page', params: { first: 3, count: 1 } },
    { name: 'all_pages', params: { first: 0, count: 4 } },
  ],
  tags: { selftest: 'guest_memfd_test.c:test_mmap_supported' },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), SIZE, MMAP_SHARED_FLAGS);
    const m = ctx.map(Number(SIZE), PROT_READ | PROT_WRITE, MAP_SHARED, g.fd);
    m.bytes.fill(FILL);
    const page = Number(PAGE);
    const from = ctx.params.first * page;
    const to = from + ctx.params.count * page;
    expectOk(
      __fallocate(g.fd, PUNCH, BigInt(from), BigInt(to - from)),
      `PUNCH_HOLE pages ${ctx.params.first}..${ctx.params.first + ctx.params.count - 1}`,
    );
    expectEq(
      residentPages(ctx, g.fd),
      NPAGES - BigInt(ctx.params.count),
      'pages cached right after the punch (before any refault)',
    );
    expectEq(firstOther(m.bytes, from, to, 0), -1, 'first non-zero byte inside the punched range');
    expectEq(firstOther(m.bytes, 0, from, FILL), -1, 'first changed byte before the punched range');
    expectEq(firstOther(m.bytes, to, m.length, FILL), -1, 'first changed byte after the punched range');
    m.bytes.fill(0x55, from, to);
    expectEq(
      firstOther(m.bytes, from, to, 0x55),
      -1,
      'first byte that did not take the new value in the punched range',
    );
    expectEq(residentPages(ctx, g.fd), NPAGES, 'pages cached after refaulting the punched range');
  },
});

interface MaxOffsetParams {
  /** Mode of the fallocate. */ mode: number;
  /** Size of the guest_memfd. */ fileSize: bigint;
}

const maxOffset = defineCase<MaxOffsetParams>({
  id: 'gmem.fallocate.max_offset',
  doc:
    'the page that ends at ALIGN_DOWN(INT64_MAX, PAGE) is the last fallocate accepts (punched on a small ' +
    'file, allocated and punched on a guest_memfd of that size); the next page, ending at 2^63, fails ' +
    'with EFBIG',
  requires: NEEDS_GMEM,
  variants: [
    { name: 'punch_small_file', params: { mode: PUNCH, fileSize: SIZE } },
    { name: 'allocate_max_file', params: { mode: ALLOCATE, fileSize: MAX_SIZE } },
    { name: 'punch_max_file', params: { mode: PUNCH, fileSize: MAX_SIZE } },
  ],
  tags: { kernelFn: 'open.c:vfs_fallocate; guest_memfd.c:kvm_gmem_fallocate' },
  run(ctx) {
    const { mode, fileSize } = ctx.params;
    const g = ctx.gmem(ctx.vm(), fileSize);
    const last = MAX_SIZE - PAGE;
    const range = `[${hex(last)}, +${hex(PAGE)})`;
    if (fileSize === MAX_SIZE && mode === PUNCH) expectOk(__fallocate(g.fd, ALLOCATE, last, PAGE), `allocate ${range}`);
    expectOk(__fallocate(g.fd, mode, last, PAGE), `${modeName(mode)} ${range} of a ${hex(fileSize)}-byte file`);
    const want = fileSize === MAX_SIZE && mode === ALLOCATE ? 1n : 0n;
    expectResidentIfObservable(ctx, g.fd, want, `pages cached after ${modeName(mode)} of the last page`);
    for (const [offset, len] of [
      [MAX_SIZE, PAGE],
      [last, 2n * PAGE],
    ] as const) {
      const what = `${modeName(mode)} [${hex(offset)}, +${hex(len)}) (ends at or past 2^63)`;
      expectErrno(__fallocate(g.fd, mode, offset, len), 'EFBIG', what);
    }
    expectResidentIfObservable(ctx, g.fd, want, 'pages cached after the refused calls');
  },
});

export default [
  wholeFile,
  beyondEof,
  invalidPunch,
  unalignedAllocate,
  punchBeyondEof,
  punchReallocate,
  zeroLength,
  negative,
  overflow,
  oPathFd,
  idempotent,
  contentAfterAllocate,
  allocateKeepsData,
  punchZeroes,
  maxOffset,
];
