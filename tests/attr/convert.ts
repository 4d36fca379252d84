/**
 * attr.convert: shared <-> private conversions observed by a guest on a software-protected VM. There is no
 * KVM_GET_MEMORY_ATTRIBUTES, so the guest's reads are the readback: a shared access is served from
 * userspace_addr, a private one from guest_memfd.
 */
import { defineCase } from '../../lib/harness/case.js';
import { readFileSync } from 'node:fs';
import { expectEq, expectOk } from '../../lib/harness/expect.js';
import { GuestProgram } from '../../lib/kvm/guest-program.js';
import { __fallocate } from '../../lib/sys/io.js';
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  KVM_CAP_EXIT_HYPERCALL,
  KVM_HC_MAP_GPA_RANGE,
  KVM_MEMORY_ATTRIBUTE_PRIVATE,
} from '../../lib/uapi/index.js';
import { DATA_GPA, DATA_SEG, REPORT_PORT, SYNC_PORT, installCode, startVcpu } from '../../lib/kvm/guest.js';
import { completeHypercall, expectHlt, expectHypercall, expectOut } from '../../lib/kvm/vcpu-run.js';
import {
  GUEST_MARK,
  NEEDS_SW_PROTECTED,
  PAGE,
  SHARED_SENTINEL,
  filledPages,
  setDataSlot,
} from '../../lib/cases/attr.js';

const PRIVATE = BigInt(KVM_MEMORY_ATTRIBUTE_PRIVATE);
const TAGS = {
  linuxGit: ['5a475554db1e', '8dd2eee9d526', '89ea60c2c7b5'],
  selftest: 'x86/private_mem_conversions_test.c:guest_test_explicit_conversion',
} as const;

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
    installCode(
      ctx,
      vm,
      new GuestProgram()
        .setDs(DATA_SEG)
        .reportByte(0, REPORT_PORT)
        .reportImm(1, SYNC_PORT)
        .reportByte(0, REPORT_PORT)
        .storeByte(0, GUEST_MARK)
        .reportByte(0, REPORT_PORT)
        .reportImm(2, SYNC_PORT)
        .reportByte(0, REPORT_PORT)
        .hlt(),
    );
    const vcpu = startVcpu(ctx, vm);
    expectEq(
      expectOut(vcpu, REPORT_PORT, 'shared read'),
      SHARED_SENTINEL,
      'guest read of the shared page (served from userspace_addr)',
    );
    expectOut(vcpu, SYNC_PORT, 'checkpoint before conversion to private');
    expectOk(vm.__setMemoryAttributes(DATA_GPA, PAGE, PRIVATE), 'KVM_SET_MEMORY_ATTRIBUTES(PRIVATE) on the data page');
    expectEq(
      expectOut(vcpu, REPORT_PORT, 'private read'),
      0,
      'guest read after conversion to private (a fresh guest_memfd page is zeroed)',
    );
    expectEq(expectOut(vcpu, REPORT_PORT, 'private read-back'), GUEST_MARK, 'guest read-back of its private write');
    expectOut(vcpu, SYNC_PORT, 'checkpoint before conversion to shared');
    expectEq(
      shared.bytes[0],
      SHARED_SENTINEL,
      'host view of the shared page after the guest wrote privately (private data must not reach userspace_addr)',
    );
    expectOk(vm.__setMemoryAttributes(DATA_GPA, PAGE, 0n), 'KVM_SET_MEMORY_ATTRIBUTES(0) on the data page');
    expectEq(
      expectOut(vcpu, REPORT_PORT, 'shared read after conversion back'),
      SHARED_SENTINEL,
      'guest read after conversion back to shared',
    );
    expectHlt(vcpu, 'end of the guest program');
  },
});

const punchDiscardsPrivate = defineCase({
  id: 'attr.convert.punch_discards_private',
  doc: "punching a hole in guest_memfd under a PRIVATE page discards the guest's data: the next private read returns zeroes",
  requires: NEEDS_SW_PROTECTED,
  tags: { ...TAGS, selftest: 'x86/private_mem_conversions_test.c:guest_test_punch_hole' },
  timeoutMs: 20000,
  run(ctx) {
    const vm = ctx.vm();
    const shared = filledPages(ctx, 1, SHARED_SENTINEL);
    const g = ctx.gmem(vm, PAGE);
    setDataSlot(vm, { hva: shared.addr, size: PAGE, gmemFd: g.fd });
    expectOk(
      vm.__setMemoryAttributes(DATA_GPA, PAGE, PRIVATE),
      'KVM_SET_MEMORY_ATTRIBUTES(PRIVATE) before the guest runs',
    );
    installCode(
      ctx,
      vm,
      new GuestProgram()
        .setDs(DATA_SEG)
        .storeByte(0, GUEST_MARK)
        .reportByte(0, REPORT_PORT)
        .reportImm(1, SYNC_PORT)
        .reportByte(0, REPORT_PORT)
        .hlt(),
    );
    const vcpu = startVcpu(ctx, vm);
    expectEq(
      expectOut(vcpu, REPORT_PORT, 'private write then read'),
      GUEST_MARK,
      'guest read-back of its private write',
    );
    expectOut(vcpu, SYNC_PORT, 'checkpoint before the punch');
    expectOk(
      __fallocate(g.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0n, PAGE),
      'fallocate(PUNCH_HOLE) of the private page',
    );
    expectEq(
      expectOut(vcpu, REPORT_PORT, 'private read after punch'),
      0,
      'guest read of the private page after the punch',
    );
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
    expectOk(
      vm.__setMemoryAttributes(DATA_GPA + PAGE, PAGE, PRIVATE),
      'KVM_SET_MEMORY_ATTRIBUTES(PRIVATE) on the middle page',
    );
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
    expectEq(
      view[Number(PAGE)],
      SHARED_SENTINEL,
      'host view of page 1 after the guest wrote it (private: must not change)',
    );
    expectEq(view[2 * Number(PAGE)], GUEST_MARK, 'host view of page 2 after the guest wrote it (shared)');
    expectHlt(vcpu, 'end of the guest program');
  },
});

/** Bits the guest passes in the third argument of KVM_HC_MAP_GPA_RANGE (private_mem_conversions_test.c's own: KVM passes them through). */
const MAP_GPA_SET_ATTRIBUTES = 1 << 0;
const MAP_GPA_SHARED = 1 << 1;
const MAP_GPA_DO_FALLOCATE = 1 << 2;

function isAmd(): boolean {
  try {
    return /vendor_id\s*:\s*AuthenticAMD/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

const guestMapGpaRange = defineCase<{ fallocate: boolean }>({
  id: 'attr.convert.guest_map_gpa_range',
  doc: "a guest converts its own page with KVM_HC_MAP_GPA_RANGE: each hypercall exits with KVM_EXIT_HYPERCALL (nr 12, the page's GPA, 1 page, the guest's flags), userspace serves it with KVM_SET_MEMORY_ATTRIBUTES (and fallocate/PUNCH_HOLE), and the guest then sees private data in guest_memfd and its shared data back in userspace_addr",
  requires: { ...NEEDS_SW_PROTECTED, vmCaps: ['KVM_CAP_MEMORY_ATTRIBUTES', 'KVM_CAP_EXIT_HYPERCALL'] },
  variants: [
    { name: 'attributes', params: { fallocate: false } },
    { name: 'attributes_fallocate', params: { fallocate: true } },
  ],
  tags: {
    ...TAGS,
    selftest: [
      'x86/private_mem_conversions_test.c:guest_test_explicit_conversion',
      'x86/private_mem_conversions_test.c:__test_mem_conversions',
    ],
  },
  timeoutMs: 20000,
  run(ctx) {
    const vm = ctx.vm();
    const mask = vm.checkExtension(KVM_CAP_EXIT_HYPERCALL);
    if (!(mask & (1 << KVM_HC_MAP_GPA_RANGE)))
      ctx.skip(
        `KVM_CAP_EXIT_HYPERCALL on the VM is 0x${mask.toString(16)}: KVM_HC_MAP_GPA_RANGE (bit 12) cannot exit to userspace`,
      );
    expectOk(
      vm.__enableCap(KVM_CAP_EXIT_HYPERCALL, [1n << BigInt(KVM_HC_MAP_GPA_RANGE)]),
      'KVM_ENABLE_CAP(KVM_CAP_EXIT_HYPERCALL, 1 << KVM_HC_MAP_GPA_RANGE)',
    );
    const shared = filledPages(ctx, 1, 0);
    const g = ctx.gmem(vm, PAGE);
    setDataSlot(vm, { hva: shared.addr, size: PAGE, gmemFd: g.fd });
    const extra = ctx.params.fallocate ? MAP_GPA_DO_FALLOCATE : 0;
    const amd = isAmd();
    const mapGpa = (p: GuestProgram, flags: number) =>
      p
        .movImm32('eax', KVM_HC_MAP_GPA_RANGE)
        .movImm32('ebx', Number(DATA_GPA))
        .movImm32('ecx', 1)
        .movImm32('edx', flags)
        .hypercall(amd);
    const prog = new GuestProgram().setDs(DATA_SEG).storeByte(0, SHARED_SENTINEL).reportByte(0, REPORT_PORT);
    mapGpa(prog, MAP_GPA_SET_ATTRIBUTES | extra); // to private
    prog.reportByte(0, REPORT_PORT).storeByte(0, GUEST_MARK).reportByte(0, REPORT_PORT);
    mapGpa(prog, MAP_GPA_SET_ATTRIBUTES | MAP_GPA_SHARED | extra); // back to shared
    prog.reportByte(0, REPORT_PORT);
    mapGpa(prog, MAP_GPA_SET_ATTRIBUTES | extra); // private again
    prog.reportByte(0, REPORT_PORT).hlt();
    installCode(ctx, vm, prog);
    const vcpu = startVcpu(ctx, vm);
    /** Serves the next KVM_EXIT_HYPERCALL as private_mem_conversions_test.c's handle_exit_hypercall does. */
    const serveHypercall = (what: string): number => {
      const [gpa, npages, a2] = expectHypercall(vcpu, KVM_HC_MAP_GPA_RANGE, what).hypercall.args as [
        bigint,
        bigint,
        bigint,
      ];
      const flags = Number(a2);
      expectEq(gpa, DATA_GPA, `${what}: hypercall.args[0] (gpa)`);
      expectEq(npages, 1n, `${what}: hypercall.args[1] (npages)`);
      const toShared = (flags & MAP_GPA_SHARED) !== 0;
      if (flags & MAP_GPA_DO_FALLOCATE)
        expectOk(
          __fallocate(g.fd, toShared ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : FALLOC_FL_KEEP_SIZE, 0n, PAGE),
          `${what}: fallocate`,
        );
      if (flags & MAP_GPA_SET_ATTRIBUTES)
        expectOk(
          vm.__setMemoryAttributes(gpa, npages * PAGE, toShared ? 0n : PRIVATE),
          `${what}: KVM_SET_MEMORY_ATTRIBUTES`,
        );
      completeHypercall(vcpu, 0n);
      return flags;
    };
    expectEq(expectOut(vcpu, REPORT_PORT, 'shared write then read'), SHARED_SENTINEL, 'guest read of its shared write');
    expectEq(shared.bytes[0], SHARED_SENTINEL, 'host view of the shared write');
    serveHypercall('conversion to private');
    expectEq(
      expectOut(vcpu, REPORT_PORT, 'first private read'),
      0,
      'guest read after converting to private (a fresh guest_memfd page)',
    );
    expectEq(
      expectOut(vcpu, REPORT_PORT, 'private write then read'),
      GUEST_MARK,
      'guest read-back of its private write',
    );
    expectEq(
      shared.bytes[0],
      SHARED_SENTINEL,
      'host view after the private write (private data must not reach userspace_addr)',
    );
    serveHypercall('conversion back to shared');
    expectEq(
      expectOut(vcpu, REPORT_PORT, 'shared read after conversion back'),
      SHARED_SENTINEL,
      'guest read of the shared page after converting back',
    );
    serveHypercall('conversion to private again');
    expectEq(
      expectOut(vcpu, REPORT_PORT, 'private read after the round trip'),
      ctx.params.fallocate ? 0 : GUEST_MARK,
      ctx.params.fallocate
        ? 'private data after PUNCH_HOLE on the shared conversion (discarded)'
        : 'private data kept in guest_memfd across the shared round trip',
    );
    expectHlt(vcpu, 'end of the guest program');
  },
});

export default [sharedPrivateShared, punchDiscardsPrivate, partialRange, guestMapGpaRange];
