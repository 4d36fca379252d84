/** proposal.probe: one case per proposal feature — is it present, absent, or is its number taken by mainline? */
import { probeCase } from '../../lib/features/proposals/case-support.js';

const NEEDS_KVM = { kvm: true } as const;

export default [
  probeCase('upm_v7_mfd_inaccessible'),
  probeCase('upm_v7_seal_auto_allocate'),
  probeCase('upm_v7_mem_private', NEEDS_KVM),
  probeCase('restrictedmem_v10_memfd_restricted'),
  probeCase('restrictedmem_rfc_usermnt'),
  probeCase('restrictedmem_rfc_bind'),
  probeCase('gmem_link_v1', NEEDS_KVM),
  probeCase('gmem_link_v2', NEEDS_KVM),
  probeCase('gmem_link_move_memory_context', NEEDS_KVM),
];
