// The proposal registry: one entry per proposal *feature* (a behaviour a never-merged series defined), with its ABI
// (numbers and structs in lib/uapi/proposals.ts), its semantics, its source, and the probe that decides whether the
// running kernel has it. The feature matrix shows one row per entry (the proposal.probe.* cases record them).
import {
  PROPOSALS,
  PROPOSAL_ABI,
  PROPOSAL_STRUCTS,
  type ProposalId,
  type ProposalSeries,
} from '../../uapi/proposals.js';
import type { ProbeKernel } from './kernel.js';
import type { ProbeVerdict } from './verdict.js';
import { probeMemPrivate, probeMfdInaccessible, probeSealAutoAllocate } from './upm-v7.js';
import { probeMemfdRestricted, probeRestrictedBind, probeRestrictedUserMount } from './restrictedmem.js';
import { probeGmemLink, probeMoveMemoryContext } from './gmem-link.js';

/** Key of a PROPOSAL_ABI entry. */
export type ProposalAbiKey = keyof typeof PROPOSAL_ABI;
/** Key of a PROPOSAL_STRUCTS entry. */
export type ProposalStructKey = keyof typeof PROPOSAL_STRUCTS;

/** Stable id of a proposal feature (used in case ids: proposal.probe.<id>). */
export type ProposalFeatureId =
  | 'upm_v7_mfd_inaccessible'
  | 'upm_v7_seal_auto_allocate'
  | 'upm_v7_mem_private'
  | 'restrictedmem_v10_memfd_restricted'
  | 'restrictedmem_rfc_usermnt'
  | 'restrictedmem_rfc_bind'
  | 'gmem_link_v1'
  | 'gmem_link_v2'
  | 'gmem_link_move_memory_context';

/** One proposal feature: what it is, where it comes from, and how to tell whether a kernel has it. */
export interface ProposalFeature {
  /** Stable id. */ readonly id: ProposalFeatureId;
  /** The series (PROPOSALS) that defined it. */ readonly proposal: ProposalId;
  /** Short name for reports, e.g. 'MFD_INACCESSIBLE'. */ readonly title: string;
  /** The numbers it uses (keys of PROPOSAL_ABI). */ readonly abi: readonly ProposalAbiKey[];
  /** The structs it uses (keys of PROPOSAL_STRUCTS). */ readonly structs: readonly ProposalStructKey[];
  /** What the proposal said the ABI does: the behaviour the probe looks for. */ readonly semantics: string;
  /** What its number means in mainline (for the report when the kernel has no proposal). */ readonly mainline: string;
  /** Seed thread under shared/seeds, if any. */ readonly seed?: string;
  /** Decides present / absent / number-taken / inconclusive from the kernel's answers. */ readonly probe: (
    k: ProbeKernel,
  ) => ProbeVerdict;
}

/** Every proposal feature the suite probes, in series order. */
export const PROPOSAL_FEATURES: readonly ProposalFeature[] = Object.freeze([
  {
    id: 'upm_v7_mfd_inaccessible',
    proposal: 'upm-v7',
    title: 'MFD_INACCESSIBLE',
    abi: ['MFD_INACCESSIBLE'],
    structs: [],
    semantics:
      'memfd_create flag: the file cannot be read, written or mmap()ed by userspace (EPERM); cannot be combined with MFD_ALLOW_SEALING (EINVAL); size can be set once',
    mainline: 'MFD_NOEXEC_SEAL (6.3+)',
    seed: '001',
    probe: probeMfdInaccessible,
  },
  {
    id: 'upm_v7_seal_auto_allocate',
    proposal: 'upm-v7',
    title: 'F_SEAL_AUTO_ALLOCATE',
    abi: ['F_SEAL_AUTO_ALLOCATE'],
    structs: [],
    semantics:
      'memfd seal: writes never allocate — write() into a hole fails, a write fault on a hole gets SIGBUS; fallocate() still allocates and writes to allocated pages work',
    mainline: 'F_SEAL_EXEC (6.3+)',
    seed: '001',
    probe: probeSealAutoAllocate,
  },
  {
    id: 'upm_v7_mem_private',
    proposal: 'upm-v7',
    title: 'KVM_MEM_PRIVATE',
    abi: ['KVM_MEM_PRIVATE'],
    structs: ['kvm_userspace_memory_region_ext'],
    semantics:
      'memslot flag on KVM_SET_USER_MEMORY_REGION: private memory comes from private_fd at private_offset (page-aligned), private memslots are immutable',
    mainline: 'KVM_MEM_GUEST_MEMFD (6.8+, KVM_SET_USER_MEMORY_REGION2 only)',
    seed: '001',
    probe: probeMemPrivate,
  },
  {
    id: 'restrictedmem_v10_memfd_restricted',
    proposal: 'restrictedmem-v10',
    title: 'memfd_restricted',
    abi: ['memfd_restricted'],
    structs: [],
    semantics:
      'syscall memfd_restricted(flags) returns an fd whose file has only fallocate/release: read/write EINVAL, mmap ENODEV, ftruncate sets the size',
    mainline: 'cachestat (6.5+)',
    probe: probeMemfdRestricted,
  },
  {
    id: 'restrictedmem_rfc_usermnt',
    proposal: 'restrictedmem-mount-rfc-v3',
    title: 'RMFD_USERMNT',
    abi: ['RMFD_USERMNT', 'memfd_restricted'],
    structs: [],
    semantics:
      'memfd_restricted(RMFD_USERMNT, mount_fd) creates the file on a user-supplied tmpfs mount (its huge= and mpol= options apply)',
    mainline: 'none of its own: it is a flag of syscall 451 (cachestat in mainline)',
    probe: probeRestrictedUserMount,
  },
  {
    id: 'restrictedmem_rfc_bind',
    proposal: 'restrictedmem-bind-rfc',
    title: 'memfd_restricted_bind',
    abi: ['memfd_restricted_bind'],
    structs: ['file_range'],
    semantics:
      'syscall memfd_restricted_bind(fd, range, mode, nmask, maxnode, flags) sets a NUMA policy on a range of a restrictedmem file; other fds EINVAL',
    mainline: 'fchmodat2 (6.6+)',
    probe: probeRestrictedBind,
  },
  {
    id: 'gmem_link_v1',
    proposal: 'gmem-link-rfc-v1',
    title: 'KVM_LINK_GUEST_MEMFD (nr 0xd5)',
    abi: ['KVM_LINK_GUEST_MEMFD_V1'],
    structs: ['kvm_link_guest_memfd'],
    semantics:
      "VM ioctl: returns a new fd, a new file on the same inode as another VM's guest_memfd; flags != 0, a bad or non-guest_memfd fd, or a guest_memfd of the same VM → EINVAL",
    mainline: 'KVM_PRE_FAULT_MEMORY (6.10+, vCPU ioctl)',
    seed: '004',
    probe: (k) => probeGmemLink(k, 0xd5),
  },
  {
    id: 'gmem_link_v2',
    proposal: 'gmem-link-rfc-v2',
    title: 'KVM_LINK_GUEST_MEMFD (nr 0xd6)',
    abi: ['KVM_LINK_GUEST_MEMFD_V2', 'KVM_SET_MEMORY_ATTRIBUTES2_RFC_V1'],
    structs: ['kvm_link_guest_memfd', 'kvm_memory_attributes2_rfc_v1'],
    semantics: "the v1 ABI renumbered to 0xd6 (the new file also raises the inode's link count)",
    mainline: 'unassigned (the in-place conversion RFC v1 proposed KVM_SET_MEMORY_ATTRIBUTES2 at the same number)',
    probe: (k) => probeGmemLink(k, 0xd6),
  },
  {
    id: 'gmem_link_move_memory_context',
    proposal: 'gmem-link-rfc-v1',
    title: 'KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM for non-SEV VMs',
    abi: ['KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM'],
    structs: [],
    semantics:
      'intra-host migration: moving from a source VM of the same type carries memory attributes and lpage_info to the destination and kills the source, for any VM type',
    mainline: 'KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM (5.16+): SEV/SEV-ES encryption context only',
    seed: '004',
    probe: probeMoveMemoryContext,
  },
] satisfies ProposalFeature[]);

/** The feature with this id (throws on an unknown id: a bug in the caller). */
export function proposalFeature(id: ProposalFeatureId): ProposalFeature {
  const f = PROPOSAL_FEATURES.find((x) => x.id === id);
  if (!f) throw new Error(`unknown proposal feature ${id}`);
  return f;
}

/** The series a feature belongs to. */
export function seriesOf(f: ProposalFeature): ProposalSeries {
  const s = PROPOSALS.find((p) => p.id === f.proposal);
  if (!s) throw new Error(`proposal feature ${f.id} names unknown series ${f.proposal}`);
  return s;
}
