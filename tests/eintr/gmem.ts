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
import {
  ERRNO,
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  SYSCALL,
} from '../../lib/uapi/index.js';
import { NEEDS_GMEM, PAGE } from '../../lib/cases/gmem.js';
import {
  GiB,
  MiB,
  allocate,
  bytesText,
  cachedBytes,
  memAvailable,
  punch,
  ratesFor,
  rewalkCpuMs,
  periodName,
  periodVariants,
  releaseAndCheck,
  resolvePeriod,
  restartReach,
  roundUp,
  stallBytes,
  underSignal,
  EINTR_MEMORY_FLOOR,
  memoryBound,
  REACH_MARGIN,
  type AllocRates,
  type PeriodParams,
  type PeriodSpec,
} from '../../lib/cases/eintr.js';
import {
  chunkedRetry,
  judgeBeyondStall,
  judgeWithinStall,
  naiveRetry,
  type RetryBound,
  type RetryJudgement,
  type RetryOutcome,
  type RetryReport,
} from '../../lib/cases/eintr-retry.js';
import { timeoutScale } from '../../lib/harness/timeout-scale.js';

/** The most any case here fallocates (the file is created this large; only a prefix is used). */
const CAP = 2n * GiB;
/** Ranges are multiples of this, so both chunk sizes divide them. */
const GRANULE = 64n * MiB;
/** The naive loop's range is this many times the modelled stall point (capped at the case's bound): no memory cost. */
const STALL_MARGIN = 4;
/** The naive loop's range must be at least this many times the modelled stall point (twice the restart reach). */
const NAIVE_MIN_BEYOND_STALL = 2 * REACH_MARGIN;
/** The naive loop's cap: it only allocates up to the stall point unless the kernel makes progress. */
const NAIVE_CAP = 4n * GiB;
/** The chunked loop's range is beyond what a naive loop can reach (REACH_MARGIN × the stall point model). */
const CHUNK_BEYOND_STALL = REACH_MARGIN;
/**
 * Bound of the naive loop, a safety net: the seed's QEMU patch retried forever; a loop stops as soon
 * as its retries stall, so on the host it makes 15-30 calls. Reaching the bound decides nothing.
 */
const NAIVE_BOUND: RetryBound = { maxAttempts: 200, maxMs: 10_000 * timeoutScale() };
/** The small naive case's range takes this many periods of CPU to allocate: an EINTR, then kept pages let a retry finish. */
const SMALL_PERIODS = 1.5;
/** Sizes the small naive case tries (doubling) until its first call is interrupted. */
const SMALL_TRIES = 4;
/** Bound of the chunked loop (calls per chunk, time in all), a safety net like NAIVE_BOUND. */
const CHUNK_BOUND: RetryBound = { maxAttempts: 100, maxMs: 10_000 * timeoutScale() };

const COMMON = {
  requires: { ...NEEDS_GMEM, memoryBytes: EINTR_MEMORY_FLOOR },
  tags: { seed: '001', linuxGit: ['a7800aa80ea4'] },
  // a shared worker: the case restores all it changes (timer, listener, nice) and closes its files
  serial: true,
};

/** The case's allocation bound: `most`, or half of MemAvailable when less (the requirement only asks for EINTR_MEMORY_FLOOR). */
function boundOf(ctx: CaseContext<unknown>, most: bigint): bigint {
  const cap = memoryBound(ctx.env.meminfo(), most, GRANULE);
  ctx.observe('bound_bytes', Number(cap));
  return cap;
}

/**
 * A guest_memfd of `size` bytes (default CAP) on a new VM with this process's calibrated rates for
 * guest_memfd files with these flags (measured by the first case, fresh and re-walk); skips when
 * cachestat cannot count its pages.
 */
function calibratedGmem(
  ctx: CaseContext<unknown>,
  flags: bigint,
  size: bigint = CAP,
): { fd: number; rates: AllocRates; memBefore: bigint } {
  const memBefore = memAvailable(ctx.env.meminfo());
  const g = ctx.gmem(ctx.vm(), size, flags);
  const rates = ratesFor(`gmem:0x${flags.toString(16)}`, g.fd, true);
  if ('unusable' in rates) ctx.skip(`cannot count guest_memfd pages: ${rates.unusable}`);
  ctx.observe('calibration', rates.reused ? 'reused' : 'measured');
  ctx.observe('fresh_bytes_per_ms', Math.round(rates.freshBytesPerMs));
  if (rates.rewalkBytesPerMs !== null) ctx.observe('rewalk_bytes_per_ms', Math.round(rates.rewalkBytesPerMs));
  return { fd: g.fd, rates, memBefore };
}

/** The least number of periods of CPU a range must take to allocate when `periods` would exceed the bound. */
const MIN_PERIODS = 1.5;

/**
 * A range that takes `periods` periods of CPU to allocate from scratch (at least 256 MiB), or the
 * bound when that is less but still takes MIN_PERIODS (more than one period: a tick lands during the
 * call); skips when the bound holds less than that.
 */
function rangeForPeriods(ctx: CaseContext<unknown>, periods: number, periodMs: number, rates: AllocRates): bigint {
  const len = roundUp(Math.max(periods * periodMs * rates.freshBytesPerMs, Number(4n * GRANULE)), GRANULE);
  const cap = boundOf(ctx, CAP);
  if (len <= cap) return len;
  const least = roundUp(MIN_PERIODS * periodMs * rates.freshBytesPerMs, GRANULE);
  if (least > cap) {
    const bound = `${bytesText(cap)} bound${cap < CAP ? ' (half of MemAvailable)' : ''}`;
    ctx.skip(
      `allocating for ${MIN_PERIODS} periods of ${periodMs} ms needs ${bytesText(least)} here ` +
        `(${bytesText(rates.freshBytesPerMs)}/ms), more than this case's ${bound}`,
    );
  }
  return cap;
}

/**
 * A range beyond what one retry can re-walk within a period: `margin` times the modelled stall point
 * (period × fastest re-walk rate per CPU ms, which a retry cannot exceed: it gets at most one period
 * of CPU), at most cap. A naive loop never allocates past the stall point, so the range's size
 * costs no memory unless the kernel makes progress. Skips when cap is less than minBeyond times
 * the modelled stall point.
 */
function rangeBeyondStall(
  ctx: CaseContext<unknown>,
  periodMs: number,
  rates: AllocRates,
  cap: bigint,
  margin: number,
  minBeyond: number,
): bigint {
  const stall = stallBytes(periodMs, rates);
  ctx.observe('stall_model_bytes', Math.round(stall));
  if (minBeyond * stall > Number(cap))
    ctx.skip(
      `at ${periodMs} ms this machine re-walks ${bytesText(stall)} of allocated pages per period; a range clearly beyond that (${minBeyond}x) exceeds this case's ${bytesText(cap)} bound`,
    );
  const len = roundUp(Math.max(margin * stall, Number(4n * GRANULE)), GRANULE);
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
  doc: 'fallocate(KEEP_SIZE) of a guest_memfd range that takes 3 periods of CPU to allocate (at least 1.5 within the memory bound) returns EINTR when a periodic signal with a handler arrives',
  ...COMMON,
  variants: periodVariants([5, 'env', 100]),
  timeoutMs: 30_000,
  run(ctx) {
    const periodMs = resolvePeriod(ctx.params.period);
    ctx.observe('feature', 'fallocate.eintr.gmem');
    ctx.observe('period_ms', periodMs);
    const { fd, rates, memBefore } = calibratedGmem(ctx, 0n);
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
    ctx.note(
      `fallocate of ${bytesText(len)} under a ${periodMs} ms SIGALRM: ${seen ? 'EINTR' : 'completed'} after ${elapsedMs.toFixed(1)} ms, ${bytesText(progress)} allocated`,
    );
    if (!seen) expectEq(progress, len, 'bytes allocated by a fallocate that returned 0');
    releaseAndCheck(ctx, fd, len, memBefore);
    expectEq(
      seen,
      ctx.expected<boolean>('eintr'),
      `EINTR from fallocate(KEEP_SIZE, ${bytesText(len)}) under a ${periodMs} ms periodic signal`,
    );
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
    const { fd, rates, memBefore } = calibratedGmem(ctx, ctx.params.flags);
    const len = rangeForPeriods(ctx, 3, periodMs, rates);
    const r = underSignal(ctx, periodMs, () => allocate(fd, 0n, len));
    if (!eintrSeen(r, `[0, ${bytesText(len)}) under a ${periodMs} ms signal`))
      ctx.skip(
        `fallocate of ${bytesText(len)} under a ${periodMs} ms signal was not interrupted: nothing to keep or undo (see eintr.gmem.happens)`,
      );
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
        ctx.note(
          `mincore on the mapping sees ${bytesText(resident * Number(PAGE))} of the ${bytesText(progress)} cachestat counts (mincore reports only Uptodate pages)`,
        );
      }
      map.close();
    }
    ctx.note(`EINTR after allocating ${bytesText(progress)} of ${bytesText(len)}; pages ${after}`);
    releaseAndCheck(ctx, fd, len, memBefore);
    expectEq(
      after,
      ctx.expected<string>('after_eintr'),
      `pages allocated before EINTR (${bytesText(progress)} counted by cachestat)`,
    );
    if (after === 'kept')
      expectTrue(
        prefix === progress,
        `kept pages are not the start of the range: [0, ${bytesText(progress)}) holds ${bytesText(prefix)}`,
      );
  },
});

/** Records a retry loop's figures (observations and one note line); returns the bytes the file holds in [0, len). */
function recordLoop(ctx: CaseContext<unknown>, fd: number, rep: RetryReport, len: bigint, what: string): bigint {
  const end = cachedBytes(fd, 0n, len);
  ctx.observe('size_bytes', Number(len));
  ctx.observe('eintr_seen', rep.eintr > 0);
  ctx.observe('retries', rep.eintr);
  ctx.observe('attempts', rep.attempts);
  ctx.observe('worst_chunk_attempts', rep.worstChunkAttempts);
  ctx.observe('progress_bytes', Number(end));
  ctx.observe('completed', rep.completed);
  ctx.observe('stopped', rep.stopped ?? 'completed');
  ctx.observe('elapsed_ms', Math.round(rep.elapsedMs));
  ctx.observe('cpu_ms', Math.round(rep.cpuMs * 10) / 10);
  if (rep.stall) {
    ctx.observe('stall_cpu_ms', Math.round(rep.stall.cpuMs * 10) / 10);
    ctx.observe('stall_gained_bytes', Number(rep.stall.gained));
    ctx.observe('stall_fresh_share', Math.round((1000 * Number(rep.stall.gained)) / rep.stall.freshCapacity) / 1000);
    const ratio = rep.stall.rewalkCapacity / Math.max(1, Number(rep.stall.keptSum));
    ctx.observe('stall_rewalk_ratio', Math.round(100 * ratio) / 100);
    ctx.observe('stall_rewalk_bound', rep.stall.rewalkBound);
  }
  ctx.note(
    `${what}: ${rep.completed ? 'completed' : rep.stopped} after ${rep.attempts} calls ` +
      `(${rep.eintr} EINTR, worst range ${rep.worstChunkAttempts} calls) ` +
      `in ${Math.round(rep.elapsedMs)} ms, ${rep.cpuMs.toFixed(1)} ms of CPU in fallocate; ${bytesText(end)} allocated`,
  );
  return end;
}

/**
 * Turns a judgement into the case's outcome: notes the evidence and returns the outcome, or gives
 * the pages back first and skips when the judgement is inconclusive (that is not the kernel's answer).
 */
function decisive(ctx: CaseContext<unknown>, j: RetryJudgement, release: () => void): RetryOutcome {
  if ('inconclusive' in j) {
    ctx.observe('outcome', 'inconclusive');
    release();
    ctx.skip(`inconclusive: ${j.inconclusive}`);
  }
  ctx.observe('outcome', j.outcome);
  ctx.note(`${j.outcome}: ${j.evidence}`);
  return j.outcome;
}

const naiveLarge = defineCase<PeriodParams>({
  id: 'eintr.gmem.naive_retry_large',
  doc: 'retrying the same whole-range guest_memfd fallocate on EINTR, for a range well beyond what one period of CPU can re-walk, ends as the fixture says (livelock: each retry restarts at the first page, so the retries stall)',
  ...COMMON,
  requires: { ...NEEDS_GMEM, memoryBytes: EINTR_MEMORY_FLOOR },
  variants: periodVariants([5, 'env']),
  timeoutMs: 60_000,
  run(ctx) {
    const periodMs = resolvePeriod(ctx.params.period);
    ctx.observe('feature', 'fallocate.eintr_progress.gmem');
    ctx.observe('period_ms', periodMs);
    const { fd, rates, memBefore } = calibratedGmem(ctx, 0n, NAIVE_CAP);
    const len = rangeBeyondStall(ctx, periodMs, rates, boundOf(ctx, NAIVE_CAP), STALL_MARGIN, NAIVE_MIN_BEYOND_STALL);
    const reach = restartReach(periodMs, rates);
    ctx.observe('restart_reach_bytes', Math.round(reach));
    const rep = underSignal(ctx, periodMs, () => naiveRetry(fd, len, rates, NAIVE_BOUND));
    recordLoop(ctx, fd, rep, len, `naive retry of ${bytesText(len)} at ${periodMs} ms`);
    const release = (): void => releaseAndCheck(ctx, fd, len, memBefore);
    // a restarting retry that finished re-walked the whole range within one period: measure that
    const fullRewalkMs = rep.completed ? rewalkCpuMs(fd, len) : null;
    if (fullRewalkMs !== null) ctx.observe('full_rewalk_cpu_ms', Math.round(fullRewalkMs * 10) / 10);
    const outcome = decisive(ctx, judgeBeyondStall(rep, NAIVE_BOUND, reach, periodMs, fullRewalkMs), release);
    release();
    const what = `naive EINTR retry of fallocate(KEEP_SIZE, ${bytesText(len)}) under a ${periodMs} ms signal`;
    expectEq(outcome, ctx.expected<RetryOutcome>('naive_retry'), what);
  },
});

const naiveSmall = defineCase<PeriodParams>({
  id: 'eintr.gmem.naive_retry_small',
  doc: 'retrying the same whole-range guest_memfd fallocate on EINTR, for a range that takes 1.5 periods of CPU to allocate (doubled until the first call is interrupted) but re-walks within half a period, ends as the fixture says (completed: kept pages make each retry go further)',
  ...COMMON,
  variants: periodVariants(['env', 100]),
  timeoutMs: 60_000,
  run(ctx) {
    const periodMs = resolvePeriod(ctx.params.period);
    ctx.observe('feature', 'fallocate.eintr_progress.gmem');
    ctx.observe('period_ms', periodMs);
    const { fd, rates, memBefore } = calibratedGmem(ctx, 0n);
    const stall = stallBytes(periodMs, rates);
    ctx.observe('stall_model_bytes', Math.round(stall));
    const cap = boundOf(ctx, CAP);
    let len = roundUp(SMALL_PERIODS * periodMs * rates.freshBytesPerMs, 2n * MiB);
    let rep: RetryReport | null = null;
    // the calibration only sizes the first try: while the first call is not interrupted, double the range
    for (let tries = 0; tries < SMALL_TRIES && (rep === null || rep.eintr === 0); tries++) {
      if (rep !== null) {
        punch(fd, 0n, len);
        len *= 2n;
      }
      if (len > cap)
        ctx.skip(`a ${bytesText(len)} range (${periodMs} ms periods) exceeds this case's ${bytesText(cap)} bound`);
      if (Number(len) > stall / 2) {
        const half = `re-walks within half a period (${bytesText(stall / 2)}) on this machine`;
        ctx.skip(
          rep === null
            ? `at ${periodMs} ms no range both takes ${SMALL_PERIODS} periods to allocate (${bytesText(len)}) and ${half}`
            : `at ${periodMs} ms a call over ${bytesText(len / 2n)} was not interrupted, and no larger range ${half}`,
        );
      }
      rep = underSignal(ctx, periodMs, () => naiveRetry(fd, len, rates, NAIVE_BOUND));
    }
    if (rep === null) throw new Error('unreachable: the loop runs at least once');
    recordLoop(ctx, fd, rep, len, `naive retry of ${bytesText(len)} at ${periodMs} ms`);
    const release = (): void => releaseAndCheck(ctx, fd, len, memBefore);
    if (rep.eintr === 0) {
      release();
      const upTo = `in ${SMALL_TRIES} tries up to ${bytesText(len)}`;
      ctx.skip(`the first fallocate was not interrupted ${upTo}: no retry to characterise (see eintr.gmem.happens)`);
    }
    const judged = judgeWithinStall(rep, NAIVE_BOUND, `the ${bytesText(len)} range`);
    const outcome = decisive(ctx, judged, release);
    release();
    const what = `naive EINTR retry of fallocate(KEEP_SIZE, ${bytesText(len)}) under a ${periodMs} ms signal`;
    expectEq(outcome, ctx.expected<RetryOutcome>('naive_retry'), what);
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
    const { fd, rates, memBefore } = calibratedGmem(ctx, 0n);
    const len = rangeBeyondStall(ctx, periodMs, rates, boundOf(ctx, CAP), CHUNK_BEYOND_STALL, CHUNK_BEYOND_STALL);
    const stall = stallBytes(periodMs, rates);
    if (Number(chunk) > stall)
      ctx.skip(
        `a ${bytesText(chunk)} chunk does not re-walk within one ${periodMs} ms period of CPU here (${bytesText(stall)}): ` +
          'the chunk itself would stall',
      );
    const rep = underSignal(ctx, periodMs, () => chunkedRetry(fd, len, chunk, rates, CHUNK_BOUND));
    const what = `chunked retry of ${bytesText(len)} in ${bytesText(chunk)} chunks at ${periodMs} ms`;
    const end = recordLoop(ctx, fd, rep, len, what);
    const release = (): void => releaseAndCheck(ctx, fd, len, memBefore);
    const outcome = decisive(ctx, judgeWithinStall(rep, CHUNK_BOUND, `each ${bytesText(chunk)} chunk`), release);
    release();
    expectEq(
      outcome,
      ctx.expected<RetryOutcome>('chunked_retry'),
      `chunked EINTR retry of ${bytesText(len)} in ${bytesText(chunk)} chunks under a ${periodMs} ms signal`,
    );
    if (rep.completed) expectEq(end, len, 'bytes allocated once every chunk returned 0');
  },
});

export default [happens, kept, naiveLarge, naiveSmall, chunked];
