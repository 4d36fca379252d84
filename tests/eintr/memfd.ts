/**
 * eintr.memfd: the shmem side of the EINTR question, for comparison with guest_memfd. Before 6.11
 * shmem_fallocate() stopped on any pending signal, returned EINTR and undid the pages it had added
 * (so a periodic timer made a retry loop spin forever); since ca86a5d2f9fe ("tmpfs: don't interrupt
 * fallocate with EINTR") it stops only on a fatal signal, which cannot be tested in-process. Which
 * behaviour a kernel has comes from fixtures/expectations/eintr.yaml.
 */
import { defineCase } from '../../lib/harness/case.js';
import type { CaseContext } from '../../lib/harness/context.js';
import { expectEq } from '../../lib/harness/expect.js';
import { SyscallError } from '../../lib/sys/errors.js';
import { ftruncate } from '../../lib/sys/io.js';
import { ERRNO, MFD_CLOEXEC } from '../../lib/uapi/index.js';
import {
  EINTR_MEMORY_FLOOR,
  GiB,
  MiB,
  __cachestat,
  allocate,
  bytesText,
  cachedBytes,
  memAvailable,
  ratesFor,
  memoryBound,
  periodVariants,
  releaseAndCheck,
  resolvePeriod,
  roundUp,
  stBlocksBytes,
  underSignal,
  type AllocRates,
  type PageCounter,
  type PeriodParams,
} from '../../lib/cases/eintr.js';

/** The most any case here fallocates (the memfd is truncated to this size; only a prefix is used). */
const CAP = 2n * GiB;
/** Ranges are multiples of this. */
const GRANULE = 64n * MiB;

const COMMON = {
  requires: { memoryBytes: EINTR_MEMORY_FLOOR },
  tags: { seed: '001', linuxGit: ['ca86a5d2f9fe'] },
  // a shared worker: the case restores all it changes (timer, listener, nice) and closes its files
  serial: true,
  timeoutMs: 30_000,
};

/** How this kernel counts a memfd's pages: cachestat (6.5+), else st_blocks (shmem counts each allocated page). */
function memfdCounter(fd: number): PageCounter {
  const r = __cachestat(fd);
  if (r.ret === 0n) return cachedBytes;
  if (r.errno === ERRNO.ENOSYS) return stBlocksBytes;
  throw new SyscallError('cachestat', r.errno, `memfd ${fd}`);
}

/** A CAP-sized memfd with this process's memfd rates (fresh allocation only: shmem re-walks are slow, not needed). */
function calibratedMemfd(ctx: CaseContext<unknown>): {
  fd: number;
  rates: AllocRates;
  memBefore: bigint;
  count: PageCounter;
} {
  const memBefore = memAvailable(ctx.env.meminfo());
  const fd = ctx.memfd('gmem-eintr', MFD_CLOEXEC);
  ftruncate(fd, CAP);
  const count = memfdCounter(fd);
  ctx.observe('page_counter', count === cachedBytes ? 'cachestat' : 'st_blocks');
  const rates = ratesFor('memfd', fd, false, count);
  if ('unusable' in rates) ctx.skip(`cannot count memfd pages: ${rates.unusable}`);
  ctx.observe('calibration', rates.reused ? 'reused' : 'measured');
  ctx.observe('fresh_bytes_per_ms', Math.round(rates.freshBytesPerMs));
  return { fd, rates, memBefore, count };
}

/** One fallocate(KEEP_SIZE) under the signal, of a range that takes 3 periods of CPU (so of wall time) to allocate. */
function interruptedAllocate(ctx: CaseContext<PeriodParams>): {
  fd: number;
  len: bigint;
  seen: boolean;
  progress: bigint;
  elapsedMs: number;
  memBefore: bigint;
  periodMs: number;
  count: PageCounter;
} {
  const periodMs = resolvePeriod(ctx.params.period);
  ctx.observe('period_ms', periodMs);
  const { fd, rates, memBefore, count } = calibratedMemfd(ctx);
  const len = roundUp(Math.max(3 * periodMs * rates.freshBytesPerMs, Number(GRANULE)), GRANULE);
  const cap = memoryBound(ctx.env.meminfo(), CAP, GRANULE);
  if (len > cap)
    ctx.skip(
      `allocating for 3 periods of ${periodMs} ms needs ${bytesText(len)} here, more than this case's ${bytesText(cap)} bound${cap < CAP ? ' (half of MemAvailable)' : ''}`,
    );
  const t0 = performance.now();
  const r = underSignal(ctx, periodMs, () => allocate(fd, 0n, len));
  const elapsedMs = performance.now() - t0;
  if (r.ret !== 0 && r.errno !== ERRNO.EINTR)
    throw new SyscallError('fallocate', r.errno, `memfd [0, ${bytesText(len)})`);
  const seen = r.ret !== 0;
  const progress = count(fd, 0n, len);
  ctx.observe('eintr_seen', seen);
  ctx.observe('elapsed_ms', Math.round(elapsedMs * 10) / 10);
  ctx.observe('size_bytes', Number(len));
  ctx.observe('progress_bytes', Number(progress));
  ctx.note(
    `memfd fallocate of ${bytesText(len)} under a ${periodMs} ms SIGALRM: ${seen ? 'EINTR' : 'completed'} after ${elapsedMs.toFixed(1)} ms, ${bytesText(progress)} in the file`,
  );
  return { fd, len, seen, progress, elapsedMs, memBefore, periodMs, count };
}

const happens = defineCase<PeriodParams>({
  id: 'eintr.memfd.happens',
  doc: 'fallocate(KEEP_SIZE) on a memfd under a periodic non-fatal signal returns EINTR or completes as the fixture says (completes since 6.11: shmem aborts only on fatal signals)',
  ...COMMON,
  variants: periodVariants([5, 'env']),
  run(ctx) {
    ctx.observe('feature', 'fallocate.eintr.memfd');
    const { fd, len, seen, progress, memBefore, periodMs, count } = interruptedAllocate(ctx);
    if (!seen) expectEq(progress, len, 'bytes in the memfd after a fallocate that returned 0');
    releaseAndCheck(ctx, fd, len, memBefore, count);
    expectEq(
      seen,
      ctx.expected<boolean>('eintr'),
      `EINTR from memfd fallocate(KEEP_SIZE, ${bytesText(len)}) under a ${periodMs} ms periodic signal`,
    );
  },
});

const undone = defineCase<PeriodParams>({
  id: 'eintr.memfd.undone_after_eintr',
  doc: 'when a memfd fallocate returns EINTR, the pages it added are removed again (shmem_undo_range), unlike guest_memfd which keeps them',
  ...COMMON,
  tags: { seed: '001', linuxGit: ['1635f6a74152', 'ca86a5d2f9fe'] },
  variants: periodVariants(['env']),
  expect: { after_eintr: 'undone' },
  run(ctx) {
    ctx.observe('feature', 'fallocate.eintr_kept.memfd');
    const { fd, len, seen, progress, memBefore, periodMs, count } = interruptedAllocate(ctx);
    releaseAndCheck(ctx, fd, len, memBefore, count);
    if (!seen)
      ctx.skip(
        `memfd fallocate of ${bytesText(len)} under a ${periodMs} ms signal was not interrupted (shmem stops only on fatal signals since ca86a5d2f9fe): nothing to undo`,
      );
    const after = progress === 0n ? 'undone' : 'kept';
    ctx.observe('after_eintr', after);
    expectEq(
      after,
      ctx.expected<string>('after_eintr'),
      `pages left in the memfd after EINTR (${bytesText(progress)} counted by cachestat)`,
    );
  },
});

export default [happens, undone];
