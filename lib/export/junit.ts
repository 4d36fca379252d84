/** JUnit XML (as Jenkins and GitLab read it) from a results file: one testsuite per family, one testcase per instance. */
import { resultsByFamily } from '../report/results-file.js';
import type { CaseResult, ResultsFile } from '../harness/verdict.js';
import { printable } from './names.js';

/** Escapes text for an XML attribute value or element content (and drops what XML 1.0 cannot hold). */
export function xmlEscape(s: string): string {
  return printable(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/\r/g, '&#13;')
    .replace(/\n/g, '&#10;')
    .replace(/\t/g, '&#9;');
}

/** Escapes text for element content, keeping line breaks readable. */
function xmlText(s: string): string {
  return printable(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function attrs(a: Record<string, string | number | undefined>): string {
  return Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`)
    .join('');
}

/** The run's start as JUnit's timestamp wants it: ISO 8601 to the second, no zone (UTC in our files). */
function localTimestamp(iso: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})/.exec(iso);
  return m ? m[1] : undefined;
}

const seconds = (ms: number) => (Math.max(0, ms) / 1000).toFixed(3);

/**
 * What the kernel did, read from a failure message of lib/harness/expect.ts or a SyscallError:
 * the errno it failed with ("… but it failed with EBADF (9)", "… failed: EINVAL (22)"), or
 * "unexpected-success" ("… but the call succeeded (ret=3)"); null when the message says neither.
 */
export function observedOutcome(message: string): string | null {
  const errno = /\bfailed(?: with|:) (E[A-Z0-9]+)\b/.exec(message);
  if (errno) return errno[1] as string;
  if (/\bthe call succeeded\b/.test(message)) return 'unexpected-success';
  return null;
}

/**
 * The child element that carries a non-pass verdict, in the conventions Jenkins and GitLab render:
 * fail/timeout/xpass are <failure>, error is <error>, skip and xfail are <skipped> (as pytest writes
 * an expected failure). The message is the suite's reason, which names the errno; `type` says which
 * kind of failure it is (the crash signal for a crash, the errno the kernel returned for a wrong one).
 */
export function verdictElement(r: CaseResult): string {
  const body = [r.message, ...(r.hint ? [`hint: ${r.hint}`] : [])].filter(Boolean).join('\n');
  const failureType = r.signal ?? observedOutcome(r.message) ?? 'fail';
  switch (r.verdict) {
    case 'pass':
      return '';
    case 'skip':
      return `<skipped${attrs({ message: r.message })}/>`;
    case 'xfail':
      return `<skipped${attrs({ type: 'xfail', message: `known failure: ${r.message}` })}>${xmlText(body)}</skipped>`;
    case 'fail':
      return `<failure${attrs({ type: failureType, message: r.message })}>${xmlText(body)}</failure>`;
    case 'timeout':
      return `<failure${attrs({ type: 'timeout', message: r.message })}>${xmlText(body)}</failure>`;
    case 'xpass':
      return `<failure${attrs({ type: 'xpass', message: r.message })}>${xmlText(body)}</failure>`;
    case 'error':
      return `<error${attrs({ type: 'error', message: r.message })}>${xmlText(body)}</error>`;
  }
}

interface Counts {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  ms: number;
}

function count(rs: CaseResult[]): Counts {
  const c: Counts = { tests: rs.length, failures: 0, errors: 0, skipped: 0, ms: 0 };
  for (const r of rs) {
    c.ms += r.durationMs;
    if (r.verdict === 'fail' || r.verdict === 'timeout' || r.verdict === 'xpass') c.failures++;
    else if (r.verdict === 'error') c.errors++;
    else if (r.verdict === 'skip' || r.verdict === 'xfail') c.skipped++;
  }
  return c;
}

/** Options of the JUnit export. */
export interface JunitOptions {
  /** Name of the <testsuites> element (default gmem-conformance). */ name: string;
}

/** Converts a results file into a JUnit XML document. */
export function toJunit(file: ResultsFile, o: JunitOptions): string {
  const { run } = file;
  const families = resultsByFamily(file.results);
  const total = count(file.results);
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(
    `<testsuites${attrs({ name: o.name, tests: total.tests, failures: total.failures, errors: total.errors, skipped: total.skipped, time: seconds(total.ms) })}>`,
  );
  let index = 0;
  for (const [family, rs] of families) {
    const c = count(rs);
    out.push(
      `  <testsuite${attrs({ name: family, id: index++, package: family.split('.')[0], tests: c.tests, failures: c.failures, errors: c.errors, skipped: c.skipped, time: seconds(c.ms), timestamp: localTimestamp(run.started), hostname: run.host })}>`,
    );
    out.push('    <properties>');
    const props: [string, string][] = [
      ['kernel', run.kernel],
      ['arch', run.arch],
      ['platform', run.platform],
      ['host', run.host],
      ['suite_version', run.suiteVersion],
      ['complete', file.end ? 'true' : 'false (the run was killed before its end record)'],
    ];
    for (const [k, v] of props) out.push(`      <property${attrs({ name: k, value: v })}/>`);
    out.push('    </properties>');
    for (const r of rs) {
      const name = r.id.startsWith(`${family}.`) ? r.id.slice(family.length + 1) : r.id;
      const child = verdictElement(r);
      const notes = r.notes ?? [];
      const obs =
        r.observations && Object.keys(r.observations).length ? [`observations: ${JSON.stringify(r.observations)}`] : [];
      const sysout = [...notes, ...obs];
      const inner = [child, sysout.length ? `<system-out>${xmlText(sysout.join('\n'))}</system-out>` : ''].filter(
        Boolean,
      );
      const open = `    <testcase${attrs({ classname: family, name, time: seconds(r.durationMs) })}`;
      out.push(inner.length ? `${open}>\n      ${inner.join('\n      ')}\n    </testcase>` : `${open}/>`);
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}
