/** Baseline vs candidate results: new failures, fixes, features gained/lost/broken, changed observations. */
import { isFailing, type CaseResult, type ResultsFile } from '../harness/verdict.js';
import { decideFeatures } from '../features/decide.js';
import type { FeatureState } from '../features/feature.js';
import { mdCode, mdText } from './markdown-escape.js';

/** One case whose verdict changed. */
export interface VerdictChange {
  /** Result id. */ id: string;
  /** Verdict in the baseline. */ before: string;
  /** Verdict in the candidate. */ after: string;
  /** Candidate's message (why it fails now), or baseline's for fixes. */ message: string;
}

/** One feature whose state changed. */
export interface FeatureChange {
  /** Feature id. */ id: string;
  /** State in the baseline. */ before: FeatureState;
  /** State in the candidate. */ after: FeatureState;
  /** Candidate's reason. */ reason: string;
}

/** One observation (an errno, a count) whose value changed for a case present in both. */
export interface ObservationChange {
  /** Result id. */ id: string;
  /** Observation key. */ key: string;
  /** Baseline value. */ before: unknown;
  /** Candidate value. */ after: unknown;
}

/** The comparison. */
export interface Comparison {
  /** Baseline label (kernel, host). */ baseline: string;
  /** Candidate label. */ candidate: string;
  /** Cases that newly fail (pass/xfail/skip before; fail/error/timeout/xpass now). */ regressions: VerdictChange[];
  /** Cases that failed before and pass now. */ fixes: VerdictChange[];
  /** Other verdict changes (e.g. pass → skip). */ otherChanges: VerdictChange[];
  /** Features present before and absent, broken or inconsistent now. */ featuresLost: FeatureChange[];
  /** Features absent/untested before and present now. */ featuresGained: FeatureChange[];
  /** Other feature changes. */ featuresChanged: FeatureChange[];
  /** Observation values that changed (errno changes show here). */ observationChanges: ObservationChange[];
  /** Cases only in the baseline. */ missing: string[];
  /** Cases only in the candidate. */ added: string[];
  /** Why the candidate run is incomplete (no end record: killed, or the kernel died under it), else null. */ candidateIncomplete:
    | string
    | null;
  /** Why the baseline run is incomplete, else null. */ baselineIncomplete: string | null;
}

/** Why a run is incomplete (it has no end record), or null for a run that finished. */
export function incompleteReason(f: ResultsFile): string | null {
  if (f.end) return null;
  return `${f.path} has no end record: the run was killed (or the kernel died under it) after ${f.results.length} result(s)`;
}

const label = (f: ResultsFile) => `${f.run.kernel} on ${f.run.host} (${f.run.platform})`;

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Compares two results files. */
export function compareResults(base: ResultsFile, cand: ResultsFile): Comparison {
  const b = new Map(base.results.map((r) => [r.id, r]));
  const c = new Map(cand.results.map((r) => [r.id, r]));
  const out: Comparison = {
    baseline: label(base),
    candidate: label(cand),
    regressions: [],
    fixes: [],
    otherChanges: [],
    featuresLost: [],
    featuresGained: [],
    featuresChanged: [],
    observationChanges: [],
    missing: [],
    added: [],
    candidateIncomplete: incompleteReason(cand),
    baselineIncomplete: incompleteReason(base),
  };
  for (const [id, before] of b) {
    const after = c.get(id);
    if (!after) {
      out.missing.push(id);
      continue;
    }
    if (before.verdict !== after.verdict) {
      const change = (msg: CaseResult) => ({ id, before: before.verdict, after: after.verdict, message: msg.message });
      if (isFailing(after.verdict) && !isFailing(before.verdict)) out.regressions.push(change(after));
      else if (isFailing(before.verdict) && !isFailing(after.verdict)) out.fixes.push(change(before));
      else out.otherChanges.push(change(after));
    }
    const keys = new Set([...Object.keys(before.observations ?? {}), ...Object.keys(after.observations ?? {})]);
    for (const key of keys) {
      const x = before.observations?.[key];
      const y = after.observations?.[key];
      if (!same(x, y)) out.observationChanges.push({ id, key, before: x, after: y });
    }
  }
  for (const id of c.keys()) if (!b.has(id)) out.added.push(id);
  const fb = decideFeatures(base.run, base.results);
  const fc = decideFeatures(cand.run, cand.results);
  fb.forEach((x, i) => {
    const y = fc[i];
    if (!y || x.state === y.state) return;
    const ch = { id: x.id, before: x.state, after: y.state, reason: y.reason };
    // present → untested is no loss (the candidate did not test it) and stays among the other changes
    if (x.state === 'present' && ['absent', 'broken', 'inconsistent'].includes(y.state)) out.featuresLost.push(ch);
    else if (y.state === 'present' && (x.state === 'absent' || x.state === 'untested')) out.featuresGained.push(ch);
    else out.featuresChanged.push(ch);
  });
  return out;
}

/** True when the candidate regressed: a case newly fails or a present feature was lost or broke. */
export function hasRegressions(c: Comparison): boolean {
  return c.regressions.length > 0 || c.featuresLost.length > 0;
}

/** compare's exit status: 1 when the candidate regressed or is incomplete (a killed run proves nothing about the cases it never ran), else 0. */
export function comparisonStatus(c: Comparison): number {
  return hasRegressions(c) || c.candidateIncomplete ? 1 : 0;
}

/** The comparison as Markdown, suitable for a CI comment. */
export function comparisonMarkdown(c: Comparison): string {
  const lines = [`## gmem-conformance: ${mdText(c.candidate)} vs baseline ${mdText(c.baseline)}`, ''];
  if (c.candidateIncomplete)
    lines.push(
      `**Incomplete candidate run**: ${mdText(c.candidateIncomplete)}; ${c.missing.length} case(s) of the baseline have no result in it. This is not a pass.`,
      '',
    );
  if (c.baselineIncomplete) lines.push(`Incomplete baseline run: ${mdText(c.baselineIncomplete)}.`, '');
  if (hasRegressions(c))
    lines.push(`**${c.regressions.length} regression(s), ${c.featuresLost.length} feature(s) lost or broken.**`, '');
  else if (!c.candidateIncomplete) lines.push('**No regressions.**', '');
  else lines.push('No regressions among the cases that ran.', '');
  const section = (title: string, rows: string[]) => {
    if (!rows.length) return;
    lines.push(`### ${title} (${rows.length})`, '', ...rows, '');
  };
  section(
    'New failures',
    c.regressions.map((r) => `- ${mdCode(r.id)}: ${r.before} → **${r.after}** — ${mdText(r.message)}`),
  );
  section(
    'Features lost or broken',
    c.featuresLost.map((f) => `- ${mdCode(f.id)}: ${f.before} → **${f.after}** — ${mdText(f.reason)}`),
  );
  section(
    'Fixes',
    c.fixes.map((r) => `- ${mdCode(r.id)}: ${r.before} → ${r.after}`),
  );
  section(
    'Features gained',
    c.featuresGained.map((f) => `- ${mdCode(f.id)}: ${f.before} → ${f.after}`),
  );
  section(
    'Other feature changes',
    c.featuresChanged.map((f) => `- ${mdCode(f.id)}: ${f.before} → ${f.after} — ${mdText(f.reason)}`),
  );
  section(
    'Other verdict changes',
    c.otherChanges.map((r) => `- ${mdCode(r.id)}: ${r.before} → ${r.after} — ${mdText(r.message)}`),
  );
  section(
    'Changed observations (errnos, values)',
    c.observationChanges.map(
      (o) =>
        `- ${mdCode(o.id)} ${mdText(o.key)}: ${mdCode(JSON.stringify(o.before) ?? 'undefined')} → ${mdCode(JSON.stringify(o.after) ?? 'undefined')}`,
    ),
  );
  if (c.missing.length)
    lines.push(`${c.missing.length} case(s) ran only in the baseline; ${c.added.length} only in the candidate.`, '');
  return `${lines.join('\n')}\n`;
}
