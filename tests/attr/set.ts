/**
 * attr.set: KVM_SET_MEMORY_ATTRIBUTES argument checking, per VM type, and on the wrong kinds of fd.
 *
 * Kernel checks: KVM_SET_MEMORY_ATTRIBUTES (virt/kvm/kvm_main.c kvm_vm_ioctl, kvm_vm_ioctl_set_mem_attributes,
 *   kvm_vm_set_mem_attributes; read in 7.2.13 and 7.3-rc7 (identical); 6.18 not read)
 *   1. the ioctl exists only on VM fds of kernels with CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES: not built → ENOTTY,
 *      /dev/kvm and vCPU fds → EINVAL, a guest_memfd → ENOTTY | refused: attr.set.type0_private_refused,
 *      attr.set.on_system_fd, attr.set.on_vcpu_fd, attr.set.on_gmem_fd | accepted: attr.set.without_memslot
 *   2. copy_from_user of struct kvm_memory_attributes → EFAULT | refused: attr.set.bad_struct_pointer
 *      | accepted: attr.set.without_memslot
 *   3. flags != 0 → EINVAL | refused: attr.set.flags_nonzero | accepted: attr.set.without_memslot
 *   4. attributes & ~kvm_supported_mem_attributes(kvm) → EINVAL; per VM type: PRIVATE only with private memory
 *      | refused: attr.set.attribute_bits, attr.set.type0_private_refused
 *      | accepted: attr.set.attribute_bits, attr.set.type0_zero_attributes, coco.memattr_cap.per_type
 *   5. size == 0 → EINVAL | refused: attr.set.size_zero | accepted: attr.set.without_memslot
 *   6. address + size wraps past 2^64 (u64; an end of exactly 2^64 wraps to 0) → EINVAL | refused: attr.set.overflow
 *      | accepted: attr.set.max_range_end
 *   7. address or size not page-aligned → EINVAL (checked after 5 and 6)
 *      | refused: attr.set.unaligned_address, attr.set.unaligned_size | accepted: attr.set.without_memslot
 *   8. no upper bound on the gfn (attributes live in an xarray indexed by gfn, memslots or not)
 *      | refused: n/a (no such check) | accepted: attr.set.beyond_max_gfn, attr.set.max_range_end
 *   9. xa_reserve of each gfn → ENOMEM | refused: n/a (needs kernel memory exhaustion)
 *      | accepted: attr.set.without_memslot
 */
import { defineCase, type CaseDef, type Variant } from '../../lib/harness/case.js';
import { expectEq, expectErrno, expectOk, outcome } from '../../lib/harness/expect.js';
import { __ioctlStruct, __ioctlVal } from '../../lib/kvm/ioctl.js';
import { pack } from '../../lib/uapi/struct.js';
import {
  KVM_CAP_MEMORY_ATTRIBUTES,
  KVM_MEMORY_ATTRIBUTE_PRIVATE,
  KVM_SET_MEMORY_ATTRIBUTES,
} from '../../lib/uapi/index.js';
import type { ErrnoName } from '../../lib/uapi/index.js';
import { hex, NEEDS_GMEM } from '../../lib/cases/gmem.js';
import { PAGE, attrVmVariants, validAttributes, type AttrVmParams } from '../../lib/cases/attr.js';

const PRIVATE = BigInt(KVM_MEMORY_ATTRIBUTE_PRIVATE);
/** An arbitrary page-aligned GPA with nothing special about it (no memslot needed: attributes are per gfn). */
const BASE = 0x100000n;
const TAGS = { linuxGit: ['5a475554db1e'], kernelFn: 'kvm_main.c:kvm_vm_ioctl_set_mem_attributes' } as const;

const attrArg = (address: bigint, size: bigint, attributes: bigint, flags = 0n) =>
  pack('kvm_memory_attributes', { address, size, attributes, flags });

const type0PrivateRefused = defineCase({
  id: 'attr.set.type0_private_refused',
  doc: 'a default VM reports KVM_CAP_MEMORY_ATTRIBUTES 0 and refuses PRIVATE: EINVAL where the ioctl is built, ENOTTY where /dev/kvm reports the cap as 0 (not built)',
  requires: { kvm: true },
  tags: { linuxGit: ['5a475554db1e', '89ea60c2c7b5'], kernelFn: 'kvm_main.c:kvm_supported_mem_attributes' },
  run(ctx) {
    const sys = ctx.env.sysCap(KVM_CAP_MEMORY_ATTRIBUTES);
    const vm = ctx.vm(0);
    const vmCap = vm.checkExtension(KVM_CAP_MEMORY_ATTRIBUTES);
    ctx.observe('sysCap', sys);
    ctx.observe('vmCap', vmCap);
    expectEq(vmCap, 0, 'KVM_CAP_MEMORY_ATTRIBUTES on a default (type 0) VM, which has no private memory');
    const r = vm.__setMemoryAttributes(BASE, PAGE, PRIVATE);
    ctx.observe('outcome', outcome(r));
    if (sys === 0)
      expectErrno(
        r,
        'ENOTTY',
        'PRIVATE on a default VM when /dev/kvm reports KVM_CAP_MEMORY_ATTRIBUTES 0 (ioctl not built)',
      );
    else
      expectErrno(
        r,
        'EINVAL',
        `PRIVATE on a default VM whose KVM_CAP_MEMORY_ATTRIBUTES is 0 (/dev/kvm reports ${hex(sys)})`,
      );
  },
});

const type0ZeroAttributes = defineCase({
  id: 'attr.set.type0_zero_attributes',
  doc: 'attributes 0 on an aligned range of a default VM change nothing and succeed where the ioctl is built; ENOTTY where /dev/kvm reports KVM_CAP_MEMORY_ATTRIBUTES 0',
  requires: { kvm: true },
  tags: TAGS,
  run(ctx) {
    const sys = ctx.env.sysCap(KVM_CAP_MEMORY_ATTRIBUTES);
    const r = ctx.vm(0).__setMemoryAttributes(BASE, 4n * PAGE, 0n);
    ctx.observe('outcome', outcome(r));
    if (sys === 0)
      expectErrno(r, 'ENOTTY', 'attributes 0 when /dev/kvm reports KVM_CAP_MEMORY_ATTRIBUTES 0 (ioctl not built)');
    else expectOk(r, 'attributes 0 on 4 aligned pages of a default VM');
  },
});

const onSystemFd = defineCase({
  id: 'attr.set.on_system_fd',
  doc: 'KVM_SET_MEMORY_ATTRIBUTES on /dev/kvm fails with EINVAL (x86 kvm_arch_dev_ioctl default)',
  requires: { kvm: true },
  tags: { kernelFn: 'x86.c:kvm_arch_dev_ioctl' },
  run(ctx) {
    const r = __ioctlStruct(
      ctx.kvm.fd,
      'KVM_SET_MEMORY_ATTRIBUTES',
      KVM_SET_MEMORY_ATTRIBUTES,
      attrArg(BASE, PAGE, 0n),
    );
    expectErrno(r, 'EINVAL', 'KVM_SET_MEMORY_ATTRIBUTES on /dev/kvm');
  },
});

const onVcpuFd = defineCase({
  id: 'attr.set.on_vcpu_fd',
  doc: 'KVM_SET_MEMORY_ATTRIBUTES on a vCPU fd fails with EINVAL (x86 kvm_arch_vcpu_ioctl default): it is a VM ioctl',
  requires: { kvm: true },
  tags: { kernelFn: 'x86.c:kvm_arch_vcpu_ioctl' },
  run(ctx) {
    const vcpu = ctx.track(ctx.vm().createVcpu(0));
    const r = __ioctlStruct(vcpu.fd, 'KVM_SET_MEMORY_ATTRIBUTES', KVM_SET_MEMORY_ATTRIBUTES, attrArg(BASE, PAGE, 0n));
    expectErrno(r, 'EINVAL', 'KVM_SET_MEMORY_ATTRIBUTES on a vCPU fd');
  },
});

const onGmemFd = defineCase({
  id: 'attr.set.on_gmem_fd',
  doc: 'KVM_SET_MEMORY_ATTRIBUTES on a guest_memfd fails with ENOTTY: the guest_memfd file has no ioctls in mainline',
  requires: NEEDS_GMEM,
  tags: { linuxGit: ['a7800aa80ea4'] },
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), PAGE);
    const r = __ioctlStruct(g.fd, 'KVM_SET_MEMORY_ATTRIBUTES', KVM_SET_MEMORY_ATTRIBUTES, attrArg(0n, PAGE, 0n));
    expectErrno(r, 'ENOTTY', 'KVM_SET_MEMORY_ATTRIBUTES on a guest_memfd');
  },
});

/** Groups of attribute bits; each group is one variant per VM type. */
const BIT_GROUPS: { name: string; bits: number[] }[] = [
  { name: 'bits0_2', bits: [0, 1, 2] },
  { name: 'bit3_private', bits: [3] },
  { name: 'bits4_7', bits: [4, 5, 6, 7] },
  { name: 'bits8_31', bits: Array.from({ length: 24 }, (_x, i) => i + 8) },
  { name: 'bits32_62', bits: Array.from({ length: 31 }, (_x, i) => i + 32) },
  { name: 'bit63', bits: [63] },
];

interface BitParams extends AttrVmParams {
  /** Attribute bits to try one by one. */ bits: number[];
}

const bitVariants: Variant<BitParams>[] = BIT_GROUPS.flatMap((g) =>
  attrVmVariants().map((v) => ({
    name: `${g.name}_${v.name}`,
    params: { ...v.params, bits: g.bits },
    ...(v.requires ? { requires: v.requires } : {}),
  })),
);

const attributeBits: CaseDef<BitParams> = defineCase<BitParams>({
  id: 'attr.set.attribute_bits',
  doc: 'each attribute bit is accepted exactly when KVM_CAP_MEMORY_ATTRIBUTES on the VM lists it, else EINVAL',
  requires: { kvm: true },
  variants: bitVariants,
  tags: TAGS,
  run(ctx) {
    const vm = ctx.vm();
    const supported = BigInt(vm.checkExtension(KVM_CAP_MEMORY_ATTRIBUTES));
    ctx.observe('vmCap', Number(supported));
    expectEq(supported, validAttributes(ctx.params), `KVM_CAP_MEMORY_ATTRIBUTES on a type-${ctx.vmType} VM`);
    for (const bit of ctx.params.bits) {
      const attr = 1n << BigInt(bit);
      const r = vm.__setMemoryAttributes(BASE, PAGE, attr);
      if (attr & supported) {
        expectOk(r, `attribute ${hex(attr)} (listed in ${hex(supported)})`);
        expectOk(vm.__setMemoryAttributes(BASE, PAGE, 0n), `resetting attribute ${hex(attr)} to 0`);
      } else expectErrno(r, 'EINVAL', `attribute ${hex(attr)} (not in KVM_CAP_MEMORY_ATTRIBUTES ${hex(supported)})`);
    }
  },
});

const flagsNonzero = defineCase<AttrVmParams>({
  id: 'attr.set.flags_nonzero',
  doc: 'any non-zero flags value is refused with EINVAL, even with valid attributes and range',
  requires: { kvm: true },
  variants: attrVmVariants(),
  tags: TAGS,
  run(ctx) {
    const vm = ctx.vm();
    const attrs = validAttributes(ctx.params);
    for (let bit = 0n; bit < 64n; bit++)
      expectErrno(vm.__setMemoryAttributes(BASE, PAGE, attrs, 1n << bit), 'EINVAL', `flags ${hex(1n << bit)}`);
    expectOk(vm.__setMemoryAttributes(BASE, PAGE, attrs, 0n), 'the same call with flags 0 (control)');
  },
});

const sizeZero = defineCase<AttrVmParams>({
  id: 'attr.set.size_zero',
  doc: 'size 0 is refused with EINVAL',
  requires: { kvm: true },
  variants: attrVmVariants(),
  tags: TAGS,
  run(ctx) {
    const vm = ctx.vm();
    const attrs = validAttributes(ctx.params);
    for (const address of [0n, BASE])
      expectErrno(vm.__setMemoryAttributes(address, 0n, attrs), 'EINVAL', `size 0 at ${hex(address)}`);
  },
});

const unalignedAddress = defineCase<AttrVmParams>({
  id: 'attr.set.unaligned_address',
  doc: 'an address that is not page-aligned is refused with EINVAL',
  requires: { kvm: true },
  variants: attrVmVariants(),
  tags: TAGS,
  run(ctx) {
    const vm = ctx.vm();
    const attrs = validAttributes(ctx.params);
    for (const address of [1n, PAGE - 1n, BASE + 1n, BASE + PAGE / 2n])
      expectErrno(vm.__setMemoryAttributes(address, PAGE, attrs), 'EINVAL', `address ${hex(address)}`);
  },
});

const unalignedSize = defineCase<AttrVmParams>({
  id: 'attr.set.unaligned_size',
  doc: 'a size that is not a multiple of the page size is refused with EINVAL',
  requires: { kvm: true },
  variants: attrVmVariants(),
  tags: TAGS,
  run(ctx) {
    const vm = ctx.vm();
    const attrs = validAttributes(ctx.params);
    for (const size of [1n, PAGE - 1n, PAGE + 1n, 2n * PAGE - 1n])
      expectErrno(vm.__setMemoryAttributes(BASE, size, attrs), 'EINVAL', `size ${hex(size)}`);
  },
});

const overflow = defineCase<AttrVmParams>({
  id: 'attr.set.overflow',
  doc: 'a range whose end wraps past 2^64 (including one that ends exactly at 2^64) is refused with EINVAL',
  requires: { kvm: true },
  variants: attrVmVariants(),
  tags: TAGS,
  run(ctx) {
    const vm = ctx.vm();
    const attrs = validAttributes(ctx.params);
    const top = 1n << 64n;
    for (const [address, size] of [
      [top - PAGE, 2n * PAGE],
      [top - PAGE, PAGE],
      [PAGE, top - PAGE],
    ] as const)
      expectErrno(
        vm.__setMemoryAttributes(address, size, attrs),
        'EINVAL',
        `address ${hex(address)} size ${hex(size)}`,
      );
  },
});

const beyondMaxGfn = defineCase<AttrVmParams>({
  id: 'attr.set.beyond_max_gfn',
  doc: 'a range above any guest-physical address (2^52) is not bounds-checked: attributes are tracked per gfn in an xarray, so the call is accepted',
  requires: { kvm: true },
  variants: attrVmVariants(),
  expect: { beyondMaxGfn: 'accepted' },
  tags: TAGS,
  run(ctx) {
    const vm = ctx.vm();
    const attrs = validAttributes(ctx.params);
    const address = 1n << 52n;
    const r = vm.__setMemoryAttributes(address, PAGE, attrs);
    ctx.observe('outcome', outcome(r));
    const want = ctx.expected<ErrnoName | 'accepted'>('beyondMaxGfn');
    if (want === 'accepted') {
      expectOk(r, `attributes ${hex(attrs)} at ${hex(address)} (kvm_vm_ioctl_set_mem_attributes has no upper bound)`);
      expectOk(vm.__setMemoryAttributes(address, PAGE, 0n), 'resetting the range to 0');
    } else expectErrno(r, want, `attributes ${hex(attrs)} at ${hex(address)}`);
  },
});

const withoutMemslot = defineCase<AttrVmParams>({
  id: 'attr.set.without_memslot',
  doc: 'the supported attributes are accepted on an aligned range that no memslot covers, and can be set back to 0',
  requires: { kvm: true },
  variants: attrVmVariants(),
  tags: TAGS,
  run(ctx) {
    const vm = ctx.vm();
    const attrs = validAttributes(ctx.params);
    expectOk(
      vm.__setMemoryAttributes(BASE, 16n * PAGE, attrs),
      `attributes ${hex(attrs)} on 16 pages without a memslot`,
    );
    expectOk(vm.__setMemoryAttributes(BASE + 4n * PAGE, 4n * PAGE, 0n), 'attributes 0 on the middle 4 pages');
    expectOk(vm.__setMemoryAttributes(BASE, 16n * PAGE, attrs), `attributes ${hex(attrs)} again over the whole range`);
  },
});

const maxRangeEnd = defineCase<AttrVmParams>({
  id: 'attr.set.max_range_end',
  doc:
    'the highest page that does not wrap, [2^64 - 2 pages, 2^64 - 1 page), is accepted with the supported ' +
    'attributes and can be reset (the wrap check refuses only a sum past 2^64 - 1)',
  requires: { kvm: true },
  variants: attrVmVariants(),
  tags: TAGS,
  run(ctx) {
    const vm = ctx.vm();
    const attrs = validAttributes(ctx.params);
    const address = (1n << 64n) - 2n * PAGE;
    const what = `attributes ${hex(attrs)} at ${hex(address)} size ${hex(PAGE)}`;
    expectOk(vm.__setMemoryAttributes(address, PAGE, attrs), what);
    expectOk(vm.__setMemoryAttributes(address, PAGE, 0n), 'resetting the top page to 0');
  },
});

const badStructPointer = defineCase<AttrVmParams>({
  id: 'attr.set.bad_struct_pointer',
  doc: 'KVM_SET_MEMORY_ATTRIBUTES whose argument points at no user memory (NULL, a kernel address) fails with EFAULT',
  requires: { kvm: true },
  variants: attrVmVariants(),
  tags: TAGS,
  run(ctx) {
    const vm = ctx.vm();
    for (const address of [0n, 0xffff_8000_0000_0000n])
      expectErrno(__ioctlVal(vm.fd, KVM_SET_MEMORY_ATTRIBUTES, address), 'EFAULT', `argument pointer ${hex(address)}`);
  },
});

export default [
  type0PrivateRefused,
  type0ZeroAttributes,
  onSystemFd,
  onVcpuFd,
  onGmemFd,
  attributeBits,
  flagsNonzero,
  sizeZero,
  unalignedAddress,
  unalignedSize,
  overflow,
  beyondMaxGfn,
  withoutMemslot,
  maxRangeEnd,
  badStructPointer,
];
