/** Checks a case's requirements in a fixed order and returns the exact unmet one as a SKIP reason. */
import { existsSync } from 'node:fs';
import * as U from '../uapi/index.js';
import type { Requires } from './case.js';
import type { Env } from './env.js';
import { configEnabled } from '../kconfig.js';
import { inRange } from '../fixtures/version-range.js';

const GiB = 1n << 30n;
const MiB = 1n << 20n;

/** Formats a byte count in binary units for messages. */
export function formatBytes(n: bigint): string {
  if (n >= GiB) return `${Number((n * 10n) / GiB) / 10} GiB`;
  if (n >= MiB) return `${Number((n * 10n) / MiB) / 10} MiB`;
  return `${n} B`;
}

/** Merges a case's and a variant's requirements (lists concatenate, scalars from the variant win). */
export function mergeRequires(a: Requires | undefined, b: Requires | undefined): Requires {
  if (!b) return a ?? {};
  if (!a) return b;
  const cat = <T>(x?: readonly T[], y?: readonly T[]) => (x || y ? [...(x ?? []), ...(y ?? [])] : undefined);
  const out: Requires = { ...a, ...b };
  const files = cat(a.files, b.files);
  if (files) out.files = files;
  const kconfig = cat(a.kconfig, b.kconfig);
  if (kconfig) out.kconfig = kconfig;
  const caps = cat(a.caps, b.caps);
  if (caps) out.caps = caps;
  const vmCaps = cat(a.vmCaps, b.vmCaps);
  if (vmCaps) out.vmCaps = vmCaps;
  const gmemFlags = cat(a.gmemFlags, b.gmemFlags);
  if (gmemFlags) out.gmemFlags = gmemFlags;
  return out;
}

/** The VM type a case's VMs use: its vmType requirement's value, else 0. */
export function vmTypeOf(req: Requires): number {
  return req.vmType ? U.VM_TYPES[req.vmType] : 0;
}

/** A config option the kernel must have for a capability or VM type to be non-zero, on the kernels of `kernel`. */
export interface ConfigGate {
  /** CONFIG_ name. */ option: string;
  /** Kernel versions where this option is the gate (a fixtures range), when not all. */ kernel?: string;
}

/**
 * Capabilities that KVM_CHECK_EXTENSION answers 0 without a config option, per the kernel source: a skip
 * for such a cap names the option when the running kernel's config was read and does not have it.
 * Read in Debian's linux-source-7.2 (7.2.13) and the commits named:
 * - KVM_CAP_GUEST_MEMFD, KVM_CAP_GUEST_MEMFD_FLAGS: `case`s of kvm_vm_ioctl_check_extension_generic()
 *   (virt/kvm/kvm_main.c) inside `#ifdef CONFIG_KVM_GUEST_MEMFD`; before 19a9a1ab5c3d ("KVM: Rename
 *   CONFIG_KVM_PRIVATE_MEM to CONFIG_KVM_GUEST_MEMFD", 6.18) the symbol was CONFIG_KVM_PRIVATE_MEM, and
 *   KVM_CAP_GUEST_MEMFD_FLAGS is new in 6.18.
 * - KVM_CAP_MEMORY_ATTRIBUTES: the same function, inside `#ifdef CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES`.
 * Not here: KVM_CAP_PRE_FAULT_MEMORY, although the ioctl is `#ifdef CONFIG_KVM_GENERIC_PRE_FAULT_MEMORY`:
 * x86 answers the cap with `tdp_enabled` in kvm_vm_ioctl_check_extension() without any #ifdef (and
 * KVM_X86 always selects the option; so does s390's KVM), so its 0 never comes from the config there
 * (this machine's kvm_pvm: CONFIG_KVM_GENERIC_PRE_FAULT_MEMORY=y, cap 0).
 */
export const CAP_CONFIG: Readonly<Partial<Record<U.KvmCapName, readonly ConfigGate[]>>> = {
  KVM_CAP_GUEST_MEMFD: [
    { option: 'CONFIG_KVM_GUEST_MEMFD', kernel: '>=6.18' },
    { option: 'CONFIG_KVM_PRIVATE_MEM', kernel: '<6.18' },
  ],
  KVM_CAP_GUEST_MEMFD_FLAGS: [{ option: 'CONFIG_KVM_GUEST_MEMFD', kernel: '>=6.18' }],
  KVM_CAP_MEMORY_ATTRIBUTES: [{ option: 'CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES' }],
};

/**
 * VM types KVM_CAP_VM_TYPES lists only with a config option: arch/x86/kvm/x86.c's
 * kvm_x86_vendor_init() adds KVM_X86_SW_PROTECTED_VM only `if (IS_ENABLED(CONFIG_KVM_SW_PROTECTED_VM) &&
 * tdp_mmu_enabled)` (7.2.13). The SEV/TDX types also depend on the vendor module and the hardware, so a
 * config fact alone would not explain their absence.
 */
export const VM_TYPE_CONFIG: Readonly<Partial<Record<U.VmTypeName, readonly ConfigGate[]>>> = {
  KVM_X86_SW_PROTECTED_VM: [{ option: 'CONFIG_KVM_SW_PROTECTED_VM' }],
};

/**
 * The config fact behind a 0 answer, as a parenthesis to append: " (CONFIG_X is not set in /proc/config.gz)"
 * when the kernel's config was read and the option this kernel version gates on is neither y nor m
 * (`=n` or absent alike: an unselected hidden bool is not even written as "is not set"); '' otherwise.
 */
export function configFact(gates: readonly ConfigGate[] | undefined, env: Env): string {
  if (!gates) return '';
  const cfg = env.kconfig;
  const source = env.kconfigSource;
  if (!cfg || !source) return '';
  const mine = gates.filter((g) => !g.kernel || inRange(env.kernel.parts, g.kernel));
  if (mine.length === 0 || gates.some((g) => configEnabled(cfg, g.option))) return '';
  return ` (${mine.map((g) => g.option).join(', ')} ${mine.length === 1 ? 'is' : 'are'} not set in ${source})`;
}

/** Returns null when every requirement holds, else the first unmet one as a sentence. */
export function unmetRequirement(req: Requires, env: Env): string | null {
  if (req.root && !env.root) return `needs root (running as uid ${process.getuid?.()})`;
  for (const f of req.files ?? []) if (!existsSync(f)) return `needs ${f}, which does not exist`;
  const needsKvm = req.kvm || req.caps || req.vmCaps || req.vmType || req.gmemFlags;
  if (needsKvm && !env.kvm) return `needs /dev/kvm: ${env.kvmUnavailableReason}`;
  if (req.kconfig?.length) {
    const cfg = env.kconfig;
    if (!cfg)
      return `needs ${req.kconfig.join(', ')} but the kernel config is unreadable (no /proc/config.gz, no matching GMEM_KERNEL_CONFIG in a suite guest, no /boot/config-${env.kernel.release})`;
    for (const k of req.kconfig) {
      const v = cfg.get(k);
      if (!configEnabled(cfg, k))
        return `needs ${k}=y or m (${v === undefined ? 'not set' : `${k}=${v}`} in the running kernel's config)`;
    }
  }
  for (const name of req.caps ?? []) {
    const cap = U.KVM_CAPS[name];
    if (env.sysCap(cap) === 0)
      return `needs ${name} (${cap}): KVM_CHECK_EXTENSION on /dev/kvm returned 0${configFact(CAP_CONFIG[name], env)}`;
  }
  const type = vmTypeOf(req);
  if (req.vmType && !env.vmTypes.includes(type))
    return `needs VM type ${req.vmType} (${type}): KVM_CAP_VM_TYPES lists only [${env.vmTypes.join(', ')}]${configFact(VM_TYPE_CONFIG[req.vmType], env)}`;
  for (const name of req.vmCaps ?? []) {
    const cap = U.KVM_CAPS[name];
    if (env.vmCap(cap, type) === 0)
      return `needs ${name} (${cap}) on a type-${type} VM: KVM_CHECK_EXTENSION on the VM fd returned 0${configFact(CAP_CONFIG[name], env)}`;
  }
  if (req.gmemFlags?.length) {
    const mask = env.vmCap(U.KVM_CAP_GUEST_MEMFD_FLAGS, type);
    for (const name of req.gmemFlags) {
      const bit = U.GUEST_MEMFD_FLAGS[name];
      if ((mask & bit) === 0)
        return `needs ${name} (0x${bit.toString(16)}): KVM_CAP_GUEST_MEMFD_FLAGS on a type-${type} VM is 0x${mask.toString(16)}`;
    }
  }
  if (req.memoryBytes !== undefined) {
    const avail = env.meminfo().get('MemAvailable') ?? 0n;
    if (req.memoryBytes > avail / 2n)
      return `needs ${formatBytes(req.memoryBytes)} of memory but MemAvailable is ${formatBytes(avail)} (a case may use at most half)`;
  }
  if (req.numaNodes !== undefined && env.numaNodes < req.numaNodes)
    return `needs ${req.numaNodes} online NUMA nodes, this machine has ${env.numaNodes}`;
  if (req.hostUnsafe && !env.inSuiteGuest && !env.allowHostUnsafe)
    return `refused on the host (${req.hostUnsafe}); runs inside a suite guest or with --allow-host-unsafe${process.env.GMEM_IN_GUEST === '1' ? ` (GMEM_IN_GUEST=1 is ignored: this kernel was not booted by the suite's QEMU runner)` : ''}`;
  return null;
}
