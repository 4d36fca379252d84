/**
 * Shared pieces of the coco.* cases: the x86 VM types with the per-type properties mainline gives them
 * (arch/x86/kvm/x86.c kvm_arch_init_vm, svm/svm.c svm_vm_init, vmx/tdx.c tdx_vm_init), type variants, and a
 * raw KVM_SEV_INIT2 for the SEV migration cases.
 */
import type { Variant } from '../harness/case.js';
import type { Vm } from '../kvm/vm.js';
import type { VmTypeName } from '../uapi/index.js';
import * as libc from '../ffi/libc.js';
import {
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  KVM_GET_DEVICE_ATTR,
  KVM_MEMORY_ENCRYPT_OP,
  KVM_SEV_INIT2,
  KVM_X86_GRP_SEV,
  KVM_X86_SEV_VMSA_FEATURES,
} from '../uapi/index.js';

/** Mainline properties of one x86 VM type. */
export interface VmTypeInfo {
  /** Variant name (lower case). */ variant: string;
  /** The KVM_X86_*_VM constant name (a requires.vmType value). */ name: VmTypeName;
  /** Its value. */ value: number;
  /** kvm->arch.has_private_mem: KVM_MEMORY_ATTRIBUTE_PRIVATE is supported and guest_memfd cannot be INIT_SHARED. */ privateMem: boolean;
  /** kvm->arch.has_protected_state: register state is encrypted, read-only memslots are refused. */ protectedState: boolean;
  /** kvm->arch.pre_fault_allowed at creation (SNP and TDX only after launch finalisation). */ preFaultAtCreate: boolean;
}

/** Every x86 VM type mainline defines, with the properties it is created with. */
export const X86_VM_TYPES: readonly VmTypeInfo[] = [
  {
    variant: 'default',
    name: 'KVM_X86_DEFAULT_VM',
    value: 0,
    privateMem: false,
    protectedState: false,
    preFaultAtCreate: true,
  },
  {
    variant: 'sw_protected',
    name: 'KVM_X86_SW_PROTECTED_VM',
    value: 1,
    privateMem: true,
    protectedState: false,
    preFaultAtCreate: true,
  },
  {
    variant: 'sev',
    name: 'KVM_X86_SEV_VM',
    value: 2,
    privateMem: false,
    protectedState: false,
    preFaultAtCreate: true,
  },
  {
    variant: 'sev_es',
    name: 'KVM_X86_SEV_ES_VM',
    value: 3,
    privateMem: false,
    protectedState: true,
    preFaultAtCreate: true,
  },
  { variant: 'snp', name: 'KVM_X86_SNP_VM', value: 4, privateMem: true, protectedState: true, preFaultAtCreate: false },
  { variant: 'tdx', name: 'KVM_X86_TDX_VM', value: 5, privateMem: true, protectedState: true, preFaultAtCreate: false },
];

/** Parameters of a per-VM-type variant. */
export interface VmTypeParams {
  /** The type and its mainline properties. */ type: VmTypeInfo;
}

/** One variant per VM type (optionally filtered); all but the default type require KVM_CAP_VM_TYPES to list it. */
export function vmTypeVariants(filter: (t: VmTypeInfo) => boolean = () => true): Variant<VmTypeParams>[] {
  return X86_VM_TYPES.filter(filter).map((t) => ({
    name: t.variant,
    params: { type: t },
    ...(t.value === 0 ? {} : { requires: { vmType: t.name } }),
  }));
}

/** The guest_memfd flags mainline 6.18 lets a VM of this type use: INIT_SHARED only without private memory. */
export function expectedGmemFlags(t: VmTypeInfo): number {
  return GUEST_MEMFD_FLAG_MMAP | (t.privateMem ? 0 : GUEST_MEMFD_FLAG_INIT_SHARED);
}

/** Path of the AMD secure processor device KVM_SEV_INIT2 needs an fd of. */
export const SEV_DEVICE = '/dev/sev';

/** Raw result of an SEV command: the ioctl status plus the firmware error code the kernel wrote back. */
export interface SevResult extends libc.Raw {
  /** kvm_sev_cmd.error (SEV firmware status), 0 when the firmware was not reached or succeeded. */ fwError: number;
}

/**
 * Raw KVM_MEMORY_ENCRYPT_OP(KVM_SEV_INIT2) with a zeroed struct kvm_sev_init (default VMSA features and GHCB
 * version). KVM_MEMORY_ENCRYPT_OP is declared _IOWR(..., unsigned long) but takes a struct kvm_sev_cmd
 * { u32 id; u32 pad0; u64 data; u32 error; u32 sev_fd; } (24 bytes), so the _IOC_SIZE check does not apply.
 */
export function __sevInit2(vm: Vm, sevFd: number, fields: { vmsaFeatures?: bigint; flags?: number } = {}): SevResult {
  const init = Buffer.alloc(48); // struct kvm_sev_init { u64 vmsa_features; u32 flags; u16 ghcb_version; u16 pad1; u32 pad2[8]; }
  init.writeBigUInt64LE(fields.vmsaFeatures ?? 0n, 0);
  init.writeUInt32LE((fields.flags ?? 0) >>> 0, 8);
  const cmd = Buffer.alloc(24);
  cmd.writeUInt32LE(KVM_SEV_INIT2, 0);
  cmd.writeBigUInt64LE(libc.addressOf(init), 8);
  cmd.writeUInt32LE(sevFd, 20);
  const r = libc.ioctlPtr(vm.fd, KVM_MEMORY_ENCRYPT_OP, cmd);
  return { ...r, fwError: cmd.readUInt32LE(16) };
}

/** Raw KVM_GET_DEVICE_ATTR(KVM_X86_GRP_SEV, KVM_X86_SEV_VMSA_FEATURES) on /dev/kvm: the VMSA features KVM supports. */
export function __sevVmsaFeatures(kvmFd: number): libc.Raw & { value: bigint } {
  const value = Buffer.alloc(8);
  const attr = Buffer.alloc(24); // struct kvm_device_attr { u32 flags; u32 group; u64 attr; u64 addr; }
  attr.writeUInt32LE(KVM_X86_GRP_SEV, 4);
  attr.writeBigUInt64LE(BigInt(KVM_X86_SEV_VMSA_FEATURES), 8);
  attr.writeBigUInt64LE(libc.addressOf(value), 16);
  const r = libc.ioctlPtr(kvmFd, KVM_GET_DEVICE_ATTR, attr);
  return { ...r, value: value.readBigUInt64LE(0) };
}
