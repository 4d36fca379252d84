/** Which cases a mutation run turned: every case that passed in the real run must fail when its expected values are mutated. */
import type { CaseResult } from '../harness/verdict.js';

/** The comparison of a real run with a mutation run of the same cases. */
export interface MutationReport {
  /** Passed for real, failed under mutation: the case's verdict rests on what it expects. */ turned: string[];
  /** Passed both times: nothing the case asserts through expectErrno/expectEq decides its verdict. */ notTurned: string[];
  /** Passed for real, skipped or errored under mutation (a mutated setup check stopped it before the assertion). */ stopped: string[];
  /** Passed for real, absent from the mutation run. */ missing: string[];
}

/** Compares the passing cases of a real run with the same ids in a mutation run. */
export function mutationReport(real: readonly CaseResult[], mutated: readonly CaseResult[]): MutationReport {
  const m = new Map(mutated.map((r) => [r.id, r.verdict]));
  const out: MutationReport = { turned: [], notTurned: [], stopped: [], missing: [] };
  for (const r of real) {
    if (r.verdict !== 'pass') continue;
    const v = m.get(r.id);
    if (v === undefined) out.missing.push(r.id);
    else if (v === 'fail' || v === 'xfail') out.turned.push(r.id);
    else if (v === 'pass') out.notTurned.push(r.id);
    else out.stopped.push(r.id);
  }
  return out;
}
