/** Qualification: a platform profile's required/recommended features checked against one run's results. */
import type { ResultsFile } from '../harness/verdict.js';
import type { PlatformProfile } from '../fixtures/platforms.js';
import { decideFeatures } from '../features/decide.js';
import { FEATURES } from '../features/catalog.js';
import type { FeatureVerdict } from '../features/feature.js';
import { mdCode, mdText } from './markdown-escape.js';

/** The verdict on one feature of a profile. */
export interface QualifiedFeature {
  /** Feature id. */ id: string;
  /** Feature title. */ title: string;
  /** 'required' or 'recommended'. */ level: 'required' | 'recommended';
  /** PASS: present and proven by cases (or capability-only features); FAIL otherwise. */ verdict: 'PASS' | 'FAIL';
  /** Why, from the feature decision. */ reason: string;
  /** Why the profile wants it. */ why?: string;
  /** The decided feature with its evidence. */ decision: FeatureVerdict;
}

/** The whole qualification. */
export interface Qualification {
  /** Profile name. */ platform: string;
  /** Profile title. */ title: string;
  /** QUALIFIED when every required feature passes and the arch matches. */ overall: 'QUALIFIED' | 'NOT QUALIFIED';
  /** Kernel, host, arch of the run. */ run: { kernel: string; host: string; arch: string; started: string };
  /** Arch mismatch, if any. */ archMismatch?: string;
  /** Per-feature verdicts. */ features: QualifiedFeature[];
}

/** Qualifies one run (all its files merged) against a profile. */
export function qualify(profile: PlatformProfile, files: readonly ResultsFile[]): Qualification {
  const first = files[0];
  if (!first) throw new Error('qualify needs at least one results file');
  const results = files.flatMap((f) => f.results);
  const decided = new Map(decideFeatures(first.run, results).map((d) => [d.id, d]));
  const defs = new Map(FEATURES.map((f) => [f.id, f]));
  const features: QualifiedFeature[] = [];
  const add = (level: 'required' | 'recommended') => (ref: { feature: string; why?: string | undefined }) => {
    const d = decided.get(ref.feature) as FeatureVerdict;
    const def = defs.get(ref.feature);
    const proven = d.state === 'present' && (d.verified || (def?.cases.length ?? 0) === 0);
    const reason =
      d.state === 'present' && !proven
        ? `advertised but not proven: none of its cases ran (${def?.cases.join(', ')})`
        : `${d.state}: ${d.reason}`;
    features.push({
      id: ref.feature,
      title: def?.title ?? ref.feature,
      level,
      verdict: proven ? 'PASS' : 'FAIL',
      reason,
      ...(ref.why ? { why: ref.why } : {}),
      decision: d,
    });
  };
  profile.requires.forEach(add('required'));
  (profile.recommends ?? []).forEach(add('recommended'));
  const archMismatch =
    first.run.arch !== profile.arch ? `the run is ${first.run.arch}, the profile is for ${profile.arch}` : undefined;
  const ok = !archMismatch && features.every((f) => f.level !== 'required' || f.verdict === 'PASS');
  return {
    platform: profile.platform,
    title: profile.title,
    overall: ok ? 'QUALIFIED' : 'NOT QUALIFIED',
    run: { kernel: first.run.kernel, host: first.run.host, arch: first.run.arch, started: first.run.started },
    ...(archMismatch ? { archMismatch } : {}),
    features,
  };
}

/** The qualification as a Markdown report a vendor can hand over. */
export function qualificationMarkdown(q: Qualification): string {
  const t = mdText;
  const out = [
    `# Qualification: ${t(q.title)} (${mdCode(q.platform)})`,
    '',
    `Kernel ${t(q.run.kernel)} on ${t(q.run.host)} (${t(q.run.arch)}), run started ${t(q.run.started)}.`,
    '',
    `**${q.overall}**`,
    '',
  ];
  if (q.archMismatch) out.push(`Architecture mismatch: ${t(q.archMismatch)}.`, '');
  out.push('| level | feature | verdict | why |', '|---|---|---|---|');
  for (const f of q.features)
    out.push(
      `| ${t(f.level)} | ${t(f.title)} ${mdCode(f.id)} | ${f.verdict} | ${t(f.reason)}${f.why ? ` (${t(f.why)})` : ''} |`,
    );
  out.push('', 'Evidence per feature (case id: verdict):', '');
  for (const f of q.features) {
    if (!f.decision.cases.length) continue;
    const fails = f.decision.cases.filter((c) => c.verdict !== 'pass');
    out.push(
      `- ${mdCode(f.id)}: ${Object.entries(f.decision.counts)
        .map(([k, n]) => `${n} ${t(k)}`)
        .join(', ')}${
        fails.length
          ? `; not passing: ${fails
              .slice(0, 5)
              .map((c) => `${mdCode(c.id)} ${t(c.verdict)} (${t(c.message)})`)
              .join('; ')}`
          : ''
      }`,
    );
  }
  return `${out.join('\n')}\n`;
}
