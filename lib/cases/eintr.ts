/**
 * Shared pieces of the EINTR family: counting a file's pages with cachestat(2), calibrating how fast
 * this machine allocates and re-walks pages, sizing ranges from that, and the bounded retry loops
 * (naive whole-range retry, chunked retry) whose outcome the cases compare with their fixtures.
 *
 * Why cachestat: st_blocks is always 0 for guest_memfd, and mincore(2) on a guest_memfd mapping
 * reports only pages that are Uptodate (faulted), so it does not see pages fallocate() added.
 * cachestat counts every folio in the file's page cache, which is where both guest_memfd and shmem
 * keep the pages fallocate() allocates.
 */
import { __cachestat as sysCachestat } from '../sys/cachestat.js';
import * as libc from '../ffi/libc.js';
import { SyscallError, check } from '../sys/errors.js';
import { ERRNO, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } from '../uapi/index.js';
import type { Variant } from '../harness/case.js';
import { PAGE } from './gmem.js';
import { PeriodicSignal, periodFromEnv } from './periodic-signal.js';
import type { CaseContext } from '../harness/context.js';
import { CaseFailure } from '../harness/expect.js';

/** One mebibyte. */
export const MiB = 1n << 20n;
/** One gibibyte. */
export const GiB = 1n << 30n;

/** Raw cachestat(2) over [off, off+len) (len 0 = to the end of the file); nrCache in pages. */
export function __cachestat(fd: number, off: bigint = 0n, len: bigint = 0n): libc.RawBig & { nrCache: bigint } {
  const r = sysCachestat(fd, off, len);
  return { ret: r.ret, errno: r.errno, nrCache: r.counts?.cache ?? -1n };
}

/** Bytes of [off, off+len) present in the file's page cache (cachestat nr_cache × PAGE); throws SyscallError. */
export function cachedBytes(fd: number, off: bigint = 0n, len: bigint = 0n): bigint {
  const r = __cachestat(fd, off, len);
  check('cachestat', r, `fd ${fd}, range [${off}, +${len})`);
  return r.nrCache * PAGE;
}

/** Text for a byte count: 1.5 GiB, 64 MiB, 12 KiB. */
export function bytesText(n: bigint | number): string {
  const v = Number(n);
  if (v >= 2 ** 30) return `${+(v / 2 ** 30).toFixed(2)} GiB`;
  if (v >= 2 ** 20) return `${+(v / 2 ** 20).toFixed(1)} MiB`;
  return `${+(v / 1024).toFixed(1)} KiB`;
}

/** Rounds a byte count up to a multiple of unit. */
export function roundUp(bytes: number | bigint, unit: bigint): bigint {
  const b = BigInt(Math.ceil(Number(bytes)));
  return ((b + unit - 1n) / unit) * unit;
}

/** Rounds a byte count down to a multiple of unit. */
export function roundDown(bytes: number | bigint, unit: bigint): bigint {
  const b = BigInt(Math.floor(Number(bytes)));
  return (b / unit) * unit;
}

/** Period of a variant: a fixed number of milliseconds, or 'env' for GMEM_EINTR_PERIOD_MS (default 20). */
export type PeriodSpec = number | 'env';

/** The period in ms a spec stands for. */
export function resolvePeriod(spec: PeriodSpec): number {
  return spec === 'env' ? periodFromEnv() : spec;
}

/** Variant-name piece for a period spec: p5, p100, period_env. */
export function periodName(spec: PeriodSpec): string {
  return spec === 'env' ? 'period_env' : `p${spec}`;
}

/** Parameters every EINTR case has: the signal period. */
export interface PeriodParams {
  /** Period of the signal. */ period: PeriodSpec;
}

/** One variant per period spec. */
export function periodVariants(specs: readonly PeriodSpec[]): Variant<PeriodParams>[] {
  return specs.map((period) => ({ name: periodName(period), params: { period } }));
}

/** fallocate(KEEP_SIZE) over [off, off+len). */
export function allocate(fd: number, off: bigint, len: bigint): libc.Raw {
  return libc.fallocate(fd, FALLOC_FL_KEEP_SIZE, off, len);
}

/** Checked punch of [off, off+len) (KEEP_SIZE | PUNCH_HOLE). */
export function punch(fd: number, off: bigint, len: bigint): void {
  check('fallocate(PUNCH_HOLE)', libc.fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, off, len), `[${off}, +${len})`);
}

/** How fast this machine allocates fresh pages and re-walks pages a file already has. */
export interface AllocRates {
  /** Bytes per ms of a fallocate over pages not yet allocated. */ freshBytesPerMs: number;
  /** Bytes per ms of a fallocate over pages already allocated (the re-walk a retry repeats); null when not measured. */ rewalkBytesPerMs: number | null;
  /** Size of the probe range. */ probeBytes: bigint;
}

/** Fresh allocations a calibration times (the fastest counts). */
const FRESH_SAMPLES = 2;
/** Re-walks a calibration times (the fastest counts). */
const REWALK_SAMPLES = 8;

/**
 * Measures allocation rates on [0, probeBytes) of fd with no signal armed: FRESH_SAMPLES fresh
 * fallocates (punching in between) and, when withRewalk, REWALK_SAMPLES re-walks of the allocated
 * probe. The fastest sample counts: other load only slows a walk down, so the fastest is what the
 * kernel can do here, and sizes derived from it are on the safe side for "beyond the stall point".
 * Checks with cachestat that the probe allocated exactly probeBytes and that the punch left
 * nothing, so the caller's counting method is known to work on this file type; returns
 * { unusable: why } when cachestat cannot count this file's pages.
 */
export function calibrate(fd: number, probeBytes: bigint, withRewalk: boolean): AllocRates | { unusable: string } {
  const before = __cachestat(fd, 0n, probeBytes);
  if (before.ret !== 0n) {
    if (before.errno === ERRNO.ENOSYS) return { unusable: 'cachestat(2) is not implemented (needs 6.5+): no other per-file way to count guest_memfd pages (st_blocks is always 0)' };
    throw new SyscallError('cachestat', before.errno, `fd ${fd}`);
  }
  if (before.nrCache !== 0n) return { unusable: `cachestat reports ${before.nrCache} pages in a new file` };
  const timed = (what: string): number => {
    const t = performance.now();
    check('fallocate', allocate(fd, 0n, probeBytes), `calibration ${what}, [0, ${bytesText(probeBytes)})`);
    return performance.now() - t;
  };
  let freshMs = Infinity;
  for (let i = 0; i < FRESH_SAMPLES; i++) {
    if (i > 0) punch(fd, 0n, probeBytes);
    freshMs = Math.min(freshMs, timed(`fresh ${i}`));
  }
  let rewalkBytesPerMs: number | null = null;
  if (withRewalk) {
    let walkMs = Infinity;
    for (let i = 0; i < REWALK_SAMPLES; i++) walkMs = Math.min(walkMs, timed(`re-walk ${i}`));
    rewalkBytesPerMs = Number(probeBytes) / Math.max(walkMs, 0.001);
  }
  const counted = cachedBytes(fd, 0n, probeBytes);
  if (counted !== probeBytes)
    return { unusable: `cachestat counts ${bytesText(counted)} after fallocate of ${bytesText(probeBytes)}: it does not see this file's fallocated pages` };
  punch(fd, 0n, probeBytes);
  const left = cachedBytes(fd, 0n, probeBytes);
  if (left !== 0n) return { unusable: `cachestat still counts ${bytesText(left)} after punching the probe range` };
  return { freshBytesPerMs: Number(probeBytes) / Math.max(freshMs, 0.001), rewalkBytesPerMs, probeBytes };
}

/** Range size probes use for calibration. */
export const CALIBRATION_BYTES = 256n * MiB;

/** Bytes a retry of a whole-range fallocate can re-walk before the next signal: period × re-walk rate. */
export function stallBytes(periodMs: number, rates: AllocRates): number {
  if (rates.rewalkBytesPerMs === null) throw new Error('stallBytes needs a calibration with re-walk');
  return periodMs * rates.rewalkBytesPerMs;
}

/** Limits of a retry loop: it stops at whichever comes first. */
export interface RetryBound {
  /** Most fallocate calls in total (naive) or per chunk (chunked). */ maxAttempts: number;
  /** Wall-clock limit of the whole loop in ms. */ maxMs: number;
}

/** What a retry loop saw. */
export interface RetryReport {
  /** The whole range was allocated within the bound. */ completed: boolean;
  /** fallocate calls made. */ attempts: number;
  /** Calls that failed with EINTR. */ eintr: number;
  /** Wall-clock time of the loop. */ elapsedMs: number;
  /** Bytes allocated at the loop's half-way point (by attempts or time), null if it ended earlier. */ midBytes: bigint | null;
  /** The most attempts any one chunk needed (chunked loop; equals attempts for the naive loop). */ worstChunkAttempts: number;
  /** Chunks fully allocated (chunked loop). */ chunksDone: number;
}

function eintrOrThrow(r: libc.Raw, what: string): void {
  if (r.ret === 0) return;
  if (r.errno !== ERRNO.EINTR) throw new SyscallError('fallocate', r.errno, what);
}

/**
 * Retries fallocate(KEEP_SIZE, [0, len)) on EINTR until it succeeds or the bound is reached, the
 * way the QEMU patch in seed 001 does (minus the unbounded loop). Any errno other than EINTR throws.
 * At the half-way point it counts the allocated bytes once (cachestat; a tick that lands meanwhile
 * only costs one attempt).
 */
export function naiveRetry(fd: number, len: bigint, bound: RetryBound): RetryReport {
  const t0 = performance.now();
  let attempts = 0;
  let eintr = 0;
  let midBytes: bigint | null = null;
  let completed = false;
  for (;;) {
    const elapsed = performance.now() - t0;
    if (attempts >= bound.maxAttempts || elapsed >= bound.maxMs) break;
    if (midBytes === null && attempts > 0 && (attempts >= bound.maxAttempts / 2 || elapsed >= bound.maxMs / 2)) midBytes = cachedBytes(fd, 0n, len);
    const r = allocate(fd, 0n, len);
    attempts++;
    if (r.ret === 0) {
      completed = true;
      break;
    }
    eintrOrThrow(r, `naive retry ${attempts}, [0, ${bytesText(len)})`);
    eintr++;
  }
  return { completed, attempts, eintr, elapsedMs: performance.now() - t0, midBytes, worstChunkAttempts: attempts, chunksDone: completed ? 1 : 0 };
}

/**
 * Allocates [0, len) chunk by chunk, retrying a chunk on EINTR (at most bound.maxAttempts per
 * chunk, bound.maxMs in all). Any errno other than EINTR throws.
 */
export function chunkedRetry(fd: number, len: bigint, chunk: bigint, bound: RetryBound): RetryReport {
  const t0 = performance.now();
  let attempts = 0;
  let eintr = 0;
  let worst = 0;
  let chunksDone = 0;
  let stopped = false;
  for (let off = 0n; off < len && !stopped; off += chunk) {
    const n = off + chunk > len ? len - off : chunk;
    let tries = 0;
    for (;;) {
      if (tries >= bound.maxAttempts || performance.now() - t0 >= bound.maxMs) {
        stopped = true;
        break;
      }
      const r = allocate(fd, off, n);
      attempts++;
      tries++;
      if (r.ret === 0) {
        chunksDone++;
        break;
      }
      eintrOrThrow(r, `chunk at ${bytesText(off)}, try ${tries}`);
      eintr++;
    }
    worst = Math.max(worst, tries);
  }
  return { completed: !stopped, attempts, eintr, elapsedMs: performance.now() - t0, midBytes: null, worstChunkAttempts: worst, chunksDone };
}

/** How a retry loop ended: it finished; it stopped gaining ground (livelock); or it still gained when the bound hit. */
export type RetryOutcome = 'completed' | 'livelock' | 'slow';

/** The second half of a naive loop's attempts must add at least this share of the range to count as progressing. */
export const LIVELOCK_GAIN_FRACTION = 0.1;

/**
 * Classifies a naive loop: completed; livelock when the second half of its attempts together added
 * less than LIVELOCK_GAIN_FRACTION of the range (on a quiet machine it adds well under 1%: every
 * retry re-walks from the first page and dies at the same depth; under load, retries that get more
 * CPU than any before push the depth up a little, hence the margin); otherwise slow.
 */
export function classify(rep: RetryReport, len: bigint, endBytes: bigint): RetryOutcome {
  if (rep.completed) return 'completed';
  if (rep.midBytes === null) return 'slow';
  return Number(endBytes - rep.midBytes) < LIVELOCK_GAIN_FRACTION * Number(len) ? 'livelock' : 'slow';
}

/** Attempts a naive loop would still need at the rate its second half gained (Infinity when it gained nothing). */
export function projectedAttempts(rep: RetryReport, len: bigint, endBytes: bigint): number {
  if (rep.completed || rep.midBytes === null) return 0;
  const gained = Number(endBytes - rep.midBytes);
  const secondHalf = rep.attempts - Math.floor(rep.attempts / 2);
  return gained <= 0 ? Infinity : Math.ceil((Number(len - endBytes) / gained) * secondHalf);
}

/** The least memory an EINTR case needs: calibration (CALIBRATION_BYTES) plus a 256 MiB range, within half of MemAvailable. */
export const EINTR_MEMORY_FLOOR = 512n * MiB;

/**
 * The most a case may allocate here: `most`, or half of MemAvailable when that is less (rounded down
 * to `granule`), so that a small guest runs the case with the ranges it can hold instead of skipping.
 */
export function memoryBound(meminfo: Map<string, bigint>, most: bigint, granule: bigint): bigint {
  const half = (memAvailable(meminfo) / 2n / granule) * granule;
  return half < most ? half : most;
}

/** MemAvailable in bytes from /proc/meminfo via the case's Env. */
export function memAvailable(meminfo: Map<string, bigint>): bigint {
  return meminfo.get('MemAvailable') ?? 0n;
}

/**
 * Runs fn with a periodic signal aimed at this thread; the timer is deleted and the listener
 * removed before returning or throwing (and ctx tracks it too, in case fn never returns normally).
 */
export function underSignal<T>(ctx: CaseContext<unknown>, periodMs: number, fn: () => T): T {
  const sig = ctx.track(PeriodicSignal.start(periodMs));
  try {
    return fn();
  } finally {
    sig.stop();
  }
}

/**
 * Gives back a file's pages after a case: punches [0, len), checks with cachestat that nothing is
 * left, and records how far MemAvailable is from where it was before the case (other processes
 * move it too, so that is noted, not asserted).
 */
export function releaseAndCheck(ctx: CaseContext<unknown>, fd: number, len: bigint, memBefore: bigint): void {
  punch(fd, 0n, len);
  const left = cachedBytes(fd, 0n, len);
  if (left !== 0n) throw new CaseFailure(`PUNCH_HOLE over [0, ${bytesText(len)}) left ${bytesText(left)} in the file`);
  const delta = memAvailable(ctx.env.meminfo()) - memBefore;
  ctx.observe('mem_available_delta_bytes', Number(delta));
  if (delta < -256n * MiB) ctx.note(`MemAvailable is ${bytesText(-delta)} below its value before the case (the file itself holds no pages)`);
}
