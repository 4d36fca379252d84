/**
 * The EINTR family's retry loops (naive whole-range retry, chunked retry) and how their outcome is
 * judged. Every call is recorded with the thread CPU time it took and the bytes of its range that
 * cachestat counts before and after it, so a loop is judged by what each retry achieved for the CPU
 * time it got, not by the wall clock: a loaded machine gives a retry less CPU per signal period,
 * which changes how far the retries get but not what each one does with the CPU it has.
 *
 * A retry that resumes where the last one stopped turns nearly all of its CPU time into new pages.
 * A retry that restarts at the first page spends it re-walking the pages already there; once that
 * walk takes the whole period, retries add (almost) nothing: the loop has stalled. STALL_WINDOW
 * consecutive informative retries that together added less than STALL_GAIN_SHARE of what their CPU
 * time allocates fresh, and less than 1/STALL_REMAINING_WINDOWS of what is still missing, establish
 * a stall; the loop stops there instead of running to its bound.
 */
import * as libc from '../ffi/libc.js';
import { SyscallError } from '../sys/errors.js';
import { ERRNO } from '../uapi/index.js';
import { allocate, bytesText, cachedBytes, type AllocRates } from './eintr.js';
import { timedCall } from './thread-cpu.js';

/** How a retry loop ended, as the fixtures name it: it finished; its retries stalled; it kept gaining, unfinished. */
export type RetryOutcome = 'completed' | 'livelock' | 'slow';

/** One fallocate call of a retry loop, as the kernel answered it. */
export interface RetryAttempt {
  /** Thread CPU time the call took, in ms. */ cpuMs: number;
  /** Wall time the call took, in ms (recorded, never judged). */ wallMs: number;
  /** Bytes of the call's range in the file before it: what a retry that restarts re-walks. */ keptBefore: bigint;
  /** Bytes of the range in the file after the call minus keptBefore (negative if pages went away). */ gained: bigint;
  /** The call failed with EINTR (false: it returned 0). */ eintr: boolean;
}

/** Informative retries a stall verdict needs, in a row. */
export const STALL_WINDOW = 8;
/** The window is stalled when its retries added less than this share of what their CPU time allocates fresh. */
export const STALL_GAIN_SHARE = 0.125;
/** ... and less than what is still missing divided by this (a loop about to finish has not stalled). */
export const STALL_REMAINING_WINDOWS = 2;
/** A retry is informative when its CPU time allocates at least this much fresh (shorter ones show nothing). */
export const INFORMATIVE_BYTES = 256 * 1024;
/**
 * A stall is explained by re-walking when the window's CPU time re-walks at most this many times the
 * pages its retries found kept. With exact rates a stalled window of restarting retries re-walks at
 * most 4/3 of them (the rest of the CPU would have added pages); the margin covers calibration error
 * (under memory contention a re-walk can take twice the CPU it took when calibrated). A kernel that
 * drops its pages keeps nothing to re-walk, so its stall is never explained.
 */
export const REWALK_EXPLAINS = 6;

/** A window of retries that stalled, with the figures that show it. */
export interface Stall {
  /** Informative retries in the window. */ calls: number;
  /** Their thread CPU time in ms. */ cpuMs: number;
  /** Bytes they added together. */ gained: bigint;
  /** Bytes their CPU time allocates fresh at the calibrated rate. */ freshCapacity: number;
  /** Bytes their CPU time re-walks at the calibrated rate. */ rewalkCapacity: number;
  /** The kept pages they found, summed over the retries. */ keptSum: bigint;
  /** rewalkCapacity ≤ REWALK_EXPLAINS × keptSum: the CPU time went into re-walking what was kept. */
  rewalkBound: boolean;
}

/** True when the attempt failed with EINTR after enough CPU time to show anything. */
function informative(a: RetryAttempt, rates: AllocRates): boolean {
  return a.eintr && a.cpuMs * rates.freshBytesPerMs >= INFORMATIVE_BYTES;
}

/**
 * The stall the last STALL_WINDOW informative retries of trace (over a range of rangeBytes) show,
 * or null when they still gain or are too few.
 */
export function stallOf(trace: readonly RetryAttempt[], rangeBytes: bigint, rates: AllocRates): Stall | null {
  const rewalk = rates.rewalkBytesPerMs;
  if (rewalk === null) throw new Error('stallOf needs a calibration with re-walk');
  const window: RetryAttempt[] = [];
  for (let i = trace.length - 1; i >= 0 && window.length < STALL_WINDOW; i--) {
    const a = trace[i] as RetryAttempt;
    if (!a.eintr) return null;
    if (informative(a, rates)) window.push(a);
  }
  if (window.length < STALL_WINDOW) return null;
  const cpuMs = window.reduce((s, a) => s + a.cpuMs, 0);
  const gained = window.reduce((s, a) => s + a.gained, 0n);
  const keptSum = window.reduce((s, a) => s + a.keptBefore, 0n);
  const freshCapacity = cpuMs * rates.freshBytesPerMs;
  const last = trace[trace.length - 1] as RetryAttempt;
  const missing = rangeBytes - last.keptBefore - last.gained;
  if (Number(gained) >= STALL_GAIN_SHARE * freshCapacity) return null;
  if (gained * BigInt(STALL_REMAINING_WINDOWS) >= missing) return null;
  const rewalkCapacity = cpuMs * rewalk;
  const rewalkBound = rewalkCapacity <= REWALK_EXPLAINS * Number(keptSum);
  return { calls: window.length, cpuMs, gained, freshCapacity, rewalkCapacity, keptSum, rewalkBound };
}

/** Limits of a retry loop: it stops at whichever comes first (a safety net; reaching it decides nothing). */
export interface RetryBound {
  /** Most fallocate calls in total (naive) or per chunk (chunked). */ maxAttempts: number;
  /** Wall-clock limit of the whole loop in ms. */ maxMs: number;
}

/** What a retry loop saw. */
export interface RetryReport {
  /** The whole range was allocated. */ completed: boolean;
  /** Why it stopped short: its retries stalled, or it reached the bound; null when it completed. */
  stopped: 'stalled' | 'bound' | null;
  /** The stalled window (when stopped is 'stalled'). */ stall: Stall | null;
  /** fallocate calls made. */ attempts: number;
  /** Calls that failed with EINTR. */ eintr: number;
  /** Wall-clock time of the loop in ms. */ elapsedMs: number;
  /** Thread CPU time spent in fallocate, in ms. */ cpuMs: number;
  /** The most calls any one chunk needed (the naive loop is one chunk). */ worstChunkAttempts: number;
  /** Chunks fully allocated. */ chunksDone: number;
  /** Offset of the range the last calls were on (0 for the naive loop). */ lastOffset: bigint;
  /** Bytes of that range the file held when the loop stopped. */ lastKept: bigint;
  /** The calls on that range. */ trace: RetryAttempt[];
}

/** How the retries of one range ended, with the stalled window when they stalled. */
interface RangeEnd {
  /** completed, stalled or bound. */ end: 'completed' | 'stalled' | 'bound';
  /** The stalled window. */ stall: Stall | null;
}

/** Retries fallocate over [off, off+n) until it returns 0, stalls, or reaches the bound; appends each call to trace. */
function retryRange(
  fd: number,
  off: bigint,
  n: bigint,
  rates: AllocRates,
  maxAttempts: number,
  deadline: number,
  trace: RetryAttempt[],
): RangeEnd {
  let kept = cachedBytes(fd, off, n);
  for (;;) {
    if (trace.length >= maxAttempts || performance.now() >= deadline) return { end: 'bound', stall: null };
    const call = timedCall(() => allocate(fd, off, n));
    const r: libc.Raw = call.value;
    if (r.ret === 0) {
      trace.push({ cpuMs: call.cpuMs, wallMs: call.wallMs, keptBefore: kept, gained: n - kept, eintr: false });
      return { end: 'completed', stall: null };
    }
    if (r.errno !== ERRNO.EINTR)
      throw new SyscallError('fallocate', r.errno, `[${bytesText(off)}, +${bytesText(n)}), call ${trace.length + 1}`);
    const after = cachedBytes(fd, off, n);
    trace.push({ cpuMs: call.cpuMs, wallMs: call.wallMs, keptBefore: kept, gained: after - kept, eintr: true });
    kept = after;
    const stall = stallOf(trace, n, rates);
    if (stall) return { end: 'stalled', stall };
  }
}

/** Sums a trace: calls, EINTRs, CPU time. */
function traceTotals(trace: readonly RetryAttempt[]): { attempts: number; eintr: number; cpuMs: number } {
  const cpuMs = trace.reduce((s, a) => s + a.cpuMs, 0);
  return { attempts: trace.length, eintr: trace.filter((a) => a.eintr).length, cpuMs };
}

/**
 * Retries fallocate(KEEP_SIZE, [0, len)) on EINTR, the way the QEMU patch in seed 001 does, until it
 * succeeds, its retries stall, or the bound is reached (the patch retried forever). Any errno other
 * than EINTR throws.
 */
export function naiveRetry(fd: number, len: bigint, rates: AllocRates, bound: RetryBound): RetryReport {
  const t0 = performance.now();
  const trace: RetryAttempt[] = [];
  const { end, stall } = retryRange(fd, 0n, len, rates, bound.maxAttempts, t0 + bound.maxMs, trace);
  const last = trace[trace.length - 1];
  const lastKept = last ? last.keptBefore + last.gained : 0n;
  return {
    completed: end === 'completed',
    stopped: end === 'completed' ? null : end,
    stall,
    ...traceTotals(trace),
    elapsedMs: performance.now() - t0,
    worstChunkAttempts: trace.length,
    chunksDone: end === 'completed' ? 1 : 0,
    lastOffset: 0n,
    lastKept,
    trace,
  };
}

/**
 * Allocates [0, len) chunk by chunk, retrying a chunk on EINTR until it succeeds, its retries stall,
 * or the bound is reached (bound.maxAttempts per chunk, bound.maxMs in all). Any errno other than
 * EINTR throws.
 */
export function chunkedRetry(
  fd: number,
  len: bigint,
  chunk: bigint,
  rates: AllocRates,
  bound: RetryBound,
): RetryReport {
  const t0 = performance.now();
  const deadline = t0 + bound.maxMs;
  let attempts = 0;
  let eintr = 0;
  let cpuMs = 0;
  let worst = 0;
  let chunksDone = 0;
  let trace: RetryAttempt[] = [];
  let off = 0n;
  let ended: RangeEnd = { end: 'completed', stall: null };
  for (; off < len; off += chunk) {
    const n = off + chunk > len ? len - off : chunk;
    trace = [];
    ended = retryRange(fd, off, n, rates, bound.maxAttempts, deadline, trace);
    const t = traceTotals(trace);
    attempts += t.attempts;
    eintr += t.eintr;
    cpuMs += t.cpuMs;
    worst = Math.max(worst, t.attempts);
    if (ended.end !== 'completed') break;
    chunksDone++;
  }
  const last = trace[trace.length - 1];
  const { end, stall } = ended;
  return {
    completed: end === 'completed',
    stopped: end === 'completed' ? null : end,
    stall,
    attempts,
    eintr,
    cpuMs,
    elapsedMs: performance.now() - t0,
    worstChunkAttempts: worst,
    chunksDone,
    lastOffset: off >= len ? 0n : off,
    lastKept: last ? last.keptBefore + last.gained : 0n,
    trace,
  };
}

/** What a loop's report says about the kernel: an outcome with the evidence for it, or why it cannot tell. */
export type RetryJudgement = { outcome: RetryOutcome; evidence: string } | { inconclusive: string };

/** Text of a stalled window's figures. */
export function stallText(s: Stall): string {
  const share = s.freshCapacity > 0 ? (100 * Number(s.gained)) / s.freshCapacity : 0;
  const walks = Number(s.keptSum) > 0 ? s.rewalkCapacity / Number(s.keptSum) : Infinity;
  const added = s.gained < 0n ? `nothing (lost ${bytesText(-s.gained)})` : bytesText(s.gained);
  const rewalks = Number.isFinite(walks) ? `${walks.toFixed(2)} times` : 'without end';
  return (
    `the last ${s.calls} retries used ${s.cpuMs.toFixed(1)} ms of CPU and added ${added}, ` +
    `${share.toFixed(1)}% of what that CPU time allocates fresh; ` +
    `it re-walks the ${bytesText(s.keptSum / BigInt(s.calls))} each found kept ${rewalks}`
  );
}

/** Text of a loop that reached its bound. */
function boundText(rep: RetryReport, bound: RetryBound): string {
  return (
    `it reached its bound (${bound.maxAttempts} calls per range / ${bound.maxMs} ms) after ${rep.attempts} calls ` +
    `in ${Math.round(rep.elapsedMs)} ms without completing or stalling`
  );
}

/** A completed range counts as beyond the stall point when re-walking all of it takes this many periods of CPU. */
export const COMPLETED_REWALK_PERIODS = 1.5;

/**
 * Judges a naive loop over a range beyond what one period of CPU re-walks (len ≥ 2 × reachBytes):
 * a stall is the livelock. Slow is decisive: a retry that restarts at the first page cannot get
 * past reachBytes (it gets at most one period of CPU). So is completed, when re-walking the whole
 * range afterwards took fullRewalkMs ≥ COMPLETED_REWALK_PERIODS periods of CPU: a restarting retry
 * that finishes must re-walk all of it within one period. A faster re-walk means the calibration
 * was low and the range not beyond the stall point (inconclusive), as is a loop that reached its
 * bound within reach.
 */
export function judgeBeyondStall(
  rep: RetryReport,
  bound: RetryBound,
  reachBytes: number,
  periodMs: number,
  fullRewalkMs: number | null,
): RetryJudgement {
  if (rep.completed) {
    const done = `the range was allocated in ${rep.attempts} calls`;
    if (fullRewalkMs === null) return { outcome: 'completed', evidence: done };
    const walk = `re-walking all of it takes ${fullRewalkMs.toFixed(1)} ms of CPU`;
    if (fullRewalkMs >= COMPLETED_REWALK_PERIODS * periodMs)
      return { outcome: 'completed', evidence: `${done}; ${walk}` };
    return {
      inconclusive:
        `${done}, but ${walk}, less than ${COMPLETED_REWALK_PERIODS} periods of ${periodMs} ms: ` +
        'the range was not beyond the stall point (the calibration was low)',
    };
  }
  if (rep.stall) {
    const why = rep.stall.rewalkBound
      ? 'each retry spent its CPU time re-walking the kept pages from the first page'
      : `that is more than ${REWALK_EXPLAINS}x the re-walk of the kept pages: the pages did not stay`;
    return { outcome: 'livelock', evidence: `${stallText(rep.stall)}: ${why}` };
  }
  const kept = `it kept ${bytesText(rep.lastKept)}`;
  const reach = bytesText(reachBytes);
  if (Number(rep.lastKept) > reachBytes) {
    const beyond = `beyond the ${reach} a retry that restarts at the first page can re-walk in one period of CPU`;
    return { outcome: 'slow', evidence: `${boundText(rep, bound)}; ${kept}, ${beyond}` };
  }
  return {
    inconclusive:
      `${boundText(rep, bound)}; ${kept}, within the ${reach} a restarting retry can reach, so neither livelock ` +
      'nor progress is shown (the CPU the thread got per period varied too much)',
  };
}

/**
 * Judges a loop over ranges sized to re-walk well within one period of CPU (naive small range, or a
 * chunk), whose expected outcome is completed: a stall whose CPU time would have re-walked the kept
 * pages REWALK_EXPLAINS times over and whose retries added less than INFORMATIVE_BYTES is decisive
 * (livelock: the kernel did not keep or did not progress); such a stall whose retries still added
 * pages, a stall explained by re-walking (the retries got less CPU per period than the sizing
 * assumed), and reaching the bound show nothing: all three are inconclusive.
 */
export function judgeWithinStall(rep: RetryReport, bound: RetryBound, what: string): RetryJudgement {
  if (rep.completed)
    return { outcome: 'completed', evidence: `${what} was allocated after ${rep.attempts} calls (${rep.eintr} EINTR)` };
  if (!rep.stall) return { inconclusive: boundText(rep, bound) };
  const stall = stallText(rep.stall);
  if (!rep.stall.rewalkBound) {
    // a kernel that drops its pages on EINTR adds nothing retry after retry; one whose retries still add pages
    // keeps them, and what its thread was charged did not buy the calibrated work (CPU taken by contention or,
    // in a guest, by the host: the guest's thread CPU time counts time its vCPU was not running)
    if (Number(rep.stall.gained) >= INFORMATIVE_BYTES)
      return {
        inconclusive:
          `${stall}: the retries still added ${bytesText(rep.stall.gained)} and kept them, so the kernel keeps its ` +
          'progress; they were charged CPU time that did not buy the calibrated work (contention), so the stall ' +
          'does not show what the kernel does',
      };
    const why = `CPU to re-walk the kept pages more than ${REWALK_EXPLAINS}x, yet the retries did not get further`;
    return { outcome: 'livelock', evidence: `${stall}: ${why}` };
  }
  const perRetry = (rep.stall.cpuMs / rep.stall.calls).toFixed(2);
  return {
    inconclusive:
      `${stall}: each retry got only ${perRetry} ms of CPU, about what re-walking the kept pages takes, ` +
      'less than the sizing assumed (CPU contention), so the stall does not show what the kernel does',
  };
}
