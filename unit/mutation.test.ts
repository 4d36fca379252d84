/** Mutation runs: mutated expectations differ from every real value, and the report sorts passing cases by what the mutation did. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mutatedErrno, mutatedValue } from '../lib/harness/expect.js';
import { mutationReport } from '../lib/report/mutation.js';
import { errnoValue } from '../lib/uapi/index.js';
import { CLI, useScratchDirs } from './helpers.js';

const scratch = useScratchDirs();

test('a mutated expectation never equals the real one', () => {
  for (const e of ['EINVAL', 'EPERM', 'ENOTTY', 'EFAULT', 'EEXIST']) assert.notEqual(mutatedErrno(errnoValue(e)), errnoValue(e), e);
  for (const v of [0, 1, -1, 4096, 0n, 1n << 63n, true, false, 'EINVAL', '']) assert.notEqual(mutatedValue(v), v, String(v));
});

test('the report: passed then failed is turned, passed twice is not, skip/error stopped it, absent is missing', () => {
  const r = (id: string, verdict: string) => ({ type: 'result' as const, id, case: id, family: 'f', verdict, message: '', durationMs: 0 });
  const real = [r('a', 'pass'), r('b', 'pass'), r('c', 'pass'), r('d', 'pass'), r('e', 'skip'), r('f', 'fail')];
  const mutated = [r('a', 'fail'), r('b', 'pass'), r('c', 'error'), r('e', 'pass'), r('f', 'pass')];
  assert.deepEqual(mutationReport(real as never, mutated as never), { turned: ['a'], notTurned: ['b'], stopped: ['c'], missing: ['d'] });
});

test('the mutation command refuses a real run as MUTATED, and finds the cases that did not turn', () => {
  const dir = scratch('gmem-mut-');
  const run = (mutate: boolean) => JSON.stringify({ type: 'run', kernel: 'k', arch: 'x86_64', host: 'h', platform: 'p', options: mutate ? { mutateExpectations: true } : {} });
  const res = (id: string, verdict: string) => JSON.stringify({ type: 'result', id, case: id, family: 'f', verdict, message: '' });
  writeFileSync(join(dir, 'real.jsonl'), [run(false), res('x', 'pass'), res('y', 'pass'), ''].join('\n'));
  writeFileSync(join(dir, 'mut.jsonl'), [run(true), res('x', 'fail'), res('y', 'pass'), ''].join('\n'));
  const ok = spawnSync(process.execPath, [CLI, 'mutation', join(dir, 'real.jsonl'), join(dir, 'mut.jsonl')], { encoding: 'utf8' });
  assert.equal(ok.status, 1);
  assert.match(ok.stdout, /2 cases passed .*: 1 failed under mutation, 1 still passed/);
  assert.match(ok.stdout, /^not turned: y$/m);
  const swapped = spawnSync(process.execPath, [CLI, 'mutation', join(dir, 'mut.jsonl'), join(dir, 'real.jsonl')], { encoding: 'utf8' });
  assert.equal(swapped.status, 2);
  assert.match(swapped.stderr, /is a mutation run; give the real run first/);
});
