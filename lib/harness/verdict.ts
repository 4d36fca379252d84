/** The result vocabulary and the shape of one case's result, shared by runner, reports and tools. */

/** Every verdict a case instance can end with. */
export const VERDICTS = ['pass', 'fail', 'skip', 'xfail', 'xpass', 'error', 'timeout'] as const;

/** One verdict: pass, fail, skip, xfail, xpass, error (the harness broke) or timeout. */
export type Verdict = (typeof VERDICTS)[number];

/** The result of one case instance, as written to the JSON-lines results file. */
export interface CaseResult {
  /** Always 'result'. */ type: 'result';
  /** Full instance id: case id plus `@variant` when the case has variants. */ id: string;
  /** Case id without the variant. */ case: string;
  /** Variant name, if any. */ variant?: string;
  /** Family (the id minus its last dotted segment). */ family: string;
  /** The verdict. */ verdict: Verdict;
  /** Why: the failure/skip/error/timeout reason; empty on a plain pass. */ message: string;
  /** Wall time of the case in milliseconds. */ durationMs: number;
  /** Diagnostic lines the case printed (ctx.note). */ notes?: string[];
  /** Named observations a case recorded (errnos, counts) for the feature matrix. */ observations?: Record<string, unknown>;
  /** The signal that killed the case's process, when it crashed. */ signal?: string;
  /** Hint printed with a failure, e.g. the commit that fixes a known failure. */ hint?: string;
  /** The instance's test number in its family's KTAP block (plan order, so it does not depend on which case finished first under -j). */ ktapNumber?: number;
}

/** True when a verdict makes the run fail (kselftest exit 1). */
export function isFailing(v: Verdict): boolean {
  return v === 'fail' || v === 'error' || v === 'timeout' || v === 'xpass';
}
