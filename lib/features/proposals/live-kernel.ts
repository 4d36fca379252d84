// The live ProbeKernel: every answer comes from a real syscall or ioctl on the running kernel. It remembers every fd it
// creates so release() can close what a probe left open (the harness reports leaked fds as errors).
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { PAGE_SIZE } from '../../arch.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as libc from '../../ffi/libc.js';
import {
  errnoName,
  AT_FDCWD,
  O_RDWR,
  O_CLOEXEC,
  PROT_READ,
  PROT_WRITE,
  MAP_SHARED,
  SYSCALL,
  F_ADD_SEALS,
  F_GET_SEALS,
  KVM_CHECK_EXTENSION,
  KVM_CREATE_VM,
  KVM_CREATE_VCPU,
  KVM_CREATE_GUEST_MEMFD,
  KVM_PRE_FAULT_MEMORY,
  KVM_SET_USER_MEMORY_REGION,
  KVM_SET_USER_MEMORY_REGION2,
  KVM_ENABLE_CAP,
  KVM_MEM_GUEST_MEMFD,
  KVM_CAP_VM_TYPES,
  KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM,
} from '../../uapi/index.js';
import { PROPOSAL_ABI, PROPOSAL_STRUCTS } from '../../uapi/proposals.js';
import { pack } from '../../uapi/struct.js';
import { __fstat } from '../../sys/fd.js';
import { writeThroughSharedMapping } from '../../harness/probe-program.js';
import { fail, ok, type Answer, type ProbeKernel, type TouchOutcome } from './kernel.js';

const PAGE = PAGE_SIZE;
/** <linux/mount.h>: fsopen/fsmount flags and the fsconfig command that creates the superblock. */
const FSOPEN_CLOEXEC = 0x1;
const FSMOUNT_CLOEXEC = 0x1;
const FSCONFIG_CMD_CREATE = 6;
/** struct cachestat { u64 nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted; } and its range. */
const CACHESTAT_SIZE = 40;
const CACHESTAT_RANGE_SIZE = 16;

function answer(r: libc.Raw | libc.RawBig): Answer {
  const failed = r.ret === -1 || r.ret === -1n;
  return failed ? fail(errnoName(r.errno)) : ok(Number(r.ret));
}

/** ProbeKernel over the real kernel; call release() when done to close anything still open. */
export class LiveKernel implements ProbeKernel {
  private readonly open = new Set<number>();
  private kvmFd: number | null | undefined;

  private track(a: Answer): Answer {
    if (a.ok) this.open.add(a.value);
    return a;
  }

  private kvm(): number | null {
    if (this.kvmFd === undefined) {
      const r = libc.open('/dev/kvm', O_RDWR | O_CLOEXEC, 0);
      this.kvmFd = r.ret >= 0 ? r.ret : null;
    }
    return this.kvmFd;
  }

  /** Closes every fd this adapter created and did not close yet, and its /dev/kvm fd. */
  release(): void {
    for (const fd of [...this.open].reverse()) libc.close(fd);
    this.open.clear();
    if (typeof this.kvmFd === 'number') libc.close(this.kvmFd);
    this.kvmFd = undefined;
  }

  memfdCreate(flags: number): Answer {
    return this.track(answer(libc.memfdCreate('gmem-conformance-probe', flags)));
  }
  close(fd: number): void {
    if (this.open.delete(fd)) libc.close(fd);
  }
  ftruncate(fd: number, size: number): Answer {
    return answer(libc.ftruncate(fd, size));
  }
  fallocate(fd: number, mode: number, offset: number, len: number): Answer {
    return answer(libc.fallocate(fd, mode, offset, len));
  }
  pwriteByte(fd: number, offset: number, byte: number): Answer {
    return answer(libc.pwrite(fd, Buffer.from([byte]), 1, offset));
  }
  read(fd: number, len: number): Answer {
    return answer(libc.read(fd, Buffer.alloc(len), len));
  }
  write(fd: number, len: number): Answer {
    return answer(libc.write(fd, Buffer.alloc(len), len));
  }
  mmapShared(fd: number, len: number): Answer {
    const r = libc.mmap(0, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (r.ret === -1n) return fail(errnoName(r.errno));
    libc.munmap(r.ret, len);
    return ok(0);
  }
  writeSharedInChild(fd: number, offset: number): TouchOutcome {
    return writeThroughSharedMapping(fd, offset + PAGE, offset, 0x5a) as TouchOutcome;
  }
  addSeals(fd: number, seals: number): Answer {
    return answer(libc.fcntl(fd, F_ADD_SEALS, seals));
  }
  getSeals(fd: number): Answer {
    return answer(libc.fcntl(fd, F_GET_SEALS, 0));
  }
  fchmod(fd: number, mode: number): Answer {
    return answer(libc.syscall(SYSCALL.fchmod, fd, mode));
  }
  permBits(fd: number): number {
    const r = __fstat(fd);
    return r.stat ? r.stat.mode & 0o7777 : -1;
  }

  memfdRestricted(flags: number, mountFd: number): Answer {
    return this.track(answer(libc.syscall(PROPOSAL_ABI.memfd_restricted.value, flags, mountFd, 0, 0)));
  }
  cachestat(fd: number): Answer {
    const range = Buffer.alloc(CACHESTAT_RANGE_SIZE);
    const cs = Buffer.alloc(CACHESTAT_SIZE);
    const r = answer(libc.syscall(SYSCALL.cachestat, fd, range, cs, 0));
    return r.ok ? ok(Number(cs.readBigUInt64LE(0))) : r;
  }
  restrictedBind(fd: number, offset: number, len: number, mode: number): Answer {
    const range = Buffer.alloc(PROPOSAL_STRUCTS.file_range.size);
    range.writeBigInt64LE(BigInt(offset), PROPOSAL_STRUCTS.file_range.fields.offset.offset);
    range.writeBigUInt64LE(BigInt(len), PROPOSAL_STRUCTS.file_range.fields.len.offset);
    return answer(libc.syscall(PROPOSAL_ABI.memfd_restricted_bind.value, fd, range, mode, null, 0, 0));
  }
  fchmodat2TempFile(mode: number): Answer {
    const dir = mkdtempSync(join(tmpdir(), 'gmem-probe-'));
    const path = join(dir, 'f');
    try {
      writeFileSync(path, '');
      chmodSync(path, 0o644);
      const r = answer(libc.syscall(SYSCALL.fchmodat2, AT_FDCWD, path, mode, 0));
      return r.ok ? ok(statSync(path).mode & 0o7777) : r;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  tmpfsMountFd(): Answer {
    const fs = answer(libc.syscall(SYSCALL.fsopen, 'tmpfs', FSOPEN_CLOEXEC));
    if (!fs.ok) return fs;
    try {
      const created = answer(libc.syscall(SYSCALL.fsconfig, fs.value, FSCONFIG_CMD_CREATE, null, null, 0));
      if (!created.ok) return created;
      return this.track(answer(libc.syscall(SYSCALL.fsmount, fs.value, FSMOUNT_CLOEXEC, 0)));
    } finally {
      libc.close(fs.value);
    }
  }

  kvmAvailable(): boolean {
    return this.kvm() !== null;
  }
  sysCap(cap: number): number {
    const fd = this.kvm();
    if (fd === null) return 0;
    const r = libc.ioctlVal(fd, KVM_CHECK_EXTENSION, cap);
    return r.ret < 0 ? 0 : r.ret;
  }
  vmCap(vm: number, cap: number): number {
    const r = libc.ioctlVal(vm, KVM_CHECK_EXTENSION, cap);
    return r.ret < 0 ? 0 : r.ret;
  }
  vmTypes(): number[] {
    const mask = this.sysCap(KVM_CAP_VM_TYPES);
    if (mask === 0) return [0];
    return Array.from({ length: 31 }, (_x, i) => i).filter((i) => (mask & (1 << i)) !== 0);
  }
  createVm(type: number): Answer {
    const fd = this.kvm();
    if (fd === null) return fail('ENODEV');
    return this.track(answer(libc.ioctlVal(fd, KVM_CREATE_VM, type)));
  }
  createVcpu(vm: number, id: number): Answer {
    return this.track(answer(libc.ioctlVal(vm, KVM_CREATE_VCPU, id)));
  }
  createGmem(vm: number, size: number, flags: number): Answer {
    const arg = pack('kvm_create_guest_memfd', { size: BigInt(size), flags: BigInt(flags) });
    return this.track(answer(libc.ioctlPtr(vm, KVM_CREATE_GUEST_MEMFD, arg)));
  }
  inode(fd: number): string {
    const r = __fstat(fd);
    return r.stat ? r.stat.ino.toString() : '';
  }
  vmIoctlLink(vm: number, nr: 0xd5 | 0xd6, fd: number, flags: number): Answer {
    const request =
      nr === 0xd5 ? PROPOSAL_ABI.KVM_LINK_GUEST_MEMFD_V1.value : PROPOSAL_ABI.KVM_LINK_GUEST_MEMFD_V2.value;
    const s = PROPOSAL_STRUCTS.kvm_link_guest_memfd;
    const arg = Buffer.alloc(s.size);
    arg.writeBigUInt64LE(BigInt(fd), s.fields.fd.offset);
    arg.writeBigUInt64LE(BigInt(flags), s.fields.flags.offset);
    return this.track(answer(libc.ioctlPtr(vm, request, arg)));
  }
  vcpuPreFault(vcpu: number, gpa: number, size: number, flags: number): Answer {
    const arg = pack('kvm_pre_fault_memory', { gpa: BigInt(gpa), size: BigInt(size), flags: BigInt(flags) });
    return answer(libc.ioctlPtr(vcpu, KVM_PRE_FAULT_MEMORY, arg));
  }
  setMemslotV1Private(
    vm: number,
    slot: number,
    gpa: number,
    size: number,
    privateFd: number,
    privateOffset: number,
  ): Answer {
    const s = PROPOSAL_STRUCTS.kvm_userspace_memory_region_ext;
    const arg = Buffer.alloc(s.size);
    arg.writeUInt32LE(slot, s.fields['region.slot'].offset);
    arg.writeUInt32LE(PROPOSAL_ABI.KVM_MEM_PRIVATE.value, s.fields['region.flags'].offset);
    arg.writeBigUInt64LE(BigInt(gpa), s.fields['region.guest_phys_addr'].offset);
    arg.writeBigUInt64LE(BigInt(size), s.fields['region.memory_size'].offset);
    arg.writeBigUInt64LE(BigInt(privateOffset), s.fields.private_offset.offset);
    arg.writeUInt32LE(privateFd, s.fields.private_fd.offset);
    // The ioctl number encodes the 32-byte v1 region; v7 copies the extension behind it, mainline never reads it.
    return answer(libc.ioctlPtr(vm, KVM_SET_USER_MEMORY_REGION, arg));
  }
  setMemslotV2Gmem(vm: number, slot: number, gpa: number, size: number, gmemFd: number): Answer {
    const arg = pack('kvm_userspace_memory_region2', {
      slot,
      flags: KVM_MEM_GUEST_MEMFD,
      guest_phys_addr: BigInt(gpa),
      memory_size: BigInt(size),
      guest_memfd: gmemFd,
    });
    return answer(libc.ioctlPtr(vm, KVM_SET_USER_MEMORY_REGION2, arg));
  }
  moveEncContext(dstVm: number, sourceFd: number): Answer {
    const arg = pack('kvm_enable_cap', { cap: KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM, args: [BigInt(sourceFd)] });
    return answer(libc.ioctlPtr(dstVm, KVM_ENABLE_CAP, arg));
  }
}
