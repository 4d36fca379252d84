/** The catalogue of features the matrix reports, each tied to capabilities and to the cases that prove it. */
import type { FeatureDef } from './feature.js';
import { proposalMatrixRows } from './proposals/matrix-rows.js';

const vmTypes: [string, string, number][] = [
  ['sw_protected', 'KVM_X86_SW_PROTECTED_VM', 1],
  ['sev', 'KVM_X86_SEV_VM', 2],
  ['sev_es', 'KVM_X86_SEV_ES_VM', 3],
  ['snp', 'KVM_X86_SNP_VM', 4],
  ['tdx', 'KVM_X86_TDX_VM', 5],
];
/** VM types memslot.gmem cases have a variant for (`@<type>_vm`). */
const MEMSLOT_VARIANTS = ['sw_protected'];

/**
 * Prefix of the ids of imported KVM selftests. kselftest's runner.sh prints `selftests: kvm: $(basename
 * $TEST)` (linux-source-7.3 tools/testing/selftests/kselftest/runner.sh), so x86/private_mem_conversions_test
 * is imported as kselftest.kvm.private_mem_conversions_test; the `*` also takes a runner that keeps the
 * x86/ directory (kselftest.kvm.x86_private_mem_...).
 */
const KSELFTEST_KVM = 'kselftest.kvm.*';

/** The guest_memfd capability on /dev/kvm, which most guest_memfd rows need. */
const GMEM_CAP: FeatureDef['caps'] = [{ fd: 'sys', cap: 'KVM_CAP_GUEST_MEMFD' }];
/** Bits of KVM_CAP_GUEST_MEMFD_FLAGS on a type-0 VM. */
const gmemFlag = (mask: number): FeatureDef['caps'] => [{ fd: 'vm', cap: 'KVM_CAP_GUEST_MEMFD_FLAGS', mask }];
const PRE_FAULT_CAP: FeatureDef['caps'] = [{ fd: 'sys', cap: 'KVM_CAP_PRE_FAULT_MEMORY' }];

/** Every feature, in the order the matrix lists them. */
export const FEATURES: readonly FeatureDef[] = [
  { id: 'kvm', title: '/dev/kvm usable', family: 'kvm', caps: [{ fd: 'sys', cap: 'KVM_CAP_USER_MEMORY' }], cases: [] },
  {
    id: 'guest_memfd',
    title: 'KVM_CREATE_GUEST_MEMFD',
    family: 'guest_memfd',
    caps: GMEM_CAP,
    cases: ['gmem.create.*', 'kselftest.kvm.guest_memfd_test*'],
  },
  {
    id: 'gmem.vm_cap',
    title: 'KVM_CAP_GUEST_MEMFD advertised on the VM fd',
    family: 'guest_memfd',
    caps: [{ fd: 'vm', cap: 'KVM_CAP_GUEST_MEMFD' }],
    cases: [],
    valueFromCap: true,
  },
  // Only the answer: gmem.create.flag_bit@* check that create accepts exactly the advertised bits and pass
  // where the capability is 0 (every bit refused), so they are evidence of guest_memfd, not of this cap.
  {
    id: 'gmem.flags_cap',
    title: 'KVM_CAP_GUEST_MEMFD_FLAGS',
    family: 'guest_memfd',
    caps: [{ fd: 'vm', cap: 'KVM_CAP_GUEST_MEMFD_FLAGS' }],
    cases: [],
    valueFromCap: true,
  },
  {
    id: 'gmem.fd',
    title: 'guest_memfd fd properties (O_LARGEFILE, fstat)',
    family: 'guest_memfd',
    caps: GMEM_CAP,
    cases: ['gmem.fd.*'],
  },
  {
    id: 'gmem.refuse',
    title: 'guest_memfd refuses read/write/ftruncate/…',
    family: 'guest_memfd',
    caps: GMEM_CAP,
    cases: ['gmem.refuse.*'],
  },
  {
    id: 'gmem.fallocate',
    title: 'guest_memfd fallocate and PUNCH_HOLE',
    family: 'guest_memfd',
    caps: GMEM_CAP,
    cases: ['gmem.fallocate.*'],
  },
  // gmem.sizing.memfd_* run the same sizes on a memfd, as the control: no evidence of guest_memfd
  {
    id: 'gmem.large_sizes',
    title: 'guest_memfd beyond 2^31/2^32 (O_LARGEFILE)',
    family: 'guest_memfd',
    caps: GMEM_CAP,
    cases: ['gmem.sizing.*'],
    excludeCases: ['gmem.sizing.memfd_*'],
  },
  // without_mmap_flag_enodev maps a guest_memfd created without the flag: it passes where MMAP does not exist
  {
    id: 'gmem.mmap',
    title: 'GUEST_MEMFD_FLAG_MMAP',
    family: 'guest_memfd',
    caps: gmemFlag(1),
    cases: ['gmem.mmap.*'],
    excludeCases: ['gmem.mmap.without_mmap_flag_enodev'],
  },
  {
    id: 'gmem.init_shared',
    title: 'GUEST_MEMFD_FLAG_INIT_SHARED',
    family: 'guest_memfd',
    caps: gmemFlag(2),
    cases: ['gmem.mmap.*shared*'],
  },
  {
    id: 'gmem.numa',
    title: 'mbind/get_mempolicy on guest_memfd mappings',
    family: 'guest_memfd',
    caps: gmemFlag(1),
    cases: ['gmem.numa.*'],
  },
  {
    id: 'gmem.lifetime',
    title: 'guest_memfd lifetime and fd passing',
    family: 'guest_memfd',
    caps: GMEM_CAP,
    cases: ['gmem.lifetime.*'],
  },
  // memslot.plain.* and memslot.inuse.* use plain (userspace_addr) slots: no evidence of guest_memfd slots;
  // refused_without_vm_cap runs only where the VM lacks KVM_CAP_GUEST_MEMFD (its pass is the refusal: 6.12)
  {
    id: 'memslot2',
    title: 'KVM_SET_USER_MEMORY_REGION2 with guest_memfd (default VM type)',
    family: 'memslot',
    caps: [
      { fd: 'sys', cap: 'KVM_CAP_USER_MEMORY2' },
      { fd: 'vm', cap: 'KVM_CAP_GUEST_MEMFD' },
    ],
    cases: ['memslot.gmem.*'],
    excludeCases: ['memslot.gmem.refused_without_vm_cap'],
  },
  {
    id: 'memslot.gmem_overlap_errno',
    title: 'errno for a guest_memfd range bound twice',
    family: 'memslot',
    caps: [{ fd: 'sys', cap: 'KVM_CAP_USER_MEMORY2' }],
    cases: ['memslot.gmem.overlapping_file_range'],
    valueKey: 'outcome',
  },
  // unbacked_userspace_addr runs a guest on a plain slot; type0_private_gmem runs one on a gmem-only slot
  {
    id: 'guest.gmem_backed',
    title: 'vCPU runs on guest_memfd memory',
    family: 'guest',
    caps: GMEM_CAP,
    cases: ['guest.*', 'exit.memory_fault.type0_private_gmem'],
    excludeCases: ['guest.access.unbacked_userspace_addr'],
  },
  // The PRIVATE attribute as /dev/kvm advertises it (the recorded VM-fd answer is a type-0 VM's, which
  // is 0 on every kernel), proved by the cases that set it on a VM with private memory: attr.* on a
  // default VM pass on kernels without private memory too, so they are no evidence of it.
  {
    id: 'memory_attributes',
    title: 'KVM_SET_MEMORY_ATTRIBUTES (PRIVATE) on a VM with private memory',
    family: 'attributes',
    caps: [{ fd: 'sys', cap: 'KVM_CAP_MEMORY_ATTRIBUTES', mask: 8 }],
    cases: ['attr.convert.*', 'attr.set.*@*sw_protected', `${KSELFTEST_KVM}private_mem_conversions_test*`],
  },
  // cap_advertised compares the capability with the fixtures (it passes where it is 0 too), and
  // type0_private_gmem expects no memory-fault exit at all
  {
    id: 'memory_fault_exit',
    title: 'KVM_EXIT_MEMORY_FAULT',
    family: 'attributes',
    caps: [{ fd: 'sys', cap: 'KVM_CAP_MEMORY_FAULT_INFO' }],
    cases: ['exit.memory_fault.*', `${KSELFTEST_KVM}private_mem_kvm_exits_test*`],
    excludeCases: ['exit.memory_fault.cap_advertised', 'exit.memory_fault.type0_private_gmem'],
  },
  // The ioctl's argument checks run before any MMU work, so they pass where the MMU cannot pre-fault
  // (KVM_CAP_PRE_FAULT_MEMORY 0, e.g. shadow paging): they are evidence of the ioctl, not of pre-faulting.
  // prefault.ioctl.* (ENOTTY on the wrong fd) pass where the ioctl does not exist at all (6.1): no evidence.
  {
    id: 'pre_fault.ioctl',
    title: 'KVM_PRE_FAULT_MEMORY exists and checks its arguments',
    family: 'attributes',
    cases: ['prefault.args.*', 'prefault.mmu.refused_without_cap*', 'prefault.eintr.pending_signal*'],
  },
  {
    id: 'pre_fault',
    title: 'KVM_PRE_FAULT_MEMORY pre-faults memory',
    family: 'attributes',
    caps: PRE_FAULT_CAP,
    cases: [
      'prefault.range.*',
      'prefault.race.*',
      'prefault.eintr.timer_retry*',
      'kselftest.kvm.pre_fault_memory_test*',
    ],
  },
  {
    id: 'pre_fault.private',
    title: 'KVM_PRE_FAULT_MEMORY of private guest_memfd memory',
    family: 'attributes',
    caps: PRE_FAULT_CAP,
    vmType: 1,
    cases: ['prefault.range.*@sw_protected_private', 'prefault.race.*@sw_protected_private'],
  },
  // coco.create_vm.type@<type> passes whether or not the type is listed (it checks KVM_CREATE_VM agrees with
  // KVM_CAP_VM_TYPES), so it is no evidence that the type works.
  ...vmTypes.map(
    ([name, constName, n]): FeatureDef => ({
      id: `vm_type.${name}`,
      title: `VM type ${constName} (${n})`,
      family: 'vm_type',
      vmType: n,
      cases: [`coco.*@${name}`, ...(MEMSLOT_VARIANTS.includes(name) ? [`memslot.gmem.*@${name}_vm`] : [])],
      excludeCases: [`coco.create_vm.type@${name}`],
    }),
  ),
  {
    id: 'memfd',
    title: 'memfd_create',
    family: 'memfd',
    cases: ['memfd.create.*', 'memfd.io.*', 'kselftest.memfd.memfd_test*'],
  },
  {
    id: 'memfd.seals',
    title: 'memfd seals (SEAL/SHRINK/GROW/WRITE/FUTURE_WRITE/EXEC)',
    family: 'memfd',
    cases: ['memfd.seals.*'],
  },
  {
    id: 'memfd.noexec',
    title: 'MFD_NOEXEC_SEAL / MFD_EXEC / vm.memfd_noexec',
    family: 'memfd',
    cases: ['memfd.exec.*'],
  },
  // size_without_hugetlb passes a huge page size without MFD_HUGETLB: a plain memfd refusing an unknown flag
  {
    id: 'memfd.hugetlb',
    title: 'MFD_HUGETLB',
    family: 'memfd',
    cases: ['memfd.hugetlb.*'],
    excludeCases: ['memfd.hugetlb.size_without_hugetlb*'],
  },
  {
    id: 'fallocate.eintr.gmem',
    title: 'guest_memfd fallocate returns EINTR under a periodic signal',
    family: 'eintr',
    cases: ['eintr.gmem.happens*'],
    observation: { key: 'eintr_seen', presentWhen: [true] },
  },
  {
    id: 'fallocate.eintr_progress.gmem',
    title: 'naive EINTR retries on guest_memfd make progress',
    family: 'eintr',
    cases: ['eintr.gmem.naive_retry_large*'],
    observation: { key: 'completed', presentWhen: [true] },
  },
  {
    id: 'fallocate.chunked_retry.gmem',
    title: 'chunked EINTR retries on guest_memfd complete',
    family: 'eintr',
    cases: ['eintr.gmem.chunked_retry*'],
    observation: { key: 'completed', presentWhen: [true] },
  },
  {
    id: 'fallocate.eintr.memfd',
    title: 'memfd fallocate returns EINTR under a periodic signal',
    family: 'eintr',
    cases: ['eintr.memfd.happens*'],
    observation: { key: 'eintr_seen', presentWhen: [true] },
  },
  {
    id: 'abi.reserved_fields_rejected',
    title: 'non-zero reserved fields rejected (KVM_CREATE_GUEST_MEMFD)',
    family: 'abi',
    cases: ['gmem.create.reserved_nonzero*'],
    observation: { key: 'outcome', presentWhen: ['EINVAL'] },
  },
  {
    id: 'abi.memslot2_padding_rejected',
    title: 'non-zero pad1/pad2 rejected (KVM_SET_USER_MEMORY_REGION2)',
    family: 'abi',
    cases: ['memslot.gmem.pad_nonzero*'],
    observation: { key: 'outcome', presentWhen: ['EINVAL'] },
  },
  // migrate.copy_enc_context.* need KVM_CAP_VM_COPY_ENC_CONTEXT_FROM, another capability
  {
    id: 'vm_move_enc_context',
    title: 'KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM (intra-host migration, SEV/SEV-ES)',
    family: 'vm_type',
    caps: [{ fd: 'sys', cap: 'KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM' }],
    cases: ['migrate.move_enc_context.*', 'coco.move_enc_context.*'],
  },
  ...proposalMatrixRows(),
];
