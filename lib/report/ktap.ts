/** Streams KTAP version 1: one nested block per family, in plan order even when cases finish out of order. */
import type { CaseResult, Verdict } from '../harness/verdict.js';
import { isFailing } from '../harness/verdict.js';
import { ktapDescription, ktapDiagnostics, ktapDirectiveText } from './ktap-escape.js';

/** A family as planned: its name and the ids of its instances in order. */
export interface PlannedFamily {
  /** Family id. */ name: string;
  /** Instance ids in order. */ ids: string[];
}

/** Verdict counts of a run. */
export type Totals = Record<Verdict, number>;

/** Zeroed totals. */
export function emptyTotals(): Totals {
  return { pass: 0, fail: 0, skip: 0, xfail: 0, xpass: 0, error: 0, timeout: 0 };
}

/** The KTAP result line (without indentation) for one case result at position n. */
export function ktapResultLine(n: number, r: CaseResult): string {
  const name = ktapDescription(r.id);
  const why = ktapDirectiveText(r.message);
  switch (r.verdict) {
    case 'pass':
      return `ok ${n} ${name}`;
    case 'skip':
      return `ok ${n} ${name} # SKIP ${why}`.trimEnd();
    case 'xfail':
      return `ok ${n} ${name} # XFAIL ${why}`.trimEnd();
    case 'xpass':
      return `not ok ${n} ${name} # XPASS ${why}`.trimEnd();
    case 'timeout':
      return `not ok ${n} ${name} # TIMEOUT ${why}`.trimEnd();
    case 'error':
      return `not ok ${n} ${name} # ERROR ${why}`.trimEnd();
    case 'fail':
      return `not ok ${n} ${name}`;
  }
}

/** Diagnostic lines printed before a result line: notes, then the failure message and hint. */
export function ktapResultDiagnostics(r: CaseResult): string[] {
  const out = (r.notes ?? []).flatMap((n) => ktapDiagnostics(n));
  if (r.verdict === 'fail') out.push(...ktapDiagnostics(`${r.id}: ${r.message}`));
  if (r.hint) out.push(...ktapDiagnostics(`hint: ${r.hint}`));
  return out;
}

/** Writes KTAP for a planned run as results arrive, keeping plan order. */
export class KtapWriter {
  private readonly results = new Map<string, CaseResult>();
  private fam = 0;
  private idx = 0;
  private famVerdicts: Verdict[] = [];
  private famHeaderDone = false;
  /** Verdict counts so far. */ readonly totals = emptyTotals();
  constructor(
    private readonly write: (line: string) => void,
    private readonly plan: PlannedFamily[],
  ) {}
  /** Version and plan lines. */
  header(): void {
    this.write('KTAP version 1');
    this.write(`1..${this.plan.length}`);
  }
  /** Records one result and prints every line that can now be printed in order. */
  record(r: CaseResult): void {
    this.results.set(r.id, r);
    this.totals[r.verdict]++;
    this.drain();
  }
  private drain(): void {
    for (;;) {
      const family = this.plan[this.fam];
      if (!family) return;
      if (!this.famHeaderDone) {
        this.famHeaderDone = true;
        this.write('  KTAP version 1');
        this.write(`  # Subtest: ${ktapDescription(family.name)}`);
        this.write(`  1..${family.ids.length}`);
      }
      while (this.idx < family.ids.length) {
        const r = this.results.get(family.ids[this.idx] as string);
        if (!r) return;
        for (const d of ktapResultDiagnostics(r)) this.write(`  ${d}`);
        this.write(`  ${ktapResultLine(this.idx + 1, r)}`);
        this.famVerdicts.push(r.verdict);
        this.results.delete(r.id);
        this.idx++;
      }
      this.write(familyLine(this.fam + 1, family.name, this.famVerdicts));
      this.fam++;
      this.idx = 0;
      this.famVerdicts = [];
      this.famHeaderDone = false;
    }
  }
  /** kselftest's totals line and the plain summary line. */
  footer(): void {
    const t = this.totals;
    this.write(
      `# Totals: pass:${t.pass} fail:${t.fail + t.timeout} xfail:${t.xfail} xpass:${t.xpass} skip:${t.skip} error:${t.error}`,
    );
    this.write(summaryLine(t));
  }
}

function familyLine(n: number, name: string, verdicts: Verdict[]): string {
  const desc = ktapDescription(name);
  if (verdicts.some(isFailing)) return `not ok ${n} ${desc}`;
  if (verdicts.length > 0 && verdicts.every((v) => v === 'skip')) return `ok ${n} ${desc} # SKIP all cases skipped`;
  return `ok ${n} ${desc}`;
}

/** "N passed, N failed, N skipped": passed = pass+xfail, failed = fail+timeout+error+xpass. */
export function summaryLine(t: Totals): string {
  return `${t.pass + t.xfail} passed, ${t.fail + t.timeout + t.error + t.xpass} failed, ${t.skip} skipped`;
}

/** kselftest exit code: 1 if anything failed, 4 if everything skipped, else 0. */
export function kselftestExitCode(t: Totals): number {
  if (t.fail + t.timeout + t.error + t.xpass > 0) return 1;
  const ran = t.pass + t.xfail;
  if (ran === 0 && t.skip > 0) return 4;
  return 0;
}
