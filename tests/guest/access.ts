/** guest.access: a real-mode vCPU running on guest_memfd memory — data both ways, punch, offsets, no-slot MMIO, lifetime. */
import { defineCase, type CaseDef } from '../../lib/harness/case.js';
import { expectEq, expectOk, expectTrue, CaseFailure } from '../../lib/harness/expect.js';
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  GUEST_MEMFD_FLAG_MMAP,
  KVM_EXIT_MEMORY_FAULT,
  KVM_MEMORY_EXIT_FLAG_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  MAP_SHARED,
  MAP_ANONYMOUS,
  errnoValue,
} from '../../lib/uapi/index.js';
import { __fallocate } from '../../lib/sys/io.js';
import { GuestProgram } from '../../lib/kvm/guest-program.js';
import { PAGE, hex } from '../../lib/cases/gmem.js';
import { GMEM_FLAG, __deleteSlot } from '../../lib/cases/memslot.js';
import {
  CODE_GPA,
  DATA_GPA,
  DATA_SEG,
  DATA_SLOT,
  SCRATCH_GPA,
  STACK_GPA,
  installCode,
  startVcpu,
  writeCode,
} from '../../lib/kvm/guest.js';
import {
  completeMmioRead,
  describeStep,
  expectHlt,
  expectMmio,
  expectOut,
  runToHlt,
  step,
} from '../../lib/kvm/vcpu-run.js';
import {
  NEEDS_GUEST_ON_GMEM,
  PROBE_GPA,
  gmemGuest,
  accessPath,
  classifyProbe,
  probeUnbackedLoad,
  SHARED_GMEM_FLAGS,
} from '../../lib/cases/guest.js';

const P = Number(PAGE);
const prog = () => new GuestProgram().setDs(0);
const PUNCH = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;

const readsHostData = defineCase({
  id: 'guest.access.reads_host_data',
  doc: 'bytes the host writes through the guest_memfd mmap are what the guest loads at the same GPAs',
  requires: NEEDS_GUEST_ON_GMEM,
  run(ctx) {
    const spots: [number, number][] = [
      [SCRATCH_GPA, 0x5a],
      [SCRATCH_GPA + 1, 0xa5],
      [SCRATCH_GPA + P - 1, 0x01],
      [15 * P + 0x123, 0x7e],
    ];
    const code = prog();
    for (const [gpa] of spots) code.reportByte(gpa, 0x20);
    const g = gmemGuest(ctx, { code: code.hlt().bytes() });
    for (const [gpa, v] of spots) g.map.bytes[gpa] = v;
    const seen = runToHlt(g.vcpu, 'guest reading host data');
    expectEq(JSON.stringify(seen), JSON.stringify(spots.map(([, v]) => [0x20, v])), 'bytes the guest reported');
  },
});

const hostSeesWrites = defineCase({
  id: 'guest.access.host_sees_guest_writes',
  doc: 'bytes the guest stores into guest_memfd memory are visible through the host mmap once the vCPU exits',
  requires: NEEDS_GUEST_ON_GMEM,
  run(ctx) {
    const spots: [number, number][] = [
      [SCRATCH_GPA, 0x11],
      [SCRATCH_GPA + P - 1, 0x22],
      [15 * P + 0x123, 0x33],
    ];
    const code = prog();
    for (const [gpa, v] of spots) code.storeByte(gpa, v);
    const g = gmemGuest(ctx, { code: code.hlt().bytes() });
    runToHlt(g.vcpu, 'guest storing');
    for (const [gpa, v] of spots) expectEq(g.map.bytes[gpa], v, `host view of GPA ${hex(gpa)}`);
  },
});

const secondMapping = defineCase({
  id: 'guest.access.second_mapping',
  doc: 'a second mmap of the guest_memfd (whole file, and one page at an offset) sees guest stores, and host stores made through it reach the guest',
  requires: NEEDS_GUEST_ON_GMEM,
  run(ctx) {
    const g = gmemGuest(ctx, {
      code: prog()
        .reportByte(SCRATCH_GPA + 0x10, 0x20)
        .storeByte(SCRATCH_GPA + 0x20, 0x55)
        .hlt()
        .bytes(),
    });
    const whole = ctx.map(Number(g.gmem.size), PROT_READ | PROT_WRITE, MAP_SHARED, g.gmem.fd);
    const page = ctx.map(P, PROT_READ | PROT_WRITE, MAP_SHARED, g.gmem.fd, BigInt(SCRATCH_GPA));
    page.bytes[0x10] = 0x44;
    const seen = runToHlt(g.vcpu, 'guest');
    expectEq(seen[0]?.[1], 0x44, 'guest load of a byte the host wrote through a one-page mapping at offset 0x3000');
    expectEq(whole.bytes[SCRATCH_GPA + 0x20], 0x55, 'second whole-file mapping');
    expectEq(page.bytes[0x20], 0x55, 'one-page mapping at offset 0x3000');
    expectEq(g.map.bytes[SCRATCH_GPA + 0x20], 0x55, 'the slot’s own mapping');
  },
});

const codeInGmem = defineCase({
  id: 'guest.access.code_in_gmem',
  doc: 'the guest executes code that lives only in guest_memfd; after HLT, RIP is past the HLT; code the host rewrites is what runs next',
  requires: NEEDS_GUEST_ON_GMEM,
  run(ctx) {
    const first = prog().reportImm(0x01, 0x20).hlt().bytes();
    const g = gmemGuest(ctx, { code: first });
    expectEq(expectOut(g.vcpu, 0x20, 'first program'), 0x01, 'first program’s report');
    expectHlt(g.vcpu, 'first program');
    const rip = g.vcpu.reg('rip');
    ctx.observe('rip_after_hlt', Number(rip));
    expectEq(rip, BigInt(CODE_GPA + first.length), 'RIP after HLT');
    writeCode(g.map.bytes, prog().reportImm(0x02, 0x21).hlt());
    g.vcpu.setupRealMode(CODE_GPA, STACK_GPA);
    expectEq(expectOut(g.vcpu, 0x21, 'rewritten program'), 0x02, 'rewritten program’s report');
    expectHlt(g.vcpu, 'rewritten program');
  },
});

const slotOffset = defineCase({
  id: 'guest.access.slot_file_offset',
  doc: 'a slot bound at guest_memfd_offset 16 pages maps GPA 0 to file page 16: the guest sees and writes that part of the file only',
  requires: NEEDS_GUEST_ON_GMEM,
  run(ctx) {
    const base = 16 * P;
    const g = gmemGuest(ctx, {
      code: prog()
        .reportByte(SCRATCH_GPA, 0x20)
        .storeByte(SCRATCH_GPA + 1, 0x62)
        .hlt()
        .bytes(),
      filePages: 32,
      slotOffsetPages: 16,
    });
    g.map.bytes[base + SCRATCH_GPA] = 0x61;
    g.map.bytes[SCRATCH_GPA] = 0x99;
    const seen = runToHlt(g.vcpu, 'guest');
    expectEq(seen[0]?.[1], 0x61, 'guest load of GPA 0x3000 (file offset 0x13000)');
    expectEq(g.map.bytes[base + SCRATCH_GPA + 1], 0x62, 'guest store landed at file offset 0x13001');
    expectEq(g.map.bytes[SCRATCH_GPA + 1], 0, 'file offset 0x3001 (outside the slot) untouched');
  },
});

const punch = defineCase({
  id: 'guest.access.punch_reads_zero',
  doc: 'after the host punches a page while the vCPU is stopped, the guest reads zeros there, neighbours keep their data, and a new guest store refaults the page',
  requires: NEEDS_GUEST_ON_GMEM,
  run(ctx) {
    const code = prog()
      .reportByte(SCRATCH_GPA, 0x20)
      .reportByte(SCRATCH_GPA, 0x21)
      .reportByte(SCRATCH_GPA + P - 1, 0x22)
      .reportByte(SCRATCH_GPA + P, 0x23)
      .storeByte(SCRATCH_GPA, 0x77)
      .hlt()
      .bytes();
    const g = gmemGuest(ctx, { code });
    g.map.bytes[SCRATCH_GPA] = 0x5a;
    g.map.bytes[SCRATCH_GPA + P - 1] = 0x5b;
    g.map.bytes[SCRATCH_GPA + P] = 0x5c;
    expectEq(expectOut(g.vcpu, 0x20, 'before punch'), 0x5a, 'guest load before the punch');
    expectOk(__fallocate(g.gmem.fd, PUNCH, BigInt(SCRATCH_GPA), PAGE), 'PUNCH_HOLE of the data page');
    expectEq(g.map.bytes[SCRATCH_GPA], 0, 'host view right after the punch');
    expectEq(expectOut(g.vcpu, 0x21, 'after punch'), 0, 'guest load of the punched page');
    expectEq(expectOut(g.vcpu, 0x22, 'after punch'), 0, 'guest load of the punched page’s last byte');
    expectEq(expectOut(g.vcpu, 0x23, 'after punch'), 0x5c, 'guest load of the next page (not punched)');
    expectHlt(g.vcpu, 'after the store');
    expectEq(g.map.bytes[SCRATCH_GPA], 0x77, 'host view of the guest’s store into the refaulted page');
  },
});

const fallocateKeeps = defineCase({
  id: 'guest.access.fallocate_keeps_data',
  doc: 'fallocate(KEEP_SIZE) over the whole file while the vCPU is stopped leaves the guest’s data in place',
  requires: NEEDS_GUEST_ON_GMEM,
  run(ctx) {
    const g = gmemGuest(ctx, {
      code: prog().storeByte(SCRATCH_GPA, 0x81).reportImm(0x01, 0x10).reportByte(SCRATCH_GPA, 0x20).hlt().bytes(),
    });
    expectOut(g.vcpu, 0x10, 'sync point after the store');
    expectOk(__fallocate(g.gmem.fd, FALLOC_FL_KEEP_SIZE, 0n, g.gmem.size), 'fallocate the whole file');
    expectEq(g.map.bytes[SCRATCH_GPA], 0x81, 'host view after fallocate');
    expectEq(expectOut(g.vcpu, 0x20, 'after fallocate'), 0x81, 'guest load after fallocate');
    expectHlt(g.vcpu, 'end');
  },
});

/** Direction of the access to a GPA without a memslot. */
interface NoSlotParams {
  /** The guest stores (true) or loads (false). */ write: boolean;
}

const noSlot: CaseDef<NoSlotParams> = defineCase<NoSlotParams>({
  id: 'guest.access.no_memslot_mmio',
  doc: 'a guest access to a GPA no memslot covers exits with KVM_EXIT_MMIO at that address (len 1); a load completes with the data userspace supplies',
  requires: NEEDS_GUEST_ON_GMEM,
  variants: [
    { name: 'load', params: { write: false } },
    { name: 'store', params: { write: true } },
  ],
  run(ctx) {
    const code = new GuestProgram().setDs(DATA_SEG);
    if (ctx.params.write) code.storeByte(0x10, 0x6d).reportImm(0x01, 0x20);
    else code.loadAl(0x10).outAl(0x20);
    const g = gmemGuest(ctx, { code: code.hlt() });
    const s = expectMmio(
      g.vcpu,
      PROBE_GPA,
      ctx.params.write,
      `access to GPA ${hex(PROBE_GPA)} (the slot ends at ${hex(DATA_GPA)})`,
    );
    expectEq(s.mmio?.len, 1, 'mmio.len');
    if (ctx.params.write) {
      expectEq(s.mmio?.data[0], 0x6d, 'mmio.data of the store');
      expectEq(expectOut(g.vcpu, 0x20, 'after the MMIO store'), 0x01, 'checkpoint');
    } else {
      completeMmioRead(g.vcpu, [0x5c]);
      expectEq(
        expectOut(g.vcpu, 0x20, 'after the MMIO load'),
        0x5c,
        'the loaded byte is what userspace put in mmio.data',
      );
    }
    expectHlt(g.vcpu, 'end');
  },
});

const deletedSlot = defineCase({
  id: 'guest.access.deleted_slot',
  doc: 'after its guest_memfd slot is deleted the guest’s load of it is KVM_EXIT_MMIO; re-adding the slot brings the file’s data back',
  requires: NEEDS_GUEST_ON_GMEM,
  run(ctx) {
    const vm = ctx.vm(0);
    installCode(
      ctx,
      vm,
      new GuestProgram().setDs(DATA_SEG).reportByte(0x10, 0x20).reportByte(0x10, 0x21).reportByte(0x10, 0x22).hlt(),
    );
    const gmem = ctx.gmem(vm, 4n * PAGE, SHARED_GMEM_FLAGS);
    const gm = ctx.map(4 * P, PROT_READ | PROT_WRITE, MAP_SHARED, gmem.fd);
    gm.bytes[0x10] = 0x4d;
    const spec = {
      slot: DATA_SLOT,
      flags: GMEM_FLAG,
      gpa: DATA_GPA,
      size: 4n * PAGE,
      hva: gm.addr,
      gmemFd: gmem.fd,
      gmemOffset: 0n,
    };
    vm.setUserMemoryRegion2(spec);
    const vcpu = startVcpu(ctx, vm);
    expectEq(expectOut(vcpu, 0x20, 'slot present'), 0x4d, 'guest load through the guest_memfd slot');
    expectOk(__deleteSlot(vm, DATA_SLOT), 'delete the guest_memfd slot');
    expectMmio(vcpu, PROBE_GPA, false, 'load after the slot was deleted');
    completeMmioRead(vcpu, [0x66]);
    expectOk(vm.__setUserMemoryRegion2(spec), 're-add the slot');
    expectEq(expectOut(vcpu, 0x21, 'MMIO completion'), 0x66, 'the MMIO load completed with userspace data');
    expectEq(
      expectOut(vcpu, 0x22, 'slot re-added'),
      0x4d,
      'guest load after re-adding the slot (data lives in the file)',
    );
    expectHlt(vcpu, 'end');
  },
});

/** A guest_memfd created without INIT_SHARED on a type-0 VM. */
interface PrivateParams {
  /** KVM_CREATE_GUEST_MEMFD flags. */ flags: bigint;
  /** userspace_addr is the guest_memfd's own mmap (else 0). */ mapHva: boolean;
}

const privateInitial: CaseDef<PrivateParams> = defineCase<PrivateParams>({
  id: 'guest.access.private_initial_state',
  doc:
    'a guest access to a guest_memfd created without INIT_SHARED never yields host data: on the MMU path an MMAP file is served from guest_memfd ' +
    '(KVM_MEMSLOT_GMEM_ONLY: zeros, then the guest’s own store) and a non-MMAP slot without userspace_addr fails KVM_RUN with EFAULT; ' +
    'on an emulated vCPU (accesses copied through userspace_addr) the refused access is KVM_EXIT_MMIO at the GPA',
  requires: { caps: ['KVM_CAP_GUEST_MEMFD', 'KVM_CAP_USER_MEMORY2'], vmCaps: ['KVM_CAP_GUEST_MEMFD'] },
  variants: [
    {
      name: 'mmap_no_init_shared',
      params: { flags: BigInt(GUEST_MEMFD_FLAG_MMAP), mapHva: true },
      requires: { gmemFlags: ['GUEST_MEMFD_FLAG_MMAP'] },
    },
    { name: 'no_mmap', params: { flags: 0n, mapHva: false } },
  ],
  tags: { linuxGit: ['8dd2eee9d526', '16f95f3b95ca'] },
  run(ctx) {
    const path = accessPath(ctx);
    ctx.observe('access_path', path);
    const vm = ctx.vm(0);
    installCode(
      ctx,
      vm,
      new GuestProgram()
        .reportImm(0x11, 0x10)
        .setDs(DATA_SEG)
        .loadAl(0x10)
        .outAl(0x20)
        .storeByte(0x10, 0x42)
        .loadAl(0x10)
        .outAl(0x21)
        .hlt(),
    );
    const gmem = ctx.gmem(vm, 4n * PAGE, ctx.params.flags);
    const hva = ctx.params.mapHva ? ctx.map(4 * P, PROT_READ | PROT_WRITE, MAP_SHARED, gmem.fd).addr : 0n;
    vm.setUserMemoryRegion2({
      slot: DATA_SLOT,
      flags: GMEM_FLAG,
      gpa: DATA_GPA,
      size: 4n * PAGE,
      hva,
      gmemFd: gmem.fd,
      gmemOffset: 0n,
    });
    const vcpu = startVcpu(ctx, vm);
    expectOut(vcpu, 0x10, 'checkpoint before the access');
    if (path === 'emulator') {
      const s = expectMmio(vcpu, PROBE_GPA, false, `load of the not-shared guest_memfd page (access path ${path})`);
      ctx.observe('exit', describeStep(s));
      ctx.note(
        'emulated vCPU: the access went through userspace_addr, which refuses it, so KVM made it MMIO; the guest_memfd fault path (kvm_mmu_faultin_pfn_gmem) is not reached on this host',
      );
      return;
    }
    if (ctx.params.flags & BigInt(GUEST_MEMFD_FLAG_MMAP)) {
      expectEq(expectOut(vcpu, 0x20, 'first load'), 0, 'guest load of a fresh guest_memfd page');
      expectEq(expectOut(vcpu, 0x21, 'load after store'), 0x42, 'guest load after its own store');
      expectHlt(vcpu, 'end');
      return;
    }
    const s = step(vcpu);
    ctx.observe('exit', describeStep(s));
    if (s.errno !== errnoValue('EFAULT'))
      throw new CaseFailure(
        `load through a slot with userspace_addr 0: expected KVM_RUN to fail with EFAULT, got ${describeStep(s)}`,
      );
    if (s.reason === KVM_EXIT_MEMORY_FAULT && s.memoryFault) {
      expectEq(s.memoryFault.gpa, DATA_GPA, 'memory_fault.gpa');
      expectTrue(
        (s.memoryFault.flags & BigInt(KVM_MEMORY_EXIT_FLAG_PRIVATE)) === 0n,
        `memory_fault.flags ${hex(s.memoryFault.flags)} has PRIVATE on a VM without private memory`,
      );
    }
  },
});

const unbackedHva = defineCase({
  id: 'guest.access.unbacked_userspace_addr',
  doc: 'a guest load from a plain slot whose userspace_addr is PROT_NONE never completes with data: KVM_RUN fails EFAULT (MMU path) or exits KVM_EXIT_MMIO at the GPA (emulated vCPU)',
  requires: { caps: ['KVM_CAP_USER_MEMORY2'] },
  run(ctx) {
    const s = probeUnbackedLoad(ctx);
    ctx.observe('exit', describeStep(s));
    const path = classifyProbe(s);
    if (!path)
      throw new CaseFailure(
        `load from a PROT_NONE-backed slot: expected KVM_RUN EFAULT or KVM_EXIT_MMIO read at ${hex(PROBE_GPA)}, got ${describeStep(s)}`,
      );
    ctx.observe('access_path', path);
    if (s.reason === KVM_EXIT_MEMORY_FAULT && s.memoryFault) {
      expectEq(s.memoryFault.gpa, PROBE_GPA & ~(PAGE - 1n), 'memory_fault.gpa');
      expectTrue(
        (s.memoryFault.flags & BigInt(KVM_MEMORY_EXIT_FLAG_PRIVATE)) === 0n,
        `memory_fault.flags ${hex(s.memoryFault.flags)} has PRIVATE for a plain slot`,
      );
    }
    ctx.note(
      `vCPU memory accesses on this host: ${path === 'mmu' ? 'page faults (kvm_mmu_faultin_pfn)' : 'instruction emulator copying through userspace_addr'}`,
    );
  },
});

const coexist = defineCase({
  id: 'guest.access.coexists_with_plain_slot',
  doc: 'a guest_memfd slot and a plain v1 slot work side by side: the guest reads and writes both and the host sees each write in the right backing',
  requires: NEEDS_GUEST_ON_GMEM,
  run(ctx) {
    const code = new GuestProgram()
      .setDs(DATA_SEG)
      .reportByte(0x10, 0x20)
      .storeByte(0x11, 0x4e)
      .setDs(0)
      .reportByte(SCRATCH_GPA, 0x21)
      .storeByte(SCRATCH_GPA + 1, 0x3e)
      .hlt()
      .bytes();
    const g = gmemGuest(ctx, { code });
    const plain = ctx.map(4 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
    g.vm.setUserMemoryRegion({ slot: DATA_SLOT, gpa: DATA_GPA, size: 4n * PAGE, hva: plain.addr });
    plain.bytes[0x10] = 0x3c;
    g.map.bytes[SCRATCH_GPA] = 0x4c;
    const seen = runToHlt(g.vcpu, 'guest');
    expectEq(
      JSON.stringify(seen),
      JSON.stringify([
        [0x20, 0x3c],
        [0x21, 0x4c],
      ]),
      'bytes the guest loaded (plain slot, then guest_memfd slot)',
    );
    expectEq(plain.bytes[0x11], 0x4e, 'guest store into the plain slot');
    expectEq(g.map.bytes[SCRATCH_GPA + 1], 0x3e, 'guest store into the guest_memfd slot');
  },
});

const vmClosed = defineCase({
  id: 'guest.access.vm_fd_closed',
  doc: 'with the VM fd closed, the guest_memfd still accepts fallocate/punch and the vCPU still runs code from it',
  requires: NEEDS_GUEST_ON_GMEM,
  run(ctx) {
    const g = gmemGuest(ctx, { code: prog().storeByte(SCRATCH_GPA, 0x31).reportByte(SCRATCH_GPA, 0x20).hlt().bytes() });
    g.vm.close();
    expectOk(__fallocate(g.gmem.fd, FALLOC_FL_KEEP_SIZE, 8n * PAGE, 2n * PAGE), 'fallocate after the VM fd is closed');
    expectOk(__fallocate(g.gmem.fd, PUNCH, 9n * PAGE, PAGE), 'punch after the VM fd is closed');
    const seen = runToHlt(g.vcpu, 'guest after VM fd close');
    expectEq(seen[0]?.[1], 0x31, 'guest load after its store');
    expectEq(g.map.bytes[SCRATCH_GPA], 0x31, 'host view of the guest store');
  },
});

const gmemClosed = defineCase({
  id: 'guest.access.gmem_fd_closed_while_mapped',
  doc: 'closing the guest_memfd fd while its mmap (the slot’s userspace_addr) lives does not disturb the guest: it runs and its stores show in the mapping',
  requires: NEEDS_GUEST_ON_GMEM,
  run(ctx) {
    const g = gmemGuest(ctx, { code: prog().storeByte(SCRATCH_GPA, 0x32).reportByte(SCRATCH_GPA, 0x20).hlt().bytes() });
    g.gmem.close();
    const seen = runToHlt(g.vcpu, 'guest after closing the guest_memfd fd');
    expectEq(seen[0]?.[1], 0x32, 'guest load after its store');
    expectEq(g.map.bytes[SCRATCH_GPA], 0x32, 'host view of the guest store');
  },
});

const twoSlots = defineCase({
  id: 'guest.access.two_slots_one_file',
  doc: 'two slots on disjoint ranges of one guest_memfd each reach their own file range',
  requires: NEEDS_GUEST_ON_GMEM,
  run(ctx) {
    const code = new GuestProgram()
      .setDs(0x2000)
      .storeByte(0x10, 0x71)
      .reportByte(0x10, 0x20)
      .setDs(0)
      .storeByte(SCRATCH_GPA, 0x72)
      .hlt()
      .bytes();
    const g = gmemGuest(ctx, { code, filePages: 32, slotPages: 16 });
    g.vm.setUserMemoryRegion2({
      slot: 1,
      flags: GMEM_FLAG,
      gpa: 0x20000n,
      size: 4n * PAGE,
      hva: g.map.addr + 16n * PAGE,
      gmemFd: g.gmem.fd,
      gmemOffset: 16n * PAGE,
    });
    const seen = runToHlt(g.vcpu, 'guest');
    expectEq(seen[0]?.[1], 0x71, 'guest load from slot 1');
    expectEq(g.map.bytes[16 * P + 0x10], 0x71, 'slot 1 store at file offset 0x10010');
    expectEq(g.map.bytes[SCRATCH_GPA], 0x72, 'slot 0 store at file offset 0x3000');
    expectEq(g.map.bytes[0x10], 0, 'file offset 0x10 untouched');
  },
});

const twoVcpus = defineCase({
  id: 'guest.access.two_vcpus',
  doc: 'two vCPUs of one VM run separate code from the same guest_memfd and each store lands',
  requires: NEEDS_GUEST_ON_GMEM,
  run(ctx) {
    const g = gmemGuest(ctx, { code: prog().storeByte(SCRATCH_GPA, 0xa0).reportImm(0x00, 0x20).hlt().bytes() });
    g.map.bytes.set(
      prog()
        .storeByte(SCRATCH_GPA + 1, 0xa1)
        .reportImm(0x01, 0x20)
        .hlt()
        .bytes(),
      CODE_GPA + 0x800,
    );
    const v1 = startVcpu(ctx, g.vm, 1, CODE_GPA + 0x800, STACK_GPA - 0x100);
    expectEq(JSON.stringify(runToHlt(v1, 'vCPU 1')), JSON.stringify([[0x20, 1]]), 'vCPU 1 report');
    expectEq(JSON.stringify(runToHlt(g.vcpu, 'vCPU 0')), JSON.stringify([[0x20, 0]]), 'vCPU 0 report');
    expectEq(g.map.bytes[SCRATCH_GPA], 0xa0, 'vCPU 0 store');
    expectEq(g.map.bytes[SCRATCH_GPA + 1], 0xa1, 'vCPU 1 store');
  },
});

export default [
  readsHostData,
  hostSeesWrites,
  secondMapping,
  codeInGmem,
  slotOffset,
  punch,
  fallocateKeeps,
  noSlot,
  deletedSlot,
  privateInitial,
  unbackedHva,
  coexist,
  vmClosed,
  gmemClosed,
  twoSlots,
  twoVcpus,
];
