/** Checks a case's requirements in a fixed order and returns the exact unmet one as a SKIP reason. */
import { existsSync } from 'node:fs';
import * as U from '../uapi/index.js';
import type { Requires } from './case.js';
import type { Env } from './env.js';
import { configEnabled } from '../kconfig.js';

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
    if (env.sysCap(cap) === 0) return `needs ${name} (${cap}): KVM_CHECK_EXTENSION on /dev/kvm returned 0`;
  }
  const type = vmTypeOf(req);
  if (req.vmType && !env.vmTypes.includes(type))
    return `needs VM type ${req.vmType} (${type}): KVM_CAP_VM_TYPES lists only [${env.vmTypes.join(', ')}]`;
  for (const name of req.vmCaps ?? []) {
    const cap = U.KVM_CAPS[name];
    if (env.vmCap(cap, type) === 0)
      return `needs ${name} (${cap}) on a type-${type} VM: KVM_CHECK_EXTENSION on the VM fd returned 0`;
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
