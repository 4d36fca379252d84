/** Shared pieces of memslot cases: guest_memfd-backed KVM_SET_USER_MEMORY_REGION2 specs, requirement sets, VM-type variants. */
import type { Requires, Variant } from '../harness/case.js';
import type { Vm, MemslotSpec } from '../kvm/vm.js';
import type { GuestMemfd } from '../kvm/guest-memfd.js';
import type { RawResult } from '../sys/errors.js';
import { KVM_MEM_GUEST_MEMFD } from '../uapi/index.js';
import { PAGE } from './gmem.js';

/** KVM_MEM_GUEST_MEMFD as a number for MemslotSpec.flags. */
export const GMEM_FLAG = KVM_MEM_GUEST_MEMFD;

/** Requirement of every guest_memfd memslot case: guest_memfd, the v2 memslot ioctl, and a VM that reports KVM_CAP_GUEST_MEMFD (6.8–6.17 bind guest_memfd only on private-memory VM types, and say so there). */
export const NEEDS_GMEM_SLOT: Requires = {
  caps: ['KVM_CAP_GUEST_MEMFD', 'KVM_CAP_USER_MEMORY2'],
  vmCaps: ['KVM_CAP_GUEST_MEMFD'],
};

/** A GPA far from anything KVM maps by itself (upstream set_memory_region_test uses 0xc0000000 too). */
export const BASE_GPA = 0xc000_0000n;

/** Parameters of a VM-type variant. */
export interface VmTypeParams {
  /** KVM_X86_*_VM name, for messages. */ vmTypeName: string;
}

/** The VM types whose memslot checks are worth repeating: the default VM, and SW_PROTECTED (skips where absent). */
export function vmTypeVariants(): Variant<VmTypeParams>[] {
  return [
    { name: 'default_vm', params: { vmTypeName: 'KVM_X86_DEFAULT_VM' } },
    {
      name: 'sw_protected_vm',
      params: { vmTypeName: 'KVM_X86_SW_PROTECTED_VM' },
      requires: { vmType: 'KVM_X86_SW_PROTECTED_VM' },
    },
  ];
}

/** A slot spec binding `size` bytes of `gmem` at `offset` to `gpa` (no userspace_addr unless given). */
export function gmemSlot(
  gmem: GuestMemfd | number,
  slot: number,
  gpa: bigint,
  size: bigint,
  offset = 0n,
  extra: Partial<MemslotSpec> = {},
): MemslotSpec {
  const fd = typeof gmem === 'number' ? gmem : gmem.fd;
  return { slot, flags: GMEM_FLAG, gpa, size, gmemFd: fd, gmemOffset: offset, hva: 0n, ...extra };
}

/** Raw delete of a slot (memory_size 0); the other fields do not matter to KVM. */
export function __deleteSlot(vm: Vm, slot: number): RawResult {
  return vm.__setUserMemoryRegion2({ slot, flags: 0, gpa: 0n, size: 0n });
}

/** Sizes in pages, for readable specs. */
export function pages(n: number | bigint): bigint {
  return BigInt(n) * PAGE;
}

/** guest_memfd field value for "fd -1" (the field is a __u32). */
export const FD_MINUS_ONE = 0xffff_ffff;
