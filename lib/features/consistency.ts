/** Checks a decided feature cell against what its evidence cases ran and saw, and names every contradiction. */
import { isFailing, type CaseResult, type RunRecord } from '../harness/verdict.js';
import type { FeatureState } from './feature.js';

/** How a feature came to be decided: what the cell says and, for absent, who said no. */
export interface Decision {
  /** The state the evidence gave. */ state: FeatureState;
  /** For absent: 'capability' (a KVM answer or VM type list) or 'observation' (what a case recorded). */
  absentBy?: 'capability' | 'observation';
  /** The sentence the cell shows. */ reason: string;
}

interface KvmFacts {
  available?: boolean;
  sysCaps?: Record<string, number>;
  vmTypes?: number[];
}

/** A requirement skip for a /dev/kvm capability, as lib/harness/requirements.ts words it. */
const SYS_CAP_SKIP = /^needs (KVM_CAP_[A-Z0-9_]+) \(\d+\): KVM_CHECK_EXTENSION on \/dev\/kvm returned 0/;
/** A requirement skip for a VM type, as lib/harness/requirements.ts words it. */
const VM_TYPE_SKIP = /^needs VM type (\w+) \((\d+)\): KVM_CAP_VM_TYPES lists only/;

function firstLine(s: string): string {
  return s.split('\n')[0] ?? '';
}

/** True when the run record holds what /dev/kvm answered (a suite run does; an imported TAP file does not). */
export function hasKvmFacts(run: RunRecord): boolean {
  return (run.kvm as KvmFacts).available !== undefined;
}

/**
 * Every way the decision contradicts its evidence: present while an evidence case fails, absent (the
 * kernel said no) while an evidence case passed, or an evidence case that skipped for a capability or VM
 * type the run record says the kernel has. Empty when the cell agrees with its cases.
 */
export function contradictions(d: Decision, run: RunRecord, evidence: readonly CaseResult[]): string[] {
  const out: string[] = [];
  if (d.state === 'present') {
    for (const r of evidence.filter((x) => isFailing(x.verdict)))
      out.push(`present, but ${r.id} is ${r.verdict}: ${firstLine(r.message)}`);
  }
  if (d.state === 'absent' && d.absentBy === 'capability') {
    for (const r of evidence.filter((x) => x.verdict === 'pass'))
      out.push(`absent (${d.reason}), but ${r.id} passed using it`);
  }
  const kvm = run.kvm as KvmFacts;
  if (hasKvmFacts(run) && kvm.available !== false) {
    for (const r of evidence.filter((x) => x.verdict === 'skip')) {
      const cap = SYS_CAP_SKIP.exec(r.message);
      const have = cap ? (kvm.sysCaps?.[cap[1] as string] ?? 0) : 0;
      if (cap && have !== 0)
        out.push(`${r.id} skipped because ${cap[1]} is 0, but the run record has ${cap[1]} = ${have}`);
      const type = VM_TYPE_SKIP.exec(r.message);
      if (type && (kvm.vmTypes ?? []).includes(Number(type[2])))
        out.push(`${r.id} skipped because VM type ${type[1]} is not listed, but the run record lists ${type[2]}`);
    }
  }
  return out;
}
