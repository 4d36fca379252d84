// The matrix on synthetic results files (files, not a mocked kernel): untested apart from absent, merging
// runs of one column, the consistency check that marks contradicting cells, and kselftest attribution.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './helpers.js';
import { readResults } from '../lib/report/results-file.js';
import { buildMatrix, cellLabel, matrixMarkdown, type Matrix } from '../lib/report/matrix.js';
import { matrixHtml } from '../lib/report/matrix-html.js';
import { decideFeature } from '../lib/features/decide.js';
import { contradictions } from '../lib/features/consistency.js';
import type { FeatureDef, FeatureVerdict } from '../lib/features/feature.js';
import { exitCodeOf, importKselftestTap } from '../lib/report/import-tap.js';
import type { CaseResult, RunRecord, Verdict } from '../lib/harness/verdict.js';

const dir = mkdtempSync(join(tmpdir(), 'gmem-matrix-consistency-'));

const CAPS = { KVM_CAP_USER_MEMORY: 1, KVM_CAP_GUEST_MEMFD: 1, KVM_CAP_USER_MEMORY2: 1, KVM_CAP_PRE_FAULT_MEMORY: 0 };
const VM_CAPS = { KVM_CAP_GUEST_MEMFD: 1, KVM_CAP_GUEST_MEMFD_FLAGS: 0 };

function runRecord(kvm: Record<string, unknown>, kernel = '7.2'): RunRecord {
  return {
    type: 'run',
    format: 1,
    suiteVersion: '0.1.0',
    started: '2026-01-01T00:00:00.000Z',
    kernel,
    arch: 'x86_64',
    host: 'h',
    platform: 'x86_64',
    kvm,
    options: {},
  } as RunRecord;
}

const KVM = { available: true, module: 'kvm_amd', vmTypes: [0], sysCaps: CAPS, vmCaps: VM_CAPS };

function result(id: string, verdict: Verdict, message = '', observations?: Record<string, unknown>): CaseResult {
  const at = id.indexOf('@');
  const c = at < 0 ? id : id.slice(0, at);
  return {
    type: 'result',
    id,
    case: c,
    family: c.slice(0, c.lastIndexOf('.')),
    verdict,
    message,
    durationMs: 1,
    ...(observations ? { observations } : {}),
  };
}

let fileNo = 0;
/** Writes a results file (run, results, end) and reads it back through the strict reader. */
function file(run: RunRecord, results: CaseResult[]) {
  const path = join(dir, `r${(fileNo += 1)}.jsonl`);
  const totals: Record<string, number> = {};
  for (const r of results) totals[r.verdict] = (totals[r.verdict] ?? 0) + 1;
  const end = { type: 'end', finished: '2026-01-01T00:01:00.000Z', totals, exitCode: 0 };
  writeFileSync(path, [run, ...results, end].map((x) => JSON.stringify(x)).join('\n') + '\n');
  return { path, parsed: readResults(path) };
}

function cell(m: Matrix, feature: string, column = 0): FeatureVerdict {
  const row = m.features.find((f) => f.id === feature);
  assert.ok(row, `feature ${feature}`);
  return row.cells[column] as FeatureVerdict;
}

test('a denied capability is absent; advertised with every case skipped, or none run, is untested', () => {
  const f = file(runRecord(KVM), [
    result('gmem.fd.largefile', 'skip', 'needs 1 GiB of memory but MemAvailable is 10 MiB'),
    result(
      'prefault.range.whole_slot@anon',
      'skip',
      'needs KVM_CAP_PRE_FAULT_MEMORY (236): KVM_CHECK_EXTENSION on /dev/kvm returned 0',
    ),
  ]);
  const m = buildMatrix([f.parsed]);
  assert.equal(cell(m, 'gmem.fd').state, 'untested');
  assert.match(cell(m, 'gmem.fd').reason, /^advertised, but every case of it skipped \(1\)/);
  assert.equal(cell(m, 'gmem.refuse').state, 'untested', 'no case of it in the run');
  assert.match(cell(m, 'gmem.refuse').reason, /none of its cases is in this run/);
  assert.equal(cell(m, 'pre_fault').state, 'absent', 'KVM_CAP_PRE_FAULT_MEMORY is 0');
  assert.equal(cell(m, 'gmem.mmap').state, 'absent', 'KVM_CAP_GUEST_MEMFD_FLAGS has no MMAP bit');
  assert.equal(cell(m, 'memfd').state, 'untested', 'no capability, no case: not tested here');
  assert.equal(cell(m, 'kvm').state, 'present', 'a capability-only feature is its answer');
  assert.deepEqual(m.warnings, []);
  const md = matrixMarkdown(m);
  assert.match(md, /\| guest_memfd fd properties \(O_LARGEFILE, fstat\) `gmem.fd` \| ○ untested \|/);
  assert.match(md, /`pre_fault` \| – absent \|/);
  assert.match(matrixHtml(m), /○ untested: not tested here/);
  assert.equal(cellLabel(cell(m, 'gmem.fd')), '○ untested');
});

test('a feature whose cases ran only as known failures (xfail) is broken, not present', () => {
  const f = file(runRecord({ ...KVM, sysCaps: { ...CAPS, KVM_CAP_MEMORY_FAULT_INFO: 1 } }), [
    result('exit.memory_fault.type0_gmem_closed', 'xfail', 'the emulator reads guest memory through userspace_addr'),
    result(
      'exit.memory_fault.private_slot_deleted',
      'skip',
      'needs VM type KVM_X86_SW_PROTECTED_VM (1): KVM_CAP_VM_TYPES lists only [0]',
    ),
  ]);
  const c = cell(buildMatrix([f.parsed]), 'memory_fault_exit');
  assert.equal(c.state, 'broken');
  assert.match(c.reason, /^every case that ran \(1\) is a known failure \(xfail\)/);
});

test('runs merged into one column: a case one run tested and another skipped is tested, in either file order', () => {
  const tested = file(runRecord(KVM), [result('gmem.fd.largefile', 'pass')]);
  const skipped = file(runRecord(KVM), [result('gmem.fd.largefile', 'skip', 'needs 1 GiB of memory')]);
  for (const order of [
    [tested, skipped],
    [skipped, tested],
  ]) {
    const m = buildMatrix(order.map((x) => x.parsed));
    assert.equal(m.columns.length, 1);
    assert.equal(cell(m, 'gmem.fd').state, 'present', order.map((x) => x.path).join(' then '));
    assert.equal(m.cases.find((c) => c.id === 'gmem.fd.largefile')?.cells[0]?.verdict, 'pass');
    assert.deepEqual(m.warnings, []);
  }
});

test('runs of one column that disagree on a verdict keep the failure and say so', () => {
  const a = file(runRecord(KVM), [result('gmem.fd.largefile', 'pass')]);
  const b = file(runRecord(KVM), [result('gmem.fd.largefile', 'fail', 'st_size 0, expected 4096')]);
  for (const order of [
    [a, b],
    [b, a],
  ]) {
    const m = buildMatrix(order.map((x) => x.parsed));
    assert.equal(cell(m, 'gmem.fd').state, 'broken');
    assert.equal(m.warnings.length, 1);
    assert.match(
      m.warnings[0] as string,
      /gmem\.fd\.largefile is (pass|fail) in .* but (fail|pass) in .*; the failure/,
      'one warning naming both files',
    );
  }
});

test('absent by capability while an evidence case passed is inconsistent, with a warning in every format', () => {
  const f = file(runRecord(KVM), [result('gmem.mmap.read_write_whole_file@shared', 'pass')]);
  const m = buildMatrix([f.parsed]);
  const c = cell(m, 'gmem.mmap');
  assert.equal(c.state, 'inconsistent');
  assert.equal(c.decided, 'absent');
  const why = /^absent \(KVM_CAP_GUEST_MEMFD_FLAGS on the VM fd is 0 \(needs bits 0x1\)\), but gmem\.mmap\.read_write_/;
  assert.match(c.problems?.[0] ?? '', why);
  assert.match(c.problems?.[0] ?? '', /passed using it$/);
  assert.ok(
    m.warnings.some((w) => w.includes('gmem.mmap is inconsistent')),
    m.warnings.join('\n'),
  );
  assert.match(matrixMarkdown(m), /⚠ inconsistent/);
  assert.match(matrixMarkdown(m), /## Consistency warnings \(\d+\)/);
  assert.match(matrixHtml(m), /"state":"inconsistent"/);
  const out = join(dir, 'mx-inconsistent');
  const r = cli(['matrix', f.path, '-o', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /matrix: warning: .*gmem\.mmap is inconsistent/);
  assert.equal(JSON.parse(readFileSync(join(out, 'matrix.json'), 'utf8')).warnings.length, m.warnings.length);
  const fr = cli(['features', f.path]);
  assert.match(fr.stdout, /^gmem\.mmap\s+inconsistent\s+contradiction:/m);
  assert.match(fr.stderr, /features: warning: .*gmem\.mmap is inconsistent/);
});

test('an evidence case that skipped for a capability or VM type the run record has is inconsistent', () => {
  const f = file(runRecord(KVM), [
    result('gmem.fd.largefile', 'skip', 'needs KVM_CAP_GUEST_MEMFD (234): KVM_CHECK_EXTENSION on /dev/kvm returned 0'),
    result('gmem.refuse.read', 'pass'),
    result('gmem.refuse.write', 'skip', 'needs VM type KVM_X86_DEFAULT_VM (0): KVM_CAP_VM_TYPES lists only [1]'),
  ]);
  const m = buildMatrix([f.parsed]);
  assert.equal(cell(m, 'gmem.fd').state, 'inconsistent');
  assert.match(
    cell(m, 'gmem.fd').reason,
    /KVM_CAP_GUEST_MEMFD is 0, but the run record has KVM_CAP_GUEST_MEMFD = 1/,
    'the skip contradicts the capability answer',
  );
  assert.equal(cell(m, 'gmem.refuse').state, 'inconsistent');
  assert.equal(cell(m, 'gmem.refuse').decided, 'present');
  assert.match(cell(m, 'gmem.refuse').reason, /VM type KVM_X86_DEFAULT_VM is not listed, but the run record lists 0/);
});

test('present while an evidence case fails is a contradiction the check names', () => {
  const run = runRecord(KVM);
  const failing = result('gmem.fd.largefile', 'fail', 'KVM_CREATE_GUEST_MEMFD: ENOTTY\nmore');
  assert.deepEqual(contradictions({ state: 'present', reason: 'x' }, run, [failing]), [
    'present, but gmem.fd.largefile is fail: KVM_CREATE_GUEST_MEMFD: ENOTTY',
  ]);
  assert.deepEqual(contradictions({ state: 'broken', reason: 'x' }, run, [failing]), []);
  // an observation saying no is no contradiction of a passing case: the case records what the kernel did
  const observedNo = { state: 'absent', absentBy: 'observation', reason: 'x' } as const;
  assert.deepEqual(contradictions(observedNo, run, [result('a.b', 'pass')]), []);
});

test('a column of imported kselftest output alone has no capability answers: decided by its cases', () => {
  const f = file(runRecord({}), [result('kselftest.kvm.guest_memfd_test', 'pass', '', { exitCode: 0 })]);
  const m = buildMatrix([f.parsed]);
  assert.equal(cell(m, 'guest_memfd').state, 'present');
  assert.match(cell(m, 'guest_memfd').reason, /capabilities not recorded/);
  assert.equal(cell(m, 'kvm').state, 'untested');
  assert.equal(cell(m, 'pre_fault').state, 'untested');
  const readAsZero = m.features.filter((r) => r.cells[0]?.state === 'absent' && r.cells[0].reason.includes('KVM_CAP'));
  assert.deepEqual(
    readAsZero.map((r) => r.id),
    [],
    'no capability read as 0',
  );
});

const TAP = [
  'TAP version 13',
  '1..4',
  '# selftests: kvm: guest_memfd_test',
  '# TAP version 13',
  '# 1..2',
  '# # mmap returned EINVAL',
  '# not ok 1 mmap_supported',
  '# ok 2 file_read_write',
  'not ok 1 selftests: kvm: guest_memfd_test # exit=1',
  '# selftests: kvm: crashes_after',
  '# TAP version 13',
  '# 1..1',
  '# ok 1 only',
  '# ==== Test Assertion Failure ====',
  'not ok 2 selftests: kvm: crashes_after # exit=254',
  '# selftests: kvm: private_mem_conversions_test',
  '# 1..0 # SKIP - Requirement not met: SW_PROTECTED_VM',
  'ok 3 selftests: kvm: private_mem_conversions_test # SKIP',
  '# selftests: kvm: set_memory_region_test',
  '#',
  'not ok 4 selftests: kvm: set_memory_region_test # TIMEOUT 120 seconds',
  '',
].join('\n');

const def = (id: string, cases: string[]): FeatureDef => ({ id, title: id, family: 'kselftest', cases });

test('a failed selftest binary marks a feature broken only through a failing subtest mapped to it', () => {
  const results = importKselftestTap('k.tap', TAP);
  const run = runRecord({});
  const mmap = decideFeature(def('mmap', ['kselftest.kvm.guest_memfd_test.mmap*']), run, results);
  const rw = decideFeature(def('rw', ['kselftest.kvm.guest_memfd_test.file_*']), run, results);
  const whole = decideFeature(def('whole', ['kselftest.kvm.guest_memfd_test*']), run, results);
  assert.equal(mmap.state, 'broken');
  assert.equal(rw.state, 'present', `the binary failed, but not in file_read_write: ${rw.reason}`);
  assert.equal(whole.state, 'broken');
  assert.ok(!whole.cases.some((c) => c.id === 'kselftest.kvm.guest_memfd_test'), 'the binary sums its subtests');
  // a binary that failed while its subtests passed: what failed is the binary
  const crash = decideFeature(def('crash', ['kselftest.kvm.crashes_after*']), run, results);
  assert.equal(crash.state, 'broken');
  assert.ok(crash.cases.some((c) => c.id === 'kselftest.kvm.crashes_after'));
});

test('the importer keeps exit codes, skip reasons and failure lines as kselftest printed them', () => {
  const byId = new Map(importKselftestTap('k.tap', TAP).map((r) => [r.id, r]));
  const binary = byId.get('kselftest.kvm.guest_memfd_test');
  assert.deepEqual(binary?.observations, { exitCode: 1, subtests: 2, failingSubtests: 1 });
  assert.equal(byId.get('kselftest.kvm.crashes_after')?.observations?.exitCode, 254);
  assert.match(byId.get('kselftest.kvm.crashes_after')?.message ?? '', /Test Assertion Failure/);
  assert.equal(byId.get('kselftest.kvm.guest_memfd_test.mmap_supported')?.message, 'mmap returned EINVAL');
  const skip = byId.get('kselftest.kvm.private_mem_conversions_test');
  assert.equal(skip?.verdict, 'skip');
  assert.equal(skip?.observations?.exitCode, 4);
  assert.equal(skip?.message, 'Requirement not met: SW_PROTECTED_VM');
  assert.equal(byId.get('kselftest.kvm.set_memory_region_test')?.observations?.exitCode, 124);
  assert.equal(exitCodeOf(true, false, ''), 0);
  assert.equal(exitCodeOf(false, false, ''), undefined, 'not ok without a directive: the runner did not run it');
});
