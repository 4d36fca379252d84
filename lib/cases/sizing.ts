/**
 * Sizes and offsets around the 2^31 / 2^32 boundaries (the O_LARGEFILE story of seed 001), and
 * page-cache residency read with cachestat(2): how the gmem.sizing, gmem.fallocate and gmem.fd
 * cases see whether fallocate() really allocated or punched pages. guest_memfd never accounts
 * st_blocks, so cachestat's nr_cache (folios in the file's page cache) is the kernel's own count.
 */
import { __cachestat as sysCachestat } from '../sys/cachestat.js';
import { ERRNO } from '../uapi/index.js';
import { check } from '../sys/errors.js';
import { expectEq } from '../harness/expect.js';
import { PAGE } from './gmem.js';

/** 2 GiB: the first offset a file without O_LARGEFILE cannot reach (MAX_NON_LFS + 1). */
export const GIB2 = 1n << 31n;

/** 4 GiB: the first offset that no longer fits in 32 bits. */
export const GIB4 = 1n << 32n;

/** 1 TiB: a size far beyond RAM; creation is lazy, so only the pages touched cost memory. */
export const TIB1 = 1n << 40n;

/** A file size to create, named for variant ids. */
export interface SizeCase {
  /** Variant name. */ name: string;
  /** Size in bytes (page-aligned). */ size: bigint;
}

/** The sizes the sizing family creates: just below, at and above 2^31 and 2^32, and 2^40. */
export const LARGE_SIZES: readonly SizeCase[] = [
  { name: 's2g_minus_page', size: GIB2 - PAGE },
  { name: 's2g', size: GIB2 },
  { name: 's2g_plus_page', size: GIB2 + PAGE },
  { name: 's4g', size: GIB4 },
  { name: 's4g_plus_page', size: GIB4 + PAGE },
  { name: 's1t', size: TIB1 },
];

/** One page-sized probe: the file size to use and the page offset inside it. */
export interface OffsetCase {
  /** Variant name. */ name: string;
  /** Size of the file the page lives in. */ size: bigint;
  /** Offset of the page (page-aligned, below size). */ offset: bigint;
}

/** One page just below, at and above 2^31 and 2^32, and the last page of a 1 TiB file. */
export const LARGE_OFFSETS: readonly OffsetCase[] = [
  { name: 'below_2g', size: GIB2 + 2n * PAGE, offset: GIB2 - PAGE },
  { name: 'at_2g', size: GIB2 + 2n * PAGE, offset: GIB2 },
  { name: 'above_2g', size: GIB2 + 2n * PAGE, offset: GIB2 + PAGE },
  { name: 'below_4g', size: GIB4 + 2n * PAGE, offset: GIB4 - PAGE },
  { name: 'at_4g', size: GIB4 + 2n * PAGE, offset: GIB4 },
  { name: 'above_4g', size: GIB4 + 2n * PAGE, offset: GIB4 + PAGE },
  { name: 'end_of_1t', size: TIB1, offset: TIB1 - PAGE },
];

/** Result of cachestat(2): the raw result and, on success, the page counts of the range. */
export interface CacheStat {
  /** syscall return (0 on success). */ ret: bigint;
  /** errno (0 on success). */ errno: number;
  /** Pages of the range present in the page cache (nr_cache). */ cached: bigint;
  /** Dirty pages of the range (nr_dirty). */ dirty: bigint;
}

/** Raw cachestat(2) over [offset, offset+length) of fd; length 0 means "to the end of the file". */
export function __cachestat(fd: number, offset: bigint = 0n, length: bigint = 0n): CacheStat {
  const r = sysCachestat(fd, offset, length);
  return { ret: r.ret, errno: r.errno, cached: r.counts?.cache ?? 0n, dirty: r.counts?.dirty ?? 0n };
}

/** Why a case cannot observe allocation when cachestat(2) fails with ENOSYS, for ctx.skip(). */
export const NO_CACHESTAT =
  'cachestat(2) returned ENOSYS (the syscall exists since 6.5, and from then on only with CONFIG_CACHESTAT_SYSCALL=y): page-cache residency of the file cannot be observed';

/**
 * Pages of [offset, offset+length) in fd's page cache. Skips the case (through skip) when the
 * kernel has no cachestat(2); any other failure is a SyscallError (the case fails naming it).
 */
export function residentPages(
  ctx: { skip(reason: string): never },
  fd: number,
  offset: bigint = 0n,
  length: bigint = 0n,
): bigint {
  const r = __cachestat(fd, offset, length);
  if (r.errno === ERRNO.ENOSYS) ctx.skip(NO_CACHESTAT);
  check('cachestat', r, `fd ${fd} range [${offset}, +${length})`);
  return r.cached;
}

/**
 * Expects [offset, offset+length) of fd to hold `want` cached pages when cachestat(2) exists; for
 * cases whose verdict rests on something else (an errno, st_size), so a kernel without cachestat
 * still runs them: the unchecked residency then becomes a note instead of a skip.
 */
export function expectResidentIfObservable(
  ctx: { note(line: string): void },
  fd: number,
  want: bigint,
  what: string,
  offset: bigint = 0n,
  length: bigint = 0n,
): void {
  const r = __cachestat(fd, offset, length);
  if (r.errno === ERRNO.ENOSYS) {
    ctx.note(`${what}: not checked, cachestat(2) is unavailable`);
    return;
  }
  check('cachestat', r, `fd ${fd} range [${offset}, +${length})`);
  expectEq(r.cached, want, what);
}
