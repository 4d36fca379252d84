/**
 * memslot.plain: memslot rules that hold for every memslot, guest_memfd or not, after set_memory_region_test.c.
 *
 * Kernel checks exercised (virt/kvm/kvm_main.c, 6.18 / 7.2 / 7.3):
 * - kvm_set_memory_region(): `id >= KVM_USER_MEM_SLOTS` → EINVAL, so ids 0 … KVM_CAP_NR_MEMSLOTS-1 are usable and
 *   the next one is refused (x86: KVM_USER_MEM_SLOTS = 32764, the rest are private slots).
 * - KVM_RUN with no memslot at all: the vCPU's first instruction fetch finds no memory; x86 reports it as
 *   KVM_EXIT_INTERNAL_ERROR (emulation failure), as test_zero_memory_regions asserts.
 */
import { defineCase } from '../../lib/harness/case.js';
import { CaseFailure, expectErrno, expectOk } from '../../lib/harness/expect.js';
import { ioctlVal } from '../../lib/ffi/libc.js';
import {
  KVM_CAP_NR_MEMSLOTS,
  KVM_EXIT_INTERNAL_ERROR,
  KVM_SET_NR_MMU_PAGES,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
} from '../../lib/uapi/index.js';
import { describeStep, step } from '../../lib/kvm/vcpu-run.js';
import { PAGE, hex } from '../../lib/cases/gmem.js';

const SELFTEST = 'set_memory_region_test.c';

const maxSlots = defineCase({
  id: 'memslot.plain.max_slots',
  doc: 'every slot id below KVM_CAP_NR_MEMSLOTS accepts a memslot at the same time (all of them added), and one more slot is refused with EINVAL',
  requires: { kvm: true },
  timeoutMs: 120_000,
  tags: { selftest: `${SELFTEST}:test_add_max_memory_regions`, kernelFn: 'kvm_main.c:kvm_set_memory_region' },
  run(ctx) {
    const vm = ctx.vm(0);
    const max = vm.checkExtension(KVM_CAP_NR_MEMSLOTS);
    if (max <= 0) throw new CaseFailure(`KVM_CAP_NR_MEMSLOTS is ${max} on a VM: it must be greater than 0`);
    // One anonymous page backs every slot: slots may share userspace addresses, only GPAs must not overlap.
    const page = ctx.map(Number(PAGE), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    for (let slot = 0; slot < max; slot++)
      expectOk(
        vm.__setUserMemoryRegion({ slot, flags: 0, gpa: BigInt(slot) * PAGE, size: PAGE, hva: page.addr }),
        `slot ${slot} of ${max}`,
      );
    ctx.note(`added ${max} slots`);
    expectErrno(
      vm.__setUserMemoryRegion({ slot: max, flags: 0, gpa: BigInt(max) * PAGE, size: PAGE, hva: page.addr }),
      'EINVAL',
      `slot ${max} (= KVM_CAP_NR_MEMSLOTS)`,
    );
  },
});

const runWithoutMemslots = defineCase({
  id: 'memslot.plain.run_without_memslots',
  doc: 'KVM_RUN on a vCPU of a VM with no memslot at all exits with KVM_EXIT_INTERNAL_ERROR (the first fetch finds no memory)',
  requires: { kvm: true },
  tags: { selftest: `${SELFTEST}:test_zero_memory_regions` },
  run(ctx) {
    const vm = ctx.vm(0);
    const vcpu = ctx.track(vm.createVcpu(0));
    expectOk(ioctlVal(vm.fd, KVM_SET_NR_MMU_PAGES, 64), 'KVM_SET_NR_MMU_PAGES(64)');
    const s = step(vcpu);
    if (s.errno !== 0 || s.reason !== KVM_EXIT_INTERNAL_ERROR)
      throw new CaseFailure(
        `KVM_RUN without memslots: ${describeStep(s)}, expected KVM_EXIT_INTERNAL_ERROR (${hex(KVM_EXIT_INTERNAL_ERROR)})`,
      );
  },
});

export default [maxSlots, runWithoutMemslots];
