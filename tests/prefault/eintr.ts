/**
 * prefault.eintr: KVM_PRE_FAULT_MEMORY under a periodic signal. A pending signal stops the kernel's loop: with
 * progress the call returns 0 and the struct records how far it got; without progress it fails with EINTR and
 * the struct is untouched. Either way the caller's retry loop must finish.
 */
import { defineCase } from '../../lib/harness/case.js';
import { CaseFailure, expectEq, outcome } from '../../lib/harness/expect.js';
import { MAP_ANONYMOUS, MAP_NORESERVE, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../lib/uapi/index.js';
import { PeriodicSignal } from '../../lib/cases/periodic-signal.js';
import { PAGE, prefaultRetryLoop, prefaultSetup, type PrefaultParams } from '../../lib/cases/attr.js';

/** 64 MiB of 4 KiB faults: tens of milliseconds of work, far longer than the timer period. */
const SIZE = 64n << 20n;
const PERIOD_US = 100;
/** Pages pre-faulted in one call to time a page, before the timer starts. */
const CALIBRATION_PAGES = 64n;

/**
 * The timer period: PERIOD_US, or longer where one call's own overhead and a few pages take longer than that (a
 * TCG guest: a signal pending at every entry leaves each call about one page, and 64 MiB do not finish in
 * minutes). Times a call that has nothing left to do and one that pre-faults CALIBRATION_PAGES fresh pages.
 */
function timerPeriodUs(vcpu: Parameters<typeof prefaultRetryLoop>[0], base: bigint): { periodUs: number; why: string } {
  const us = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1000;
  let t0 = process.hrtime.bigint();
  const fresh = vcpu.__preFaultMemory(base, CALIBRATION_PAGES * PAGE);
  const perPageUs = us(t0) / Number(CALIBRATION_PAGES);
  t0 = process.hrtime.bigint();
  for (let i = 0; i < 16; i++) vcpu.__preFaultMemory(base, PAGE);
  const callUs = us(t0) / 16;
  if (fresh.ret !== 0) throw new CaseFailure(`calibration pre-fault of ${CALIBRATION_PAGES} pages: ${outcome(fresh)}`);
  const periodUs = Math.max(PERIOD_US, Math.ceil(4 * callUs + 16 * perPageUs));
  return { periodUs, why: `a call ${callUs.toFixed(1)} us, a page ${perPageUs.toFixed(2)} us` };
}

const timerRetry = defineCase<PrefaultParams>({
  id: 'prefault.eintr.timer_retry',
  doc: `under a SIGALRM timer of ${PERIOD_US} us (longer where one call and 16 pages take longer), pre-faulting 64 MiB is interrupted (0 with progress recorded, or EINTR with nothing done) and a retry loop over the updated struct completes`,
  requires: { caps: ['KVM_CAP_PRE_FAULT_MEMORY'], memoryBytes: 256n << 20n },
  variants: [
    { name: 'anon', params: { backing: 'anon' } },
    {
      name: 'gmem_shared',
      params: { backing: 'gmem_shared' },
      requires: {
        caps: ['KVM_CAP_GUEST_MEMFD', 'KVM_CAP_GUEST_MEMFD_FLAGS'],
        gmemFlags: ['GUEST_MEMFD_FLAG_MMAP', 'GUEST_MEMFD_FLAG_INIT_SHARED'],
      },
    },
  ],
  isolation: 'fresh',
  serial: true,
  timeoutMs: 90000,
  tags: {
    linuxGit: ['bc1a5cd00211', '9aed7a6c0b59'],
    kernelFn: 'kvm_main.c:kvm_vcpu_pre_fault_memory (signal_pending)',
  },
  run(ctx) {
    const { vcpu, base, end } = prefaultSetup(ctx, ctx.params.backing, SIZE);
    const { periodUs, why } = timerPeriodUs(vcpu, base);
    ctx.observe('periodUs', periodUs);
    if (periodUs > PERIOD_US) ctx.note(`timer period ${periodUs} us instead of ${PERIOD_US} us here (${why})`);
    const timer = ctx.track(PeriodicSignal.start(periodUs / 1000));
    const t0 = process.hrtime.bigint();
    const loop = prefaultRetryLoop(vcpu, base, SIZE, 10_000_000, 60_000);
    const elapsedUs = Number((process.hrtime.bigint() - t0) / 1000n);
    timer.close();
    ctx.observe('calls', loop.calls);
    ctx.observe('eintr', loop.eintr);
    ctx.observe('partial', loop.partial);
    ctx.observe('elapsedUs', elapsedUs);
    expectEq(loop.ret, 0, `final return of the retry loop (errno ${loop.errno})`);
    expectEq(loop.size, 0n, 'size left after the retry loop');
    expectEq(loop.gpa, end, 'gpa after the retry loop');
    if (loop.eintr + loop.partial === 0) {
      if (elapsedUs < 20 * periodUs)
        ctx.skip(
          `the whole pre-fault took ${elapsedUs} us, too short for a ${periodUs} us timer to interrupt it reliably`,
        );
      throw new CaseFailure(
        `one call pre-faulted ${SIZE / PAGE} pages in ${elapsedUs} us without stopping, although a SIGALRM was pending every ${periodUs} us`,
      );
    }
  },
});

const PENDING_PERIOD_US = 50;
const PENDING_BUDGET_MS = 3000;
const PENDING_ENOUGH = 20;

const pendingSignal = defineCase({
  id: 'prefault.eintr.pending_signal',
  doc: `under a ${PENDING_PERIOD_US} us SIGALRM timer, a call that finds the signal pending before processing any page fails with EINTR and leaves gpa and size as passed; every other call ends like the unsignalled control`,
  requires: { kvm: true, caps: ['KVM_CAP_USER_MEMORY2'] },
  isolation: 'fresh',
  serial: true,
  timeoutMs: 30000,
  tags: {
    linuxGit: ['bc1a5cd00211', '9aed7a6c0b59'],
    kernelFn: 'kvm_main.c:kvm_vcpu_pre_fault_memory (signal_pending before the first page)',
  },
  run(ctx) {
    if (ctx.expected<string>('ioctl', 'present') === 'absent')
      ctx.skip('KVM_PRE_FAULT_MEMORY does not exist on this kernel (fixtures: added in 6.10 by bc1a5cd00211)');
    const vm = ctx.vm(0);
    const size = 16n * PAGE;
    const m = ctx.map(Number(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
    vm.setUserMemoryRegion2({ slot: 0, gpa: 0n, size, hva: m.addr });
    const vcpu = ctx.track(vm.createVcpu(0));
    const gpa = 4n * PAGE;
    const control = outcome(vcpu.__preFaultMemory(gpa, PAGE));
    ctx.observe('control', control);
    if (control === 'EINTR') throw new CaseFailure('the control call without a timer failed with EINTR');
    const timer = ctx.track(PeriodicSignal.start(PENDING_PERIOD_US / 1000));
    const stop = Date.now() + PENDING_BUDGET_MS;
    let calls = 0;
    let eintr = 0;
    while (eintr < PENDING_ENOUGH && Date.now() < stop) {
      const r = vcpu.__preFaultMemory(gpa, PAGE);
      calls++;
      const got = outcome(r);
      if (got === 'EINTR') {
        eintr++;
        if (r.gpa !== gpa || r.size !== PAGE)
          throw new CaseFailure(
            `call ${calls} failed with EINTR but changed the struct (gpa ${r.gpa.toString(16)}, size ${r.size.toString(16)}): EINTR means no page was processed`,
          );
      } else if (got !== control)
        throw new CaseFailure(
          `call ${calls} under the timer ended with ${got}, neither EINTR nor the control's ${control}`,
        );
    }
    timer.close();
    ctx.observe('calls', calls);
    ctx.observe('eintr', eintr);
    if (eintr === 0) ctx.skip(`no SIGALRM became pending inside any of ${calls} calls within ${PENDING_BUDGET_MS} ms`);
  },
});

export default [timerRetry, pendingSignal];
