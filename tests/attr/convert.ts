/**
 * attr.convert: shared <-> private conversions observed by a guest on a software-protected VM. There is no
 * KVM_GET_MEMORY_ATTRIBUTES, so the guest's reads are the readback: a shared access is served from
 * userspace_addr, a private one from guest_memfd.
 */
import { defineCase } from '../../lib/harness/case.js';
import { expectEq, expectOk } from '../../lib/harness/expect.js';
import { GuestProgram } from '../../lib/kvm/guest-program.js';
import { __fallocate } from '../../lib/sys/io.js';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, KVM_MEMORY_ATTRIBUTE_PRIVATE } from '../../lib/uapi/index.js';
import { DATA_GPA, DATA_SEG, REPORT_PORT, SYNC_PORT, installCode, startVcpu } from '../../lib/kvm/guest.js';
import { expectHlt, expectOut } from '../../lib/kvm/vcpu-run.js';
import { GUEST_MARK, NEEDS_SW_PROTECTED, PAGE, SHARED_SENTINEL, filledPages, setDataSlot } from '../../lib/cases/attr.js';

const PRIVATE = BigInt(KVM_MEMORY_ATTRIBUTE_PRIVATE);
const TAGS = { linuxGit: ['5a475554db1e', '8dd2eee9d526', '89ea60c2c7b5'], selftest: 'x86/private_mem_conversions_test.c' } as const;

const sharedPrivateShared = defineCase({
  id: 'attr.convert.shared_private_shared',
  doc: 'a guest sees userspace_addr while a page is shared, a zeroed guest_memfd page once it is PRIVATE (its writes stay there), and userspace_addr again after converting back',
  requires: NEEDS_SW_PROTECTED,
  tags: TAGS,
  timeoutMs: 20000,
  run(ctx) {
    const vm = ctx.vm();
    const shared = filledPages(ctx, 1, SHARED_SENTINEL);
    const g = ctx.gmem(vm, PAGE);
    setDataSlot(vm, { hva: shared.addr, size: PAGE, gmemFd: g.fd });
    installCode(ctx, vm, new GuestProgram()
      .setDs(DATA_SEG)
      .reportByte(0, REPORT_PORT)
      .reportImm(1, SYNC_PORT)
      .reportByte(0, REPORT_PORT)
      .storeByte(0, GUEST_MARK)
      .reportByte(0, REPORT_PORT)
      .reportImm(2, SYNC_PORT)
      .reportByte(0, REPORT_PORT)
      .hlt());
    const vcpu = startVcpu(ctx, vm);
    expectEq(expectOut(vcpu, REPORT_PORT, 'shared read'), SHARED_SENTINEL, 'guest read of the shared page (served from userspace_addr)');
    expectOut(vcpu, SYNC_PORT, 'checkpoint before conversion to private');
    expectOk(vm.__setMemoryAttributes(DATA_GPA, PAGE, PRIVATE), 'KVM_SET_MEMORY_ATTRIBUTES(PRIVATE) on the data page');
    expectEq(expectOut(vcpu, REPORT_PORT, 'private read'), 0, 'guest read after conversion to private (a fresh guest_memfd page is zeroed)');
    expectEq(expectOut(vcpu, REPORT_PORT, 'private read-back'), GUEST_MARK, 'guest read-back of its private write');
    expectOut(vcpu, SYNC_PORT, 'checkpoint before conversion to shared');
    expectEq(shared.bytes[0], SHARED_SENTINEL, 'host view of the shared page after the guest wrote privately (private data must not reach userspace_addr)');
    expectOk(vm.__setMemoryAttributes(DATA_GPA, PAGE, 0n), 'KVM_SET_MEMORY_ATTRIBUTES(0) on the data page');
    expectEq(expectOut(vcpu, REPORT_PORT, 'shared read after conversion back'), SHARED_SENTINEL, 'guest read after conversion back to shared');
    expectHlt(vcpu, 'end of the guest program');
  },
});

const punchDiscardsPrivate = defineCase({
  id: 'attr.convert.punch_discards_private',
  doc: 'punching a hole in guest_memfd under a PRIVATE page discards the guest\'s data: the next private read returns zeroes',
  requires: NEEDS_SW_PROTECTED,
  tags: { ...TAGS, selftest: 'x86/private_mem_conversions_test.c:guest_punch_hole' },
  timeoutMs: 20000,
  run(ctx) {
    const vm = ctx.vm();
    const shared = filledPages(ctx, 1, SHARED_SENTINEL);
    const g = ctx.gmem(vm, PAGE);
    setDataSlot(vm, { hva: shared.addr, size: PAGE, gmemFd: g.fd });
    expectOk(vm.__setMemoryAttributes(DATA_GPA, PAGE, PRIVATE), 'KVM_SET_MEMORY_ATTRIBUTES(PRIVATE) before the guest runs');
    installCode(ctx, vm, new GuestProgram()
      .setDs(DATA_SEG)
      .storeByte(0, GUEST_MARK)
      .reportByte(0, REPORT_PORT)
      .reportImm(1, SYNC_PORT)
      .reportByte(0, REPORT_PORT)
      .hlt());
    const vcpu = startVcpu(ctx, vm);
    expectEq(expectOut(vcpu, REPORT_PORT, 'private write then read'), GUEST_MARK, 'guest read-back of its private write');
    expectOut(vcpu, SYNC_PORT, 'checkpoint before the punch');
    expectOk(__fallocate(g.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0n, PAGE), 'fallocate(PUNCH_HOLE) of the private page');
    expectEq(expectOut(vcpu, REPORT_PORT, 'private read after punch'), 0, 'guest read of the private page after the punch');
    expectEq(shared.bytes[0], SHARED_SENTINEL, 'host view of the shared page (untouched by private accesses)');
    expectHlt(vcpu, 'end of the guest program');
  },
});

const partialRange = defineCase({
  id: 'attr.convert.partial_range',
  doc: 'attributes apply per page: with only the middle of three pages PRIVATE, the guest reads and writes userspace_addr on the outer pages and guest_memfd on the middle one',
  requires: NEEDS_SW_PROTECTED,
  tags: TAGS,
  timeoutMs: 20000,
  run(ctx) {
    const vm = ctx.vm();
    const shared = filledPages(ctx, 3, SHARED_SENTINEL);
    const g = ctx.gmem(vm, 3n * PAGE);
    setDataSlot(vm, { hva: shared.addr, size: 3n * PAGE, gmemFd: g.fd });
    expectOk(vm.__setMemoryAttributes(DATA_GPA + PAGE, PAGE, PRIVATE), 'KVM_SET_MEMORY_ATTRIBUTES(PRIVATE) on the middle page');
    const p = new GuestProgram().setDs(DATA_SEG);
    for (const off of [0, 0x1000, 0x2000]) p.reportByte(off, REPORT_PORT);
    for (const off of [0, 0x1000, 0x2000]) p.storeByte(off, GUEST_MARK);
    installCode(ctx, vm, p.reportImm(1, SYNC_PORT).hlt());
    const vcpu = startVcpu(ctx, vm);
    expectEq(expectOut(vcpu, REPORT_PORT, 'page 0'), SHARED_SENTINEL, 'guest read of shared page 0');
    expectEq(expectOut(vcpu, REPORT_PORT, 'page 1'), 0, 'guest read of private page 1 (zeroed guest_memfd page)');
    expectEq(expectOut(vcpu, REPORT_PORT, 'page 2'), SHARED_SENTINEL, 'guest read of shared page 2');
    expectOut(vcpu, SYNC_PORT, 'checkpoint after the guest writes');
    const view = shared.bytes;
    expectEq(view[0], GUEST_MARK, 'host view of page 0 after the guest wrote it (shared)');
    expectEq(view[Number(PAGE)], SHARED_SENTINEL, 'host view of page 1 after the guest wrote it (private: must not change)');
    expectEq(view[2 * Number(PAGE)], GUEST_MARK, 'host view of page 2 after the guest wrote it (shared)');
    expectHlt(vcpu, 'end of the guest program');
  },
});

export default [sharedPrivateShared, punchDiscardsPrivate, partialRange];
