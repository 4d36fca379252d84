/** Decides every feature for one run from its capability answers and the verdicts/observations of its cases. */
import { globToRegExp } from '../harness/registry.js';
import { isFailing, type CaseResult, type RunRecord } from '../harness/verdict.js';
import type { CaseEvidence, FeatureDef, FeatureVerdict } from './feature.js';
import { FEATURES } from './catalog.js';
import { contradictions, hasKvmFacts, type Decision } from './consistency.js';

const RAN = new Set(['pass', 'fail', 'xfail', 'xpass', 'error', 'timeout']);

function capAnswer(run: RunRecord, fd: 'sys' | 'vm', cap: string): number {
  const kvm = run.kvm as { sysCaps?: Record<string, number>; vmCaps?: Record<string, number> };
  return (fd === 'sys' ? kvm.sysCaps : kvm.vmCaps)?.[cap] ?? 0;
}

function matcher(def: FeatureDef): (r: CaseResult) => boolean {
  const hit = (globs: readonly string[]) => {
    const res = globs.map(globToRegExp);
    return (r: CaseResult) => res.some((re) => re.test(r.id) || re.test(r.case));
  };
  const inCases = hit(def.cases);
  const excluded = hit(def.excludeCases ?? []);
  return (r) => inCases(r) && !excluded(r);
}

/**
 * True for an imported kselftest binary whose own subtests were imported too: its verdict is the sum of
 * theirs, so a feature is decided by the subtests its globs name, not by an unrelated subtest's failure.
 * A binary that failed while none of its subtests did (a crash after them, a leak check) is no aggregate:
 * what failed is the binary itself.
 */
export function isAggregate(r: CaseResult): boolean {
  const n = r.observations?.subtests;
  if (typeof n !== 'number' || n === 0) return false;
  return !(isFailing(r.verdict) && r.observations?.failingSubtests === 0);
}

function formatValue(v: unknown): string {
  if (typeof v === 'number' && Number.isInteger(v) && v > 9) return `0x${v.toString(16)}`;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Decides one feature on one run, then checks the decision against its evidence (inconsistent on a contradiction). */
export function decideFeature(def: FeatureDef, run: RunRecord, results: readonly CaseResult[]): FeatureVerdict {
  const caps: Record<string, number> = {};
  const kvmAvailable = (run.kvm as { available?: boolean }).available !== false;
  // an imported TAP file records no KVM answers: its capabilities are unknown, not 0
  const asked = hasKvmFacts(run);
  let advertised = true;
  let capReason = '';
  for (const c of def.caps ?? []) {
    const v = capAnswer(run, c.fd, c.cap);
    caps[`${c.fd}:${c.cap}`] = v;
    const ok = c.mask === undefined ? v !== 0 : (v & c.mask) === c.mask;
    if (asked && !ok && advertised) {
      advertised = false;
      const fd = c.fd === 'sys' ? '/dev/kvm' : 'VM';
      const bits = c.mask ? ` (needs bits 0x${c.mask.toString(16)})` : '';
      capReason = !kvmAvailable ? 'no /dev/kvm' : `${c.cap} on the ${fd} fd is ${formatValue(v)}${bits}`;
    }
  }
  if (def.vmType !== undefined) {
    const types = (run.kvm as { vmTypes?: number[] }).vmTypes ?? [];
    caps[`vmTypes`] = types.reduce((m, t) => m | (1 << t), 0);
    if (asked && !types.includes(def.vmType) && advertised) {
      advertised = false;
      capReason = kvmAvailable ? `KVM_CAP_VM_TYPES lists [${types.join(', ')}], not ${def.vmType}` : 'no /dev/kvm';
    }
  }
  const match = matcher(def);
  const evidence = results.filter((r) => match(r) && !isAggregate(r));
  const cases: CaseEvidence[] = evidence.map((r) => ({ id: r.id, verdict: r.verdict, message: r.message }));
  const counts: Record<string, number> = {};
  for (const r of evidence) counts[r.verdict] = (counts[r.verdict] ?? 0) + 1;
  const ran = evidence.filter((r) => RAN.has(r.verdict));
  const key = def.valueKey;
  const observedValues = key ? ran.map((r) => r.observations?.[key]).filter((v) => v !== undefined) : [];
  const values = [...new Set(observedValues.map(formatValue))];
  const firstCap = def.caps?.[0];
  const capValue = def.valueFromCap && firstCap ? formatValue(caps[`${firstCap.fd}:${firstCap.cap}`] ?? 0) : undefined;
  const value = values.length ? values.join(' / ') : capValue;
  const base = { id: def.id, caps, cases, counts, verified: ran.length > 0, ...(value !== undefined ? { value } : {}) };
  const d = decideState(def, { advertised, capReason, asked }, evidence, ran);
  const problems = contradictions(d, run, evidence);
  if (problems.length) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
    const reason = `contradiction: ${problems[0]}${more}`;
    return { ...base, state: 'inconsistent', decided: d.state, problems, reason };
  }
  return { ...base, state: d.state, reason: d.reason };
}

interface CapVerdict {
  /** Every capability and the VM type hold (or were not recorded). */ advertised: boolean;
  /** Why not, when not. */ capReason: string;
  /** The run record holds KVM answers. */ asked: boolean;
}

/** The state the evidence gives, before the consistency check. */
function decideState(
  def: FeatureDef,
  cap: CapVerdict,
  evidence: readonly CaseResult[],
  ran: readonly CaseResult[],
): Decision {
  const failing = evidence.filter((r) => isFailing(r.verdict));
  if (failing.length) {
    const f = failing[0] as CaseResult;
    return { state: 'broken', reason: `${failing.length} of ${ran.length} cases fail, e.g. ${f.id}: ${f.message}` };
  }
  // cases that ran but only as known failures did not see the feature work: no evidence it is present
  if (ran.length && ran.every((r) => r.verdict === 'xfail')) {
    const f = ran[0] as CaseResult;
    const reason = `every case that ran (${ran.length}) is a known failure (xfail), e.g. ${f.id}: ${f.message}`;
    return { state: 'broken', reason };
  }
  if (def.observation) {
    const rule = def.observation;
    const observed = ran.map((r) => r.observations?.[rule.key]).filter((v) => v !== undefined);
    if (observed.length) {
      const present = observed.every((v) => rule.presentWhen.includes(v as never));
      const seen = [...new Set(observed.map(formatValue))].join(', ');
      const reason = `${rule.key} observed as ${seen} in ${observed.length} case(s)`;
      return present ? { state: 'present', reason } : { state: 'absent', absentBy: 'observation', reason };
    }
  }
  if (!cap.advertised) return { state: 'absent', absentBy: 'capability', reason: cap.capReason };
  const hasCapCheck = (def.caps?.length ?? 0) > 0 || def.vmType !== undefined;
  const capNote = hasCapCheck ? (cap.asked ? ', capability advertised' : ', capabilities not recorded') : '';
  if (ran.length) {
    const known = ran.filter((r) => r.verdict === 'xfail').length;
    const how = known ? `${ran.length - known} passed, ${known} known failure(s) (xfail)` : 'passed';
    return { state: 'present', reason: `${ran.length} case(s) ran and ${how}${capNote}` };
  }
  // a capability-only feature (no evidence cases) is the capability's answer
  if (def.cases.length === 0 && hasCapCheck)
    return cap.asked
      ? { state: 'present', reason: 'capability advertised (it has no cases)' }
      : { state: 'untested', reason: 'decided by capabilities, which this run did not record (an imported file)' };
  const advertisedNote = hasCapCheck && cap.asked ? 'advertised, but ' : '';
  if (evidence.length) {
    const e = evidence[0] as CaseResult;
    const reason = `${advertisedNote}every case of it skipped (${evidence.length}), e.g. ${e.id}: ${e.message}`;
    return { state: 'untested', reason };
  }
  return { state: 'untested', reason: `${advertisedNote}none of its cases is in this run` };
}

/** Decides every catalogued feature on one run. */
export function decideFeatures(
  run: RunRecord,
  results: readonly CaseResult[],
  features: readonly FeatureDef[] = FEATURES,
): FeatureVerdict[] {
  return features.map((f) => decideFeature(f, run, results));
}
