/** What a feature is, and what deciding one produces: state, optional value, and the evidence kept. */

/** A capability condition read from a run record: non-zero, or all of `mask`'s bits set. */
export interface CapCheck {
  /** Which fd answered: the /dev/kvm system fd or a type-0 VM fd. */ fd: 'sys' | 'vm';
  /** KVM_CAP_* name. */ cap: string;
  /** Bits that must all be set in the answer (default: any non-zero answer). */ mask?: number;
}

/** A feature decided from an observation that named cases recorded. */
export interface ObservationRule {
  /** Observation key (ctx.observe) to read. */ key: string;
  /** Values meaning the feature is present. */ presentWhen: readonly unknown[];
}

/** A feature of the ABI under test, as the matrix shows it. */
export interface FeatureDef {
  /** Stable dotted id, e.g. gmem.mmap. */ id: string;
  /** Human title. */ title: string;
  /** Family used to filter the matrix. */ family: string;
  /** Capabilities that advertise it (all must hold). */ caps?: readonly CapCheck[];
  /** A VM type that KVM_CAP_VM_TYPES must list. */ vmType?: number;
  /** Globs over result ids whose verdicts are its evidence. */ cases: readonly string[];
  /** Globs removed from `cases` (a case the globs catch that does not exercise the feature). */
  excludeCases?: readonly string[];
  /** Decide presence by an observation instead of by verdicts. */ observation?: ObservationRule;
  /** Show this observation's value(s) in the cell (e.g. an errno that changed between kernels). */ valueKey?: string;
  /** Show the answer of the first capability in the cell (e.g. the flag mask). */ valueFromCap?: boolean;
}

/**
 * The state of a feature on one run: present (cases ran and passed, or a capability-only feature is
 * advertised), absent (the kernel was asked and said no: a capability, a VM type or an observation),
 * broken (an evidence case fails), untested (not tested here: every evidence case skipped, or none ran),
 * inconsistent (the decision contradicts what the evidence cases ran and saw; see `problems`).
 */
export type FeatureState = 'present' | 'absent' | 'broken' | 'untested' | 'inconsistent';

/** Every state, in the order reports list them. */
export const FEATURE_STATES: readonly FeatureState[] = ['present', 'absent', 'broken', 'untested', 'inconsistent'];

/** One piece of case evidence. */
export interface CaseEvidence {
  /** Result id. */ id: string;
  /** Its verdict. */ verdict: string;
  /** Its message (reason, errno). */ message: string;
}

/** A decided feature with the evidence behind it. */
export interface FeatureVerdict {
  /** Feature id. */ id: string;
  /** Decided state. */ state: FeatureState;
  /** One sentence saying why. */ reason: string;
  /** Value shown in the cell, when the feature has one. */ value?: string;
  /** True when cases ran (not only a capability answer). */ verified: boolean;
  /** Capability answers consulted. */ caps: Record<string, number>;
  /** Case results consulted. */ cases: CaseEvidence[];
  /** Counts of the evidence verdicts. */ counts: Record<string, number>;
  /** What contradicts the decision (set when the state is inconsistent). */ problems?: string[];
  /** The state the evidence alone would have given (set when the state is inconsistent). */ decided?: FeatureState;
}
