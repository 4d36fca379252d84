/** Kvm: the /dev/kvm system fd — API version, capability queries, VM creation. */
import { existsSync } from 'node:fs';
import * as libc from '../ffi/libc.js';
import {
  O_RDWR,
  O_CLOEXEC,
  KVM_GET_API_VERSION,
  KVM_CHECK_EXTENSION,
  KVM_GET_VCPU_MMAP_SIZE,
  KVM_CREATE_VM,
  KVM_CAP_VM_TYPES,
  ERRNO,
} from '../uapi/index.js';
import { check } from '../sys/errors.js';
import { __ioctlVal, ioctlVal } from './ioctl.js';
import { Vm } from './vm.js';

/** EINTR, which KVM_CREATE_VM can return when a signal arrives during VM setup. */
const EINTR = ERRNO.EINTR as number;
/** Attempts of a checked KVM_CREATE_VM that keeps returning EINTR before its error is thrown. */
const CREATE_VM_EINTR_RETRIES = 5;

/** Path of the KVM device. */
export const KVM_DEVICE = '/dev/kvm';

/** An open /dev/kvm fd. */
export class Kvm {
  /** The system fd. */
  readonly fd: number;
  private closed = false;
  private constructor(fd: number) {
    this.fd = fd;
  }
  /** True if /dev/kvm exists on this machine. */
  static available(): boolean {
    return existsSync(KVM_DEVICE);
  }
  /** Raw open of /dev/kvm. */
  static __open(): libc.Raw {
    return libc.open(KVM_DEVICE, O_RDWR | O_CLOEXEC, 0);
  }
  /** Wraps an already-open /dev/kvm fd. */
  static adopt(fd: number): Kvm {
    return new Kvm(fd);
  }
  /** Checked open of /dev/kvm. */
  static open(): Kvm {
    return new Kvm(check('open', Kvm.__open(), KVM_DEVICE));
  }
  /** Raw KVM_GET_API_VERSION: ENOTTY when the device is not KVM (e.g. /dev/null bound over /dev/kvm). */
  __apiVersion(): libc.Raw {
    return __ioctlVal(this.fd, KVM_GET_API_VERSION, 0);
  }
  /** KVM_GET_API_VERSION (12 on every kernel since 2.6.22). */
  apiVersion(): number {
    return ioctlVal(this.fd, 'KVM_GET_API_VERSION', KVM_GET_API_VERSION);
  }
  /** Raw KVM_CHECK_EXTENSION on the system fd. */
  __checkExtension(cap: number): libc.Raw {
    return __ioctlVal(this.fd, KVM_CHECK_EXTENSION, cap);
  }
  /** KVM_CHECK_EXTENSION on the system fd; 0 when unsupported (or refused). */
  checkExtension(cap: number): number {
    const r = this.__checkExtension(cap);
    return r.ret < 0 ? 0 : r.ret;
  }
  /** KVM_GET_VCPU_MMAP_SIZE: bytes to mmap for struct kvm_run. */
  vcpuMmapSize(): number {
    return ioctlVal(this.fd, 'KVM_GET_VCPU_MMAP_SIZE', KVM_GET_VCPU_MMAP_SIZE);
  }
  /** VM types this kernel supports: bit i of KVM_CAP_VM_TYPES, or [0] when the cap is absent. */
  vmTypes(): number[] {
    const mask = this.checkExtension(KVM_CAP_VM_TYPES);
    if (mask === 0) return [0];
    const out: number[] = [];
    for (let i = 0; i < 31; i++) if (mask & (1 << i)) out.push(i);
    return out;
  }
  /** Raw KVM_CREATE_VM of a type. */
  __createVm(type = 0): libc.Raw {
    return __ioctlVal(this.fd, KVM_CREATE_VM, type);
  }
  /**
   * Checked KVM_CREATE_VM: a Vm the caller must close. EINTR (a signal arrived while the kernel set the VM up,
   * seen under kvm_pvm with SIGPROF or a periodic timer) is retried a few times, as a caller outside a case would;
   * a case that judges KVM_CREATE_VM itself uses the raw __createVm.
   */
  createVm(type = 0): Vm {
    let r = this.__createVm(type);
    for (let attempt = 1; attempt < CREATE_VM_EINTR_RETRIES && r.ret === -1 && r.errno === EINTR; attempt++)
      r = this.__createVm(type);
    const fd = check('KVM_CREATE_VM', r, `type ${type}`);
    return new Vm(this, fd, type);
  }
  /** Closes the system fd (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    check('close', libc.close(this.fd));
  }
}
