// Raw calls of never-merged ABIs, gated by the probe. On mainline these numbers mean something else (see
// registry.ts), so nothing here can be reached without a PresentProof: a value that only presentProof() makes, and
// only from a verdict whose state is 'present'. Proposal cases get it from requireProposal() (case-support.ts).
import * as libc from '../../ffi/libc.js';
import { KVM_SET_USER_MEMORY_REGION } from '../../uapi/index.js';
import { PROPOSAL_ABI, PROPOSAL_STRUCTS } from '../../uapi/proposals.js';
import { __ioctlStruct } from '../../kvm/ioctl.js';
import type { Vm } from '../../kvm/vm.js';
import type { ProposalFeatureId } from './registry.js';
import type { ProbeVerdict } from './verdict.js';

const proofs = new WeakSet<object>();

/** Evidence, checked at run time, that a probe found this feature present on the running kernel. */
export interface PresentProof<F extends ProposalFeatureId = ProposalFeatureId> {
  /** The feature. */ readonly feature: F;
  /** The verdict that proved it. */ readonly verdict: ProbeVerdict;
}

/** Makes a proof from a 'present' verdict; throws on any other state (calling a colliding number is a suite bug). */
export function presentProof<F extends ProposalFeatureId>(feature: F, verdict: ProbeVerdict): PresentProof<F> {
  if (verdict.state !== 'present') throw new Error(`refusing to unlock ${feature}: its probe said ${verdict.state}`);
  const proof = Object.freeze({ feature, verdict });
  proofs.add(proof);
  return proof;
}

function check<F extends ProposalFeatureId>(proof: PresentProof<F>, allowed: readonly F[]): void {
  if (!proofs.has(proof) || !allowed.includes(proof.feature) || proof.verdict.state !== 'present')
    throw new Error(`proposal call needs a present-proof of ${allowed.join(' or ')}, got ${proof.feature}`);
}

/** The MFD_INACCESSIBLE flag value (0x8), handed out only for a kernel where it is MFD_INACCESSIBLE. */
export function mfdInaccessible(proof: PresentProof<'upm_v7_mfd_inaccessible'>): number {
  check(proof, ['upm_v7_mfd_inaccessible']);
  return PROPOSAL_ABI.MFD_INACCESSIBLE.value;
}

/** The F_SEAL_AUTO_ALLOCATE seal value (0x20), handed out only for a kernel where it is that seal. */
export function sealAutoAllocate(proof: PresentProof<'upm_v7_seal_auto_allocate'>): number {
  check(proof, ['upm_v7_seal_auto_allocate']);
  return PROPOSAL_ABI.F_SEAL_AUTO_ALLOCATE.value;
}

/** The RMFD_USERMNT flag value, handed out only for a kernel with the mount RFC. */
export function rmfdUsermnt(proof: PresentProof<'restrictedmem_rfc_usermnt'>): number {
  check(proof, ['restrictedmem_rfc_usermnt']);
  return PROPOSAL_ABI.RMFD_USERMNT.value;
}

/** Which link ioctl number a link feature uses. */
export function linkRequest(feature: 'gmem_link_v1' | 'gmem_link_v2'): number {
  return feature === 'gmem_link_v1'
    ? PROPOSAL_ABI.KVM_LINK_GUEST_MEMFD_V1.value
    : PROPOSAL_ABI.KVM_LINK_GUEST_MEMFD_V2.value;
}

/** Raw KVM_LINK_GUEST_MEMFD on a VM: { fd, flags, reserved } → new fd or -1/errno (the new fd has no O_CLOEXEC). */
export function __linkGuestMemfd(
  proof: PresentProof<'gmem_link_v1' | 'gmem_link_v2'>,
  vm: Vm,
  fd: number | bigint,
  flags: bigint = 0n,
  reserved: readonly bigint[] = [],
): libc.Raw {
  check(proof, ['gmem_link_v1', 'gmem_link_v2']);
  const s = PROPOSAL_STRUCTS.kvm_link_guest_memfd;
  const arg = Buffer.alloc(s.size);
  arg.writeBigUInt64LE(BigInt.asUintN(64, BigInt(fd)), s.fields.fd.offset);
  arg.writeBigUInt64LE(BigInt.asUintN(64, flags), s.fields.flags.offset);
  reserved.forEach((v, i) => arg.writeBigUInt64LE(BigInt.asUintN(64, v), s.fields.reserved.offset + 8 * i));
  return __ioctlStruct(vm.fd, 'KVM_LINK_GUEST_MEMFD', linkRequest(proof.feature), arg);
}

/** Raw memfd_restricted(flags, mountFd) by syscall 451. */
export function __memfdRestricted(
  proof: PresentProof<'restrictedmem_v10_memfd_restricted' | 'restrictedmem_rfc_usermnt' | 'restrictedmem_rfc_bind'>,
  flags: number,
  mountFd = -1,
): libc.RawBig {
  check(proof, ['restrictedmem_v10_memfd_restricted', 'restrictedmem_rfc_usermnt', 'restrictedmem_rfc_bind']);
  return libc.syscall(PROPOSAL_ABI.memfd_restricted.value, flags, mountFd);
}

/** Raw memfd_restricted_bind(fd, &{offset, len}, mode, nmask, maxnode, flags) by syscall 452. */
export function __memfdRestrictedBind(
  proof: PresentProof<'restrictedmem_rfc_bind'>,
  fd: number,
  offset: bigint,
  len: bigint,
  mode: number,
  nmask: Buffer | null = null,
  maxnode = 0,
  flags = 0,
): libc.RawBig {
  check(proof, ['restrictedmem_rfc_bind']);
  const s = PROPOSAL_STRUCTS.file_range;
  const range = Buffer.alloc(s.size);
  range.writeBigInt64LE(offset, s.fields.offset.offset);
  range.writeBigUInt64LE(len, s.fields.len.offset);
  return libc.syscall(PROPOSAL_ABI.memfd_restricted_bind.value, fd, range, mode, nmask, maxnode, flags);
}

/** A v7 private memslot: the v1 region plus private_offset/private_fd. */
export interface PrivateMemslotSpec {
  /** Slot id. */ slot: number;
  /** Extra KVM_MEM_* flags besides KVM_MEM_PRIVATE. */ flags?: number;
  /** Guest physical address. */ gpa: bigint;
  /** Size in bytes. */ size: bigint;
  /** Host virtual address of the shared part. */ hva?: bigint;
  /** Offset into the private fd. */ privateOffset: bigint;
  /** The private fd. */ privateFd: number;
}

/** Raw KVM_SET_USER_MEMORY_REGION with KVM_MEM_PRIVATE and the v7 struct kvm_userspace_memory_region_ext. */
export function __setUserMemoryRegionPrivate(
  proof: PresentProof<'upm_v7_mem_private'>,
  vm: Vm,
  m: PrivateMemslotSpec,
): libc.Raw {
  check(proof, ['upm_v7_mem_private']);
  const s = PROPOSAL_STRUCTS.kvm_userspace_memory_region_ext;
  const arg = Buffer.alloc(s.size);
  arg.writeUInt32LE(m.slot, s.fields['region.slot'].offset);
  arg.writeUInt32LE((m.flags ?? 0) | PROPOSAL_ABI.KVM_MEM_PRIVATE.value, s.fields['region.flags'].offset);
  arg.writeBigUInt64LE(m.gpa, s.fields['region.guest_phys_addr'].offset);
  arg.writeBigUInt64LE(m.size, s.fields['region.memory_size'].offset);
  arg.writeBigUInt64LE(m.hva ?? 0n, s.fields['region.userspace_addr'].offset);
  arg.writeBigUInt64LE(m.privateOffset, s.fields.private_offset.offset);
  arg.writeUInt32LE(m.privateFd, s.fields.private_fd.offset);
  // _IOC_SIZE(KVM_SET_USER_MEMORY_REGION) is 32: v7 copies the extension behind the region itself.
  return libc.ioctlPtr(vm.fd, KVM_SET_USER_MEMORY_REGION, arg);
}
