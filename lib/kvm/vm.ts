/** Vm: a VM fd — VM-level caps, guest_memfd creation, memslots (v1 and v2), attributes, enable-cap. */
import * as libc from '../ffi/libc.js';
import {
  KVM_CHECK_EXTENSION,
  KVM_CREATE_GUEST_MEMFD,
  KVM_SET_USER_MEMORY_REGION,
  KVM_SET_USER_MEMORY_REGION2,
  KVM_SET_MEMORY_ATTRIBUTES,
  KVM_ENABLE_CAP,
  KVM_CREATE_VCPU,
} from '../uapi/index.js';
import { check } from '../sys/errors.js';
import { __ioctlStruct, __ioctlVal } from './ioctl.js';
import { pack, type FieldValue } from '../uapi/struct.js';
import { GuestMemfd } from './guest-memfd.js';
import { Vcpu } from './vcpu.js';
import type { Kvm } from './kvm.js';

/** Fields of struct kvm_userspace_memory_region2 (v1 uses the first five). */
export interface MemslotSpec {
  /** Slot id (bits 16+ select the address space). */ slot: number;
  /** KVM_MEM_* flags. */ flags?: number;
  /** Guest physical address. */ gpa: bigint;
  /** Size in bytes (0 deletes the slot). */ size: bigint;
  /** Host virtual address backing the shared side. */ hva?: bigint;
  /** Offset into the guest_memfd. */ gmemOffset?: bigint;
  /** guest_memfd fd. */ gmemFd?: number;
  /** Raw override of pad1/pad2 for reserved-field cases. */ pad?: { pad1?: number; pad2?: readonly bigint[] };
}

/** A VM fd. */
export class Vm {
  /** The owning /dev/kvm handle. */
  readonly kvm: Kvm;
  /** The VM fd. */
  readonly fd: number;
  /** The VM type it was created with. */
  readonly type: number;
  private closed = false;
  constructor(kvm: Kvm, fd: number, type: number) {
    this.kvm = kvm;
    this.fd = fd;
    this.type = type;
  }
  /** Raw KVM_CHECK_EXTENSION on the VM fd (answers can differ from the system fd). */
  __checkExtension(cap: number): libc.Raw {
    return __ioctlVal(this.fd, KVM_CHECK_EXTENSION, cap);
  }
  /** KVM_CHECK_EXTENSION on the VM fd; 0 when unsupported or refused. */
  checkExtension(cap: number): number {
    const r = this.__checkExtension(cap);
    return r.ret < 0 ? 0 : r.ret;
  }
  /** Raw KVM_CREATE_GUEST_MEMFD; `extra` can set reserved[] for hygiene cases. */
  __createGuestMemfd(size: bigint, flags: bigint = 0n, extra: Record<string, FieldValue> = {}): libc.Raw {
    const arg = pack('kvm_create_guest_memfd', { size, flags, ...extra });
    return __ioctlStruct(this.fd, 'KVM_CREATE_GUEST_MEMFD', KVM_CREATE_GUEST_MEMFD, arg);
  }
  /** Checked KVM_CREATE_GUEST_MEMFD: a GuestMemfd the caller must close. */
  createGuestMemfd(size: bigint, flags: bigint = 0n): GuestMemfd {
    const fd = check(
      'KVM_CREATE_GUEST_MEMFD',
      this.__createGuestMemfd(size, flags),
      `size ${size} flags 0x${flags.toString(16)}`,
    );
    return new GuestMemfd(fd, size, flags);
  }
  /** Raw KVM_SET_USER_MEMORY_REGION (v1 struct; guest_memfd fields do not exist there). */
  __setUserMemoryRegion(s: MemslotSpec): libc.Raw {
    const arg = pack('kvm_userspace_memory_region', {
      slot: s.slot,
      flags: s.flags ?? 0,
      guest_phys_addr: s.gpa,
      memory_size: s.size,
      userspace_addr: s.hva ?? 0n,
    });
    return __ioctlStruct(this.fd, 'KVM_SET_USER_MEMORY_REGION', KVM_SET_USER_MEMORY_REGION, arg);
  }
  /** Checked KVM_SET_USER_MEMORY_REGION. */
  setUserMemoryRegion(s: MemslotSpec): void {
    check('KVM_SET_USER_MEMORY_REGION', this.__setUserMemoryRegion(s), `slot ${s.slot}`);
  }
  /** Raw KVM_SET_USER_MEMORY_REGION2. */
  __setUserMemoryRegion2(s: MemslotSpec): libc.Raw {
    const fields: Record<string, FieldValue> = {
      slot: s.slot,
      flags: s.flags ?? 0,
      guest_phys_addr: s.gpa,
      memory_size: s.size,
      userspace_addr: s.hva ?? 0n,
      guest_memfd_offset: s.gmemOffset ?? 0n,
      guest_memfd: s.gmemFd ?? 0,
    };
    if (s.pad?.pad1 !== undefined) fields.pad1 = s.pad.pad1;
    if (s.pad?.pad2 !== undefined) fields.pad2 = s.pad.pad2;
    const arg = pack('kvm_userspace_memory_region2', fields);
    return __ioctlStruct(this.fd, 'KVM_SET_USER_MEMORY_REGION2', KVM_SET_USER_MEMORY_REGION2, arg);
  }
  /** Checked KVM_SET_USER_MEMORY_REGION2. */
  setUserMemoryRegion2(s: MemslotSpec): void {
    check('KVM_SET_USER_MEMORY_REGION2', this.__setUserMemoryRegion2(s), `slot ${s.slot} gpa 0x${s.gpa.toString(16)}`);
  }
  /** Raw KVM_SET_MEMORY_ATTRIBUTES. */
  __setMemoryAttributes(address: bigint, size: bigint, attributes: bigint, flags: bigint = 0n): libc.Raw {
    const arg = pack('kvm_memory_attributes', { address, size, attributes, flags });
    return __ioctlStruct(this.fd, 'KVM_SET_MEMORY_ATTRIBUTES', KVM_SET_MEMORY_ATTRIBUTES, arg);
  }
  /** Checked KVM_SET_MEMORY_ATTRIBUTES. */
  setMemoryAttributes(address: bigint, size: bigint, attributes: bigint): void {
    check(
      'KVM_SET_MEMORY_ATTRIBUTES',
      this.__setMemoryAttributes(address, size, attributes),
      `gpa 0x${address.toString(16)} size 0x${size.toString(16)}`,
    );
  }
  /** Raw KVM_ENABLE_CAP on the VM fd. */
  __enableCap(cap: number, args: readonly bigint[] = [], flags = 0): libc.Raw {
    const arg = pack('kvm_enable_cap', { cap, flags, args });
    return __ioctlStruct(this.fd, 'KVM_ENABLE_CAP', KVM_ENABLE_CAP, arg);
  }
  /** Raw KVM_CREATE_VCPU. */
  __createVcpu(id = 0): libc.Raw {
    return __ioctlVal(this.fd, KVM_CREATE_VCPU, id);
  }
  /** Checked KVM_CREATE_VCPU with kvm_run mapped: a Vcpu the caller must close. */
  createVcpu(id = 0): Vcpu {
    const fd = check('KVM_CREATE_VCPU', this.__createVcpu(id), `id ${id}`);
    return Vcpu.attach(this, fd, id);
  }
  /** Closes the VM fd (idempotent); objects holding references keep the VM alive in the kernel. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    check('close', libc.close(this.fd), `VM fd ${this.fd}`);
  }
  /** True once closed. */
  get isClosed(): boolean {
    return this.closed;
  }
}
