/**
 * memfd.limits: both sides of every size and offset limit of ftruncate, fallocate and mmap, on every memfd backing.
 *
 * Kernel checks: ftruncate (fs/open.c do_ftruncate, mm/shmem.c shmem_setattr, fs/hugetlbfs/inode.c hugetlbfs_setattr;
 * read in 7.2.13 and 7.3-rc7)
 *   1. length < 0 → EINVAL | refused: memfd.limits.ftruncate@shmem_negative | accepted: memfd.limits.ftruncate@shmem_max_aligned
 *   2. hugetlbfs: size not a multiple of the huge page size → EINVAL | refused: memfd.limits.ftruncate@hugetlb_2m_int64_max | accepted: memfd.limits.ftruncate@hugetlb_2m_max_aligned
 *   3. hugetlbfs: the alignment check comes before F_SEAL_GROW → EINVAL, not EPERM | refused: memfd.limits.ftruncate@hugetlb_2m_unaligned_grow_sealed | accepted: n/a (shmem has no alignment rule; memfd.limits.ftruncate@shmem_unaligned_grow_sealed gives EPERM)
 * Kernel checks: fallocate (fs/open.c vfs_fallocate, mm/shmem.c shmem_fallocate, fs/hugetlbfs/inode.c
 * hugetlbfs_fallocate; read in 7.2.13 and 7.3-rc7)
 *   1. offset < 0 → EINVAL | refused: memfd.limits.fallocate@shmem_negative_offset | accepted: memfd.limits.fallocate@shmem_last_page
 *   2. len <= 0 → EINVAL | refused: memfd.limits.fallocate@shmem_zero_length | accepted: memfd.limits.fallocate@shmem_last_page
 *   3. offset + len > s_maxbytes or wraps below 0 → EFBIG | refused: memfd.limits.fallocate@shmem_past_maxbytes | accepted: memfd.limits.fallocate@shmem_last_page
 *   4. shmem (7.3+): offset + len + PAGE_SIZE - 1 overflows loff_t → EFBIG; up to 7.2 the page is allocated | refused: memfd.limits.fallocate@shmem_end_overflow | accepted: memfd.limits.fallocate@shmem_last_page
 *   5. hugetlbfs: no overflow check of offset + len + hpage_size - 1 (the page loop's end wraps) | refused: n/a (hugetlbfs has no such check; memfd.limits.fallocate@hugetlb_2m_end_overflow asserts the range stays one page) | accepted: memfd.limits.fallocate@hugetlb_2m_last_page
 * Kernel checks: mmap offset (mm/mmap.c do_mmap and file_mmap_ok, fs/hugetlbfs/inode.c hugetlbfs_file_mmap;
 * read in 7.2.13 and 7.3-rc7)
 *   1. pgoff beyond (MAX_LFS_FILESIZE - len) >> PAGE_SHIFT → EOVERFLOW | refused: memfd.limits.mmap_offset@shmem_past_maxbytes | accepted: memfd.limits.mmap_offset@shmem_last_page
 *   2. hugetlbfs: the same limit in huge pages → EOVERFLOW | refused: memfd.limits.mmap_offset@hugetlb_2m_past_maxbytes | accepted: memfd.limits.mmap_offset@hugetlb_2m_last_page
 */
import { defineCase } from '../../lib/harness/case.js';
import type { CaseContext } from '../../lib/harness/context.js';
import { CaseFailure, expectErrno, expectEq, expectOk, outcome, outcomeName } from '../../lib/harness/expect.js';
import type { RawResult } from '../../lib/sys/errors.js';
import { addSeals } from '../../lib/sys/fcntl.js';
import { decodeStat, fstat, STAT_SIZE } from '../../lib/sys/fd.js';
import { __fallocate, __ftruncate, ftruncate } from '../../lib/sys/io.js';
import { uniqueName } from '../../lib/cases/memfd.js';
import {
  ProbeProgram,
  resultOf,
  startProgram,
  type ProgramOutcome,
  type StepValue,
} from '../../lib/harness/probe-program.js';
import { hugepageDir } from '../../lib/cases/memfd-hugepages.js';
import { __mmap, Mapping } from '../../lib/sys/mman.js';
import {
  F_SEAL_GROW,
  MAP_NORESERVE,
  MAP_SHARED,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  PROT_READ,
} from '../../lib/uapi/index.js';
import {
  BACKINGS,
  backingNamed,
  backingRequires,
  leaveFreePages,
  memfdOn,
  requireFreePages,
  type MemfdBacking,
} from '../../lib/cases/memfd-backing.js';

/** The largest loff_t (MAX_LFS_FILESIZE on 64-bit). */
const INT64_MAX = (1n << 63n) - 1n;

/** INT64_MAX rounded down to a multiple of the backing's page. */
function alignedMax(b: MemfdBacking): bigint {
  return INT64_MAX - (INT64_MAX % b.page);
}

/** One point on a limit: what the call is and the outcome per backing kind. */
interface LimitPoint {
  /** Variant suffix. */ name: string;
  /** Outcome on shmem and on hugetlbfs ('OK' or an errno name; null: the point does not exist there). */
  want: { shmem: string | null; hugetlb: string | null };
}

/** Parameters of one limit instance. */
interface LimitParams {
  /** BACKINGS name. */ backing: string;
  /** LimitPoint name. */ point: string;
  /** The outcome the contract gives (a fixture may override it per kernel). */ outcome: string;
}

function limitVariants(points: readonly LimitPoint[]) {
  return BACKINGS.flatMap((b) =>
    points.flatMap((p) => {
      const want = b.hugeKb ? p.want.hugetlb : p.want.shmem;
      if (want === null) return [];
      return [
        {
          name: `${b.name}_${p.name}`,
          params: { backing: b.name, point: p.name, outcome: want },
          requires: backingRequires(b),
        },
      ];
    }),
  );
}

/** Asserts r against the expected outcome ('OK' or an errno name). */
function expectOutcome(r: RawResult, want: string, what: string): void {
  const outcome = outcomeName(want, ['OK'] as const);
  if (outcome === 'OK') expectOk(r, what);
  else expectErrno(r, outcome, what);
}

const FTRUNCATE_POINTS: readonly LimitPoint[] = [
  { name: 'max_aligned', want: { shmem: 'OK', hugetlb: 'OK' } },
  { name: 'int64_max', want: { shmem: 'OK', hugetlb: 'EINVAL' } },
  { name: 'negative', want: { shmem: 'EINVAL', hugetlb: 'EINVAL' } },
  { name: 'unaligned_grow_sealed', want: { shmem: 'EPERM', hugetlb: 'EINVAL' } },
];

const ftruncateLimits = defineCase<LimitParams>({
  id: 'memfd.limits.ftruncate',
  doc: 'ftruncate accepts INT64_MAX rounded down to the page size on every backing, INT64_MAX itself only on shmem, refuses a negative length, and on hugetlbfs checks alignment before F_SEAL_GROW',
  tags: { kernelFn: ['open.c:do_ftruncate', 'shmem.c:shmem_setattr', 'inode.c:hugetlbfs_setattr'] },
  variants: limitVariants(FTRUNCATE_POINTS),
  run(ctx) {
    const b = backingNamed(ctx.params.backing);
    const want = ctx.expected<string>('outcome', ctx.params.outcome);
    const fd = memfdOn(ctx, b, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    let size: bigint;
    switch (ctx.params.point) {
      case 'max_aligned':
        size = alignedMax(b);
        break;
      case 'int64_max':
        size = INT64_MAX;
        break;
      case 'negative':
        size = -1n;
        break;
      default:
        ftruncate(fd, b.page);
        addSeals(fd, F_SEAL_GROW);
        size = 2n * b.page + 4096n;
    }
    const r = __ftruncate(fd, size);
    ctx.observe('outcome', outcome(r));
    expectOutcome(r, want, `ftruncate(${size}) on ${b.name}`);
    if (want === 'OK') expectEq(fstat(fd).size, size, 'st_size after ftruncate');
    else
      expectEq(
        fstat(fd).size,
        ctx.params.point === 'unaligned_grow_sealed' ? b.page : 0n,
        'st_size after the refused ftruncate',
      );
  },
});

const FALLOCATE_POINTS: readonly LimitPoint[] = [
  { name: 'last_page', want: { shmem: 'OK', hugetlb: 'OK' } },
  { name: 'end_overflow', want: { shmem: 'OK', hugetlb: 'OK' } },
  { name: 'past_maxbytes', want: { shmem: 'EFBIG', hugetlb: 'EFBIG' } },
  { name: 'negative_offset', want: { shmem: 'EINVAL', hugetlb: 'EINVAL' } },
  { name: 'zero_length', want: { shmem: 'EINVAL', hugetlb: 'EINVAL' } },
];

/** The (offset, length) of one fallocate limit point on backing b. */
function fallocateRange(b: MemfdBacking, point: string): [bigint, bigint] {
  switch (point) {
    case 'last_page':
      return [alignedMax(b) - b.page, b.page];
    case 'end_overflow':
      return [alignedMax(b), 1n];
    case 'past_maxbytes':
      return [alignedMax(b), b.page];
    case 'negative_offset':
      return [-b.page, b.page];
    default:
      return [0n, 0n];
  }
}

/** What a fallocate on a fresh memfd did, seen from inside the process that made it. */
interface FallocateSeen {
  /** 'OK' or the errno name. */ outcome: string;
  /** Huge pages the call took from the pool (0 on shmem). */ took: number;
  /** st_size after the call, as decimal text. */ size: string;
  /** st_blocks after the call, as decimal text. */ blocks: string;
}

/**
 * In a probe child (started, not waited on): fallocate(0, offset, len) on a new memfd of the backing, closed only
 * when the child exits; what the call returned, the huge pages it took from the pool, st_size and st_blocks.
 */
async function fallocateInChild(
  b: MemfdBacking,
  offset: bigint,
  len: bigint,
): Promise<{ seen?: FallocateSeen; o: ProgramOutcome }> {
  const p = new ProbeProgram();
  p.sysOk('memfd_create', p.bytes(uniqueName('falloc-child')), (b.flags | MFD_CLOEXEC) >>> 0);
  const pool = (f: string) => p.readFile(`${hugepageDir(b.hugeKb)}/${f}`);
  const before = b.hugeKb ? [pool('free_hugepages'), pool('resv_hugepages')] : [];
  // the memfd is fd 3: probe-exec starts with only 0, 1 and 2 open
  const r = p.sys('fallocate', 3, 0, offset, len);
  const after = b.hugeKb ? [pool('free_hugepages'), pool('resv_hugepages')] : [];
  const st = p.buf(STAT_SIZE);
  p.sys('fstat', 3, st);
  const stat = p.out(st, STAT_SIZE);
  const o = await startProgram(p, { timeoutMs: 20000 }).done;
  const result = resultOf(o, r);
  const raw = o.output.get(stat.index);
  if (!result || !raw) return { o };
  const avail = (v: StepValue[]) => {
    const [free, resv] = v.map((s) => Number(o.output.get(s.index)?.toString().trim() ?? Number.NaN));
    return (free as number) - (resv as number);
  };
  const s = decodeStat(raw);
  return {
    o,
    seen: {
      outcome: outcome(result),
      took: b.hugeKb ? avail(before) - avail(after) : 0,
      size: `${s.size}`,
      blocks: `${s.blocks}`,
    },
  };
}

// Why the hugetlb points run in a probe child: on 6.1 (measured: Debian 6.1.176) remove_inode_hugepages(inode, 0,
// LLONG_MAX) stops one huge page short of index LLONG_MAX >> huge_page_shift, so once the last huge page of the file
// (offset ALIGN_DOWN(INT64_MAX, 2 MiB)) is allocated, closing the memfd hits BUG_ON(inode->i_data.nrpages) in
// clear_inode() (kernel BUG at fs/inode.c:650) and the closing process never finishes its exit.
// end_overflow on hugetlbfs: hugetlbfs_fallocate computes end = (offset + len + hpage_size - 1) >> shift without the
// wraparound check shmem_fallocate has, so end wraps to a huge index and the loop allocates past the last page of the
// range until the pool is empty (pages beyond LLONG_MAX >> PAGE_SHIFT that eviction never frees). The case leaves
// exactly one free huge page, so a wrapping loop fails with ENOSPC on its second page instead of taking the pool.
const HUGE_LAST_PAGE_UNSAFE =
  'allocates huge pages at the end of the file range: on 6.1 closing the file hits BUG_ON ' +
  'in clear_inode, and a wrapping allocation loop would take pages eviction never frees';

const fallocateLimits = defineCase<LimitParams>({
  id: 'memfd.limits.fallocate',
  doc:
    'fallocate allocates the last page below INT64_MAX on every backing, and refuses a negative offset, a zero length ' +
    'and a range past s_maxbytes; a range whose page-rounded end overflows allocates its one page (shmem of 7.3 ' +
    'refuses it with EFBIG) and never more',
  tags: { kernelFn: ['open.c:vfs_fallocate', 'shmem.c:shmem_fallocate', 'inode.c:hugetlbfs_fallocate'] },
  variants: limitVariants(FALLOCATE_POINTS).map((v) =>
    v.params.backing !== 'shmem' && v.params.outcome === 'OK'
      ? { ...v, requires: { ...v.requires, hostUnsafe: HUGE_LAST_PAGE_UNSAFE } }
      : v,
  ),
  serial: true,
  async run(ctx) {
    const b = backingNamed(ctx.params.backing);
    const want = ctx.expected<string>('outcome', ctx.params.outcome);
    const [offset, len] = fallocateRange(b, ctx.params.point);
    if (want === 'OK') {
      if (b.hugeKb) leaveFreePages(ctx, b, 1);
      else requireFreePages(ctx, b, 1);
    }
    const what = `fallocate(0, offset ${offset}, len ${len}) on ${b.name}`;
    // not waited on: a child whose exit hit a kernel BUG may never be reaped, and the case must still end
    const { seen, o: p } = await fallocateInChild(b, offset, len);
    const ended = `status ${p.status}, signal ${p.signal}${p.timedOut ? ', timed out' : ''}`;
    if (!seen)
      throw new CaseFailure(
        `${what}: the child making the call ended (${ended}) without a result: ${p.stderr.trim().slice(-300)}`,
      );
    ctx.observe('outcome', seen.outcome);
    ctx.observe('took', seen.took);
    if (p.status !== 0)
      throw new CaseFailure(
        `${what} returned ${seen.outcome} (took ${seen.took} huge pages), but closing the memfd at ` +
          `exit did not complete (${ended}): the kernel could not evict the file (6.1: kernel BUG at fs/inode.c ` +
          'clear_inode, a huge page remove_inode_hugepages never freed)',
      );
    if (want === 'OK' && b.hugeKb && seen.outcome === 'ENOSPC')
      throw new CaseFailure(
        `${what}: ENOSPC with one free huge page for a range inside one huge page (took ${seen.took}): ` +
          "the allocation loop ran past the range (hugetlbfs_fallocate's end = offset + len + hpage_size - 1 wrapped)",
      );
    expectEq(seen.outcome, want, what);
    if (want === 'OK') {
      expectEq(seen.size, `${offset + len}`, 'st_size after fallocate');
      if (b.hugeKb) expectEq(seen.took, 1, 'huge pages the fallocate took from the pool');
      else expectEq(seen.blocks, `${b.page / 512n}`, 'st_blocks after allocating one page');
    } else {
      expectEq(seen.size, '0', 'st_size after the refused fallocate');
      expectEq(seen.blocks, '0', 'st_blocks after the refused fallocate');
    }
  },
});

const MMAP_POINTS: readonly LimitPoint[] = [
  { name: 'last_page', want: { shmem: 'OK', hugetlb: 'OK' } },
  { name: 'past_maxbytes', want: { shmem: 'EOVERFLOW', hugetlb: 'EOVERFLOW' } },
];

const mmapOffsetLimits = defineCase<LimitParams>({
  id: 'memfd.limits.mmap_offset',
  doc: 'a one-page read-only shared mmap at INT64_MAX rounded down minus one page succeeds on every backing; one page further it fails with EOVERFLOW (file_mmap_ok)',
  tags: { kernelFn: ['mmap.c:do_mmap', 'mmap.c:file_mmap_ok', 'inode.c:hugetlbfs_file_mmap'] },
  variants: limitVariants(MMAP_POINTS),
  run(ctx: CaseContext<LimitParams>) {
    const b = backingNamed(ctx.params.backing);
    const want = ctx.expected<string>('outcome', ctx.params.outcome);
    const fd = memfdOn(ctx, b, MFD_CLOEXEC);
    const offset = ctx.params.point === 'last_page' ? alignedMax(b) - b.page : alignedMax(b);
    const r = __mmap(b.page, PROT_READ, MAP_SHARED | MAP_NORESERVE, fd, offset);
    if (r.ret !== -1n) ctx.track(new Mapping(r.ret, Number(b.page)));
    ctx.observe('outcome', outcome(r));
    expectOutcome(r, want, `mmap(${b.page} bytes, PROT_READ, MAP_SHARED|MAP_NORESERVE, offset ${offset}) on ${b.name}`);
    expectEq(fstat(fd).size, 0n, 'st_size after a read-only mmap');
  },
});

export default [ftruncateLimits, fallocateLimits, mmapOffsetLimits];
