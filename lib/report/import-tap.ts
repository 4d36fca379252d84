/** Converts kselftest runner output (TAP 13, run_kselftest.sh style, nested TAP in "# " lines) into results. */
import { Parser } from 'tap-parser';
import { isFailing, type CaseResult, type Verdict } from '../harness/verdict.js';
import { InputError } from '../errors.js';

/** A kselftest result name turned into a dotted id segment. */
export function idSegment(name: string): string {
  return (
    name
      .trim()
      .toLowerCase()
      .replace(/[^a-z0-9_]+/g, '_')
      .replace(/^_+|_+$/g, '') || 'unnamed'
  );
}

interface Point {
  ok: boolean;
  name: string;
  skip: boolean | string;
  todo: boolean | string;
}

function verdictOf(p: Point, directive: string): Verdict {
  if (/^TIMEOUT/i.test(directive) || /exit=124\b/.test(p.name)) return 'timeout';
  if (p.skip) return 'skip';
  if (/^XFAIL/i.test(directive) || p.todo) return p.ok ? 'xfail' : 'xfail';
  if (/^XPASS/i.test(directive)) return 'xpass';
  return p.ok ? 'pass' : 'fail';
}

/** Why a test did not pass, in kselftest's own words: its diagnostic lines (the "# " lines before its result that are not TAP structure), the last 5. */
export function reasonLines(comments: readonly string[]): string {
  const lines = comments.map((c) => c.replace(/^#\s?/, '').replace(/^#\s?/, '').trim());
  // a test that skipped as a whole says why in its plan: "1..0 # SKIP reason"
  const skipPlan = lines.map((l) => /^\d+\.\.\d+\s*#\s*SKIP\b\s*(.*)$/i.exec(l)?.[1]).find((x) => x);
  if (skipPlan) return skipPlan.replace(/^-\s+/, '');
  return lines
    .filter((l) => l !== '' && !/^((not )?ok \d|\d+\.\.\d+|K?TAP version|Subtest:|selftests: )/.test(l))
    .slice(-5)
    .join('\n');
}

/**
 * The exit status of a kselftest binary as runner.sh reports it: `# exit=N` on a failure, `# SKIP` for
 * its skip_rc 4, `# TIMEOUT` for timeout_rc 124, a plain `ok` only for 0; undefined when the runner did
 * not run the binary (missing or not executable: `not ok` without a directive).
 */
export function exitCodeOf(ok: boolean, skip: boolean | string, directive: string): number | undefined {
  const printed = /\bexit=(\d+)\b/.exec(directive);
  if (printed) return Number(printed[1]);
  if (/^TIMEOUT\b/i.test(directive)) return 124;
  if (skip !== false || /^SKIP\b/i.test(directive)) return 4;
  if (/^XFAIL\b/i.test(directive)) return 2;
  return ok && directive === '' ? 0 : undefined;
}

function messageOf(verdict: Verdict, directive: string, comments: readonly string[]): string {
  if (verdict === 'pass') return directive;
  return [directive, reasonLines(comments)].filter(Boolean).join('\n');
}

function parsePoints(text: string): {
  points: (Point & { directive: string; comments: string[] })[];
  plan?: { end: number };
  bailout?: string;
} {
  const points: (Point & { directive: string; comments: string[] })[] = [];
  let pending: string[] = [];
  let plan: { end: number } | undefined;
  let bailout: string | undefined;
  const p = new Parser();
  p.on('comment', (c: string) => pending.push(c.replace(/\n$/, '')));
  p.on('plan', (x: { end: number }) => (plan = { end: x.end }));
  p.on('bailout', (reason: string) => (bailout = reason || 'bail out'));
  p.on('assert', (a: { ok: boolean; name: string; skip: boolean | string; todo: boolean | string }) => {
    const m = /^(.*?)\s+#\s*(.*)$/.exec(a.name);
    const name = m ? (m[1] as string) : a.name;
    const directive =
      typeof a.skip === 'string' ? a.skip : typeof a.todo === 'string' ? a.todo : m ? (m[2] as string) : '';
    points.push({ ok: a.ok, name, skip: a.skip, todo: a.todo, directive, comments: pending });
    pending = [];
  });
  p.end(text);
  return { points, ...(plan ? { plan } : {}), ...(bailout ? { bailout } : {}) };
}

/** Options of an import: where the run happened. */
export interface ImportOptions {
  /** Kernel release of the imported run. */ kernel: string;
  /** Platform label. */ platform: string;
  /** Host name. */ host: string;
  /** Architecture. */ arch: string;
}

/** Parses kselftest TAP text into case results with ids kselftest.<collection>.<test>[.<subtest>]. */
export function importKselftestTap(file: string, text: string): CaseResult[] {
  const lines = text.split('\n');
  const versionLine = lines.findIndex((l) => /^TAP version 1[34]\s*$/.test(l));
  if (versionLine < 0) throw new InputError(file, 1, 1, 'not kselftest TAP: no "TAP version 13" line');
  const top = parsePoints(lines.slice(versionLine).join('\n'));
  if (top.bailout) {
    const at = lines.findIndex((l) => /^Bail out!/.test(l));
    throw new InputError(file, at + 1, 1, `the kselftest run bailed out: ${top.bailout}`);
  }
  if (top.points.length === 0)
    throw new InputError(file, versionLine + 2, 1, 'no test points after the TAP version line');
  if (top.plan && top.plan.end !== top.points.length) {
    const at = lines.findIndex((l) => /^1\.\.\d+/.test(l));
    throw new InputError(
      file,
      at + 1,
      1,
      `plan says 1..${top.plan.end} but ${top.points.length} test point(s) follow (truncated output?)`,
    );
  }
  const out: CaseResult[] = [];
  for (const pt of top.points) {
    const parts = pt.name
      .replace(/^selftests:\s*/, '')
      .split(':')
      .map((s) => s.trim())
      .filter(Boolean);
    const base = `kselftest.${parts.map(idSegment).join('.')}`;
    const family = parts.length > 1 ? `kselftest.${idSegment(parts[0] as string)}` : 'kselftest';
    const verdict = verdictOf(pt, pt.directive);
    const exitCode = exitCodeOf(pt.ok, pt.skip, pt.directive);
    const binary: CaseResult = {
      type: 'result',
      id: base,
      case: base,
      family,
      verdict,
      message: messageOf(verdict, pt.directive, pt.comments),
      durationMs: 0,
      ...(exitCode !== undefined ? { observations: { exitCode } } : {}),
    };
    out.push(binary);
    // nested KTAP/TAP of the test itself, printed behind "# "
    const nested = pt.comments
      .map((c) => c.replace(/^# ?/, ''))
      .filter((c, i, all) => i >= all.findIndex((x) => /^TAP version|^KTAP version/.test(x)));
    if (nested.length && /^(K?TAP) version/.test(nested[0] ?? '')) {
      const sub = parsePoints(nested.join('\n').replace(/^KTAP version 1/, 'TAP version 13'));
      let failing = 0;
      for (const s of sub.points) {
        const id = `${base}.${idSegment(s.name)}`;
        const v = verdictOf(s, s.directive);
        if (isFailing(v)) failing += 1;
        out.push({
          type: 'result',
          id,
          case: id,
          family: base,
          verdict: v,
          message: messageOf(v, s.directive, s.comments),
          durationMs: 0,
        });
      }
      // the binary's verdict sums its subtests': the matrix decides features by the subtests (see isAggregate)
      if (sub.points.length)
        binary.observations = { ...binary.observations, subtests: sub.points.length, failingSubtests: failing };
    }
  }
  // a name kselftest printed twice (or two that map to one id) gets a numbered id: results ids are unique
  const seen = new Map<string, number>();
  for (const r of out) {
    const n = (seen.get(r.id) ?? 0) + 1;
    seen.set(r.id, n);
    if (n > 1) r.id = r.case = `${r.id}_${n}`;
  }
  return out;
}
