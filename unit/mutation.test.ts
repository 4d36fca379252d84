/** Mutation runs: mutated expectations differ from every real value, and the report sorts passing cases by what the mutation did. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { mutatedErrno, mutatedValue } from '../lib/harness/expect.js';
import { mutationReport } from '../lib/report/mutation.js';
import { errnoValue } from '../lib/uapi/index.js';
import { CLI, useScratchDirs } from './helpers.js';

const scratch = useScratchDirs();

test('a mutated expectation never equals the real one', () => {
  for (const e of ['EINVAL', 'EPERM', 'ENOTTY', 'EFAULT', 'EEXIST'] as const)
    assert.notEqual(mutatedErrno(errnoValue(e)), errnoValue(e), e);
  for (const v of [0, 1, -1, 4096, 0n, 1n << 63n, true, false, 'EINVAL', ''])
    assert.notEqual(mutatedValue(v), v, String(v));
});

test('the report: passed then failed is turned, passed twice is not, skip/error stopped it, absent is missing', () => {
  const r = (id: string, verdict: string) => ({
    type: 'result' as const,
    id,
    case: id,
    family: 'f',
    verdict,
    message: '',
    durationMs: 0,
  });
  const real = [r('a', 'pass'), r('b', 'pass'), r('c', 'pass'), r('d', 'pass'), r('e', 'skip'), r('f', 'fail')];
  const mutated = [r('a', 'fail'), r('b', 'pass'), r('c', 'error'), r('e', 'pass'), r('f', 'pass')];
  assert.deepEqual(mutationReport(real as never, mutated as never), {
    turned: ['a'],
    notTurned: ['b'],
    stopped: ['c'],
    missing: ['d'],
  });
});

test('the mutation command refuses a real run as MUTATED, and a real and a mutated run of the same cases turn every passing case', () => {
  const dir = scratch('gmem-mut-');
  const real = join(dir, 'real.jsonl');
  const mutated = join(dir, 'mut.jsonl');
  const sel = ['-t', 'memfd.create', '-j', '1', '--matrix', 'none'];
  assert.equal(spawnSync(process.execPath, [CLI, ...sel, '-o', real], { encoding: 'utf8' }).status, 0);
  const m = spawnSync(process.execPath, [CLI, ...sel, '--mutate-expectations', '-o', mutated], { encoding: 'utf8' });
  assert.match(m.stdout, /^# MUTATION RUN/m);
  const ok = spawnSync(process.execPath, [CLI, 'mutation', real, mutated], { encoding: 'utf8' });
  assert.match(ok.stdout, /^\d+ cases passed .*: \d+ failed under mutation, \d+ still passed/);
  const stillPassed = Number(/(\d+) still passed/.exec(ok.stdout)?.[1]);
  assert.equal(ok.status, stillPassed ? 1 : 0, ok.stdout);
  const swapped = spawnSync(process.execPath, [CLI, 'mutation', mutated, real], { encoding: 'utf8' });
  assert.equal(swapped.status, 2);
  assert.match(swapped.stderr, /is a mutation run; give the real run first/);
});
