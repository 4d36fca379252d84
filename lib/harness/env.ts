/** Env: facts about the machine and kernel the cases run on, probed lazily and cached per process. */
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { hostname, release } from 'node:os';
import { PAGE_SIZE, kernelArch } from '../arch.js';
import * as U from '../uapi/index.js';
import { Kvm } from '../kvm/kvm.js';
import { Vm } from '../kvm/vm.js';
import { identifyKvmModule, liveKvmModuleFacts } from './kvm-module.js';
import { SUITE_GUEST_CMDLINE } from '../vm/guest-init.js';
import { parseDotConfig } from '../kconfig.js';

/** A parsed kernel release: numbers for comparison plus the original string. */
export interface KernelVersion {
  /** uname -r. */ release: string;
  /** [major, minor, patch]. */ parts: [number, number, number];
}

/** Parses a kernel release such as 6.18.44-fc-v509 or 7.3.0-rc2-amd64. */
export function parseKernelRelease(rel: string): KernelVersion {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(rel);
  if (!m) return { release: rel, parts: [0, 0, 0] };
  return { release: rel, parts: [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] };
}

// Debian names its kernels by ABI ("6.1.0-50-amd64"), not by the stable release they carry; /proc/version ends
// with that release ("... Debian 6.1.176-1 (2026-...)"). Fixture ranges keyed on stable backports (6.1.149) need it.
/** The kernel version, with the stable patch level /proc/version names when uname -r hides it (Debian's x.y.0-N). */
export function runningKernelVersion(rel: string, procVersion: string | null): KernelVersion {
  const k = parseKernelRelease(rel);
  const m = procVersion ? / Debian (\d+)\.(\d+)\.(\d+)[-~+]/.exec(procVersion) : null;
  if (!m || k.parts[2] !== 0 || Number(m[1]) !== k.parts[0] || Number(m[2]) !== k.parts[1]) return k;
  return { release: rel, parts: [k.parts[0], k.parts[1], Number(m[3])] };
}

function procVersion(): string | null {
  try {
    return readFileSync('/proc/version', 'utf8');
  } catch {
    return null;
  }
}

/** True when a .config's header ("# Linux/x86 7.2.13 Kernel Configuration") names the running kernel's version. */
export function configMatchesRelease(text: string, rel: string, procVersionText: string | null = null): boolean {
  const m = /^# Linux\/\S+ (\d+\.\d+(?:\.\d+)?)\S* Kernel Configuration$/m.exec(text.slice(0, 512));
  if (!m) return false;
  const a = parseKernelRelease(m[1] as string).parts;
  const b = runningKernelVersion(rel, procVersionText).parts;
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
}

/** A kernel config that was read: its options and where they came from (for messages). */
interface KernelConfig {
  /** parseDotConfig() of the text. */ options: Map<string, string>;
  /** The file read: /proc/config.gz, the candidate's config (in a suite guest), or /boot/config-<release>. */ source: string;
}

/**
 * The kernel's config: /proc/config.gz, else GMEM_KERNEL_CONFIG (set by the suite's guest runner to the
 * candidate's config file, seen through the read-only host root, and honoured only in such a guest:
 * on a host it would describe another kernel), else /boot/config-<release>.
 */
function readKconfig(rel: string): KernelConfig | null {
  let text: string | null = null;
  let source = '';
  const given = suiteGuestEvidence() === null ? process.env.GMEM_KERNEL_CONFIG : undefined;
  try {
    // read once, and only when /proc/config.gz is not there
    const guestConfig = (): string | null => {
      if (!given || !existsSync(given)) return null;
      const t = readFileSync(given, 'utf8');
      return configMatchesRelease(t, rel, procVersion()) ? t : null;
    };
    let fromGuest: string | null = null;
    if (existsSync('/proc/config.gz')) {
      text = gunzipSync(readFileSync('/proc/config.gz')).toString();
      source = '/proc/config.gz';
    } else if ((fromGuest = guestConfig()) !== null) {
      text = fromGuest;
      source = `the candidate's config ${given}`;
    } else if (existsSync(`/boot/config-${rel}`)) {
      text = readFileSync(`/boot/config-${rel}`, 'utf8');
      source = `/boot/config-${rel}`;
    }
  } catch {
    text = null;
  }
  if (text === null) return null;
  return { options: parseDotConfig(text), source };
}

function meminfo(): Map<string, bigint> {
  const map = new Map<string, bigint>();
  try {
    for (const line of readFileSync('/proc/meminfo', 'utf8').split('\n')) {
      const m = /^(\w+(?:\(\w+\))?):\s+(\d+)(?: kB)?/.exec(line);
      if (m) map.set(m[1] as string, BigInt(m[2] as string) * (line.endsWith('kB') ? 1024n : 1n));
    }
  } catch {
    /* no /proc */
  }
  return map;
}

function numaNodes(): number {
  try {
    const online = readFileSync('/sys/devices/system/node/online', 'utf8').trim();
    let n = 0;
    for (const part of online.split(',')) {
      const [a, b] = part.split('-').map(Number);
      n += b === undefined ? 1 : b - (a ?? 0) + 1;
    }
    return n;
  } catch {
    return 1;
  }
}

/**
 * Null inside a guest booted by the suite's QEMU runner, else why not. GMEM_IN_GUEST=1 alone is not
 * enough: an environment variable leaks (a shell profile, a CI job) and would let host-unsafe cases
 * take a host down; the guest's kernel command line cannot be set from a shell on the host.
 */
export function suiteGuestEvidence(): string | null {
  if (process.env.GMEM_IN_GUEST !== '1') return 'GMEM_IN_GUEST is not 1';
  let cmdline = '';
  try {
    cmdline = readFileSync('/proc/cmdline', 'utf8');
  } catch {
    /* no /proc: not our guest */
  }
  if (!cmdline.split(/\s+/).includes(SUITE_GUEST_CMDLINE))
    return `GMEM_IN_GUEST=1 is set, but this kernel was not booted by the suite's QEMU runner (no ${SUITE_GUEST_CMDLINE} on /proc/cmdline)`;
  return null;
}

/** The only KVM API version there has ever been (since 2.6.22). */
const KVM_API_VERSION = 12;

/** Facts about this machine and kernel; KVM facts are probed on first use. */
export class Env {
  /** Kernel version (the stable patch level of a Debian kernel from /proc/version). */ readonly kernel =
    runningKernelVersion(release(), procVersion());
  /** Machine architecture, uname -m style (x86_64, aarch64). */ readonly arch = kernelArch();
  /** Hostname. */ readonly host = hostname();
  /** Page size in bytes. */ readonly pageSize = BigInt(PAGE_SIZE);
  /** True inside a guest booted by the suite's own QEMU runner: GMEM_IN_GUEST=1 and the kernel command line it boots with. */
  readonly inSuiteGuest = suiteGuestEvidence() === null;
  /** Cases marked hostUnsafe may run: set from --allow-host-unsafe by `run`, in a worker from its arguments. */
  allowHostUnsafe = false;
  private kvmHandle: Kvm | null | undefined;
  private kvmModuleName: string | undefined;
  private kvmError = '';
  private kconfigCache: KernelConfig | null | undefined;
  private sysCaps = new Map<number, number>();
  private vmCapCache = new Map<string, number>();
  private vmTypeList: number[] | undefined;
  /** The KVM vendor module serving /dev/kvm (kvm_intel, kvm_amd, kvm_pvm, …), or 'none'. */
  get kvmModule(): string {
    this.kvmModuleName ??= identifyKvmModule(liveKvmModuleFacts());
    return this.kvmModuleName;
  }
  /** True when running as root. */
  get root(): boolean {
    return process.getuid?.() === 0;
  }
  /** The shared /dev/kvm handle, or null with kvmUnavailableReason set. */
  get kvm(): Kvm | null {
    if (this.kvmHandle === undefined) {
      if (!Kvm.available()) {
        this.kvmHandle = null;
        this.kvmError = '/dev/kvm does not exist';
      } else {
        const r = Kvm.__open();
        if (r.ret < 0) {
          this.kvmHandle = null;
          this.kvmError = `open(/dev/kvm) failed: ${U.errnoName(r.errno)}`;
        } else {
          // a device that opens but does not answer KVM_GET_API_VERSION with 12 is not KVM: say so
          // and let the KVM cases skip, instead of failing every one of them (or the run record)
          const kvm = Kvm.adopt(r.ret);
          const v = kvm.__apiVersion();
          if (v.ret === KVM_API_VERSION) this.kvmHandle = kvm;
          else {
            kvm.close();
            this.kvmHandle = null;
            this.kvmError =
              v.ret < 0
                ? `/dev/kvm is not a KVM device: KVM_GET_API_VERSION failed with ${U.formatErrno(v.errno)}`
                : `/dev/kvm answers KVM_GET_API_VERSION with ${v.ret}, not ${KVM_API_VERSION}`;
          }
        }
      }
    }
    return this.kvmHandle;
  }
  /** Why kvm is null. */
  get kvmUnavailableReason(): string {
    return this.kvmError;
  }
  /** KVM_CHECK_EXTENSION on /dev/kvm (0 without KVM). */
  sysCap(cap: number): number {
    const kvm = this.kvm;
    if (!kvm) return 0;
    let v = this.sysCaps.get(cap);
    if (v === undefined) {
      v = kvm.checkExtension(cap);
      this.sysCaps.set(cap, v);
    }
    return v;
  }
  /** KVM_CHECK_EXTENSION on a scratch VM of the given type (0 if the VM cannot be created). */
  vmCap(cap: number, vmType = 0): number {
    const key = `${vmType}:${cap}`;
    let v = this.vmCapCache.get(key);
    if (v === undefined) {
      const kvm = this.kvm;
      v = 0;
      if (kvm) {
        const r = kvm.__createVm(vmType);
        if (r.ret >= 0) {
          const vm = new Vm(kvm, r.ret, vmType);
          v = vm.checkExtension(cap);
          vm.close();
        }
      }
      this.vmCapCache.set(key, v);
    }
    return v;
  }
  /** VM types KVM_CAP_VM_TYPES lists ([0] on kernels without the cap, [] without KVM). */
  get vmTypes(): number[] {
    if (this.vmTypeList === undefined) this.vmTypeList = this.kvm ? this.kvm.vmTypes() : [];
    return this.vmTypeList;
  }
  /** Kernel config as a map, or null when neither /proc/config.gz nor /boot/config-* exists. */
  get kconfig(): Map<string, string> | null {
    if (this.kconfigCache === undefined) this.kconfigCache = readKconfig(this.kernel.release);
    return this.kconfigCache?.options ?? null;
  }
  /** Where kconfig was read from (/proc/config.gz, …), or null when it was not read. */
  get kconfigSource(): string | null {
    if (this.kconfigCache === undefined) this.kconfigCache = readKconfig(this.kernel.release);
    return this.kconfigCache?.source ?? null;
  }
  /** /proc/meminfo values in bytes (read fresh each time). */
  meminfo(): Map<string, bigint> {
    return meminfo();
  }
  /** Online NUMA nodes. */
  get numaNodes(): number {
    return numaNodes();
  }
}

let shared: Env | undefined;

/** The process-wide Env. */
export function env(): Env {
  shared ??= new Env();
  return shared;
}
