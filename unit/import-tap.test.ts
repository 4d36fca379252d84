/** The kselftest importer keeps kselftest's skip reasons and failure lines, and records the exit status the verdicts give. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, useScratchDirs } from './helpers.js';
import { readResults } from '../lib/report/results-file.js';

const scratch = useScratchDirs();

const TAP = `TAP version 13
1..2
# selftests: kvm: guest_memfd_test
# TAP version 13
# 1..2
# ok 1 create
# # ==== Test Assertion Failure ====
# #   guest_memfd_test.c:42: r == 0
# not ok 2 mmap
not ok 1 selftests: kvm: guest_memfd_test # exit=1
# selftests: kvm: pre_fault_memory_test
# 1..0 # SKIP KVM_CAP_PRE_FAULT_MEMORY not available
ok 2 selftests: kvm: pre_fault_memory_test # SKIP
`;

test('an imported failure keeps its assertion lines, a skip its reason, and the end record says exit 1', () => {
  const dir = scratch('gmem-import-');
  const tap = join(dir, 'k.tap');
  writeFileSync(tap, TAP);
  const out = join(dir, 'k.jsonl');
  const r = cli(['import', tap, '-o', out]);
  assert.equal(r.status, 0, r.stderr);
  const file = readResults(out);
  const by = new Map(file.results.map((x) => [x.id, x]));
  assert.equal(by.get('kselftest.kvm.guest_memfd_test.mmap')?.verdict, 'fail');
  assert.equal(
    by.get('kselftest.kvm.guest_memfd_test.mmap')?.message,
    '==== Test Assertion Failure ====\nguest_memfd_test.c:42: r == 0',
  );
  assert.match(by.get('kselftest.kvm.guest_memfd_test')?.message ?? '', /^exit=1\n==== Test Assertion Failure ====/);
  assert.equal(by.get('kselftest.kvm.guest_memfd_test.create')?.message, '');
  assert.equal(by.get('kselftest.kvm.pre_fault_memory_test')?.verdict, 'skip');
  assert.equal(by.get('kselftest.kvm.pre_fault_memory_test')?.message, 'KVM_CAP_PRE_FAULT_MEMORY not available');
  assert.equal(file.end?.exitCode, 1, 'a failed kselftest run is not recorded as exit 0');
  assert.deepEqual(file.end?.totals, { pass: 1, fail: 2, skip: 1, xfail: 0, xpass: 0, error: 0, timeout: 0 });
  const allSkip = join(dir, 's.tap');
  writeFileSync(allSkip, 'TAP version 13\n1..1\nok 1 selftests: kvm: x # SKIP no kvm\n');
  assert.equal(cli(['import', allSkip, '-o', join(dir, 's.jsonl')]).status, 0);
  assert.equal(readResults(join(dir, 's.jsonl')).end?.exitCode, 4, 'kselftest\'s status for "every test skipped"');
});
