/** Harness breakage (a case module or probe that cannot load: dist/ rebuilt under a run) is an error, not a verdict. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { WorkerHandle } from '../lib/harness/worker-handle.js';
import { runProbe } from '../lib/harness/probe.js';
import { defineCase, instancesOf } from '../lib/harness/case.js';
import { HarnessError } from '../lib/harness/expect.js';
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

test('a probe child that ends before its module loaded is a HarnessError, not an outcome for the case', () => {
  const early = /probe child for touch of .*removed-by-a-rebuild\.js ended before its module loaded \(exit status 70: /;
  const isEarly = (e: unknown) => e instanceof HarnessError && early.test(e.message);
  assert.throws(() => runProbe(GONE, 'touch', [], { timeoutMs: 20_000 }), isEarly);
  const misbehaving = pathToFileURL(join(HARNESS_CASES, 'misbehaving.js')).href;
  assert.throws(
    () => runProbe(misbehaving, 'noSuchFunction', [], { timeoutMs: 20_000 }),
    (e: unknown) => e instanceof HarnessError && /does not export a function noSuchFunction/.test(e.message),
  );
});
