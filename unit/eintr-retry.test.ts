/**
 * The EINTR retry judgement on modelled kernels: a kernel that restarts at the first page, one that
 * resumes, one that drops its pages, with the CPU a retry gets per period steady or noisy. These
 * model traces test the classifier's logic only; what the kernel does is measured by tests/eintr.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  judgeBeyondStall,
  judgeWithinStall,
  stallOf,
  type RetryAttempt,
  type RetryBound,
  type RetryReport,
} from '../lib/cases/eintr-retry.js';
import type { AllocRates } from '../lib/cases/eintr.js';

const MiB = 1 << 20;
/** Rates like the 6.18 host's: 5 GB/s fresh, 35 GB/s re-walk, per CPU ms. */
const RATES: AllocRates = { freshBytesPerMs: 5e6, rewalkBytesPerMs: 35e6, probeBytes: 64n * BigInt(MiB) };
const BOUND: RetryBound = { maxAttempts: 200, maxMs: 10_000 };

/** What a modelled kernel keeps after one retry with cpuMs of CPU that found kept bytes of a len range. */
type Kernel = (kept: number, cpuMs: number, len: number) => number;

/** Re-walks from the first page, keeps what it allocated (guest_memfd today). */
const restarting: Kernel = (kept, cpuMs, len) => Math.min(len, kept + Math.max(0, cpuMs - kept / 35e6) * 5e6);
/** Goes on where the last call stopped. */
const resuming: Kernel = (kept, cpuMs, len) => Math.min(len, kept + cpuMs * 5e6);
/** Undoes what it allocated on EINTR (shmem before 6.11). */
const undoing: Kernel = () => 0;

/** A deterministic PRNG (mulberry32), so the noisy traces are the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs a modelled naive loop the way naiveRetry does: stops on completion, on a stall, or at maxAttempts. */
function simulate(kernel: Kernel, len: number, cpuPerRetry: () => number, maxAttempts = 200): RetryReport {
  const trace: RetryAttempt[] = [];
  let kept = 0;
  let stall = null;
  let completed = false;
  while (trace.length < maxAttempts) {
    const cpuMs = cpuPerRetry();
    const after = Math.floor(kernel(kept, cpuMs, len));
    completed = after >= len;
    trace.push({ cpuMs, wallMs: 20, keptBefore: BigInt(kept), gained: BigInt(after - kept), eintr: !completed });
    kept = after;
    if (completed) break;
    stall = stallOf(trace, BigInt(len), RATES);
    if (stall) break;
  }
  const eintr = trace.filter((a) => a.eintr).length;
  return {
    completed,
    stopped: completed ? null : stall ? 'stalled' : 'bound',
    stall,
    attempts: trace.length,
    eintr,
    elapsedMs: 20 * trace.length,
    cpuMs: trace.reduce((s, a) => s + a.cpuMs, 0),
    worstChunkAttempts: trace.length,
    chunksDone: completed ? 1 : 0,
    lastOffset: 0n,
    lastKept: BigInt(kept),
    trace,
  };
}

const PERIOD = 20;
/** The restart model's stall point at 20 ms: 700 MB; the large range is 4x that, like the case's. */
const STALL = PERIOD * 35e6;
const REACH = 1.5 * STALL;
const LARGE = 4 * STALL;

test('a restarting kernel with a full period of CPU per retry stalls within 30 calls: livelock, by re-walking', () => {
  const rep = simulate(restarting, LARGE, () => PERIOD);
  assert.equal(rep.stopped, 'stalled');
  assert.ok(rep.attempts <= 30, `${rep.attempts} calls`);
  assert.equal(rep.stall?.rewalkBound, true);
  const j = judgeBeyondStall(rep, BOUND, REACH, PERIOD, null);
  assert.ok('outcome' in j && j.outcome === 'livelock', JSON.stringify(j));
});

test('a restarting kernel under noisy contention (10-60% of the CPU, 50 seeds) is never slow or completed', () => {
  for (let seed = 1; seed <= 50; seed++) {
    const rnd = prng(seed);
    const rep = simulate(restarting, LARGE, () => PERIOD * (0.1 + 0.5 * rnd()));
    const j = judgeBeyondStall(rep, BOUND, REACH, PERIOD, null);
    assert.ok(!('outcome' in j) || j.outcome === 'livelock', `seed ${seed}: ${JSON.stringify(j)}`);
  }
});

test('the 7.3-rc-sw TCG shape (CPU per retry keeps growing, the depth creeps up) is livelock or inconclusive', () => {
  let i = 0;
  const rep = simulate(restarting, LARGE, () => PERIOD * Math.min(1, 0.2 + 0.004 * i++));
  const j = judgeBeyondStall(rep, BOUND, REACH, PERIOD, null);
  assert.ok(!('outcome' in j) || j.outcome === 'livelock', JSON.stringify(j));
});

test('a resuming kernel never stalls: it completes, or is slow once beyond what a restarting retry can reach', () => {
  const quiet = simulate(resuming, LARGE, () => PERIOD);
  assert.equal(quiet.completed, true);
  const j = judgeBeyondStall(quiet, BOUND, REACH, PERIOD, LARGE / 35e6);
  assert.ok('outcome' in j && j.outcome === 'completed', 'the whole range re-walks in 4 periods of CPU');
  const starved = simulate(resuming, 40 * LARGE, () => PERIOD * 0.2, 200);
  assert.equal(starved.stopped, 'bound');
  const s = judgeBeyondStall(starved, BOUND, REACH, PERIOD, null);
  assert.ok('outcome' in s && s.outcome === 'slow', JSON.stringify(s));
});

test('a completed range that re-walks within 1.5 periods of CPU was not beyond the stall point: inconclusive', () => {
  const rep = simulate(restarting, STALL / 2, () => PERIOD);
  assert.equal(rep.completed, true);
  assert.ok('inconclusive' in judgeBeyondStall(rep, BOUND, REACH, PERIOD, STALL / 2 / 35e6));
});

test('a loop that reached its bound within the restart reach is inconclusive', () => {
  const rep = simulate(resuming, 40 * LARGE, () => PERIOD * 0.01, 50);
  assert.ok(rep.lastKept < BigInt(REACH));
  assert.ok('inconclusive' in judgeBeyondStall(rep, BOUND, REACH, PERIOD, null));
});

/** The small range: 2 periods of fresh allocation, re-walked within half a period. */
const SMALL = 2 * PERIOD * 5e6;

test('the small range completes with a full period of CPU; starved of CPU its stall is inconclusive', () => {
  const quiet = simulate(restarting, SMALL, () => PERIOD);
  const j = judgeWithinStall(quiet, BOUND, 'the range');
  assert.ok('outcome' in j && j.outcome === 'completed', JSON.stringify(j));
  for (let seed = 1; seed <= 20; seed++) {
    const rnd = prng(seed);
    const starved = simulate(restarting, SMALL, () => PERIOD * (0.05 + 0.1 * rnd()));
    const s = judgeWithinStall(starved, BOUND, 'the range');
    assert.ok(!('outcome' in s) || s.outcome === 'completed', `seed ${seed}: ${JSON.stringify(s)}`);
  }
});

test('a kernel that drops its pages on EINTR is a decisive livelock on the small range, whatever the load', () => {
  for (const share of [1, 0.3]) {
    const rep = simulate(undoing, SMALL, () => PERIOD * share);
    assert.equal(rep.stopped, 'stalled');
    assert.equal(rep.stall?.rewalkBound, false);
    const j = judgeWithinStall(rep, BOUND, 'the range');
    assert.ok('outcome' in j && j.outcome === 'livelock', JSON.stringify(j));
  }
});

test('a stall whose retries still add pages is inconclusive: the thread was charged CPU it did not get (a loaded guest)', () => {
  // what a 7.2 TCG guest on a loaded host showed: the kernel keeps its pages, but each retry is charged ~6 ms of
  // CPU and adds a tenth of what that buys, so the window looks stalled and its CPU would re-walk the kept 14x over
  const stolen: Kernel = (kept, _cpuMs, len) => Math.min(len, kept + 280_000);
  const rep = simulate(stolen, 64 * MiB, () => 6);
  assert.equal(rep.stopped, 'stalled');
  assert.equal(rep.stall?.rewalkBound, false);
  const j = judgeWithinStall(rep, BOUND, 'the chunk');
  assert.ok('inconclusive' in j && /still added/.test(j.inconclusive), JSON.stringify(j));
});

test('a loop about to finish has not stalled, even when its retries spend most CPU re-walking', () => {
  const trace: RetryAttempt[] = Array.from({ length: 8 }, (_x, i) => ({
    cpuMs: 4,
    wallMs: 20,
    keptBefore: BigInt(100 * MiB + i * MiB),
    gained: BigInt(MiB),
    eintr: true,
  }));
  assert.equal(stallOf(trace, BigInt(110 * MiB), RATES), null, '8 MiB gained, 2 MiB missing');
  assert.notEqual(stallOf(trace, BigInt(200 * MiB), RATES), null, '8 MiB gained, 92 MiB missing');
});

test('retries cut short before doing any work are not counted toward a stall', () => {
  const cut = (): RetryAttempt => ({ cpuMs: 0.01, wallMs: 20, keptBefore: 0n, gained: 0n, eintr: true });
  const trace = Array.from({ length: 20 }, cut);
  assert.equal(stallOf(trace, BigInt(64 * MiB), RATES), null);
});
