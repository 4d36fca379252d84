/** Shared pieces of guest_memfd cases: page size, flag variants, requirement sets. */
import type { Requires, Variant } from '../harness/case.js';
import { GUEST_MEMFD_FLAG_MMAP, GUEST_MEMFD_FLAG_INIT_SHARED } from '../uapi/index.js';
import { PAGE_SIZE } from '../arch.js';

/** The page size the cases assume (lib/arch.ts's PAGE_SIZE, as a bigint). */
export const PAGE = BigInt(PAGE_SIZE);

/** Requirement of every guest_memfd case: the system fd advertises KVM_CAP_GUEST_MEMFD. */
export const NEEDS_GMEM: Requires = { caps: ['KVM_CAP_GUEST_MEMFD'] };

/** Requirement for mmap-able guest_memfd with shared initial state. */
export const NEEDS_GMEM_MMAP_SHARED: Requires = {
  caps: ['KVM_CAP_GUEST_MEMFD'],
  gmemFlags: ['GUEST_MEMFD_FLAG_MMAP', 'GUEST_MEMFD_FLAG_INIT_SHARED'],
};

/** Parameters of a guest_memfd flag variant. */
export interface GmemFlagParams {
  /** Flags passed to KVM_CREATE_GUEST_MEMFD. */ flags: bigint;
}

/** The three flag sets upstream runs every guest_memfd test with; each skips when unadvertised. */
export function gmemFlagVariants(): Variant<GmemFlagParams>[] {
  return [
    { name: 'noflags', params: { flags: 0n } },
    {
      name: 'mmap',
      params: { flags: BigInt(GUEST_MEMFD_FLAG_MMAP) },
      requires: { gmemFlags: ['GUEST_MEMFD_FLAG_MMAP'] },
    },
    {
      name: 'mmap_init_shared',
      params: { flags: BigInt(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED) },
      requires: { gmemFlags: ['GUEST_MEMFD_FLAG_MMAP', 'GUEST_MEMFD_FLAG_INIT_SHARED'] },
    },
  ];
}

/** Hex text of a flag mask for messages. */
export function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}
