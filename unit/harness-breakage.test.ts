/**
 * Harness breakage (a case module that cannot load: dist/ rebuilt under a run) is an error, not a verdict; a probe
 * program the interpreter does not start is one too (unit/probe-program.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { WorkerHandle } from '../lib/harness/worker-handle.js';
import { defineCase, instancesOf } from '../lib/harness/case.js';
import { HARNESS_CASES } from './helpers.js';

const GONE = pathToFileURL(join(HARNESS_CASES, 'removed-by-a-rebuild.js')).href;

test('a worker that cannot import the case module reports an error (variant kept), and is replaced', async () => {
  const def = defineCase<{ n: number }>({
    id: 'harness.gone.case',
    doc: 'its module is gone',
    variants: [{ name: 'one', params: { n: 1 } }],
    run() {},
  });
  const [inst] = instancesOf(def as never, GONE);
  const w = new WorkerHandle({ allowHostUnsafe: false, runnerPid: process.pid });
  await w.whenReady();
  const r = await w.run(inst as never, 20_000);
  assert.equal(r.verdict, 'error');
  assert.equal(r.variant, 'one');
  assert.match(r.message, /^worker: harness: cannot load case module .*removed-by-a-rebuild\.js/);
  assert.equal(w.dead, true, 'a worker whose harness broke is not reused');
  await w.stop();
});
