// Hand-written on purpose: ABIs from patch series that never merged. Nothing here is generated,
// nothing here is mainline. Every entry names the series it comes from; `collidesWith` names what
// the same number means in mainline (checked against linux.generated.ts by unit/uapi.test.ts).
// A kernel accepting one of these numbers proves nothing: probe the behaviour the proposal defined.
import { _IOWR } from './ioc.js';
import type { StructLayout } from './linux.generated.js';

/** Identifier of a proposal series in PROPOSALS. */
export type ProposalId =
  | 'upm-v7'
  | 'restrictedmem-v10'
  | 'restrictedmem-mount-rfc-v3'
  | 'restrictedmem-bind-rfc'
  | 'gmem-link-rfc-v1'
  | 'gmem-link-rfc-v2'
  | 'gmem-inplace-conversion-rfc-v1';

/** A patch series that proposed an ABI which never merged. */
export interface ProposalSeries {
  /** Stable id used by PROPOSAL_ABI entries and by test tags. */
  readonly id: ProposalId;
  /** Subject of the cover letter. */
  readonly title: string;
  /** Author of the series. */
  readonly author: string;
  /** Date of the cover letter (YYYY-MM-DD). */
  readonly date: string;
  /** Message-ID of the cover letter (lore.kernel.org/r/<id> finds it). */
  readonly messageId: string;
  /** Link to the thread. */
  readonly link: string;
  /** The seed document under shared/seeds that carries it, if any. */
  readonly seed?: string;
  /** What became of it. */
  readonly fate: string;
}

/** The proposal series this table draws from, oldest first. */
export const PROPOSALS: readonly ProposalSeries[] = Object.freeze([
  {
    id: 'upm-v7',
    title: '[PATCH v7 00/14] KVM: mm: fd-based approach for supporting KVM guest private memory',
    author: 'Chao Peng',
    date: '2022-07-06',
    messageId: '20220706082016.2603916-1-chao.p.peng@linux.intel.com',
    link: 'https://lore.kernel.org/all/20220706082016.2603916-1-chao.p.peng@linux.intel.com/',
    seed: 'shared/seeds/001_e00b05f3e1b9f68d.txt',
    fate: 'reworked into restrictedmem (v8-v10), then replaced by guest_memfd (Linux 6.8)',
  },
  {
    id: 'restrictedmem-v10',
    title: '[PATCH v10 0/9] KVM: mm: fd-based approach for supporting KVM',
    author: 'Chao Peng',
    date: '2022-12-02',
    messageId: '20221202061347.1070246-1-chao.p.peng@linux.intel.com',
    link: 'https://lore.kernel.org/all/20221202061347.1070246-1-chao.p.peng@linux.intel.com/',
    fate: 'memfd_restricted() dropped in favour of KVM_CREATE_GUEST_MEMFD (Linux 6.8)',
  },
  {
    id: 'restrictedmem-mount-rfc-v3',
    title: '[RFC PATCH v3 0/2] Providing mount in memfd_restricted() syscall',
    author: 'Ackerley Tng',
    date: '2023-03-31',
    messageId: 'cover.1680306489.git.ackerleytng@google.com',
    link: 'https://lore.kernel.org/all/cover.1680306489.git.ackerleytng@google.com/',
    fate: 'RFC v4 renamed RMFD_USERMNT to MEMFD_RSTD_USERMNT; never merged',
  },
  {
    id: 'restrictedmem-bind-rfc',
    title: '[RFC PATCH 0/6] Setting memory policy for restrictedmem file',
    author: 'Ackerley Tng',
    date: '2023-04-14',
    messageId: 'cover.1681430907.git.ackerleytng@google.com',
    link: 'https://lore.kernel.org/all/cover.1681430907.git.ackerleytng@google.com/',
    fate: 'on top of restrictedmem v11.5 (chao-p/linux privmem-v11.5); never merged',
  },
  {
    id: 'gmem-link-rfc-v1',
    title: '[RFC PATCH 00/11] New KVM ioctl to link a gmem inode to a new gmem file',
    author: 'Ackerley Tng',
    date: '2023-08-07',
    messageId: 'cover.1691446946.git.ackerleytng@google.com',
    link: 'https://lore.kernel.org/all/cover.1691446946.git.ackerleytng@google.com/',
    seed: 'shared/seeds/004_7306dbd10c70a86f.txt',
    fate: 'not merged; 0xd5 later went to KVM_PRE_FAULT_MEMORY (Linux 6.10)',
  },
  {
    id: 'gmem-link-rfc-v2',
    title: '[RFC PATCH v2 00/13] New KVM ioctl to link a gmem inode to a new gmem file',
    author: 'Ryan Afranji',
    date: '2025-05-16',
    messageId: 'cover.1747368092.git.afranji@google.com',
    link: 'https://lore.kernel.org/all/cover.1747368092.git.afranji@google.com/',
    fate: 'not merged as of linux-libc-dev 7.2.13',
  },
  {
    id: 'gmem-inplace-conversion-rfc-v1',
    title: '[RFC PATCH v1 00/37] guest_memfd: In-place conversion support',
    author: 'Ackerley Tng',
    date: '2025-10-17',
    messageId: 'cover.1760731772.git.ackerleytng@google.com',
    link: 'https://lore.kernel.org/all/cover.1760731772.git.ackerleytng@google.com/',
    fate: 'KVM_SET_MEMORY_ATTRIBUTES2 moved from nr 0xd6 to 0xd2 on review (Sean Christopherson) and became a guest_memfd ioctl; not in linux-libc-dev 7.2.13',
  },
]);

/** One proposed constant, ioctl or syscall number and what that number is in mainline. */
export interface ProposalAbi {
  /** The name the proposal gave it (suffixed _V1/_V2 where two versions differ). */
  readonly name: string;
  /** Its value on x86_64. */
  readonly value: number;
  /** Which series proposed it (an id in PROPOSALS). */
  readonly proposal: ProposalId;
  /** Where exactly: series title, date, patch and message-id. */
  readonly source: string;
  /** The mainline name with the same number (`SYSCALL.x` for syscalls), or null if the number is free. */
  readonly collidesWith: string | null;
  /** What the proposal meant by it, and what to watch for when probing. */
  readonly note: string;
}

/** Layout of struct kvm_link_guest_memfd (both RFC versions): { u64 fd; u64 flags; u64 reserved[6]; }. */
const KVM_LINK_GUEST_MEMFD_SIZE = 64;
/** Size of the RFC v1 struct kvm_memory_attributes2: { u64 address; u64 size; u64 attributes; u64 flags; u64 reserved[4]; }. */
const KVM_MEMORY_ATTRIBUTES2_RFC_V1_SIZE = 64;
const KVMIO = 0xae;

/** The proposal ABIs by name. */
export const PROPOSAL_ABI = Object.freeze({
  MFD_INACCESSIBLE: {
    name: 'MFD_INACCESSIBLE',
    value: 0x0008,
    proposal: 'upm-v7',
    source:
      'upm-v7 (2022-07-06, 20220706082016.2603916-1-chao.p.peng@linux.intel.com): "mm/memfd: Introduce MFD_INACCESSIBLE flag", include/uapi/linux/memfd.h; seed 001',
    collidesWith: 'MFD_NOEXEC_SEAL',
    note: 'fd refuses read/write/mmap; with MFD_ALLOW_SEALING -> EINVAL. Mainline (6.3+): creates an fd carrying F_SEAL_EXEC',
  },
  F_SEAL_AUTO_ALLOCATE: {
    name: 'F_SEAL_AUTO_ALLOCATE',
    value: 0x0020,
    proposal: 'upm-v7',
    source:
      'upm-v7 (2022-07-06, 20220706082016.2603916-1-chao.p.peng@linux.intel.com): "mm: Add F_SEAL_AUTO_ALLOCATE seal to memfd", include/uapi/linux/fcntl.h; seed 001',
    collidesWith: 'F_SEAL_EXEC',
    note: 'after PUNCH_HOLE, write() into the hole fails and a write fault gets SIGBUS; fallocate still works. Mainline (6.3+): F_SEAL_EXEC',
  },
  KVM_MEM_PRIVATE: {
    name: 'KVM_MEM_PRIVATE',
    value: 1 << 2,
    proposal: 'upm-v7',
    source:
      'upm-v7 (2022-07-06, 20220706082016.2603916-1-chao.p.peng@linux.intel.com): "KVM: Extend the memslot to support fd-based private memory" / "KVM: Enable and expose KVM_MEM_PRIVATE", include/uapi/linux/kvm.h; seed 001',
    collidesWith: 'KVM_MEM_GUEST_MEMFD',
    note: 'memslot flag: kvm_userspace_memory_region_ext (private_offset, private_fd) passed through KVM_SET_USER_MEMORY_REGION',
  },
  memfd_restricted: {
    name: 'memfd_restricted',
    value: 451,
    proposal: 'restrictedmem-v10',
    source:
      'restrictedmem-v10 (2022-12-02, 20221202061347.1070246-1-chao.p.peng@linux.intel.com): "mm: Introduce memfd_restricted system call to create restricted user memory", arch/x86/entry/syscalls/syscall_64.tbl',
    collidesWith: 'SYSCALL.cachestat',
    note: 'syscall number (x86_64): memfd_restricted(flags) -> fd. Mainline (6.5+): cachestat(fd, range, cstat, flags)',
  },
  RMFD_USERMNT: {
    name: 'RMFD_USERMNT',
    value: 0x0001,
    proposal: 'restrictedmem-mount-rfc-v3',
    source:
      'restrictedmem-mount-rfc-v3 (2023-03-31, cover.1680306489.git.ackerleytng@google.com): "[RFC PATCH v3 1/2] mm: restrictedmem: Allow userspace to specify mount for memfd_restricted", include/uapi/linux/restrictedmem.h',
    collidesWith: null,
    note: 'flag of memfd_restricted(flags, mount_fd); only meaningful with syscall 451, which is cachestat in mainline',
  },
  memfd_restricted_bind: {
    name: 'memfd_restricted_bind',
    value: 452,
    proposal: 'restrictedmem-bind-rfc',
    source:
      'restrictedmem-bind-rfc (2023-04-14, cover.1681430907.git.ackerleytng@google.com): "[RFC PATCH 5/6] mm: restrictedmem: Add memfd_restricted_bind() syscall", arch/x86/entry/syscalls/syscall_64.tbl',
    collidesWith: 'SYSCALL.fchmodat2',
    note: 'syscall number (x86_64): memfd_restricted_bind(fd, range, mode, nmask, maxnode, flags). Mainline (6.6+): fchmodat2',
  },
  KVM_LINK_GUEST_MEMFD_V1: {
    name: 'KVM_LINK_GUEST_MEMFD',
    value: _IOWR(KVMIO, 0xd5, KVM_LINK_GUEST_MEMFD_SIZE),
    proposal: 'gmem-link-rfc-v1',
    source:
      'gmem-link-rfc-v1 (2023-08-07, cover.1691446946.git.ackerleytng@google.com): "[RFC PATCH 02/11] KVM: guest_mem: Add ioctl KVM_LINK_GUEST_MEMFD", include/uapi/linux/kvm.h; seed 004',
    collidesWith: 'KVM_PRE_FAULT_MEMORY',
    note: 'VM ioctl returning a new fd (new file, same inode); flags != 0, bad/non-gmem fd or own gmem -> EINVAL. Mainline: a vCPU ioctl with the same number and size',
  },
  KVM_LINK_GUEST_MEMFD_V2: {
    name: 'KVM_LINK_GUEST_MEMFD',
    value: _IOWR(KVMIO, 0xd6, KVM_LINK_GUEST_MEMFD_SIZE),
    proposal: 'gmem-link-rfc-v2',
    source:
      'gmem-link-rfc-v2 (2025-05-16, cover.1747368092.git.afranji@google.com): "[RFC PATCH v2 04/13] KVM: guest_mem: Add ioctl KVM_LINK_GUEST_MEMFD", include/uapi/linux/kvm.h',
    collidesWith: null,
    note: 'same ABI as v1 at 0xd6. Free in linux-libc-dev 7.2.13; the in-place conversion series first proposed _IOWR(KVMIO, 0xd6, 64-byte kvm_memory_attributes2) for KVM_SET_MEMORY_ATTRIBUTES2 (the same number) before moving it to 0xd2',
  },
  KVM_SET_MEMORY_ATTRIBUTES2_RFC_V1: {
    name: 'KVM_SET_MEMORY_ATTRIBUTES2',
    value: _IOWR(KVMIO, 0xd6, KVM_MEMORY_ATTRIBUTES2_RFC_V1_SIZE),
    proposal: 'gmem-inplace-conversion-rfc-v1',
    source:
      'gmem-inplace-conversion-rfc-v1 (2025-10-17, cover.1760731772.git.ackerleytng@google.com): "[RFC PATCH v1 07/37] KVM: Introduce KVM_SET_MEMORY_ATTRIBUTES2", include/uapi/linux/kvm.h (replacement patch in reply diqz4irqg9qy.fsf@google.com)',
    collidesWith: null,
    note: 'VM ioctl, struct kvm_memory_attributes2 { u64 address; u64 size; u64 attributes; u64 flags; u64 reserved[4]; }: the same number and size as KVM_LINK_GUEST_MEMFD v2. Read as that struct, a link request { fd, flags = 0 } has size 0 and is refused with EINVAL before any attribute changes',
  },
  KVM_CAP_MEMORY_ATTRIBUTES2_RFC_V1: {
    name: 'KVM_CAP_MEMORY_ATTRIBUTES2',
    value: 245,
    proposal: 'gmem-inplace-conversion-rfc-v1',
    source:
      'gmem-inplace-conversion-rfc-v1 (2025-10-17, cover.1760731772.git.ackerleytng@google.com): "[RFC PATCH v1 07/37] KVM: Introduce KVM_SET_MEMORY_ATTRIBUTES2", include/uapi/linux/kvm.h',
    collidesWith: 'KVM_CAP_ARM_SEA_TO_USER',
    note: 'VM capability announcing KVM_SET_MEMORY_ATTRIBUTES2 (returns the supported attributes). Mainline gave 245 to an arm64 capability, so on x86 it reads 0 either way unless the RFC is applied',
  },
  KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM: {
    name: 'KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM',
    value: 206,
    proposal: 'gmem-link-rfc-v1',
    source:
      'gmem-link-rfc-v1 (2023-08-07, cover.1691446946.git.ackerleytng@google.com): "KVM: x86: Handle moving of memory context for intra-host migration"; seed 004',
    collidesWith: 'KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM',
    note: 'same cap number; the RFC extends KVM_ENABLE_CAP(cap, args[0] = source VM fd) to non-SEV VMs and moves memory attributes. Mainline: SEV/SEV-ES only, non-SEV source -> EINVAL',
  },
} as const satisfies Readonly<Record<string, ProposalAbi>>);

/** A struct layout a proposal defined, with its source and the mainline struct of identical layout. */
export interface ProposalStruct extends StructLayout {
  /** Which series proposed it. */
  readonly proposal: ProposalId;
  /** Where exactly. */
  readonly source: string;
  /** The mainline struct (a key of STRUCTS) with the same layout, or null. */
  readonly sameLayoutAs: string | null;
}

/** Struct layouts of the proposals (x86_64), written by hand from the patches. */
export const PROPOSAL_STRUCTS = Object.freeze({
  /** v7: struct kvm_userspace_memory_region_ext { struct kvm_userspace_memory_region region; u64 private_offset; u32 private_fd; u32 pad1; u64 pad2[14]; } */
  kvm_userspace_memory_region_ext: {
    size: 160,
    fields: {
      region: { offset: 0, size: 32 },
      'region.slot': { offset: 0, size: 4 },
      'region.flags': { offset: 4, size: 4 },
      'region.guest_phys_addr': { offset: 8, size: 8 },
      'region.memory_size': { offset: 16, size: 8 },
      'region.userspace_addr': { offset: 24, size: 8 },
      private_offset: { offset: 32, size: 8 },
      private_fd: { offset: 40, size: 4 },
      pad1: { offset: 44, size: 4 },
      pad2: { offset: 48, size: 112, count: 14 },
    },
    proposal: 'upm-v7',
    source:
      'upm-v7 (2022-07-06, 20220706082016.2603916-1-chao.p.peng@linux.intel.com): "KVM: Extend the memslot to support fd-based private memory" (Documentation/virt/kvm/api.rst and include/uapi/linux/kvm.h; restrictedmem v10 renamed the fields restricted_offset/restricted_fd, same layout). Seed 001 carries the cover letter and review, not this hunk.',
    sameLayoutAs: 'kvm_userspace_memory_region2',
  },
  /** RFC v1/v2: struct kvm_link_guest_memfd { u64 fd; u64 flags; u64 reserved[6]; } */
  kvm_link_guest_memfd: {
    size: KVM_LINK_GUEST_MEMFD_SIZE,
    fields: {
      fd: { offset: 0, size: 8 },
      flags: { offset: 8, size: 8 },
      reserved: { offset: 16, size: 48, count: 6 },
    },
    proposal: 'gmem-link-rfc-v1',
    source:
      'gmem-link-rfc-v1 (2023-08-07, cover.1691446946.git.ackerleytng@google.com): "[RFC PATCH 02/11] KVM: guest_mem: Add ioctl KVM_LINK_GUEST_MEMFD"; unchanged in v2',
    sameLayoutAs: 'kvm_create_guest_memfd',
  },
  /** In-place conversion RFC v1: struct kvm_memory_attributes2 { u64 address; u64 size; u64 attributes; u64 flags; u64 reserved[4]; } */
  kvm_memory_attributes2_rfc_v1: {
    size: KVM_MEMORY_ATTRIBUTES2_RFC_V1_SIZE,
    fields: {
      address: { offset: 0, size: 8 },
      size: { offset: 8, size: 8 },
      attributes: { offset: 16, size: 8 },
      flags: { offset: 24, size: 8 },
      reserved: { offset: 32, size: 32, count: 4 },
    },
    proposal: 'gmem-inplace-conversion-rfc-v1',
    source:
      'gmem-inplace-conversion-rfc-v1 (2025-10-17, cover.1760731772.git.ackerleytng@google.com): "[RFC PATCH v1 07/37] KVM: Introduce KVM_SET_MEMORY_ATTRIBUTES2"; later versions grew reserved[] to 12 entries and moved the ioctl to nr 0xd2',
    sameLayoutAs: null,
  },
  /** restrictedmem bind RFC: struct file_range { loff_t offset; size_t len; } */
  file_range: {
    size: 16,
    fields: {
      offset: { offset: 0, size: 8 },
      len: { offset: 8, size: 8 },
    },
    proposal: 'restrictedmem-bind-rfc',
    source:
      'restrictedmem-bind-rfc (2023-04-14, cover.1681430907.git.ackerleytng@google.com): "[RFC PATCH 5/6] mm: restrictedmem: Add memfd_restricted_bind() syscall" (SYSCALL_DEFINE6(memfd_restricted_bind, int fd, struct file_range __user *range, ...))',
    sameLayoutAs: null,
  },
} as const satisfies Readonly<Record<string, ProposalStruct>>);
