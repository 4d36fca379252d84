/**
 * eintr.gmem: fallocate() on guest_memfd under a periodic signal (seed 001: QEMU saw EINTR from
 * fallocate on the private fd). kvm_gmem_allocate() checks signal_pending() before every page and
 * returns -EINTR (not -ERESTARTSYS, so SA_RESTART does not hide it); it keeps the pages it already
 * allocated and reports no progress, so a retry of the same range starts again at its first page.
 * These cases measure, with the signal period as a parameter: whether EINTR happens, whether the
 * pages allocated before it stay, whether a naive whole-range retry loop gets anywhere, and whether
 * a chunked retry loop completes. Sizes are derived from this machine's measured allocation and
 * re-walk rates so each outcome is decided by the kernel's semantics, not by how fast the CPU is.
 */
import { defineCase } from '../../lib/harness/case.js';
import type { CaseContext } from '../../lib/harness/context.js';
import { expectEq, expectTrue } from '../../lib/harness/expect.js';
import { SyscallError } from '../../lib/sys/errors.js';
import * as libc from '../../lib/ffi/libc.js';
import { ERRNO, GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP, MAP_SHARED, PROT_READ, PROT_WRITE, SYSCALL } from '../../lib/uapi/index.js';
import { NEEDS_GMEM, PAGE } from '../../lib/cases/gmem.js';
import {
  CALIBRATION_BYTES, GiB, MiB, allocate, bytesText, cachedBytes, calibrate, chunkedRetry, classify, memAvailable, naiveRetry, projectedAttempts,
  periodName, periodVariants, releaseAndCheck, resolvePeriod, roundUp, stallBytes, underSignal,
  EINTR_MEMORY_FLOOR, memoryBound, type AllocRates, type PeriodParams, type PeriodSpec, type RetryOutcome,
} from '../../lib/cases/eintr.js';

/** The most any case here fallocates (the file is created this large; only a prefix is used). */
const CAP = 2n * GiB;
/** Ranges are multiples of this, so both chunk sizes divide them. */
const GRANULE = 64n * MiB;
/** Ranges "beyond the stall point" are this many times the modelled stall point (capped at the case's bound). */
const STALL_MARGIN = 4;
/** The naive loop's range must be at least this many times the modelled stall point (the model can be 2x low under load). */
const NAIVE_MIN_BEYOND_STALL = 3;
/** The naive loop's cap: it only allocates up to the stall point unless the kernel makes progress. */
const NAIVE_CAP = 4n * GiB;
/** The chunked loop's range should be beyond the stall point too, but its verdict does not hinge on it. */
const CHUNK_MIN_BEYOND_STALL = 1.5;
/** Bound of the naive loop: the seed's QEMU patch retried forever; the suite stops here. */
const NAIVE_BOUND = { maxAttempts: 200, maxMs: 20_000 };
/** The small naive case's range takes this many periods to allocate from scratch: at least one EINTR, then the kept pages let a retry finish. */
const SMALL_PERIODS = 2;
/** Bound of the chunked loop: attempts per chunk, time in all. */
const CHUNK_BOUND = { maxAttempts: 100, maxMs: 20_000 };

const COMMON = {
  requires: { ...NEEDS_GMEM, memoryBytes: EINTR_MEMORY_FLOOR },
  tags: { seed: '001', linuxGit: ['a7800aa80ea4'] },
  isolation: 'fresh' as const,
  serial: true,
};

/** The case's allocation bound: `most`, or half of MemAvailable when less (the requirement only asks for EINTR_MEMORY_FLOOR). */
function boundOf(ctx: CaseContext<unknown>, most: bigint): bigint {
  const cap = memoryBound(ctx.env.meminfo(), most, GRANULE);
  ctx.observe('bound_bytes', Number(cap));
  return cap;
}

/** A guest_memfd of `size` bytes (default CAP) on a new VM, calibrated; skips when cachestat cannot count its pages. */
function calibratedGmem(ctx: CaseContext<unknown>, flags: bigint, withRewalk: boolean, size: bigint = CAP): { fd: number; rates: AllocRates; memBefore: bigint } {
  const memBefore = memAvailable(ctx.env.meminfo());
  const g = ctx.gmem(ctx.vm(), size, flags);
  const rates = calibrate(g.fd, CALIBRATION_BYTES, withRewalk);
  if ('unusable' in rates) ctx.skip(`cannot count guest_memfd pages: ${rates.unusable}`);
  ctx.observe('fresh_bytes_per_ms', Math.round(rates.freshBytesPerMs));
  if (rates.rewalkBytesPerMs !== null) ctx.observe('rewalk_bytes_per_ms', Math.round(rates.rewalkBytesPerMs));
  return { fd: g.fd, rates, memBefore };
}

/** A range that takes `periods` signal periods to allocate from scratch (at least 256 MiB); skips beyond CAP. */
function rangeForPeriods(ctx: CaseContext<unknown>, periods: number, periodMs: number, rates: AllocRates): bigint {
  const len = roundUp(Math.max(periods * periodMs * rates.freshBytesPerMs, Number(4n * GRANULE)), GRANULE);
  const cap = boundOf(ctx, CAP);
  if (len > cap)
    ctx.skip(`allocating for ${periods} periods of ${periodMs} ms needs ${bytesText(len)} here (${bytesText(rates.freshBytesPerMs)}/ms), more than this case's ${bytesText(cap)} bound${cap < CAP ? ' (half of MemAvailable)' : ''}`);
  return len;
}

/**
 * A range well beyond what one retry can re-walk within a period: STALL_MARGIN times the modelled
 * stall point (period × fastest measured re-walk rate), at most cap. The calibration can only
 * underestimate the rate (load slows it), hence the generous margin; a naive loop never allocates
 * past the stall point, so the range's size costs no memory unless the kernel makes progress.
 * Skips when cap is less than minBeyond times the modelled stall point.
 */
function rangeBeyondStall(ctx: CaseContext<unknown>, periodMs: number, rates: AllocRates, cap: bigint, minBeyond: number): bigint {
  const stall = stallBytes(periodMs, rates);
  ctx.observe('stall_model_bytes', Math.round(stall));
  if (minBeyond * stall > Number(cap))
    ctx.skip(`at ${periodMs} ms this machine re-walks ${bytesText(stall)} of allocated pages per period; a range clearly beyond that (${minBeyond}x) exceeds this case's ${bytesText(cap)} bound`);
  const len = roundUp(Math.max(STALL_MARGIN * stall, Number(4n * GRANULE)), GRANULE);
  return len > cap ? cap : len;
}

/** Whether fallocate failed with EINTR (false when it succeeded); throws SyscallError for any other errno. */
function eintrSeen(r: libc.Raw, what: string): boolean {
  if (r.ret === 0) return false;
  if (r.errno === ERRNO.EINTR) return true;
  throw new SyscallError('fallocate', r.errno, what);
}

const happens = defineCase<PeriodParams>({
  id: 'eintr.gmem.happens',
  doc: 'fallocate(KEEP_SIZE) of a guest_memfd range that takes ~3 signal periods to allocate returns EINTR when a periodic signal with a handler arrives',
  ...COMMON,
  variants: periodVariants([5, 'env', 100]),
  timeoutMs: 30_000,
  run(ctx) {
    const periodMs = resolvePeriod(ctx.params.period);
    ctx.observe('feature', 'fallocate.eintr.gmem');
    ctx.observe('period_ms', periodMs);
    const { fd, rates, memBefore } = calibratedGmem(ctx, 0n, false);
    const len = rangeForPeriods(ctx, 3, periodMs, rates);
    const t0 = performance.now();
    const r = underSignal(ctx, periodMs, () => allocate(fd, 0n, len));
    const elapsedMs = performance.now() - t0;
    const seen = eintrSeen(r, `[0, ${bytesText(len)}) under a ${periodMs} ms signal`);
    const progress = cachedBytes(fd, 0n, len);
    ctx.observe('eintr_seen', seen);
    ctx.observe('elapsed_ms', Math.round(elapsedMs * 10) / 10);
    ctx.observe('size_bytes', Number(len));
    ctx.observe('progress_bytes', Number(progress));
    ctx.note(`fallocate of ${bytesText(len)} under a ${periodMs} ms SIGALRM: ${seen ? 'EINTR' : 'completed'} after ${elapsedMs.toFixed(1)} ms, ${bytesText(progress)} allocated`);
    if (!seen) expectEq(progress, len, 'bytes allocated by a fallocate that returned 0');
    releaseAndCheck(ctx, fd, len, memBefore);
    expectEq(seen, ctx.expected<boolean>('eintr'), `EINTR from fallocate(KEEP_SIZE, ${bytesText(len)}) under a ${periodMs} ms periodic signal`);
  },
});

interface KeptParams extends PeriodParams {
  /** guest_memfd flags. */ flags: bigint;
}

const kept = defineCase<KeptParams>({
  id: 'eintr.gmem.kept_after_eintr',
  doc: 'pages a guest_memfd fallocate allocated before it returned EINTR stay in the file (cachestat counts them), as a contiguous prefix of the range',
  ...COMMON,
  variants: [
    { name: 'noflags', params: { period: 'env', flags: 0n } },
    {
      name: 'mmap_init_shared',
      params: { period: 'env', flags: BigInt(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED) },
      requires: { gmemFlags: ['GUEST_MEMFD_FLAG_MMAP', 'GUEST_MEMFD_FLAG_INIT_SHARED'] },
    },
  ],
  timeoutMs: 30_000,
  run(ctx) {
    const periodMs = resolvePeriod(ctx.params.period);
    ctx.observe('feature', 'fallocate.eintr_kept.gmem');
    ctx.observe('period_ms', periodMs);
    const { fd, rates, memBefore } = calibratedGmem(ctx, ctx.params.flags, false);
    const len = rangeForPeriods(ctx, 3, periodMs, rates);
    const r = underSignal(ctx, periodMs, () => allocate(fd, 0n, len));
    if (!eintrSeen(r, `[0, ${bytesText(len)}) under a ${periodMs} ms signal`))
      ctx.skip(`fallocate of ${bytesText(len)} under a ${periodMs} ms signal was not interrupted: nothing to keep or undo (see eintr.gmem.happens)`);
    const progress = cachedBytes(fd, 0n, len);
    const prefix = progress > 0n ? cachedBytes(fd, 0n, progress) : 0n;
    const after = progress > 0n ? 'kept' : 'undone';
    ctx.observe('eintr_seen', true);
    ctx.observe('size_bytes', Number(len));
    ctx.observe('progress_bytes', Number(progress));
    ctx.observe('prefix_contiguous', prefix === progress);
    ctx.observe('after_eintr', after);
    if (ctx.params.flags & BigInt(GUEST_MEMFD_FLAG_MMAP) && progress > 0n) {
      // mincore(2) counts only Uptodate folios; fallocate leaves them !Uptodate until first fault.
      const map = ctx.map(Number(progress), PROT_READ | PROT_WRITE, MAP_SHARED, fd);
      const vec = Buffer.alloc(Number(progress / PAGE));
      const m = libc.syscall(SYSCALL.mincore, map.addr, map.length, vec);
      if (m.ret === 0n) {
        let resident = 0;
        for (const b of vec) resident += b & 1;
        ctx.observe('mincore_resident_bytes', resident * Number(PAGE));
        ctx.note(`mincore on the mapping sees ${bytesText(resident * Number(PAGE))} of the ${bytesText(progress)} cachestat counts (mincore reports only Uptodate pages)`);
      }
      map.close();
    }
    ctx.note(`EINTR after allocating ${bytesText(progress)} of ${bytesText(len)}; pages ${after}`);
    releaseAndCheck(ctx, fd, len, memBefore);
    expectEq(after, ctx.expected<string>('after_eintr'), `pages allocated before EINTR (${bytesText(progress)} counted by cachestat)`);
    if (after === 'kept') expectTrue(prefix === progress, `kept pages are not the start of the range: [0, ${bytesText(progress)}) holds ${bytesText(prefix)}`);
  },
});

/** Runs the naive loop under the signal and records what it did; returns its outcome and EINTR count. */
function runNaive(ctx: CaseContext<PeriodParams>, fd: number, len: bigint, periodMs: number): { outcome: RetryOutcome; eintr: number } {
  const rep = underSignal(ctx, periodMs, () => naiveRetry(fd, len, NAIVE_BOUND));
  const end = cachedBytes(fd, 0n, len);
  const outcome = classify(rep, len, end);
  const projected = projectedAttempts(rep, len, end);
  if (!rep.completed) ctx.observe('projected_attempts_to_finish', Number.isFinite(projected) ? projected : null);
  ctx.observe('size_bytes', Number(len));
  ctx.observe('eintr_seen', rep.eintr > 0);
  ctx.observe('retries', rep.eintr);
  ctx.observe('attempts', rep.attempts);
  ctx.observe('progress_bytes', Number(end));
  if (rep.midBytes !== null) ctx.observe('midpoint_bytes', Number(rep.midBytes));
  ctx.observe('completed', rep.completed);
  ctx.observe('elapsed_ms', Math.round(rep.elapsedMs));
  ctx.observe('outcome', outcome);
  ctx.note(
    `naive retry of ${bytesText(len)} at ${periodMs} ms: ${outcome} after ${rep.attempts} attempts (${rep.eintr} EINTR) in ${Math.round(rep.elapsedMs)} ms; ` +
      `${bytesText(end)} allocated${rep.midBytes !== null ? `, ${bytesText(rep.midBytes)} at the half-way point` : ''}` +
      `${rep.completed ? '' : `; at that rate ${Number.isFinite(projected) ? `${projected} more attempts` : 'it would never finish'}`}`,
  );
  return { outcome, eintr: rep.eintr };
}

const naiveLarge = defineCase<PeriodParams>({
  id: 'eintr.gmem.naive_retry_large',
  doc: 'retrying the same whole-range guest_memfd fallocate on EINTR, for a range well beyond what one period can re-walk, ends as the fixture says (livelock: each retry restarts at the first page)',
  ...COMMON,
  requires: { ...NEEDS_GMEM, memoryBytes: EINTR_MEMORY_FLOOR },
  variants: periodVariants([5, 'env']),
  timeoutMs: 60_000,
  run(ctx) {
    const periodMs = resolvePeriod(ctx.params.period);
    ctx.observe('feature', 'fallocate.eintr_progress.gmem');
    ctx.observe('period_ms', periodMs);
    const { fd, rates, memBefore } = calibratedGmem(ctx, 0n, true, NAIVE_CAP);
    const len = rangeBeyondStall(ctx, periodMs, rates, boundOf(ctx, NAIVE_CAP), NAIVE_MIN_BEYOND_STALL);
    const { outcome } = runNaive(ctx, fd, len, periodMs);
    releaseAndCheck(ctx, fd, len, memBefore);
    expectEq(outcome, ctx.expected<RetryOutcome>('naive_retry'), `naive EINTR retry of fallocate(KEEP_SIZE, ${bytesText(len)}) under a ${periodMs} ms signal (bound ${NAIVE_BOUND.maxAttempts} attempts / ${NAIVE_BOUND.maxMs} ms)`);
  },
});

const naiveSmall = defineCase<PeriodParams>({
  id: 'eintr.gmem.naive_retry_small',
  doc: 'retrying the same whole-range guest_memfd fallocate on EINTR, for a range that takes 2 periods to allocate but re-walks within half a period, ends as the fixture says (completed: kept pages make each retry go further)',
  ...COMMON,
  variants: periodVariants(['env', 100]),
  timeoutMs: 60_000,
  run(ctx) {
    const periodMs = resolvePeriod(ctx.params.period);
    ctx.observe('feature', 'fallocate.eintr_progress.gmem');
    ctx.observe('period_ms', periodMs);
    const { fd, rates, memBefore } = calibratedGmem(ctx, 0n, true);
    const stall = stallBytes(periodMs, rates);
    ctx.observe('stall_model_bytes', Math.round(stall));
    const len = roundUp(SMALL_PERIODS * periodMs * rates.freshBytesPerMs, 2n * MiB);
    const cap = boundOf(ctx, CAP);
    if (len > cap) ctx.skip(`${SMALL_PERIODS} periods of ${periodMs} ms allocate ${bytesText(len)} here, more than this case's ${bytesText(cap)} bound`);
    if (Number(len) > stall / 2)
      ctx.skip(`at ${periodMs} ms no range both needs ${SMALL_PERIODS} periods to allocate (${bytesText(len)}) and re-walks within half a period (${bytesText(stall / 2)}) on this machine`);
    const { outcome, eintr } = runNaive(ctx, fd, len, periodMs);
    releaseAndCheck(ctx, fd, len, memBefore);
    if (eintr === 0) ctx.skip(`the first fallocate of ${bytesText(len)} was not interrupted: no retry to characterise (see eintr.gmem.happens)`);
    expectEq(outcome, ctx.expected<RetryOutcome>('naive_retry'), `naive EINTR retry of fallocate(KEEP_SIZE, ${bytesText(len)}) under a ${periodMs} ms signal (bound ${NAIVE_BOUND.maxAttempts} attempts / ${NAIVE_BOUND.maxMs} ms)`);
  },
});

interface ChunkParams extends PeriodParams {
  /** Bytes per fallocate call. */ chunk: bigint;
}

/** A chunked-retry variant: chunk size in MiB and period. */
function chunkVariant(chunkMiB: number, period: PeriodSpec): { name: string; params: ChunkParams } {
  return { name: `chunk${chunkMiB}m_${periodName(period)}`, params: { period, chunk: BigInt(chunkMiB) * MiB } };
}

const chunked = defineCase<ChunkParams>({
  id: 'eintr.gmem.chunked_retry',
  doc: 'allocating a guest_memfd range beyond what a naive retry can finish, chunk by chunk with a retry of the chunk on EINTR, completes within the bound and leaves the whole range allocated',
  ...COMMON,
  variants: [chunkVariant(2, 5), chunkVariant(64, 5), chunkVariant(2, 'env'), chunkVariant(64, 'env')],
  expect: { chunked_retry: 'completed' },
  timeoutMs: 60_000,
  run(ctx) {
    const periodMs = resolvePeriod(ctx.params.period);
    const chunk = ctx.params.chunk;
    ctx.observe('feature', 'fallocate.chunked_retry.gmem');
    ctx.observe('period_ms', periodMs);
    ctx.observe('chunk_bytes', Number(chunk));
    const { fd, rates, memBefore } = calibratedGmem(ctx, 0n, true);
    const len = rangeBeyondStall(ctx, periodMs, rates, boundOf(ctx, CAP), CHUNK_MIN_BEYOND_STALL);
    const stall = stallBytes(periodMs, rates);
    if (Number(chunk) > stall)
      ctx.skip(`a ${bytesText(chunk)} chunk does not re-walk within one ${periodMs} ms period here (${bytesText(stall)}): the chunk itself would stall`);
    const rep = underSignal(ctx, periodMs, () => chunkedRetry(fd, len, chunk, CHUNK_BOUND));
    const end = cachedBytes(fd, 0n, len);
    const outcome: RetryOutcome = rep.completed ? 'completed' : rep.worstChunkAttempts >= CHUNK_BOUND.maxAttempts ? 'livelock' : 'slow';
    ctx.observe('size_bytes', Number(len));
    ctx.observe('eintr_seen', rep.eintr > 0);
    ctx.observe('retries', rep.eintr);
    ctx.observe('attempts', rep.attempts);
    ctx.observe('worst_chunk_attempts', rep.worstChunkAttempts);
    ctx.observe('progress_bytes', Number(end));
    ctx.observe('completed', rep.completed);
    ctx.observe('elapsed_ms', Math.round(rep.elapsedMs));
    ctx.observe('outcome', outcome);
    ctx.note(
      `chunked retry of ${bytesText(len)} in ${bytesText(chunk)} chunks at ${periodMs} ms: ${outcome} after ${rep.attempts} calls ` +
        `(${rep.eintr} EINTR, worst chunk ${rep.worstChunkAttempts} tries) in ${Math.round(rep.elapsedMs)} ms; ${bytesText(end)} allocated`,
    );
    releaseAndCheck(ctx, fd, len, memBefore);
    expectEq(outcome, ctx.expected<RetryOutcome>('chunked_retry'), `chunked EINTR retry of ${bytesText(len)} in ${bytesText(chunk)} chunks under a ${periodMs} ms signal`);
    if (rep.completed) expectEq(end, len, 'bytes allocated once every chunk returned 0');
  },
});

export default [happens, kept, naiveLarge, naiveSmall, chunked];
