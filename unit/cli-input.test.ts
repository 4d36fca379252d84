/** Bad command lines and bad fixtures are refused with a clear, positioned message and exit status 2. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { cli, HARNESS_CASES } from './helpers.js';

const BAD_ARGS: [string[], RegExp][] = [
  [['--bogus'], /Unknown option '--bogus'/],
  [['-j', '0'], /--jobs expects a positive integer, got "0"/],
  [['-j', 'two'], /--jobs expects a positive integer, got "two"/],
  [['--timeout=-3'], /--timeout expects a positive number of seconds, got "-3"/],
  [['--timeout', '0'], /--timeout expects a positive number of seconds, got "0"/],
  [['--timeout', '-3'], /Option '--timeout' argument is ambiguous/],
  [['--json'], /--json only goes with --list/],
  [['frobnicate'], /unknown command "frobnicate"/],
  [['-t', 'no.such.case', '--cases', HARNESS_CASES], /no case matches -t no.such.case/],
];

for (const [args, message] of BAD_ARGS) {
  test(`refuses ${args.join(' ')}`, () => {
    const r = cli(args);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
  });
}

const BAD_FIXTURES: [string, RegExp][] = [
  [
    'expectations:\n  gmem.create.size_zero:\n    - when: { kernel: ">=7.x" }\n      set: { errno: EINVAL }\n',
    /bad\.yaml:3:\d+: expectations\.gmem\.create\.size_zero\.0\.when\.kernel: expected a kernel version range/,
  ],
  [
    'expectations:\n  gmem.create.size_zero:\n    - when: {}\n      set: { errno: EINVAL }\n      commit: xyz\n',
    /bad\.yaml:5:15: .*commit: expected a linux-git commit id/,
  ],
  [
    'expectations:\n  Not-An-Id:\n    - when: {}\n      set: {}\n',
    /bad\.yaml:2:3: expectations\.Not-An-Id: .*expected a dotted case id/,
  ],
  ['known_failures:\n  a.b:\n    - reason: ""\n', /bad\.yaml:3:\d+: known_failures\.a\.b\.0\.reason/],
  [
    'expectations:\n  a.b:\n    - when: {}\n      set: {}\n      colour: red\n',
    /bad\.yaml:5:7: expectations\.a\.b\.0\.colour: Invalid key/,
  ],
  ['expectations: [1, 2\n', /bad\.yaml:\d+:\d+: YAML syntax/],
  ['expectations:\n  a.b: 3\n', /bad\.yaml:2:8: expectations\.a\.b: Invalid type/],
  ['expectations:\n  a.b:\n    - when: { arch: sparc }\n      set: {}\n', /bad\.yaml:3:\d+: .*arch/],
  [
    'expectations:\n  a.b:\n    - when: {}\n      set: {}\n  a.b:\n    - when: {}\n      set: {}\n',
    /bad\.yaml:5:3: YAML syntax: Map keys must be unique/,
  ],
];

BAD_FIXTURES.forEach(([text, message], i) => {
  test(`refuses malformed fixture #${i + 1} with its position and writes no results`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'gmem-unit-'));
    mkdirSync(join(dir, 'fixtures', 'expectations'), { recursive: true });
    writeFileSync(join(dir, 'fixtures', 'expectations', 'bad.yaml'), text);
    const results = join(dir, 'r.jsonl');
    const r = cli(['--cases', HARNESS_CASES, '--fixtures', join(dir, 'fixtures'), '-o', results]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(existsSync(results), false, 'nothing was half-written');
  });
});
