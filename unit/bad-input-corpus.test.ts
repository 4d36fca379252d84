/** Bad input corpus: platform profiles, results files and kselftest TAP, each refused with a positioned message. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { cli, minimalRunLine } from './helpers.js';

const GOOD_PROFILE = 'platform: good\ntitle: Good\narch: x86_64\nrequires:\n  - feature: guest_memfd\n';

const BAD_PROFILES: [string, string, RegExp][] = [
  [
    'p1',
    'platform: p1\ntitle: T\narch: x86_64\nrequires:\n  - feature: no_such_feature\n',
    /p1\.yaml:5:14: requires\.0\.feature: unknown feature id/,
  ],
  ['p2', 'platform: p2\ntitle: T\narch: sparc\nrequires:\n  - feature: kvm\n', /p2\.yaml:3:7: arch: /],
  [
    'p3',
    'platform: p3\ntitle: T\narch: x86_64\nrequires: []\n',
    /p3\.yaml:4:11: requires: a profile must require at least one feature/,
  ],
  [
    'p4',
    'platform: other-name\ntitle: T\narch: x86_64\nrequires:\n  - feature: kvm\n',
    /p4\.yaml:1:11: platform: "other-name" does not match the file name/,
  ],
  [
    'p5',
    'platform: P5\ntitle: T\narch: x86_64\nrequires:\n  - feature: kvm\n',
    /p5\.yaml:1:11: platform: expected a lower-case slug/,
  ],
  ['p6', 'platform: p6\ntitle: ""\narch: x86_64\nrequires:\n  - feature: kvm\n', /p6\.yaml:2:8: title: /],
  [
    'p7',
    'platform: p7\ntitle: T\narch: x86_64\nrequires:\n  - feature: kvm\n    level: must\n',
    /p7\.yaml:6:5: requires\.0\.level: Invalid key/,
  ],
  ['p8', 'platform: p8\ntitle: T\narch: x86_64\n', /p8\.yaml:1:1: requires: missing required key "requires"/],
  ['p9', 'platform: p9\ntitle: T\narch: x86_64\nrequires:\n  feature: kvm\n', /p9\.yaml:5:3: requires: Invalid type/],
  [
    'p10',
    'platform: p10\ntitle: T\narch: x86_64\nrequires:\n  - feature: kvm\nrecommends:\n  - kvm\n',
    /p10\.yaml:7:5: recommends\.0: Invalid type/,
  ],
  ['p11', 'platform: p11\n  title: T\n', /p11\.yaml:\d+:\d+: YAML syntax/],
  [
    'p12',
    'platform: p12\ntitle: T\narch: x86_64\nrequires:\n  - feature: kvm\n  - feature: [guest_memfd]\n',
    /p12\.yaml:6:14: requires\.1\.feature: Invalid type/,
  ],
];

for (const [name, text, message] of BAD_PROFILES) {
  test(`qualify refuses malformed profile ${name}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'gmem-bad-'));
    mkdirSync(join(dir, 'platforms'));
    writeFileSync(join(dir, 'platforms', 'good.yaml'), GOOD_PROFILE);
    writeFileSync(join(dir, 'platforms', `${name}.yaml`), text);
    const report = join(dir, 'q.md');
    const r = cli(['qualify', '--profile', 'good', '--fixtures', dir, '--report', report]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(existsSync(report), false, 'no report was written');
  });
}

const RUN = minimalRunLine();
const BAD_RESULTS: [string, string, RegExp][] = [
  ['empty', '', /empty\.jsonl:1:1: no "run" record/],
  ['not-json', `${RUN}\nhello world\n${RUN}\n`, /not-json\.jsonl:2:1: not valid JSON/],
  ['no-type', `${RUN}\n{"id":"a.b"}\n`, /no-type\.jsonl:2:1: record has no "type"/],
  ['bad-type', `${RUN}\n{"type":"bogus"}\n`, /bad-type\.jsonl:2:2: unknown record type "bogus"/],
  [
    'no-verdict',
    `${RUN}\n{"type":"result","id":"a.b"}\n`,
    /no-verdict\.jsonl:2:1: result record needs string "id" and "verdict"/,
  ],
  [
    'no-run',
    '{"type":"result","id":"a.b","verdict":"pass"}\n',
    /no-run\.jsonl:1:2: result a\.b before the "run" record/,
  ],
];

for (const [name, text, message] of BAD_RESULTS) {
  test(`matrix and compare refuse malformed results file ${name}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'gmem-bad-'));
    const bad = join(dir, `${name}.jsonl`);
    writeFileSync(bad, text);
    const good = join(dir, 'good.jsonl');
    writeFileSync(good, `${RUN}\n`);
    const m = cli(['matrix', good, bad, '-o', join(dir, 'out')]);
    assert.equal(m.status, 2, m.stderr);
    assert.match(m.stderr, message);
    assert.equal(existsSync(join(dir, 'out')), false, 'no matrix was written');
    const c = cli(['compare', good, bad]);
    assert.equal(c.status, 2);
    assert.match(c.stderr, message);
  });
}

const BAD_TAP: [string, string, RegExp][] = [
  [
    'no-version',
    'ok 1 selftests: kvm: guest_memfd_test\n',
    /no-version\.tap:1:1: not kselftest TAP: no "TAP version 13" line/,
  ],
  ['no-points', 'TAP version 13\n1..0\n', /no-points\.tap:2:1: no test points/],
  [
    'truncated',
    'TAP version 13\n1..3\nok 1 selftests: kvm: a\n',
    /truncated\.tap:2:1: plan says 1\.\.3 but 1 test point\(s\) follow/,
  ],
  [
    'bailout',
    'TAP version 13\n1..2\nok 1 selftests: kvm: a\nBail out! machine on fire\n',
    /bailout\.tap:4:1: the kselftest run bailed out: machine on fire/,
  ],
  ['binary', '\u0000\u0001\u0002', /binary\.tap:1:1: not kselftest TAP/],
];

for (const [name, text, message] of BAD_TAP) {
  test(`import refuses malformed kselftest TAP ${name}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'gmem-bad-'));
    const tap = join(dir, `${name}.tap`);
    writeFileSync(tap, text);
    const out = join(dir, 'out.jsonl');
    const r = cli(['import', tap, '-o', out]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(existsSync(out), false, 'nothing half-written');
  });
}

const BAD_SUBCOMMAND_ARGS: [string[], RegExp][] = [
  [['matrix'], /matrix needs at least one results file/],
  [['matrix', '--format', 'pdf', 'x.jsonl'], /--format: unknown format "pdf"/],
  [['compare', 'only-one.jsonl'], /compare needs exactly two results files/],
  [['qualify'], /--profile is required/],
  [['qualify', '--profile', 'nope'], /no profile "nope"/],
  [['import', 'a.tap'], /import needs -o OUT\.jsonl/],
  [['matrix', '/nonexistent/r.jsonl'], /\/nonexistent\/r\.jsonl: cannot read/],
];

for (const [args, message] of BAD_SUBCOMMAND_ARGS) {
  test(`refuses ${args.join(' ')}`, () => {
    const r = cli(args);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, message);
  });
}
