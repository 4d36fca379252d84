/** KTAP output: nesting, plan order, directives, escaping, totals and exit codes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KtapWriter, kselftestExitCode, emptyTotals, summaryLine } from '../lib/report/ktap.js';
import { ktapDescription, ktapDirectiveText } from '../lib/report/ktap-escape.js';
import type { CaseResult, Verdict } from '../lib/harness/verdict.js';

const res = (id: string, verdict: Verdict, message = '', extra: Partial<CaseResult> = {}): CaseResult => ({
  type: 'result',
  id,
  case: id.split('@')[0] as string,
  family: id.slice(0, id.lastIndexOf('.')),
  verdict,
  message,
  durationMs: 0,
  ...extra,
});

test('families nest with two-space indentation and results print in plan order', () => {
  const lines: string[] = [];
  const w = new KtapWriter(
    (l) => lines.push(l),
    [
      { name: 'a.x', ids: ['a.x.one', 'a.x.two'] },
      { name: 'b.y', ids: ['b.y.one'] },
    ],
  );
  w.header();
  w.record(res('b.y.one', 'skip', 'needs SEV'));
  assert.deepEqual(
    lines,
    ['KTAP version 1', '1..2', '  KTAP version 1', '  # Subtest: a.x', '  1..2'],
    'nothing of family b before family a finished',
  );
  w.record(res('a.x.two', 'fail', 'expected EINVAL (22), got ENODEV (19)'));
  w.record(res('a.x.one', 'pass'));
  w.footer();
  assert.deepEqual(lines, [
    'KTAP version 1',
    '1..2',
    '  KTAP version 1',
    '  # Subtest: a.x',
    '  1..2',
    '  ok 1 a.x.one',
    '  # a.x.two: expected EINVAL (22), got ENODEV (19)',
    '  not ok 2 a.x.two',
    'not ok 1 a.x',
    '  KTAP version 1',
    '  # Subtest: b.y',
    '  1..1',
    '  ok 1 b.y.one # SKIP needs SEV',
    'ok 2 b.y # SKIP all cases skipped',
    '# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0',
    '1 passed, 1 failed, 1 skipped',
  ]);
});

test('every verdict maps to its KTAP directive', () => {
  const lines: string[] = [];
  const ids = ['f.c.p', 'f.c.x', 'f.c.xp', 'f.c.t', 'f.c.e'];
  const w = new KtapWriter((l) => lines.push(l), [{ name: 'f.c', ids }]);
  w.record(res('f.c.p', 'pass'));
  w.record(res('f.c.x', 'xfail', 'known bug', { hint: 'known failure (fixed by 0123456789ab)' }));
  w.record(res('f.c.xp', 'xpass', 'expected to fail'));
  w.record(res('f.c.t', 'timeout', 'no result after 30 s'));
  w.record(res('f.c.e', 'error', 'case threw TypeError: x'));
  assert.ok(lines.includes('  ok 2 f.c.x # XFAIL known bug'));
  assert.ok(lines.includes('  # hint: known failure (fixed by 0123456789ab)'));
  assert.ok(lines.includes('  not ok 3 f.c.xp # XPASS expected to fail'));
  assert.ok(lines.includes('  not ok 4 f.c.t # TIMEOUT no result after 30 s'));
  assert.ok(lines.includes('  not ok 5 f.c.e # ERROR case threw TypeError: x'));
  assert.equal(lines.at(-1), 'not ok 1 f.c');
});

test('escaping: no # in descriptions, no line breaks anywhere', () => {
  assert.equal(ktapDescription('a.b#c\nd'), 'a.b_c d');
  assert.equal(ktapDirectiveText('first\nsecond\r\nthird'), 'first | second | third');
  const lines: string[] = [];
  const w = new KtapWriter((l) => lines.push(l), [{ name: 'f.c', ids: ['f.c.m'] }]);
  w.record(res('f.c.m', 'fail', 'line one\nline two # with hash', { notes: ['note a\nnote b'] }));
  assert.deepEqual(lines.slice(0, 3), ['  KTAP version 1', '  # Subtest: f.c', '  1..1']);
  assert.deepEqual(lines.slice(3, 8), [
    '  # note a',
    '  # note b',
    '  # f.c.m: line one',
    '  # line two # with hash',
    '  not ok 1 f.c.m',
  ]);
});

test('kselftest exit codes and the plain summary line', () => {
  const t = emptyTotals();
  assert.equal(kselftestExitCode(t), 0);
  t.skip = 3;
  assert.equal(kselftestExitCode(t), 4);
  t.pass = 1;
  assert.equal(kselftestExitCode(t), 0);
  t.xfail = 1;
  assert.equal(kselftestExitCode(t), 0);
  t.xpass = 1;
  assert.equal(kselftestExitCode(t), 1);
  assert.equal(summaryLine(t), '2 passed, 1 failed, 3 skipped');
});
