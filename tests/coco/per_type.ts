/**
 * coco.gmem_flags / coco.memattr_cap / coco.memslot: what each x86 VM type advertises and allows — guest_memfd
 * flags, memory attributes, read-only memslots — as mainline sets them per type.
 */
import { defineCase } from '../../lib/harness/case.js';
import { expectEq, expectErrno, expectOk, expectTrue, outcome } from '../../lib/harness/expect.js';
import {
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  KVM_CAP_GUEST_MEMFD,
  KVM_CAP_GUEST_MEMFD_FLAGS,
  KVM_CAP_MEMORY_ATTRIBUTES,
  KVM_CAP_READONLY_MEM,
  KVM_MEM_GUEST_MEMFD,
  KVM_MEM_READONLY,
  KVM_MEMORY_ATTRIBUTE_PRIVATE,
  MAP_ANONYMOUS,
  MAP_NORESERVE,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
} from '../../lib/uapi/index.js';
import type { ErrnoName } from '../../lib/uapi/index.js';
import { hex } from '../../lib/cases/gmem.js';
import { PAGE } from '../../lib/cases/attr.js';
import { expectedGmemFlags, vmTypeVariants, type VmTypeParams } from '../../lib/cases/coco.js';

const SLOT_GPA = 0x100000n;

const gmemFlagsPerType = defineCase<VmTypeParams>({
  id: 'coco.gmem_flags.per_type',
  doc: 'KVM_CAP_GUEST_MEMFD_FLAGS on a VM is MMAP for types with private memory (SW_PROTECTED, SNP, TDX) and MMAP|INIT_SHARED otherwise, and creation accepts exactly the advertised flags',
  requires: { caps: ['KVM_CAP_GUEST_MEMFD', 'KVM_CAP_GUEST_MEMFD_FLAGS'] },
  variants: vmTypeVariants(),
  tags: {
    linuxGit: ['44c6cb9fe988'],
    kernelFn: 'x86.c:kvm_arch_supports_gmem_init_shared; kvm_host.h:kvm_gmem_get_supported_flags',
  },
  run(ctx) {
    const t = ctx.params.type;
    const vm = ctx.vm();
    const gmemCap = vm.checkExtension(KVM_CAP_GUEST_MEMFD);
    ctx.observe('gmemCap', gmemCap);
    if (gmemCap === 0) {
      const r = vm.__createGuestMemfd(PAGE, 0n);
      if (r.ret >= 0) ctx.trackFd(r.ret);
      expectErrno(r, 'EINVAL', `KVM_CREATE_GUEST_MEMFD on a ${t.name} whose VM fd reports KVM_CAP_GUEST_MEMFD 0`);
      return;
    }
    const mask = vm.checkExtension(KVM_CAP_GUEST_MEMFD_FLAGS);
    ctx.observe('flags', mask);
    expectEq(mask, ctx.expected<number>('gmemFlags', expectedGmemFlags(t)), `KVM_CAP_GUEST_MEMFD_FLAGS on a ${t.name}`);
    for (const flags of [
      GUEST_MEMFD_FLAG_MMAP,
      GUEST_MEMFD_FLAG_INIT_SHARED,
      GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED,
    ]) {
      const r = vm.__createGuestMemfd(PAGE, BigInt(flags));
      if (r.ret >= 0) ctx.trackFd(r.ret);
      if ((flags & ~mask) === 0) expectOk(r, `guest_memfd flags ${hex(flags)} (advertised ${hex(mask)})`);
      else expectErrno(r, 'EINVAL', `guest_memfd flags ${hex(flags)} (not in ${hex(mask)})`);
    }
  },
});

const memattrCapPerType = defineCase<VmTypeParams>({
  id: 'coco.memattr_cap.per_type',
  doc: 'KVM_CAP_MEMORY_ATTRIBUTES on /dev/kvm is 0 or PRIVATE; on a VM it is PRIVATE exactly for types with private memory (SW_PROTECTED, SNP, TDX) where the ioctl is built, else 0',
  requires: { kvm: true },
  variants: vmTypeVariants(),
  tags: { linuxGit: ['5a475554db1e', '89ea60c2c7b5'], kernelFn: 'kvm_main.c:kvm_supported_mem_attributes' },
  run(ctx) {
    const t = ctx.params.type;
    const sys = ctx.env.sysCap(KVM_CAP_MEMORY_ATTRIBUTES);
    const vmCap = ctx.vm().checkExtension(KVM_CAP_MEMORY_ATTRIBUTES);
    ctx.observe('sysCap', sys);
    ctx.observe('vmCap', vmCap);
    expectTrue(
      (sys & ~KVM_MEMORY_ATTRIBUTE_PRIVATE) === 0,
      `KVM_CAP_MEMORY_ATTRIBUTES on /dev/kvm is ${hex(sys)}: bits beyond PRIVATE (${hex(KVM_MEMORY_ATTRIBUTE_PRIVATE)})`,
    );
    const want = sys !== 0 && t.privateMem ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0;
    expectEq(vmCap, want, `KVM_CAP_MEMORY_ATTRIBUTES on a ${t.name} (/dev/kvm reports ${hex(sys)})`);
  },
});

const readonlyPerType = defineCase<VmTypeParams>({
  id: 'coco.memslot.readonly',
  doc: 'a KVM_MEM_READONLY memslot is accepted unless the type has protected state (SEV-ES, SNP, TDX: EINVAL), and KVM_CAP_READONLY_MEM on the VM says the same',
  requires: { kvm: true, caps: ['KVM_CAP_USER_MEMORY2'] },
  variants: vmTypeVariants(),
  expect: { capAgrees: true },
  tags: { linuxGit: ['66155de93bcf', 'd30d9ee94cc0'], kernelFn: 'kvm_main.c:check_memory_region_flags' },
  run(ctx) {
    const t = ctx.params.type;
    const vm = ctx.vm();
    const cap = vm.checkExtension(KVM_CAP_READONLY_MEM);
    ctx.observe('vmCap', cap);
    const m = ctx.map(Number(PAGE), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
    const r = vm.__setUserMemoryRegion2({ slot: 0, flags: KVM_MEM_READONLY, gpa: SLOT_GPA, size: PAGE, hva: m.addr });
    ctx.observe('outcome', outcome(r));
    const want = ctx.expected<ErrnoName | 'accepted'>('readonly', t.protectedState ? 'EINVAL' : 'accepted');
    if (want === 'accepted') expectOk(r, `KVM_MEM_READONLY slot on a ${t.name}`);
    else expectErrno(r, want, `KVM_MEM_READONLY slot on a ${t.name} (protected state)`);
    if (ctx.expected<boolean>('capAgrees'))
      expectEq(cap, want === 'accepted' ? 1 : 0, `KVM_CAP_READONLY_MEM on a ${t.name} VM fd`);
  },
});

const gmemReadonly = defineCase<VmTypeParams>({
  id: 'coco.memslot.gmem_readonly',
  doc: 'KVM_MEM_GUEST_MEMFD together with KVM_MEM_READONLY is refused with EINVAL on the types with private memory too (the default type is memslot.gmem.with_readonly)',
  requires: { caps: ['KVM_CAP_GUEST_MEMFD'] },
  variants: vmTypeVariants((t) => t.privateMem),
  tags: { linuxGit: ['e563592224e0'], kernelFn: 'kvm_main.c:check_memory_region_flags' },
  run(ctx) {
    const t = ctx.params.type;
    const vm = ctx.vm();
    const g = ctx.gmem(vm, PAGE);
    const m = ctx.map(Number(PAGE), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
    const r = vm.__setUserMemoryRegion2({
      slot: 0,
      flags: KVM_MEM_GUEST_MEMFD | KVM_MEM_READONLY,
      gpa: SLOT_GPA,
      size: PAGE,
      hva: m.addr,
      gmemFd: g.fd,
    });
    expectErrno(r, 'EINVAL', `KVM_MEM_GUEST_MEMFD | KVM_MEM_READONLY on a ${t.name}`);
    const ok = vm.__setUserMemoryRegion2({
      slot: 0,
      flags: KVM_MEM_GUEST_MEMFD,
      gpa: SLOT_GPA,
      size: PAGE,
      hva: m.addr,
      gmemFd: g.fd,
    });
    expectOk(ok, `the same slot without KVM_MEM_READONLY (control) on a ${t.name}`);
  },
});

export default [gmemFlagsPerType, memattrCapPerType, readonlyPerType, gmemReadonly];
