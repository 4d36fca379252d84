/** The feature matrix model: results files merged into columns (platform × kernel), features as rows. */
import { isFailing, type CaseResult, type ResultsFile } from '../harness/verdict.js';
import { decideFeatures } from '../features/decide.js';
import { FEATURES } from '../features/catalog.js';
import type { FeatureVerdict } from '../features/feature.js';
import { mdCode, mdText } from './markdown-escape.js';

/** One column: every results file of one platform/kernel/host merged. */
export interface MatrixColumn {
  /** Stable key platform|kernel|host. */ key: string;
  /** Header label. */ label: string;
  /** Platform label. */ platform: string;
  /** Kernel release. */ kernel: string;
  /** Host name. */ host: string;
  /** Results files merged into it. */ sources: string[];
  /** False when a merged run was killed before its end record. */ complete: boolean;
  /** Verdict counts over its results. */ totals: Record<string, number>;
}

/** One case row under a feature (or in the case listing): its verdict per column. */
export interface MatrixCaseRow {
  /** Result id. */ id: string;
  /** Family. */ family: string;
  /** Per column: verdict and message, or null when the case did not run there. */ cells: ({
    verdict: string;
    message: string;
  } | null)[];
}

/** One feature row: the feature and its verdict per column. */
export interface MatrixFeatureRow {
  /** Feature id. */ id: string;
  /** Title. */ title: string;
  /** Family for filtering. */ family: string;
  /** Per column verdicts. */ cells: FeatureVerdict[];
}

/** The whole matrix. */
export interface Matrix {
  /** When it was built. */ generated: string;
  /** Columns. */ columns: MatrixColumn[];
  /** Feature rows. */ features: MatrixFeatureRow[];
  /** Every case seen in any column. */ cases: MatrixCaseRow[];
  /** Contradictions found while building: inconsistent cells, merged runs that disagree (never silent). */
  warnings: string[];
}

/** How much a verdict tells: a failure beats a pass, anything that ran beats a skip. */
function weight(verdict: string): number {
  if (isFailing(verdict as CaseResult['verdict'])) return 2;
  return verdict === 'skip' ? 0 : 1;
}

/**
 * Merges the results of several files of one column, per id: a result that ran beats a skip (a column
 * where one run tested a case and another skipped it is tested), a failure beats a pass; between equals
 * the later file wins. Two runs that ran a case and disagree are reported.
 */
export function mergeColumnResults(
  files: readonly ResultsFile[],
  label: string,
): { results: CaseResult[]; warnings: string[] } {
  const byId = new Map<string, { r: CaseResult; path: string }>();
  const warnings: string[] = [];
  for (const f of files) {
    for (const r of f.results) {
      const had = byId.get(r.id);
      if (had && weight(had.r.verdict) > 0 && weight(r.verdict) > 0 && weight(had.r.verdict) !== weight(r.verdict))
        warnings.push(
          `${label}: ${r.id} is ${had.r.verdict} in ${had.path} but ${r.verdict} in ${f.path}; ` +
            'the failure is kept',
        );
      if (!had || weight(r.verdict) >= weight(had.r.verdict)) byId.set(r.id, { r, path: f.path });
    }
  }
  return { results: [...byId.values()].map((x) => x.r), warnings };
}

/** The KVM facts two runs of one column disagree on (capabilities, VM types), as warnings. */
function kvmDisagreements(files: readonly ResultsFile[], label: string): string[] {
  const withKvm = files.filter((f) => (f.run.kvm as { available?: boolean }).available !== undefined);
  const first = withKvm[0];
  if (!first) return [];
  const facts = (f: ResultsFile) => {
    const k = f.run.kvm as { available?: boolean; vmTypes?: number[]; sysCaps?: Record<string, number> };
    return JSON.stringify([k.available, k.vmTypes ?? [], Object.entries(k.sysCaps ?? {}).sort()]);
  };
  return withKvm
    .slice(1)
    .filter((f) => facts(f) !== facts(first))
    .map(
      (f) =>
        `${label}: ${f.path} and ${first.path} record different KVM capabilities or VM types; ` +
        `${first.path}'s are used`,
    );
}

/** Merges results files into columns (same platform, kernel and host → one column; later files win per id). */
export function buildMatrix(files: readonly ResultsFile[]): Matrix {
  const groups = new Map<string, ResultsFile[]>();
  for (const f of files) {
    const key = `${f.run.platform}|${f.run.kernel}|${f.run.host}`;
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  const labels = new Map<string, number>();
  for (const g of groups.values()) {
    const base = `${g[0]?.run.platform} · ${g[0]?.run.kernel}`;
    labels.set(base, (labels.get(base) ?? 0) + 1);
  }
  const columns: MatrixColumn[] = [];
  const perColumn: { run: ResultsFile['run']; results: CaseResult[] }[] = [];
  const warnings: string[] = [];
  for (const [key, g] of groups) {
    const first = g[0] as ResultsFile;
    const base = `${first.run.platform} · ${first.run.kernel}`;
    const label = (labels.get(base) ?? 0) > 1 ? `${base} (${first.run.host})` : base;
    const merged = mergeColumnResults(g, label);
    const results = merged.results;
    warnings.push(...merged.warnings, ...kvmDisagreements(g, label));
    const totals: Record<string, number> = {};
    for (const r of results) totals[r.verdict] = (totals[r.verdict] ?? 0) + 1;
    // the run record with KVM facts wins over imported files that have none
    const withKvm = g.find((f) => (f.run.kvm as { available?: boolean }).available !== undefined) ?? first;
    columns.push({
      key,
      label,
      platform: first.run.platform,
      kernel: first.run.kernel,
      host: first.run.host,
      sources: g.map((f) => f.path),
      complete: g.every((f) => f.end !== undefined),
      totals,
    });
    perColumn.push({ run: withKvm.run, results });
  }
  const decided = perColumn.map((c) => decideFeatures(c.run, c.results));
  const features: MatrixFeatureRow[] = FEATURES.map((f, i) => ({
    id: f.id,
    title: f.title,
    family: f.family,
    cells: decided.map((d) => d[i] as FeatureVerdict),
  }));
  for (const f of features)
    f.cells.forEach((c, i) => {
      for (const p of c.problems ?? []) warnings.push(`${columns[i]?.label}: ${f.id} is inconsistent: ${p}`);
    });
  const caseIds = new Map<string, string>();
  for (const c of perColumn) for (const r of c.results) if (!caseIds.has(r.id)) caseIds.set(r.id, r.family);
  const lookup = perColumn.map((c) => new Map(c.results.map((r) => [r.id, r])));
  const cases: MatrixCaseRow[] = [...caseIds].map(([id, family]) => ({
    id,
    family,
    cells: lookup.map((m) => {
      const r = m.get(id);
      return r ? { verdict: r.verdict, message: r.message } : null;
    }),
  }));
  return { generated: new Date().toISOString(), columns, features, cases, warnings };
}

const SYMBOL: Record<string, string> = {
  present: '✔ present',
  absent: '– absent',
  broken: '✘ broken',
  untested: '○ untested',
  inconsistent: '⚠ inconsistent',
};

/** A cell's text: the state, with "advertised" for a present feature no case of which ran. */
export function cellLabel(c: FeatureVerdict): string {
  return c.state === 'present' && !c.verified ? '✔ advertised' : (SYMBOL[c.state] as string);
}

/** The matrix as Markdown: a feature table, then the cases that differ between columns. */
export function matrixMarkdown(m: Matrix): string {
  const esc = mdText;
  const out: string[] = [
    `# gmem-conformance feature matrix`,
    '',
    `Generated ${esc(m.generated)} from ${m.columns.reduce((n, c) => n + c.sources.length, 0)} results file(s).`,
    '',
  ];
  out.push(`| feature | ${m.columns.map((c) => esc(c.label)).join(' | ')} |`);
  out.push(`|---|${m.columns.map(() => '---').join('|')}|`);
  for (const f of m.features) {
    out.push(
      `| ${esc(f.title)} ${mdCode(f.id)} | ${f.cells.map((c) => `${cellLabel(c)}${c.value ? ` (${esc(c.value)})` : ''}`).join(' | ')} |`,
    );
  }
  out.push(
    '',
    `| totals | ${m.columns
      .map((c) =>
        Object.entries(c.totals)
          .map(([k, v]) => `${esc(k)} ${esc(String(v))}`)
          .join(', '),
      )
      .join(' | ')} |`,
    '',
  );
  out.push(
    '✔ present: cases ran and passed (advertised: a capability-only feature the kernel advertises) · – absent: the kernel',
    'was asked and said no · ✘ broken: an evidence case fails · ○ untested: not tested here (every evidence case skipped,',
    'or none ran) · ⚠ inconsistent: the cell contradicts what its cases ran and saw',
    '',
  );
  if (m.warnings.length) {
    out.push(`## Consistency warnings (${m.warnings.length})`, '');
    for (const w of m.warnings) out.push(`- ${mdCode(w)}`);
    out.push('');
  }
  const differing = m.cases.filter((c) => new Set(c.cells.map((x) => x?.verdict ?? 'not run')).size > 1);
  if (m.columns.length > 1) {
    out.push(`## Cases whose verdict differs between columns (${differing.length})`, '');
    if (differing.length) {
      out.push(
        `| case | ${m.columns.map((c) => esc(c.label)).join(' | ')} |`,
        `|---|${m.columns.map(() => '---').join('|')}|`,
      );
      for (const c of differing)
        out.push(`| ${mdCode(c.id)} | ${c.cells.map((x) => (x ? esc(x.verdict) : 'not run')).join(' | ')} |`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** The matrix as JSON (the model itself). */
export function matrixJson(m: Matrix): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}
