/** The one builder of an instance's result record: every path that reports a result (worker, runner, handle) uses it. */
import type { CaseInstance } from './case.js';
import type { CaseResult, Verdict } from './verdict.js';

/** A result of inst with its id, case, variant and family filled in; `extra` adds notes, signal, observations. */
export function resultOf(inst: CaseInstance, verdict: Verdict, message: string, durationMs: number, extra: Partial<CaseResult> = {}): CaseResult {
  return {
    type: 'result', id: inst.id, case: inst.def.id, ...(inst.variant ? { variant: inst.variant.name } : {}), family: inst.family,
    verdict, message, durationMs, ...extra,
  };
}
