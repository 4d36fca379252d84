/**
 * Shared pieces of the EINTR family: counting a file's pages with cachestat(2), calibrating how fast
 * this machine allocates and re-walks pages per unit of CPU time, and sizing ranges from that. The
 * retry loops and how their outcome is judged are in eintr-retry.ts.
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
import { timedCall, withRaisedPriority } from './thread-cpu.js';
import { fstat } from '../sys/fd.js';

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

/** Counts the bytes of [off, off+len) a file holds: cachedBytes, or stBlocksBytes where cachestat is missing. */
export type PageCounter = (fd: number, off: bigint, len: bigint) => bigint;

/**
 * Bytes the whole file holds by fstat's st_blocks (512-byte units), whatever the range: for shmem
 * (memfd) files, whose st_blocks counts every allocated page, fallocated or written, on kernels
 * without cachestat (before 6.5). Callers count only files whose pages all lie in the range.
 */
export function stBlocksBytes(fd: number, _off: bigint, _len: bigint): bigint {
  return fstat(fd).blocks * 512n;
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
  check(
    'fallocate(PUNCH_HOLE)',
    libc.fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, off, len),
    `[${off}, +${len})`,
  );
}

/** How fast this machine allocates fresh pages and re-walks pages a file already has, per ms of thread CPU time. */
export interface AllocRates {
  /** Bytes per CPU ms of a fallocate over pages not yet allocated. */ freshBytesPerMs: number;
  /** Bytes per CPU ms of a fallocate over pages already allocated (the re-walk a retry repeats); null: not measured. */
  rewalkBytesPerMs: number | null;
  /** Size of the probe range. */ probeBytes: bigint;
}

/** Fresh allocations a calibration times (the fastest counts). */
const FRESH_SAMPLES = 3;
/** Re-walks a calibration times (the fastest counts). */
const REWALK_SAMPLES = 8;

/**
 * Measures allocation rates on [0, probeBytes) of fd with no signal armed: after an untimed warm-up,
 * FRESH_SAMPLES fresh fallocates (punching in between) and, when withRewalk, REWALK_SAMPLES re-walks of the allocated
 * probe, each timed in thread CPU time. CPU time leaves out the time the thread waited for a CPU, so
 * the rates describe what the kernel does per unit of CPU whatever the load; the fastest sample
 * also leaves out cache and memory-bandwidth contention. A range sized as N periods of these rates
 * takes at least N periods of wall time, and a retry (which gets at most one period of CPU) cannot
 * re-walk more than period × rewalk rate. Checks with cachestat that the probe allocated exactly
 * probeBytes and that the punch left nothing, so the caller's counting method is known to work on
 * this file type; returns { unusable: why } when cachestat cannot count this file's pages.
 */
export function calibrate(
  fd: number,
  probeBytes: bigint,
  withRewalk: boolean,
  count: PageCounter = cachedBytes,
): AllocRates | { unusable: string } {
  const before = count === cachedBytes ? cachestatProblem(fd, probeBytes) : emptyProblem(fd, probeBytes, count);
  if (before) return { unusable: before };
  const cpuOf = (what: string): number => {
    const call = timedCall(() => allocate(fd, 0n, probeBytes));
    check('fallocate', call.value, `calibration ${what}, [0, ${bytesText(probeBytes)})`);
    return call.cpuMs;
  };
  // one untimed allocation first: it pays one-time costs (under TCG, translating the kernel's code)
  check('fallocate', allocate(fd, 0n, probeBytes), `calibration warm-up, [0, ${bytesText(probeBytes)})`);
  let freshMs = Infinity;
  for (let i = 0; i < FRESH_SAMPLES; i++) {
    punch(fd, 0n, probeBytes);
    freshMs = Math.min(freshMs, cpuOf(`fresh ${i}`));
  }
  let rewalkBytesPerMs: number | null = null;
  if (withRewalk) {
    let walkMs = Infinity;
    for (let i = 0; i < REWALK_SAMPLES; i++) walkMs = Math.min(walkMs, cpuOf(`re-walk ${i}`));
    rewalkBytesPerMs = Number(probeBytes) / Math.max(walkMs, 0.001);
  }
  const after = countAndPunch(fd, probeBytes, count);
  if (after) return { unusable: after };
  return { freshBytesPerMs: Number(probeBytes) / Math.max(freshMs, 0.001), rewalkBytesPerMs, probeBytes };
}

/** Why cachestat cannot count fd's pages (not implemented, or pages in what should be a new file), or null. */
function cachestatProblem(fd: number, bytes: bigint): string | null {
  const before = __cachestat(fd, 0n, bytes);
  if (before.ret !== 0n) {
    if (before.errno === ERRNO.ENOSYS)
      return 'cachestat(2) is not implemented (needs 6.5+): no other per-file way to count guest_memfd pages (st_blocks is always 0)';
    throw new SyscallError('cachestat', before.errno, `fd ${fd}`);
  }
  return before.nrCache === 0n ? null : `cachestat reports ${before.nrCache} pages in a new file`;
}

/** Why a counter other than cachestat sees pages in what should be a new file, or null. */
function emptyProblem(fd: number, bytes: bigint, count: PageCounter): string | null {
  const n = count(fd, 0n, bytes);
  return n === 0n ? null : `the counter reports ${bytesText(n)} in a new file`;
}

/** With [0, bytes) just allocated: checks count sees it all, punches it, checks nothing is left; what failed, or null. */
function countAndPunch(fd: number, bytes: bigint, count: PageCounter = cachedBytes): string | null {
  const how = count === cachedBytes ? 'cachestat' : 'st_blocks';
  const counted = count(fd, 0n, bytes);
  if (counted !== bytes)
    return `${how} counts ${bytesText(counted)} after fallocate of ${bytesText(bytes)}: it does not see this file's fallocated pages`;
  punch(fd, 0n, bytes);
  const left = count(fd, 0n, bytes);
  return left === 0n ? null : `${how} still counts ${bytesText(left)} after punching the probe range`;
}

/** Rates calibrated earlier in this process, by file kind (CPU-time rates do not drift with load; cases reuse them). */
const RATES = new Map<string, AllocRates>();

/** Range a case that reuses a calibration still checks cachestat's counting on. */
const COUNT_CHECK_BYTES = 4n * MiB;

/**
 * The rates for files of `kind` (e.g. 'gmem:0x0', 'memfd'), calibrated on fd's [0, CALIBRATION_BYTES)
 * by the first case in this process that asks, reused by later ones (reused: true) after checking on
 * a COUNT_CHECK_BYTES probe of their own fd that cachestat counts its pages. Returns { unusable }
 * like calibrate().
 */
export function ratesFor(
  kind: string,
  fd: number,
  withRewalk: boolean,
  count: PageCounter = cachedBytes,
): (AllocRates & { reused: boolean }) | { unusable: string } {
  const known = RATES.get(kind);
  if (known && (!withRewalk || known.rewalkBytesPerMs !== null)) {
    const before =
      count === cachedBytes ? cachestatProblem(fd, COUNT_CHECK_BYTES) : emptyProblem(fd, COUNT_CHECK_BYTES, count);
    if (before) return { unusable: before };
    check('fallocate', allocate(fd, 0n, COUNT_CHECK_BYTES), `counting check, [0, ${bytesText(COUNT_CHECK_BYTES)})`);
    const after = countAndPunch(fd, COUNT_CHECK_BYTES, count);
    return after ? { unusable: after } : { ...known, reused: true };
  }
  const rates = calibrate(fd, CALIBRATION_BYTES, withRewalk, count);
  if ('unusable' in rates) return rates;
  RATES.set(kind, rates);
  return { ...rates, reused: false };
}

/** The fastest of `samples` re-walks of [0, len) of fd (already allocated), in ms of thread CPU time. */
export function rewalkCpuMs(fd: number, len: bigint, samples = 3): number {
  let best = Infinity;
  for (let i = 0; i < samples; i++) {
    const call = timedCall(() => allocate(fd, 0n, len));
    check('fallocate', call.value, `re-walk ${i} of [0, ${bytesText(len)})`);
    best = Math.min(best, call.cpuMs);
  }
  return best;
}

/** Range size probes use for calibration (CPU-time samples need no more to be exact). */
export const CALIBRATION_BYTES = 64n * MiB;

/** The stall point model: bytes a retry re-walks in one period of CPU (period × re-walk rate), the most it gets. */
export function stallBytes(periodMs: number, rates: AllocRates): number {
  if (rates.rewalkBytesPerMs === null) throw new Error('stallBytes needs a calibration with re-walk');
  return periodMs * rates.rewalkBytesPerMs;
}

/** How far beyond the stall point model a retry that restarts at the first page may get before that is progress. */
export const REACH_MARGIN = 1.5;

/** The most a loop of retries that restart at the first page can keep: REACH_MARGIN × the stall point model. */
export function restartReach(periodMs: number, rates: AllocRates): number {
  return REACH_MARGIN * stallBytes(periodMs, rates);
}

/** The least memory an EINTR case needs: a 256 MiB range, the calibration probe and room, in half MemAvailable. */
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
 * Runs fn with a periodic signal aimed at this thread, at a raised priority (withRaisedPriority: a
 * loaded machine then takes less of the CPU the thread gets per period; observed as
 * 'priority_raised'); the timer is deleted and the listener removed before returning or throwing
 * (and ctx tracks it too, in case fn never returns normally).
 */
export function underSignal<T>(ctx: CaseContext<unknown>, periodMs: number, fn: () => T): T {
  const { value, raised } = withRaisedPriority(() => {
    const sig = ctx.track(PeriodicSignal.start(periodMs));
    try {
      return fn();
    } finally {
      sig.stop();
    }
  });
  ctx.observe('priority_raised', raised);
  return value;
}

/**
 * Gives back a file's pages after a case: punches [0, len), checks with cachestat that nothing is
 * left, and records how far MemAvailable is from where it was before the case (other processes
 * move it too, so that is noted, not asserted).
 */
export function releaseAndCheck(
  ctx: CaseContext<unknown>,
  fd: number,
  len: bigint,
  memBefore: bigint,
  count: PageCounter = cachedBytes,
): void {
  punch(fd, 0n, len);
  const left = count(fd, 0n, len);
  if (left !== 0n) throw new CaseFailure(`PUNCH_HOLE over [0, ${bytesText(len)}) left ${bytesText(left)} in the file`);
  const delta = memAvailable(ctx.env.meminfo()) - memBefore;
  ctx.observe('mem_available_delta_bytes', Number(delta));
  if (delta < -256n * MiB)
    ctx.note(`MemAvailable is ${bytesText(-delta)} below its value before the case (the file itself holds no pages)`);
}
