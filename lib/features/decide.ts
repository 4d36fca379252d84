/** Decides every feature for one run from its capability answers and the verdicts/observations of its cases. */
import { globToRegExp } from '../harness/registry.js';
import { isFailing, type CaseResult, type RunRecord } from '../harness/verdict.js';
import type { CaseEvidence, FeatureDef, FeatureVerdict } from './feature.js';
import { FEATURES } from './catalog.js';

const RAN = new Set(['pass', 'fail', 'xfail', 'xpass', 'error', 'timeout']);

function capAnswer(run: RunRecord, fd: 'sys' | 'vm', cap: string): number {
  const kvm = run.kvm as { sysCaps?: Record<string, number>; vmCaps?: Record<string, number> };
  return (fd === 'sys' ? kvm.sysCaps : kvm.vmCaps)?.[cap] ?? 0;
}

function matcher(globs: readonly string[]): (r: CaseResult) => boolean {
  const res = globs.map(globToRegExp);
  return (r) => res.some((re) => re.test(r.id) || re.test(r.case));
}

function formatValue(v: unknown): string {
  if (typeof v === 'number' && Number.isInteger(v) && v > 9) return `0x${v.toString(16)}`;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Decides one feature on one run. */
export function decideFeature(def: FeatureDef, run: RunRecord, results: readonly CaseResult[]): FeatureVerdict {
  const caps: Record<string, number> = {};
  const kvmAvailable = (run.kvm as { available?: boolean }).available !== false;
  let advertised = true;
  let capReason = '';
  for (const c of def.caps ?? []) {
    const v = capAnswer(run, c.fd, c.cap);
    caps[`${c.fd}:${c.cap}`] = v;
    const ok = c.mask === undefined ? v !== 0 : (v & c.mask) === c.mask;
    if (!ok && advertised) {
      advertised = false;
      capReason = !kvmAvailable ? 'no /dev/kvm' : `${c.cap} on the ${c.fd === 'sys' ? '/dev/kvm' : 'VM'} fd is ${formatValue(v)}${c.mask ? ` (needs bits 0x${c.mask.toString(16)})` : ''}`;
    }
  }
  if (def.vmType !== undefined) {
    const types = ((run.kvm as { vmTypes?: number[] }).vmTypes ?? []);
    caps[`vmTypes`] = types.reduce((m, t) => m | (1 << t), 0);
    if (!types.includes(def.vmType) && advertised) {
      advertised = false;
      capReason = kvmAvailable ? `KVM_CAP_VM_TYPES lists [${types.join(', ')}], not ${def.vmType}` : 'no /dev/kvm';
    }
  }
  const match = matcher(def.cases);
  const evidence = results.filter(match);
  const cases: CaseEvidence[] = evidence.map((r) => ({ id: r.id, verdict: r.verdict, message: r.message }));
  const counts: Record<string, number> = {};
  for (const r of evidence) counts[r.verdict] = (counts[r.verdict] ?? 0) + 1;
  const ran = evidence.filter((r) => RAN.has(r.verdict));
  const failing = evidence.filter((r) => isFailing(r.verdict));
  const values = def.valueKey ? [...new Set(ran.map((r) => r.observations?.[def.valueKey as string]).filter((v) => v !== undefined).map(formatValue))] : [];
  const firstCap = def.caps?.[0];
  const capValue = def.valueFromCap && firstCap ? formatValue(caps[`${firstCap.fd}:${firstCap.cap}`] ?? 0) : undefined;
  const value = values.length ? values.join(' / ') : capValue;
  const base = { id: def.id, caps, cases, counts, verified: ran.length > 0, ...(value !== undefined ? { value } : {}) };
  if (failing.length) {
    const f = failing[0] as CaseResult;
    return { ...base, state: 'broken', reason: `${failing.length} of ${ran.length} cases fail, e.g. ${f.id}: ${f.message}` };
  }
  if (def.observation) {
    const rule = def.observation;
    const observed = ran.map((r) => r.observations?.[rule.key]).filter((v) => v !== undefined);
    if (observed.length) {
      const present = observed.every((v) => rule.presentWhen.includes(v as never));
      return { ...base, state: present ? 'present' : 'absent', reason: `${rule.key} observed as ${[...new Set(observed.map(formatValue))].join(', ')} in ${observed.length} case(s)` };
    }
  }
  if (!advertised) return { ...base, state: 'absent', reason: capReason };
  if (ran.length) return { ...base, state: 'present', reason: `${ran.length} case(s) ran and passed${def.caps?.length ? ', capability advertised' : ''}` };
  if (evidence.length) return { ...base, state: 'absent', reason: `every case skipped, e.g. ${evidence[0]?.message ?? ''}` };
  if (def.caps?.length || def.vmType !== undefined) return { ...base, state: 'present', reason: 'capability advertised (no case of it ran)' };
  return { ...base, state: 'unknown', reason: 'no evidence in this run' };
}

/** Decides every catalogued feature on one run. */
export function decideFeatures(run: RunRecord, results: readonly CaseResult[], features: readonly FeatureDef[] = FEATURES): FeatureVerdict[] {
  return features.map((f) => decideFeature(f, run, results));
}
