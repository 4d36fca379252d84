/** Bisect verdicts: turns the selected cases' results on one kernel into good / bad / can't test (git bisect run's 0 / 1 / 125). */
import { readFileSync } from 'node:fs';

/** What "good" means: the cases pass (default), fail, run at all (present) or skip for a missing requirement (absent). */
export type GoodIf = 'pass' | 'fail' | 'present' | 'absent';

/** One kernel judged: exit code for git bisect run and the reason. */
export interface Judgement {
  /** 0 good, 1 bad, 125 cannot be tested. */ code: 0 | 1 | 125;
  /** The state seen: pass/fail (ran) or present/absent, or "untestable". */ state: string;
  /** One line saying why. */ why: string;
}

interface ResultLine {
  type: string;
  id: string;
  verdict: string;
  message?: string;
}

/** Reads the result lines of a results file. */
export function resultLines(path: string): ResultLine[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        const r = JSON.parse(l) as ResultLine;
        return r.type === 'result' ? [r] : [];
      } catch {
        return [];
      }
    });
}

const RAN = new Set(['pass', 'fail', 'xfail', 'xpass']);
const BAD_RUN = new Set(['fail', 'xpass']);

/** Judges the results of the selected cases on one kernel. */
export function judge(results: ResultLine[], goodIf: GoodIf): Judgement {
  if (results.length === 0)
    return { code: 125, state: 'untestable', why: 'no result for the selected cases (does -t match a case?)' };
  const broken = results.find((r) => r.verdict === 'error' || r.verdict === 'timeout');
  const skipped = results.filter((r) => r.verdict === 'skip');
  const ran = results.filter((r) => RAN.has(r.verdict));
  const failed = ran.filter((r) => BAD_RUN.has(r.verdict));
  const list = (rs: ResultLine[]) =>
    rs
      .slice(0, 3)
      .map((r) => `${r.id}: ${r.verdict}${r.message ? ` (${r.message.slice(0, 120)})` : ''}`)
      .join('; ');
  if (goodIf === 'present' || goodIf === 'absent') {
    if (ran.length > 0) return { code: goodIf === 'present' ? 0 : 1, state: 'present', why: `ran: ${list(ran)}` };
    if (broken) return { code: 125, state: 'untestable', why: `the harness could not tell: ${list([broken])}` };
    return { code: goodIf === 'absent' ? 0 : 1, state: 'absent', why: `skipped: ${list(skipped)}` };
  }
  if (broken) return { code: 125, state: 'untestable', why: `the harness broke: ${list([broken])}` };
  if (ran.length === 0)
    return { code: 125, state: 'untestable', why: `feature absent, every selected case skipped: ${list(skipped)}` };
  const state = failed.length ? 'fail' : 'pass';
  const good = state === goodIf;
  return { code: good ? 0 : 1, state, why: failed.length ? list(failed) : `${ran.length} case(s) passed` };
}
