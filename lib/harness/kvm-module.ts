/**
 * Which KVM vendor module serves /dev/kvm. /sys/module/<name> alone does not tell: with KVM built in,
 * kvm_intel and kvm_amd are both there (their parameters are), although only the one the CPU supports
 * initialised ("kvm_intel: VMX not supported by CPU 0"). A loadable module says so in initstate; a
 * built-in one initialised when the CPU has the feature its init requires, as the module checks it.
 */
import { existsSync, readFileSync } from 'node:fs';

/** The vendor modules in the order they are considered, with the CPU flag each one's init requires (none: PVM needs neither). */
export const KVM_VENDOR_MODULES: readonly { name: string; cpuFlag: string | null }[] = [
  { name: 'kvm_pvm', cpuFlag: null },
  { name: 'kvm_intel', cpuFlag: 'vmx' },
  { name: 'kvm_amd', cpuFlag: 'svm' },
  { name: 'kvm_arm', cpuFlag: null },
];

/** What the machine shows of one vendor module. */
export interface ModuleSighting {
  /** Module name. */ name: string;
  /** /sys/module/<name> exists. */ present: boolean;
  /** Content of /sys/module/<name>/initstate ("live", "coming", "going"), or null when there is none (built in). */ initstate:
    | string
    | null;
}

/** The facts the decision uses. */
export interface KvmModuleFacts {
  /** One sighting per KVM_VENDOR_MODULES entry. */ modules: ModuleSighting[];
  /** CPU flags from /proc/cpuinfo. */ cpuFlags: Set<string>;
  /** /sys/module/kvm exists. */ kvmPresent: boolean;
}

/** The vendor module that initialised, 'kvm' when KVM is there but no vendor module is, or 'none'. */
export function identifyKvmModule(f: KvmModuleFacts): string {
  for (const v of KVM_VENDOR_MODULES) {
    const s = f.modules.find((m) => m.name === v.name);
    if (!s?.present) continue;
    if (s.initstate !== null) {
      if (s.initstate === 'live') return v.name;
      continue;
    }
    if (v.cpuFlag === null || f.cpuFlags.has(v.cpuFlag)) return v.name;
  }
  return f.kvmPresent ? 'kvm' : 'none';
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** The facts as this machine shows them. */
export function liveKvmModuleFacts(): KvmModuleFacts {
  const flags = /^flags\s*:(.*)$/m.exec(readOrNull('/proc/cpuinfo') ?? '')?.[1] ?? '';
  return {
    modules: KVM_VENDOR_MODULES.map((v) => ({
      name: v.name,
      present: existsSync(`/sys/module/${v.name}`),
      initstate: readOrNull(`/sys/module/${v.name}/initstate`),
    })),
    cpuFlags: new Set(flags.trim().split(/\s+/).filter(Boolean)),
    kvmPresent: existsSync('/sys/module/kvm'),
  };
}
