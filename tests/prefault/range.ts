/**
 * prefault.range: what KVM_PRE_FAULT_MEMORY does with ranges inside, across and outside a memslot, on the
 * backings upstream's pre_fault_memory_test covers (anonymous memory, shared guest_memfd, private guest_memfd).
 */
import { defineCase } from '../../lib/harness/case.js';
import { expectEq, expectTrue } from '../../lib/harness/expect.js';
import { hex } from '../../lib/cases/gmem.js';
import {
  PAGE,
  prefaultBackingVariants,
  prefaultRetryLoop,
  prefaultSetup,
  type PrefaultParams,
} from '../../lib/cases/attr.js';
import { errnoValue } from '../../lib/uapi/index.js';

const SZ_2M = 2n << 20n;
/** Upstream's TEST_SIZE: 2 MiB plus one page, so the slot ends inside a 2 MiB region. */
const TEST_SIZE = SZ_2M + PAGE;
const REQUIRES = { caps: ['KVM_CAP_PRE_FAULT_MEMORY'] } as const;
const TAGS = {
  linuxGit: ['bc1a5cd00211', '6e01b7601dfe'],
  selftest: 'pre_fault_memory_test.c:__test_pre_fault_memory',
} as const;

const wholeSlot = defineCase<PrefaultParams>({
  id: 'prefault.range.whole_slot',
  doc: 'pre-faulting the whole slot completes: the loop ends with 0, size 0 and gpa advanced to the end of each range',
  requires: REQUIRES,
  variants: prefaultBackingVariants(),
  tags: TAGS,
  timeoutMs: 60000,
  run(ctx) {
    const { vcpu, base, end } = prefaultSetup(ctx, ctx.params.backing, TEST_SIZE);
    const first = prefaultRetryLoop(vcpu, base, SZ_2M);
    ctx.observe('calls', first.calls);
    expectEq(first.ret, 0, `final return of pre-faulting the first 2 MiB (errno ${first.errno})`);
    expectEq(first.size, 0n, 'size left after the first 2 MiB');
    expectEq(first.gpa, base + SZ_2M, 'gpa after the first 2 MiB');
    const tail = prefaultRetryLoop(vcpu, base + SZ_2M, PAGE);
    expectEq(tail.ret, 0, `final return of pre-faulting the last page (errno ${tail.errno})`);
    expectEq(tail.gpa, end, 'gpa after the last page');
  },
});

const straddlesSlotEnd = defineCase<PrefaultParams>({
  id: 'prefault.range.straddles_slot_end',
  doc: 'a range that runs past the slot end maps the part inside (a call returns 0 with the rest left), then fails with ENOENT leaving exactly the part outside in the struct',
  requires: REQUIRES,
  variants: prefaultBackingVariants(),
  tags: TAGS,
  timeoutMs: 60000,
  run(ctx) {
    const { vcpu, base, end } = prefaultSetup(ctx, ctx.params.backing, TEST_SIZE);
    const loop = prefaultRetryLoop(vcpu, base + SZ_2M, 2n * PAGE);
    ctx.observe('calls', loop.calls);
    expectTrue(
      loop.partial >= 1,
      `no call returned 0 with bytes left: the page inside the slot was not reported as progress (calls ${loop.calls}, EINTR ${loop.eintr})`,
    );
    expectEq(loop.ret, -1, 'final return');
    expectEq(loop.errno, errnoValue('ENOENT'), 'final errno (ENOENT: no memslot, RET_PF_EMULATE)');
    expectEq(loop.size, PAGE, 'size left (the page past the slot end)');
    expectEq(loop.gpa, end, 'gpa left (the slot end)');
  },
});

const outsideSlot = defineCase<PrefaultParams>({
  id: 'prefault.range.outside_slot',
  doc: 'a range with no memslot fails with ENOENT on the first call and leaves gpa and size as passed (right after the slot, and far above it)',
  requires: REQUIRES,
  variants: prefaultBackingVariants(),
  tags: TAGS,
  timeoutMs: 60000,
  run(ctx) {
    const { vcpu, end } = prefaultSetup(ctx, ctx.params.backing, TEST_SIZE);
    for (const gpa of [end, 1n << 40n]) {
      const loop = prefaultRetryLoop(vcpu, gpa, PAGE);
      expectEq(loop.errno, errnoValue('ENOENT'), `errno for ${hex(gpa)} (no memslot)`);
      expectEq(loop.size, PAGE, `size left for ${hex(gpa)}`);
      expectEq(loop.gpa, gpa, `gpa left for ${hex(gpa)}`);
    }
  },
});

const repeat = defineCase<PrefaultParams>({
  id: 'prefault.range.repeat',
  doc: 'pre-faulting a range that is already mapped succeeds again (spurious faults count as progress)',
  requires: REQUIRES,
  variants: prefaultBackingVariants(),
  tags: { linuxGit: TAGS.linuxGit },
  timeoutMs: 60000,
  run(ctx) {
    const { vcpu, base } = prefaultSetup(ctx, ctx.params.backing, TEST_SIZE);
    for (const pass of [1, 2]) {
      const loop = prefaultRetryLoop(vcpu, base, SZ_2M);
      expectEq(loop.ret, 0, `pass ${pass}: final return (errno ${loop.errno})`);
      expectEq(loop.size, 0n, `pass ${pass}: size left`);
    }
  },
});

export default [wholeSlot, straddlesSlotEnd, outsideSlot, repeat];
