/**
 * prefault.race: KVM_PRE_FAULT_MEMORY racing the deletion of its memslot, after pre_fault_memory_test.c's
 * pre_fault_memory(): a worker thread deletes the slot while this thread pre-faults it; the slot is then
 * re-created and pre-faulting retried. kvm_vcpu_pre_fault_memory() / kvm_arch_vcpu_pre_fault_memory() must either
 * make progress (return 0, size shrinks) or fail without progress (EINTR, EAGAIN or ENOENT while the slot is gone),
 * never both, and once the slot is back the range completes (or ends with ENOENT exactly at the slot end).
 *
 * Each call runs under a watchdog: a SIGALRM aimed at this thread WATCHDOG_MS after the call starts. Before
 * 3ccbf6f47098 (6.18) kvm_mmu_faultin_pfn() answered RET_PF_RETRY for a KVM_MEMSLOT_INVALID slot and the
 * pre-fault retried that until a signal arrived, while the deletion waited in synchronize_srcu() for the
 * pre-fault's SRCU read side: a livelock that only a signal ends. A call that made no progress and came back
 * with EINTR only once the watchdog fired is that livelock; the case says so in WATCHDOG_MS instead of
 * hanging until the runner kills the worker (240 s under TCG), and the EINTR lets the deletion finish.
 */
import { defineCase } from '../../lib/harness/case.js';
import type { CaseContext } from '../../lib/harness/context.js';
import { CaseFailure, HarnessError, expectEq } from '../../lib/harness/expect.js';
import { ioctlPtrAsync } from '../../lib/ffi/libc.js';
import { pack } from '../../lib/uapi/struct.js';
import { KVM_SET_USER_MEMORY_REGION2, errnoName, errnoValue } from '../../lib/uapi/index.js';
import { hex } from '../../lib/cases/gmem.js';
import { PeriodicSignal } from '../../lib/cases/periodic-signal.js';
import type { PreFaultResult } from '../../lib/kvm/vcpu.js';
import {
  PAGE,
  prefaultBackingVariants,
  prefaultSetup,
  type PrefaultParams,
  type PrefaultSetup,
} from '../../lib/cases/attr.js';

const SZ_2M = 2n << 20n;
const TEST_SIZE = SZ_2M + PAGE;
/**
 * How long one pre-fault call may go without progress. A healthy call maps a page, or fails with EAGAIN or
 * ENOENT, in well under a millisecond (milliseconds under TCG); not one page in 10 s is no slowness.
 */
const WATCHDOG_MS = 10_000;

/** One pre_fault_memory() call of the selftest: range [base+offset, +size), bytes expected to be left at the end. */
async function racedPrefault(
  ctx: CaseContext<unknown>,
  s: PrefaultSetup,
  offset: bigint,
  size: bigint,
  expectedLeft: bigint,
): Promise<void> {
  const del = pack('kvm_userspace_memory_region2', {
    slot: s.slot.slot,
    flags: s.slot.flags ?? 0,
    guest_phys_addr: s.slot.gpa,
    memory_size: 0n,
  });
  const deletion = ioctlPtrAsync(s.vm.fd, KVM_SET_USER_MEMORY_REGION2, del);
  let gpa = s.base + offset;
  let left = size;
  let recreated = false;
  let ret = 0;
  let errno = 0;
  const what = `pre-fault [${hex(s.base + offset)}, +${hex(size)})`;
  for (let calls = 0; ; calls++) {
    if (calls > 1_000_000) throw new CaseFailure(`${what}: no end after ${calls} calls`);
    const prev = left;
    // one-shot in effect: the first tick comes WATCHDOG_MS after the call starts and the timer is gone after it
    const watchdog = PeriodicSignal.start(WATCHDOG_MS);
    const t0 = process.hrtime.bigint();
    let r: PreFaultResult;
    try {
      r = s.vcpu.__preFaultMemory(gpa, left);
    } finally {
      watchdog.stop();
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.ret < 0 && r.errno === errnoValue('EINTR') && r.size === prev && ms >= 0.9 * WATCHDOG_MS) {
      ctx.observe('stuckMs', Math.round(ms));
      // the EINTR left the SRCU read side, so the deletion can finish now; wait for it before failing
      const settled = await Promise.race([
        deletion.then(
          (d) => `the deletion then returned ${d}`,
          (e: unknown) => `the deletion then failed: ${(e as Error).message}`,
        ),
        new Promise<string>((res) =>
          setTimeout(() => res(`the deletion had not returned ${WATCHDOG_MS / 1000} s later`), WATCHDOG_MS),
        ),
      ]);
      throw new CaseFailure(
        `${what}: call ${calls + 1} made no progress for ${(ms / 1000).toFixed(1)} s while slot ${s.slot.slot} was being deleted on another thread, and returned only when the watchdog SIGALRM arrived (EINTR): the pre-fault retries the invalid slot while the deletion waits for it (livelock; ${settled})`,
      );
    }
    ret = r.ret;
    errno = r.errno;
    if (r.size < prev === r.ret < 0)
      throw new CaseFailure(
        `${what}: call ${calls + 1} ${r.ret < 0 ? `failed with ${errnoName(r.errno)} but the size changed` : 'succeeded without progress'} (size ${hex(prev)} -> ${hex(r.size)})`,
      );
    gpa = r.gpa;
    left = r.size;
    if (r.ret < 0 && r.errno === errnoValue('EINTR')) continue;
    if (!recreated) {
      const d = await deletion;
      if (d !== 0) throw new HarnessError(`deleting slot ${s.slot.slot} on the worker thread returned ${d}`);
      s.vm.setUserMemoryRegion2(s.slot);
      recreated = true;
      if (left > 0n) continue;
    }
    if (left === 0n || r.ret < 0) break;
  }
  ctx.note(`${what}: ended ${ret === 0 ? 'with 0' : `with ${errnoName(errno)}`}, ${hex(left)} left`);
  expectEq(left, expectedLeft, `${what}: bytes left`);
  if (expectedLeft === 0n) expectEq(ret, 0, `${what}: final return (errno ${errnoName(errno)})`);
  else expectEq(errno, errnoValue('ENOENT'), `${what}: final errno (ENOENT past the slot end)`);
}

const slotDelete = defineCase<PrefaultParams>({
  id: 'prefault.race.slot_delete',
  doc: 'KVM_PRE_FAULT_MEMORY racing a deletion of its memslot on another thread either progresses or fails without progress, and after the slot is re-created the whole slot completes while ranges past its end end with ENOENT',
  requires: { caps: ['KVM_CAP_PRE_FAULT_MEMORY'] },
  variants: prefaultBackingVariants(),
  isolation: 'fresh',
  timeoutMs: 60_000,
  tags: {
    selftest: 'pre_fault_memory_test.c:__test_pre_fault_memory',
    kernelFn: 'kvm_main.c:kvm_vcpu_pre_fault_memory',
    linuxGit: ['bc1a5cd00211'],
  },
  async run(ctx) {
    const s = prefaultSetup(ctx, ctx.params.backing, TEST_SIZE);
    await racedPrefault(ctx, s, 0n, SZ_2M, 0n);
    await racedPrefault(ctx, s, SZ_2M, 2n * PAGE, PAGE);
    await racedPrefault(ctx, s, TEST_SIZE, PAGE, PAGE);
  },
});

export default [slotDelete];
