/** `export junit`: XML that a real JUnit parser (Debian's python3-junitparser) reads back with the suite's verdicts. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli } from './helpers.js';
import { debianPython, everyVerdictRun, liveRun, python, summaryCounts, tempDir } from './export-helpers.js';
import { readResults } from '../lib/report/results-file.js';

/** Reads a JUnit file with junitparser (as Jenkins/GitLab consumers do with their own parsers) and prints what it saw as JSON. */
const READ_WITH_JUNITPARSER = `
import json, sys
from junitparser import JUnitXml
xml = JUnitXml.fromfile(sys.argv[1])
suites = []
for suite in xml:
    cases = []
    for case in suite:
        cases.append({
            'classname': case.classname, 'name': case.name, 'time': case.time,
            'results': [{'kind': type(r).__name__, 'type': r.type, 'message': r.message, 'text': r.text} for r in case.result],
            'system_out': case.system_out,
        })
    suites.append({'name': suite.name, 'tests': suite.tests, 'failures': suite.failures, 'errors': suite.errors,
                   'skipped': suite.skipped, 'time': suite.time, 'cases': cases,
                   'properties': {p.name: p.value for p in suite.properties()}})
xml.update_statistics()
print(json.dumps({'name': xml.name, 'tests': xml.tests, 'failures': xml.failures, 'errors': xml.errors, 'skipped': xml.skipped, 'suites': suites}))
`;

/** The same with nothing but Python's own XML parser, for machines where junitparser cannot be had. */
const READ_WITH_ETREE = `
import json, sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = []
for s in root.findall('testsuite'):
    cases = []
    for c in s.findall('testcase'):
        cases.append({'classname': c.get('classname'), 'name': c.get('name'), 'time': float(c.get('time')),
                      'results': [{'kind': {'failure': 'Failure', 'error': 'Error', 'skipped': 'Skipped'}[r.tag], 'type': r.get('type'), 'message': r.get('message'), 'text': r.text}
                                  for r in c if r.tag in ('failure', 'error', 'skipped')],
                      'system_out': (c.find('system-out').text if c.find('system-out') is not None else None)})
    suites.append({'name': s.get('name'), 'tests': int(s.get('tests')), 'failures': int(s.get('failures')), 'errors': int(s.get('errors')),
                   'skipped': int(s.get('skipped')), 'time': float(s.get('time')), 'cases': cases,
                   'properties': {p.get('name'): p.get('value') for p in s.iter('property')}})
print(json.dumps({'name': root.get('name'), 'tests': int(root.get('tests')), 'failures': int(root.get('failures')), 'errors': int(root.get('errors')), 'skipped': int(root.get('skipped')), 'suites': suites}))
`;

interface Parsed {
  name: string;
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  suites: {
    name: string;
    tests: number;
    failures: number;
    errors: number;
    skipped: number;
    time: number;
    properties: Record<string, string>;
    cases: {
      classname: string;
      name: string;
      time: number;
      results: { kind: string; type: string | null; message: string | null; text: string | null }[];
      system_out: string | null;
    }[];
  }[];
}

const junitparser = debianPython('python3-junitparser');
const reader = junitparser.path
  ? { path: junitparser.path, code: READ_WITH_JUNITPARSER, what: 'python3-junitparser' }
  : { path: '', code: READ_WITH_ETREE, what: 'xml.etree' };

function exportAndParse(results: string): { xml: string; parsed: Parsed } {
  const out = join(tempDir('junit'), 'junit.xml');
  const r = cli(['export', 'junit', results, '-o', out]);
  assert.equal(r.status, 0, r.stderr);
  const p = python(reader.path, reader.code, [out]);
  assert.equal(p.status, 0, `${reader.what} could not read the JUnit XML: ${p.stderr}`);
  return { xml: readFileSync(out, 'utf8'), parsed: JSON.parse(p.stdout) as Parsed };
}

const dir = tempDir('junit-runs');
let every: ReturnType<typeof everyVerdictRun>;
let live: ReturnType<typeof liveRun>;
before(() => {
  every = everyVerdictRun(dir);
  live = liveRun(dir, ['gmem.create', 'memfd.create', 'gmem.refuse']);
});

test(`junitparser from Debian reads the XML (${junitparser.why ?? 'python3-junitparser'})`, {
  skip: junitparser.why ?? false,
}, () => {
  const { parsed } = exportAndParse(every.results);
  assert.ok(parsed.suites.length > 0);
});

test(`every verdict becomes the element Jenkins and GitLab render (read with ${reader.what})`, () => {
  const { parsed } = exportAndParse(every.results);
  assert.equal(parsed.name, 'gmem-conformance');
  const cases = new Map(parsed.suites.flatMap((s) => s.cases.map((c) => [`${c.classname}.${c.name}`, c])));
  const kind = (id: string) =>
    cases
      .get(id)
      ?.results.map((r) => `${r.kind}:${r.type ?? ''}`)
      .join(',') ?? 'absent';
  assert.equal(kind('harness.demo.pass_after'), '');
  assert.equal(kind('harness.demo.fails'), 'Skipped:xfail', 'an expected failure is skipped, as pytest writes it');
  assert.equal(kind('harness.demo.pass_before'), 'Failure:xpass');
  assert.equal(kind('harness.demo.sigbus'), 'Failure:SIGBUS');
  assert.equal(kind('harness.demo.hang'), 'Failure:timeout');
  assert.equal(kind('harness.demo.throws'), 'Error:error');
  assert.equal(kind('harness.demo.needs_missing_file'), 'Skipped:');
  assert.equal(
    cases.get('harness.demo.needs_missing_file')?.results[0]?.message,
    'needs /nonexistent/gmem-conformance, which does not exist',
  );
  assert.match(
    cases.get('harness.demo.fails')?.results[0]?.text ?? '',
    /hint: known failure \(fixed by 0123456789ab\)/,
  );
  assert.ok((cases.get('harness.demo.hang')?.time ?? 0) >= 1, 'time in seconds');
  // counts: the attributes agree with the elements and with the suite's own summary line
  const s = summaryCounts(every.ktap);
  const total = readResults(every.results).results.length;
  assert.equal(parsed.tests, total);
  assert.equal(parsed.failures + parsed.errors, s.failed);
  assert.equal(parsed.skipped, s.skipped + 1, 'skipped = skips + the xfail');
  for (const suite of parsed.suites) {
    assert.equal(suite.tests, suite.cases.length);
    assert.equal(suite.failures, suite.cases.filter((c) => c.results.some((r) => r.kind === 'Failure')).length);
    assert.equal(suite.errors, suite.cases.filter((c) => c.results.some((r) => r.kind === 'Error')).length);
    assert.equal(suite.skipped, suite.cases.filter((c) => c.results.some((r) => r.kind === 'Skipped')).length);
  }
});

test("a live run: one testsuite per family, one testcase per instance, with the run's kernel as a property", () => {
  const { parsed } = exportAndParse(live.results);
  const file = readResults(live.results);
  const families = [...new Set(file.results.map((r) => r.family))];
  assert.deepEqual(
    parsed.suites.map((x) => x.name),
    families,
  );
  assert.equal(
    parsed.suites.reduce((n, x) => n + x.cases.length, 0),
    file.results.length,
  );
  assert.equal(parsed.suites[0]?.properties.kernel, file.run.kernel);
  const ids = parsed.suites.flatMap((x) => x.cases.map((c) => `${c.classname}.${c.name}`));
  // one testsuite per family: instances grouped by family (first-appearance order), file order within each,
  // since under -j the results file interleaves families as cases finish
  assert.deepEqual(
    ids,
    families.flatMap((f) => file.results.filter((r) => r.family === f).map((r) => r.id)),
  );
  const s = summaryCounts(live.ktap);
  assert.equal(parsed.failures + parsed.errors, s.failed);
});

test('a failure names the errno the kernel returned; hostile text stays well-formed XML', () => {
  const odd = join(dir, 'odd.jsonl');
  const run = readFileSync(live.results, 'utf8').split('\n')[0];
  const res = (id: string, verdict: string, message: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      type: 'result',
      id,
      case: id.split('@')[0],
      family: 'a.b',
      verdict,
      message,
      durationMs: 2,
      ...extra,
    });
  writeFileSync(
    odd,
    [
      run,
      res('a.b.wrong_errno@v', 'fail', 'size 4095: expected EINVAL (22), but it failed with EBADF (9)', {
        notes: ['note <1> & "2"'],
        observations: { outcome: 'EBADF' },
      }),
      res('a.b.succeeded', 'fail', 'flags 0x8: expected EINVAL (22), but the call succeeded (ret=7)'),
      res('a.b.checked', 'fail', 'KVM_CREATE_GUEST_MEMFD (size 4096 flags 0x4) failed: EINVAL (22)'),
      res('a.b.hostile', 'error', 'NUL \u0000 bell \u0007 ]]> </failure> <!-- & \'q\' "dq"\nsecond line'),
      '',
    ].join('\n'),
  );
  const { parsed, xml } = exportAndParse(odd);
  const cases = new Map(parsed.suites.flatMap((s) => s.cases.map((c) => [`${c.classname}.${c.name}`, c])));
  assert.equal(cases.get('a.b.wrong_errno@v')?.results[0]?.type, 'EBADF');
  assert.equal(
    cases.get('a.b.wrong_errno@v')?.results[0]?.message,
    'size 4095: expected EINVAL (22), but it failed with EBADF (9)',
  );
  assert.match(cases.get('a.b.wrong_errno@v')?.system_out ?? '', /note <1> & "2"\nobservations: \{"outcome":"EBADF"\}/);
  assert.equal(cases.get('a.b.succeeded')?.results[0]?.type, 'unexpected-success');
  assert.equal(cases.get('a.b.checked')?.results[0]?.type, 'EINVAL');
  assert.match(
    cases.get('a.b.hostile')?.results[0]?.message ?? '',
    /^NUL \\x00 bell \\x07 \]\]> <\/failure> <!-- & 'q' "dq"\nsecond line$/,
  );
  assert.doesNotMatch(xml, /[\u0000-\u0008]/);
});
