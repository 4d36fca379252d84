/**
 * memslot.inuse: moving and deleting a memslot while a vCPU is inside KVM_RUN using it, after
 * set_memory_region_test.c's test_move_memory_region and test_delete_memory_region.
 *
 * The vCPU runs on a worker thread (lib/cases/background-vcpu.ts) a real-mode guest that polls one byte of the
 * slot and reports each change with an OUT; the case changes the memslots on the main thread meanwhile. The
 * kernel's contract (virt/kvm/kvm_main.c kvm_set_memslot(): KVM_MR_DELETE / KVM_MR_MOVE invalidate the old slot,
 * zap its mappings and wait for the vCPUs' SRCU readers before the new memslots become visible):
 * - a deleted slot's GPA is no longer memory: the guest's next load of it is KVM_EXIT_MMIO, and the vCPU survives;
 * - a re-created slot is seen with its new contents;
 * - a moved slot translates the GPA through the new base: the guest never sees data through the old translation
 *   (during the move it may briefly see MMIO);
 * - deleting the slot the guest's code runs from ends the run with KVM_EXIT_SHUTDOWN or KVM_EXIT_INTERNAL_ERROR.
 */
import { defineCase } from '../../lib/harness/case.js';
import type { CaseContext } from '../../lib/harness/context.js';
import { CaseFailure } from '../../lib/harness/expect.js';
import {
  KVM_EXIT_INTERNAL_ERROR,
  KVM_EXIT_SHUTDOWN,
  MAP_ANONYMOUS,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from '../../lib/uapi/index.js';
import type { Vm } from '../../lib/kvm/vm.js';
import type { Mapping } from '../../lib/sys/mman.js';
import { BackgroundVcpu, pollingGuest } from '../../lib/cases/background-vcpu.js';
import { startVcpu, writeCode } from '../../lib/kvm/guest.js';
import { describeStep } from '../../lib/kvm/vcpu-run.js';
import { PAGE, hex } from '../../lib/cases/gmem.js';

const SELFTEST = 'set_memory_region_test.c';
/** Slot 0: code and stack, GPA 0..64 KiB. */
const LOW_SIZE = 0x10000n;
/** The test slot's GPA (segment 0x2000 in real mode) and id. */
const REGION_GPA = 0x20000n;
const REGION_SLOT = 1;
/** What MMIO reads of the missing slot return. */
const MMIO_VAL = 0xee;
/** The byte that makes the guest's report end the case's vCPU loop. */
const QUIT = 0x7f;
const WAIT_MS = 5000;

interface Setup {
  vm: Vm;
  region: Mapping;
  bg: BackgroundVcpu;
}

/** A type-0 VM with slot 0 (code) and a two-page test slot at REGION_GPA, its vCPU polling REGION_GPA from a worker thread. */
function setup(ctx: CaseContext<unknown>, regionPages: number, initial: number): Setup {
  const vm = ctx.vm(0);
  const low = ctx.map(Number(LOW_SIZE), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
  writeCode(low.bytes, pollingGuest(Number(REGION_GPA >> 4n), initial));
  vm.setUserMemoryRegion({ slot: 0, flags: 0, gpa: 0n, size: LOW_SIZE, hva: low.addr });
  const region = ctx.map(regionPages * Number(PAGE), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
  region.bytes[0] = initial;
  vm.setUserMemoryRegion({
    slot: REGION_SLOT,
    flags: 0,
    gpa: REGION_GPA,
    size: BigInt(regionPages) * PAGE,
    hva: region.addr,
  });
  const vcpu = startVcpu(ctx, vm);
  const bg = new BackgroundVcpu(vcpu, QUIT);
  bg.mmioData = () => MMIO_VAL;
  return { vm, region, bg };
}

function history(bg: BackgroundVcpu): string {
  return `reported [${bg
    .reported()
    .map((v) => hex(v))
    .join(', ')}], ${bg.mmioReads().length} MMIO reads, ended: ${bg.ended ?? 'still running'}`;
}

async function mustSee(bg: BackgroundVcpu, pred: () => boolean, what: string): Promise<void> {
  if (!(await bg.waitFor(pred, WAIT_MS)))
    throw new CaseFailure(`${what}: not seen within ${WAIT_MS} ms (${history(bg)})`);
}

const deleteWhileRunning = defineCase({
  id: 'memslot.inuse.delete_while_running',
  doc: "deleting a memslot while a vCPU in KVM_RUN polls it turns the guest's next load into KVM_EXIT_MMIO (the vCPU survives), a re-created slot is seen with its new contents, and deleting the code slot ends the run with SHUTDOWN or INTERNAL_ERROR",
  requires: { kvm: true },
  isolation: 'fresh',
  timeoutMs: 60_000,
  tags: { selftest: `${SELFTEST}:test_delete_memory_region`, kernelFn: 'kvm_main.c:kvm_set_memslot' },
  async run(ctx) {
    const { vm, bg } = setup(ctx, 1, 0);
    await BackgroundVcpu.sleep(20);
    if (bg.ended !== undefined || bg.exits.length > 0)
      throw new CaseFailure(`the polling guest left KVM_RUN before any change: ${history(bg)}`);
    vm.setUserMemoryRegion({ slot: REGION_SLOT, flags: 0, gpa: REGION_GPA, size: 0n });
    await mustSee(
      bg,
      () => bg.mmioReads().some((e) => e.mmio?.physAddr === REGION_GPA),
      `KVM_EXIT_MMIO read of ${hex(REGION_GPA)} after the slot was deleted under the running vCPU`,
    );
    await mustSee(bg, () => bg.reported().includes(MMIO_VAL), `the guest reporting the MMIO value ${hex(MMIO_VAL)}`);
    // Re-create the slot with fresh zeroed memory while the guest keeps loading (MMIO exits, answered MMIO_VAL).
    const fresh = ctx.map(Number(PAGE), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
    vm.setUserMemoryRegion({ slot: REGION_SLOT, flags: 0, gpa: REGION_GPA, size: PAGE, hva: fresh.addr });
    await mustSee(
      bg,
      () => bg.reported().lastIndexOf(0) > bg.reported().indexOf(MMIO_VAL),
      'the guest reading 0 from the re-created slot',
    );
    const mmioBefore = bg.mmioReads().length;
    vm.setUserMemoryRegion({ slot: REGION_SLOT, flags: 0, gpa: REGION_GPA, size: 0n });
    await mustSee(bg, () => bg.mmioReads().length > mmioBefore, 'KVM_EXIT_MMIO after deleting the slot a second time');
    // Now delete the code slot: the next fetch has no memory.
    vm.setUserMemoryRegion({ slot: 0, flags: 0, gpa: 0n, size: 0n });
    const ended = await bg.finish(WAIT_MS);
    const last = bg.exits[bg.exits.length - 1];
    ctx.note(`after deleting the code slot: ${ended}`);
    if (!last || (last.reason !== KVM_EXIT_SHUTDOWN && last.reason !== KVM_EXIT_INTERNAL_ERROR))
      throw new CaseFailure(
        `deleting the code slot under the running vCPU: expected KVM_EXIT_SHUTDOWN or KVM_EXIT_INTERNAL_ERROR, got ${last ? describeStep(last) : 'no exit'} (${history(bg)})`,
      );
  },
});

const moveWhileRunning = defineCase({
  id: 'memslot.inuse.move_while_running',
  doc: 'moving a memslot while a vCPU in KVM_RUN polls it re-translates the GPA at once: the guest never sees data through the old base (MMIO during the move is allowed) and sees the right data after moving it back',
  requires: { kvm: true },
  isolation: 'fresh',
  timeoutMs: 60_000,
  tags: { selftest: `${SELFTEST}:test_move_memory_region`, kernelFn: 'kvm_main.c:kvm_set_memslot' },
  async run(ctx) {
    const { vm, region, bg } = setup(ctx, 2, 0);
    const size = 2n * PAGE;
    await BackgroundVcpu.sleep(20);
    if (bg.ended !== undefined || bg.exits.length > 0)
      throw new CaseFailure(`the polling guest left KVM_RUN before any change: ${history(bg)}`);
    // Shift the slot down one page: GPA REGION_GPA now maps the region's second page (which holds 0).
    vm.setUserMemoryRegion({ slot: REGION_SLOT, flags: 0, gpa: REGION_GPA - PAGE, size, hva: region.addr });
    region.bytes[0] = 2; // the page now at REGION_GPA - PAGE: the guest must not see it at REGION_GPA
    await BackgroundVcpu.sleep(100);
    const bad = bg.reported().filter((v) => v !== 0 && v !== MMIO_VAL);
    if (bad.length > 0)
      throw new CaseFailure(
        `after moving the slot down a page the guest saw ${bad.map((v) => hex(v)).join(', ')} at ${hex(REGION_GPA)}: data through the old translation (${history(bg)})`,
      );
    ctx.note(`misaligned window: ${history(bg)}`);
    region.bytes[0] = 1; // before moving back, so the guest cannot race the update and see 2
    vm.setUserMemoryRegion({ slot: REGION_SLOT, flags: 0, gpa: REGION_GPA, size, hva: region.addr });
    await mustSee(
      bg,
      () => bg.reported().includes(1),
      `the guest reading 1 at ${hex(REGION_GPA)} after the slot moved back`,
    );
    const after = bg.reported().slice(bg.reported().indexOf(1));
    if (after.includes(2)) throw new CaseFailure(`the guest saw 2 after the move back (${history(bg)})`);
    region.bytes[0] = QUIT;
    const ended = await bg.finish(WAIT_MS);
    if (ended !== 'quit')
      throw new CaseFailure(`the vCPU loop ended with ${ended} instead of the guest's quit report (${history(bg)})`);
  },
});

export default [deleteWhileRunning, moveWhileRunning];
