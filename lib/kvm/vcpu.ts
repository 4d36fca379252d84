/** Vcpu: a vCPU fd with its kvm_run mapping — registers, KVM_RUN, decoded exits, pre-fault. */
import * as libc from '../ffi/libc.js';
import {
  KVM_RUN,
  KVM_GET_REGS,
  KVM_SET_REGS,
  KVM_GET_SREGS,
  KVM_SET_SREGS,
  KVM_PRE_FAULT_MEMORY,
  PROT_READ,
  PROT_WRITE,
  MAP_SHARED,
  KVM_EXIT_IO,
  KVM_EXIT_MEMORY_FAULT,
  KVM_EXIT_MMIO,
  KVM_EXIT_HYPERCALL,
  KVM_EXIT_INTERNAL_ERROR,
} from '../uapi/index.js';
import { check } from '../sys/errors.js';
import { Mapping, mmap } from '../sys/mman.js';
import { __ioctlStruct, __ioctlVal, ioctlStruct } from './ioctl.js';
import { getField, layoutOf, pack, setField } from '../uapi/struct.js';
import type { Vm } from './vm.js';

/** A decoded KVM exit: the reason plus the fields relevant to it. */
export interface Exit {
  /** KVM_EXIT_* value. */ reason: number;
  /** For KVM_EXIT_IO: direction (1 = out), size, port, count and the data bytes. */
  io?: { direction: number; size: number; port: number; count: number; data: Buffer };
  /** For KVM_EXIT_MEMORY_FAULT: flags, gpa, size. */
  memoryFault?: { flags: bigint; gpa: bigint; size: bigint };
  /** For KVM_EXIT_MMIO: address, length, direction, data. */
  mmio?: { physAddr: bigint; len: number; isWrite: boolean; data: Buffer };
  /** For KVM_EXIT_HYPERCALL: the hypercall number, its six arguments, and flags (KVM_EXIT_HYPERCALL_LONG_MODE). */
  hypercall?: { nr: bigint; args: bigint[]; flags: bigint };
  /** For KVM_EXIT_INTERNAL_ERROR: the KVM_INTERNAL_ERROR_* suberror. */
  internal?: { suberror: number };
}

/** Result of KVM_PRE_FAULT_MEMORY: the raw status and the struct as the kernel left it. */
export interface PreFaultResult extends libc.Raw {
  /** gpa after the call (advanced by what was faulted in). */ gpa: bigint;
  /** size remaining after the call. */ size: bigint;
}

/** A vCPU. */
export class Vcpu {
  /** Owning VM. */ readonly vm: Vm;
  /** vCPU fd. */ readonly fd: number;
  /** vCPU id. */ readonly id: number;
  /** struct kvm_run mapping. */ readonly run: Mapping;
  private runBuf: Buffer;
  private closed = false;
  private constructor(vm: Vm, fd: number, id: number, run: Mapping) {
    this.vm = vm;
    this.fd = fd;
    this.id = id;
    this.run = run;
    this.runBuf = Buffer.from(run.bytes.buffer, run.bytes.byteOffset, run.length);
  }
  /** Wraps a vCPU fd, mapping its kvm_run (closes the fd if the mapping fails). */
  static attach(vm: Vm, fd: number, id: number): Vcpu {
    try {
      const size = vm.kvm.vcpuMmapSize();
      return new Vcpu(vm, fd, id, mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n));
    } catch (e) {
      libc.close(fd);
      throw e;
    }
  }
  /** KVM_GET_REGS as a buffer laid out as struct kvm_regs. */
  getRegs(): Buffer {
    const b = pack('kvm_regs');
    ioctlStruct(this.fd, 'KVM_GET_REGS', KVM_GET_REGS, b);
    return b;
  }
  /** KVM_SET_REGS from a struct kvm_regs buffer. */
  setRegs(b: Buffer): void {
    ioctlStruct(this.fd, 'KVM_SET_REGS', KVM_SET_REGS, b);
  }
  /** KVM_GET_SREGS as a buffer laid out as struct kvm_sregs. */
  getSregs(): Buffer {
    const b = pack('kvm_sregs');
    ioctlStruct(this.fd, 'KVM_GET_SREGS', KVM_GET_SREGS, b);
    return b;
  }
  /** KVM_SET_SREGS. */
  setSregs(b: Buffer): void {
    ioctlStruct(this.fd, 'KVM_SET_SREGS', KVM_SET_SREGS, b);
  }
  /** Puts the vCPU in flat real mode: CS base/selector 0 and RIP = entry, RFLAGS = 2, RSP = stack. */
  setupRealMode(entry: number, stack = 0): void {
    const s = this.getSregs();
    const segOff = layoutOf('kvm_sregs').fields.cs?.offset ?? 0;
    setField('kvm_segment', s, 'base', 0n, segOff);
    setField('kvm_segment', s, 'selector', 0, segOff);
    this.setSregs(s);
    const r = pack('kvm_regs', { rip: BigInt(entry), rflags: 2n, rsp: BigInt(stack) });
    this.setRegs(r);
  }
  /** Reads one field of struct kvm_regs (rax, rip, …). */
  reg(name: string): bigint {
    return getField('kvm_regs', this.getRegs(), name);
  }
  /** Raw KVM_RUN (lib/kvm/vcpu-run.ts steps a vCPU and checks its exits). */
  __run(): libc.Raw {
    return __ioctlVal(this.fd, KVM_RUN, 0);
  }
  /** Decodes the exit currently described by kvm_run. */
  exit(): Exit {
    const b = this.runBuf;
    const reason = Number(getField('kvm_run', b, 'exit_reason'));
    const e: Exit = { reason };
    if (reason === KVM_EXIT_IO) {
      const size = Number(getField('kvm_run', b, 'io.size'));
      const count = Number(getField('kvm_run', b, 'io.count'));
      const off = Number(getField('kvm_run', b, 'io.data_offset'));
      e.io = {
        direction: Number(getField('kvm_run', b, 'io.direction')),
        size,
        count,
        port: Number(getField('kvm_run', b, 'io.port')),
        data: Buffer.from(b.subarray(off, off + size * count)),
      };
    } else if (reason === KVM_EXIT_MEMORY_FAULT) {
      e.memoryFault = {
        flags: getField('kvm_run', b, 'memory_fault.flags'),
        gpa: getField('kvm_run', b, 'memory_fault.gpa'),
        size: getField('kvm_run', b, 'memory_fault.size'),
      };
    } else if (reason === KVM_EXIT_MMIO) {
      const off = layoutOf('kvm_run').fields['mmio.data']?.offset ?? 0;
      const len = Number(getField('kvm_run', b, 'mmio.len'));
      e.mmio = {
        physAddr: getField('kvm_run', b, 'mmio.phys_addr'),
        len,
        isWrite: getField('kvm_run', b, 'mmio.is_write') !== 0n,
        data: Buffer.from(b.subarray(off, off + len)),
      };
    } else if (reason === KVM_EXIT_INTERNAL_ERROR) {
      e.internal = { suberror: Number(getField('kvm_run', b, 'internal.suberror')) };
    } else if (reason === KVM_EXIT_HYPERCALL) {
      e.hypercall = {
        nr: getField('kvm_run', b, 'hypercall.nr'),
        args: Array.from({ length: 6 }, (_, i) => getField('kvm_run', b, 'hypercall.args', i)),
        flags: getField('kvm_run', b, 'hypercall.flags'),
      };
    }
    return e;
  }
  /** Sets kvm_run.hypercall.ret: what the guest's hypercall returns (in RAX) when KVM_RUN re-enters it. */
  setHypercallRet(ret: bigint): void {
    setField('kvm_run', this.runBuf, 'hypercall.ret', ret);
  }
  /** Raw KVM_PRE_FAULT_MEMORY; returns the struct's gpa/size as the kernel updated them. */
  __preFaultMemory(gpa: bigint, size: bigint, flags: bigint = 0n, padding: readonly bigint[] = []): PreFaultResult {
    const b = pack('kvm_pre_fault_memory', { gpa, size, flags, padding });
    const r = __ioctlStruct(this.fd, 'KVM_PRE_FAULT_MEMORY', KVM_PRE_FAULT_MEMORY, b);
    return { ...r, gpa: getField('kvm_pre_fault_memory', b, 'gpa'), size: getField('kvm_pre_fault_memory', b, 'size') };
  }
  /** Unmaps kvm_run and closes the fd (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.run.close();
    check('close', libc.close(this.fd), `vcpu fd ${this.fd}`);
  }
}
