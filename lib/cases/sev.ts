/** SEV/SEV-ES VM setup for the intra-host migration cases (after tools/testing/selftests/kvm/lib/x86/sev.c). */
import * as libc from '../ffi/libc.js';
import {
  KVM_MEMORY_ENCRYPT_OP,
  KVM_SEV_ES_INIT,
  KVM_SEV_INIT,
  KVM_SEV_LAUNCH_START,
  KVM_SEV_LAUNCH_UPDATE_VMSA,
  O_CLOEXEC,
  O_RDWR,
} from '../uapi/index.js';
import { check } from '../sys/errors.js';
import { getField, pack } from '../uapi/struct.js';
import type { CaseContext } from '../harness/context.js';
import type { Vm } from '../kvm/vm.js';

/** The SEV firmware device KVM_SEV_* commands name in sev_fd. */
export const SEV_DEVICE = '/dev/sev';
/** Guest policy bit requiring SEV-ES (SEV API spec; selftests' SEV_POLICY_ES). */
export const SEV_POLICY_ES = 1 << 2;
/** vCPUs per SEV VM, as sev_migrate_tests.c uses (NR_MIGRATE_TEST_VCPUS). */
export const NR_MIGRATE_VCPUS = 4;

/** Result of a KVM_MEMORY_ENCRYPT_OP: the ioctl's status plus the firmware error the kernel wrote back. */
export interface SevResult extends libc.Raw {
  /** kvm_sev_cmd.error (a SEV firmware status code). */ fwError: number;
}

/** Raw KVM_MEMORY_ENCRYPT_OP with a struct kvm_sev_cmd (its _IOC_SIZE is that of a pointer, so no size check applies). */
export function __sevCommand(vm: Vm, id: number, data: Buffer | null, sevFd: number): SevResult {
  const cmd = pack('kvm_sev_cmd', { id, data: data ? libc.addressOf(data) : 0n, sev_fd: sevFd >>> 0 });
  const r = libc.ioctlPtr(vm.fd, KVM_MEMORY_ENCRYPT_OP, cmd);
  return { ...r, fwError: Number(getField('kvm_sev_cmd', cmd, 'error')) };
}

/** Checked KVM_MEMORY_ENCRYPT_OP: names the command and the firmware error when it fails. */
export function sevCommand(vm: Vm, id: number, data: Buffer | null, sevFd: number, name: string): void {
  const r = __sevCommand(vm, id, data, sevFd);
  check(`KVM_MEMORY_ENCRYPT_OP(${name})`, r, `firmware error ${r.fwError}`);
}

/** The /dev/sev fd of the case (opened once, closed after the case). */
export function sevFd(ctx: CaseContext<unknown>): number {
  return ctx.trackFd(check('open', libc.open(SEV_DEVICE, O_RDWR | O_CLOEXEC, 0), SEV_DEVICE));
}

/** How far sevVm takes the guest. */
export interface SevVmOptions {
  /** SEV-ES instead of SEV. */ es: boolean;
  /** vCPUs to create after INIT (default NR_MIGRATE_VCPUS). */ vcpus?: number;
  /** Run LAUNCH_START (and for SEV-ES LAUNCH_UPDATE_VMSA); default true. */ launch?: boolean;
}

/**
 * A type-0 VM turned into an SEV (KVM_SEV_INIT) or SEV-ES (KVM_SEV_ES_INIT) guest with vCPUs, launched
 * (LAUNCH_START with policy 0 or SEV_POLICY_ES, then LAUNCH_UPDATE_VMSA for SEV-ES) — sev_vm_create() of
 * sev_migrate_tests.c. Everything is closed after the case.
 */
export function sevVm(ctx: CaseContext<unknown>, fd: number, opts: SevVmOptions): Vm {
  const vm = ctx.vm(0);
  sevCommand(vm, opts.es ? KVM_SEV_ES_INIT : KVM_SEV_INIT, null, fd, opts.es ? 'KVM_SEV_ES_INIT' : 'KVM_SEV_INIT');
  for (let i = 0; i < (opts.vcpus ?? NR_MIGRATE_VCPUS); i++) ctx.track(vm.createVcpu(i));
  if (opts.launch === false) return vm;
  const start = pack('kvm_sev_launch_start', { policy: opts.es ? SEV_POLICY_ES : 0 });
  sevCommand(vm, KVM_SEV_LAUNCH_START, start, fd, 'KVM_SEV_LAUNCH_START');
  if (opts.es) sevCommand(vm, KVM_SEV_LAUNCH_UPDATE_VMSA, null, fd, 'KVM_SEV_LAUNCH_UPDATE_VMSA');
  return vm;
}

/** A plain type-0 VM with n vCPUs (aux_vm_create of sev_migrate_tests.c), closed after the case. */
export function auxVm(ctx: CaseContext<unknown>, vcpus: number): Vm {
  const vm = ctx.vm(0);
  for (let i = 0; i < vcpus; i++) ctx.track(vm.createVcpu(i));
  return vm;
}
