/** Declarative cases: id, doc, requirements, tags, variants and a body that asks the kernel. */
import type { CaseContext } from './context.js';
import type { GmemFlagName, KvmCapName, VmTypeName } from '../uapi/index.js';

/** What must hold before a case runs; checked in this order, the first unmet one becomes the SKIP reason. */
export interface Requires {
  /** Must run as root. */ root?: boolean;
  /** Paths that must exist. */ files?: readonly string[];
  /** Needs an openable /dev/kvm. */ kvm?: boolean;
  /** Kernel config options that must be y or m (read from /proc/config.gz or /boot/config-*). */ kconfig?: readonly string[];
  /** KVM_CAP_* names that /dev/kvm must report non-zero. */ caps?: readonly KvmCapName[];
  /** VM type (KVM_X86_*_VM name) that KVM_CAP_VM_TYPES must list; the case's VMs use it. */ vmType?: VmTypeName;
  /** KVM_CAP_* names a VM of vmType (default 0) must report non-zero. */ vmCaps?: readonly KvmCapName[];
  /** GUEST_MEMFD_FLAG_* names that KVM_CAP_GUEST_MEMFD_FLAGS on the VM must include. */ gmemFlags?: readonly GmemFlagName[];
  /** Bytes of MemAvailable the case needs (it refuses beyond half of what is available). */ memoryBytes?: bigint;
  /** Minimum number of online NUMA nodes. */ numaNodes?: number;
  /** Why this case could take the host down; it then runs only in a guest or with --allow-host-unsafe. */ hostUnsafe?: string;
}

/** Tags that tie a case to history: commits, proposals, seeds. */
export interface Tags {
  /** linux-git commits (12-hex) that introduced or fixed the behaviour. */ linuxGit?: readonly string[];
  /** Proposal key from lib/uapi/proposals.ts when the case tests a never-merged ABI. */ proposal?: string;
  /** Seed thread under shared/seeds the case grew from. */ seed?: string;
  /**
   * Upstream selftest functions the case covers, as `<file>:<function>` with the file as the parity table
   * names it (e.g. `guest_memfd_test.c:test_fallocate`); every value must be a function listed in
   * fixtures/kselftest-parity.yaml whose entry names this case (checked by unit/kselftest-parity.test.ts).
   */
  selftest?: string | readonly string[];
  /** Kernel source functions whose checks the case exercises (e.g. `guest_memfd.c:kvm_gmem_bind`), not selftests. */
  kernelFn?: string | readonly string[];
  /** Selftests of a never-merged RFC the case follows (they exist only in the patch series, not in any tree). */
  rfcSelftest?: string;
}

/** One variant of a case: a name (the `@suffix` of its id), parameters and extra requirements. */
export interface Variant<P> {
  /** Suffix of the instance id; [a-z0-9_]+. */ name: string;
  /** Parameters handed to the body. */ params: P;
  /** Requirements added for this variant. */ requires?: Requires;
}

/** A case as authored in tests/. */
export interface CaseDef<P = Record<string, never>> {
  /** Stable dotted id, e.g. gmem.create.size_zero. */ id: string;
  /** One sentence: what the kernel must do. */ doc: string;
  /** Requirements checked before the body. */ requires?: Requires;
  /** History tags. */ tags?: Tags;
  /** Variants; each becomes its own result line. */ variants?: readonly Variant<P>[];
  /** Per-case timeout in ms (default: the runner's). */ timeoutMs?: number;
  /** 'fresh' runs the case in a worker process of its own that is discarded afterwards. */ isolation?:
    | 'shared'
    | 'fresh';
  /** Run alone (no other case at the same time) even under -j: for memory- or timing-sensitive cases. */ serial?: boolean;
  /** Default expectations a fixture may override per kernel/platform (read with ctx.expected). */ expect?: Record<
    string,
    unknown
  >;
  /** The body: asserts on what the kernel does. */ run(ctx: CaseContext<P>): void | Promise<void>;
}

/** A case instance: one case, or one variant of it, with its full id. */
export interface CaseInstance {
  /** Full id (case id + @variant). */ id: string;
  /** The case. */ def: CaseDef<unknown>;
  /** The variant, if any. */ variant?: Variant<unknown>;
  /** Family id. */ family: string;
  /** Module file the case came from (for probes in child processes). */ module: string;
}

const ID = /^[a-z0-9_]+(\.[a-z0-9_]+)+$/;
const VARIANT = /^[a-z0-9_]+$/;

/** Declares a case; validates the id and variant names so broken ids fail at load, not in reports. */
export function defineCase<P = Record<string, never>>(def: CaseDef<P>): CaseDef<P> {
  if (!ID.test(def.id)) throw new Error(`case id "${def.id}" is not a dotted lower-case id`);
  for (const v of def.variants ?? [])
    if (!VARIANT.test(v.name)) throw new Error(`case ${def.id}: variant name "${v.name}" must match ${VARIANT}`);
  return def;
}

/** The family of a case id: all but the last dotted segment. */
export function familyOf(caseId: string): string {
  return caseId.slice(0, caseId.lastIndexOf('.'));
}

/** Expands a case into its instances. */
export function instancesOf(def: CaseDef<unknown>, module: string): CaseInstance[] {
  const family = familyOf(def.id);
  if (!def.variants || def.variants.length === 0) return [{ id: def.id, def, family, module }];
  return def.variants.map((variant) => ({ id: `${def.id}@${variant.name}`, def, variant, family, module }));
}
