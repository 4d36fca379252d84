/** The results vocabulary — verdicts and every record of a results file — shared by runner, reports and tools. */

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
  /** Named observations a case recorded (errnos, counts) for the feature matrix. */ observations?: Record<
    string,
    unknown
  >;
  /** The signal that killed the case's process, when it crashed. */ signal?: string;
  /** Hint printed with a failure, e.g. the commit that fixes a known failure. */ hint?: string;
  /** The instance's test number in its family's KTAP block (plan order, so it does not depend on which case finished first under -j). */ ktapNumber?: number;
}

/** True when a verdict makes the run fail (kselftest exit 1). */
export function isFailing(v: Verdict): boolean {
  return v === 'fail' || v === 'error' || v === 'timeout' || v === 'xpass';
}

/** The first line of a results file: what ran where. */
export interface RunRecord {
  /** Always 'run'. */ type: 'run';
  /** Results format version. */ format: 1;
  /** Suite version from package.json. */ suiteVersion: string;
  /** Node.js version the suite ran on (process.versions.node; absent in files written before it was recorded). */ node?: string;
  /** ISO date the run started. */ started: string;
  /** uname -r. */ kernel: string;
  /** uname -m. */ arch: string;
  /** Hostname. */ host: string;
  /** Platform label used by the feature matrix (defaults to arch). */ platform: string;
  /** KVM facts: available, api version, system caps, VM caps, VM types. */ kvm: Record<string, unknown>;
  /** Command line options that shape the run. */ options: Record<string, unknown>;
}

/** The last line of a complete results file. */
export interface EndRecord {
  /** Always 'end'. */ type: 'end';
  /** ISO date the run finished. */ finished: string;
  /** Verdict counts. */ totals: Record<string, number>;
  /** kselftest exit code of the run. */ exitCode: number;
  /** Machine state (VMs, unevictable and mlocked memory) before and after the run. */ machine?: {
    before: unknown;
    after: unknown;
  };
}

/** One line of a results file. */
export type ResultsLine = RunRecord | CaseResult | EndRecord;

/** A results file read back: its run record, case results, and end record if the run completed. */
export interface ResultsFile {
  /** File path. */ path: string;
  /** Run metadata. */ run: RunRecord;
  /** Case results in file order. */ results: CaseResult[];
  /** End record; absent when the run was killed. */ end?: EndRecord;
}
