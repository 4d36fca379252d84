// The "kernel answers" a proposal probe may ask for. Probes are pure decision functions over this
// interface: the live implementation (live-kernel.ts) issues the real syscalls, the unit test
// (unit/proposals.test.ts) answers from simulated kernels. Every operation works on plain handles
// (fds on the live kernel, ids in a simulation) and reports success or an errno *name*, so a probe
// never sees koffi, Buffers or errno numbers, and a simulation stays a few lines per answer.

/** What the kernel answered: success with a return value, or failure with the errno's name ('EINVAL'). */
export type Answer = { readonly ok: true; readonly value: number } | { readonly ok: false; readonly errno: string };

/** A successful answer carrying a return value (an fd, a count, 0). */
export function ok(value = 0): Answer {
  return { ok: true, value };
}

/** A failed answer with the errno's name. */
export function fail(errno: string): Answer {
  return { ok: false, errno };
}

/** 'OK(3)' or 'EINVAL': an answer the way evidence lines print it. */
export function show(a: Answer): string {
  return a.ok ? `OK(${a.value})` : a.errno;
}

/** True when the answer is a failure with exactly this errno. */
export function isErrno(a: Answer, errno: string): boolean {
  return !a.ok && a.errno === errno;
}

/** How a child process that wrote through a shared mapping ended. */
export type TouchOutcome = 'ok' | 'SIGBUS' | 'SIGSEGV' | `error: ${string}`;

/** memfd/file operations the UPM v7 and restrictedmem probes need. */
export interface FileOps {
  /** memfd_create("probe", flags): value = fd. */ memfdCreate(flags: number): Answer;
  /** close(fd) (never fails visibly; closing twice is harmless). */ close(fd: number): void;
  /** ftruncate(fd, size). */ ftruncate(fd: number, size: number): Answer;
  /** fallocate(fd, mode, offset, len). */ fallocate(fd: number, mode: number, offset: number, len: number): Answer;
  /** pwrite of one byte at offset: value = bytes written. */ pwriteByte(
    fd: number,
    offset: number,
    byte: number,
  ): Answer;
  /** read(fd, len) at the file position: value = bytes read. */ read(fd: number, len: number): Answer;
  /** write(fd, len bytes) at the file position: value = bytes written. */ write(fd: number, len: number): Answer;
  /** mmap(len, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0), unmapped again at once: value 0. */ mmapShared(
    fd: number,
    len: number,
  ): Answer;
  /** A child process maps fd shared and writes one byte at offset; how the child ended. */ writeSharedInChild(
    fd: number,
    offset: number,
  ): TouchOutcome;
  /** fcntl(F_ADD_SEALS). */ addSeals(fd: number, seals: number): Answer;
  /** fcntl(F_GET_SEALS): value = seal mask. */ getSeals(fd: number): Answer;
  /** fchmod(fd, mode). */ fchmod(fd: number, mode: number): Answer;
  /** fstat(fd).st_mode & 0o7777 (permission bits), or -1 if fstat failed. */ permBits(fd: number): number;
}

/** Raw system calls by the numbers the restrictedmem series used (x86_64). */
export interface SyscallOps {
  /**
   * Raw syscall 451 as memfd_restricted(flags, mountFd): syscall(451, flags, mountFd, 0, 0). On mainline 451 is
   * cachestat(fd = flags, cstat_range = mountFd as a pointer, cstat = NULL, flags = 0). value = fd.
   */
  memfdRestricted(flags: number, mountFd: number): Answer;
  /** cachestat(fd, {off 0, len 0}, &cs, 0) by syscall 451 with valid buffers: value = cs.nr_cache. */
  cachestat(fd: number): Answer;
  /** Raw syscall 452 as memfd_restricted_bind(fd, &{offset, len}, mode, NULL, 0, 0). */
  restrictedBind(fd: number, offset: number, len: number, mode: number): Answer;
  /**
   * Raw syscall 452 as fchmodat2(AT_FDCWD, <a fresh temporary file of mode 0644>, mode, 0); the file is
   * removed afterwards. value = the file's permission bits after the call.
   */
  fchmodat2TempFile(mode: number): Answer;
  /** A detached tmpfs mount (fsopen/fsconfig/fsmount): value = the mount fd. */
  tmpfsMountFd(): Answer;
}

/** KVM operations the memslot, link and migration probes need. */
export interface KvmOps {
  /** True when /dev/kvm can be opened. */ kvmAvailable(): boolean;
  /** KVM_CHECK_EXTENSION on /dev/kvm (0 when refused). */ sysCap(cap: number): number;
  /** KVM_CHECK_EXTENSION on a VM fd (0 when refused). */ vmCap(vm: number, cap: number): number;
  /** The VM types KVM_CAP_VM_TYPES lists ([0] without the cap). */ vmTypes(): number[];
  /** KVM_CREATE_VM(type): value = VM fd. */ createVm(type: number): Answer;
  /** KVM_CREATE_VCPU(id) without mapping kvm_run: value = vCPU fd. */ createVcpu(vm: number, id: number): Answer;
  /** KVM_CREATE_GUEST_MEMFD(size, flags) on a VM: value = guest_memfd fd. */ createGmem(
    vm: number,
    size: number,
    flags: number,
  ): Answer;
  /** st_ino of an fd as a decimal string ('' if fstat failed). */ inode(fd: number): string;
  /**
   * The link request struct kvm_link_guest_memfd { u64 fd; u64 flags; u64 reserved[6]; } sent on a VM fd with
   * _IOWR(KVMIO, nr, 64) — nr 0xd5 (RFC v1) or 0xd6 (RFC v2). value = the new fd.
   */
  vmIoctlLink(vm: number, nr: 0xd5 | 0xd6, fd: number, flags: number): Answer;
  /** KVM_PRE_FAULT_MEMORY (_IOWR(KVMIO, 0xd5, 64)) on a vCPU fd with { gpa, size, flags }. */
  vcpuPreFault(vcpu: number, gpa: number, size: number, flags: number): Answer;
  /**
   * KVM_SET_USER_MEMORY_REGION (the v1 ioctl number) with flags KVM_MEM_PRIVATE (1 << 2) and the UPM v7 extension
   * { private_offset, private_fd } after the 32-byte region: the kernel reads the extension only if it implements v7.
   */
  setMemslotV1Private(
    vm: number,
    slot: number,
    gpa: number,
    size: number,
    privateFd: number,
    privateOffset: number,
  ): Answer;
  /** KVM_SET_USER_MEMORY_REGION2 with KVM_MEM_GUEST_MEMFD bound to a guest_memfd. */
  setMemslotV2Gmem(vm: number, slot: number, gpa: number, size: number, gmemFd: number): Answer;
  /** KVM_ENABLE_CAP(KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM, args[0] = source) on dst. */
  moveEncContext(dstVm: number, sourceFd: number): Answer;
}

/** Everything a proposal probe may ask the kernel; each probe takes only the slice it uses (a Pick). */
export interface ProbeKernel extends FileOps, SyscallOps, KvmOps {}
