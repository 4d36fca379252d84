/** The one builder of an instance's result record, used by every path that reports one (worker, handle, runner). */
import type { CaseInstance } from './case.js';
import type { CaseResult, Verdict } from './verdict.js';

/** A result of inst with its id, case, variant and family filled in; `extra` adds notes, signal, observations. */
export function resultOf(
  inst: CaseInstance,
  verdict: Verdict,
  message: string,
  durationMs: number,
  extra: Partial<CaseResult> = {},
): CaseResult {
  const variant = inst.variant ? { variant: inst.variant.name } : {};
  const { id, family } = inst;
  return { type: 'result', id, case: inst.def.id, ...variant, family, verdict, message, durationMs, ...extra };
}
