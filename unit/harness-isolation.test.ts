/** The runner turns a crash, a hang, a throw and a leak into one result each, and the run goes on. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { cli, HARNESS_CASES, ROOT } from './helpers.js';
import { readResults } from '../lib/report/results-file.js';

test('misbehaving cases each become one result and the run continues', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gmem-unit-'));
  const results = join(dir, 'r.jsonl');
  const r = cli(['--cases', HARNESS_CASES, '-o', results, '--fixtures', join(ROOT, 'fixtures')]);
  assert.equal(r.status, 1, `exit status ${r.status}\n${r.stdout}\n${r.stderr}`);
  const file = readResults(results);
  const byId = new Map(file.results.map((x) => [x.id, x]));
  assert.equal(file.results.length, 12, 'one result per case');
  assert.equal(byId.get('harness.demo.pass_before')?.verdict, 'pass');
  const bus = byId.get('harness.demo.sigbus');
  assert.equal(bus?.verdict, 'fail');
  assert.equal(bus?.signal, 'SIGBUS');
  assert.match(bus?.message ?? '', /crashed: killed by SIGBUS/);
  assert.equal(byId.get('harness.demo.hang')?.verdict, 'timeout');
  assert.match(byId.get('harness.demo.throws')?.message ?? '', /TypeError: boom/);
  assert.equal(byId.get('harness.demo.throws')?.verdict, 'error');
  assert.equal(byId.get('harness.demo.fails')?.verdict, 'fail');
  assert.equal(byId.get('harness.demo.leaks')?.verdict, 'error');
  assert.match(byId.get('harness.demo.leaks')?.message ?? '', /case leaked fds \d+ \(closed by the harness\)/);
  assert.equal(byId.get('harness.demo.leaks_mapping')?.verdict, 'error');
  assert.match(
    byId.get('harness.demo.leaks_mapping')?.message ?? '',
    /case leaked mappings [0-9a-f]+-[0-9a-f]+ \/memfd:harness-leak-map \(deleted\) \(unmapped by the harness\)/,
  );
  assert.equal(byId.get('harness.demo.needs_missing_file')?.verdict, 'skip');
  assert.equal(
    byId.get('harness.demo.needs_missing_file')?.message,
    'needs /nonexistent/gmem-conformance, which does not exist',
  );
  assert.equal(byId.get('harness.demo.fresh')?.verdict, 'pass');
  assert.equal(byId.get('harness.demo.serial')?.verdict, 'pass');
  assert.equal(byId.get('harness.demo.pass_after')?.verdict, 'pass');
  const pins = byId.get('harness.demo.pins_memory');
  assert.equal(pins?.verdict, 'pass');
  assert.ok(
    pins?.notes?.some((n) =>
      /Unevictable memory \(guest_memfd and mlocked pages\) grew by 1\d\d MiB across this case/.test(n),
    ),
    JSON.stringify(pins?.notes),
  );
  assert.ok(file.end, 'the run wrote its end record');
  // KTAP: one line per case, in plan order, with the directives
  const lines = r.stdout.split('\n');
  assert.ok(lines.includes('  not ok 2 harness.demo.sigbus'));
  assert.ok(lines.some((l) => /^ {2}not ok 3 harness\.demo\.hang # TIMEOUT /.test(l)));
  assert.ok(lines.some((l) => /^ {2}not ok 4 harness\.demo\.throws # ERROR case threw TypeError: boom$/.test(l)));
  assert.ok(lines.some((l) => /^ {2}ok 8 harness\.demo\.needs_missing_file # SKIP needs /.test(l)));
  assert.ok(lines.includes('  ok 11 harness.demo.pass_after'));
  assert.ok(lines.includes('# Totals: pass:5 fail:3 xfail:0 xpass:0 skip:1 error:3'));
  assert.ok(lines.includes('5 passed, 6 failed, 1 skipped'));
});

test('with -j 2 the KTAP keeps plan order and every result arrives once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gmem-unit-'));
  const results = join(dir, 'r.jsonl');
  const r = cli(['--cases', HARNESS_CASES, '-o', results, '-j', '2']);
  const numbers = r.stdout
    .split('\n')
    .filter((l) => /^ {2}(not )?ok \d+ /.test(l))
    .map((l) => Number(/ok (\d+)/.exec(l)?.[1]));
  assert.deepEqual(numbers, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.equal(readResults(results).results.length, 12);
});

test('an all-skipped run exits with KSFT_SKIP (4)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gmem-unit-'));
  const r = cli(['--cases', HARNESS_CASES, '-o', join(dir, 'r.jsonl'), '-t', 'harness.demo.needs_missing_file']);
  assert.equal(r.status, 4);
});
