/** Bisect: over the Debian kernel list it finds the first kernel with guest_memfd; for git bisect run it exits 0/1/125. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cli } from './helpers.js';
import { vmSkipReason } from './vm-helpers.js';
import { loadCandidates, parseKernelSpec } from '../lib/vm/candidates.js';
import { prepareKernel } from '../lib/vm/candidate-run.js';

const skip = vmSkipReason(['6.1', '6.12', '7.2', '7.3-rc']);

test('bisect list over 6.1 → 7.3-rc finds 6.12 as the first kernel where guest_memfd is present', {
  skip,
  timeout: 170_000,
}, () => {
  const r = cli(
    [
      'bisect',
      'list',
      '--set',
      'debian',
      '-t',
      'gmem.create.one_page@noflags',
      '--good-if',
      'present',
      '--json',
      '--timeout',
      '120',
    ],
    { timeoutMs: 165_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^step 1: \[0\] 6\.1 \(6\.1\.0-\d+-amd64\): absent/m);
  assert.match(
    r.stdout,
    /^first kernel where gmem\.create\.one_page@noflags is present: 6\.12 \(6\.12\.[^)]+\); the one before, 6\.1 \([^)]+\), is absent/m,
  );
  const json = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'), r.stdout.lastIndexOf('}') + 1)) as {
    steps: { label: string }[];
    firstFlip: { label: string };
    lastBefore: { label: string };
  };
  assert.equal(json.firstFlip.label, '6.12');
  assert.equal(json.lastBefore.label, '6.1');
  assert.ok(json.steps.length <= 3, `binary search: ${json.steps.map((s) => s.label).join(', ')}`);
});

test('bisect run on a kernel image: 6.12 has no GUEST_MEMFD_FLAG_MMAP → bad (1) with --good-if present', {
  skip,
  timeout: 150_000,
}, () => {
  const k = prepareKernel(parseKernelSpec('6.12', loadCandidates()));
  const r = cli(
    [
      'bisect',
      'run',
      '--kernel',
      k.tree?.image as string,
      '--modules',
      k.tree?.modulesDir as string,
      '-t',
      'gmem.create.one_page@mmap',
      '--good-if',
      'present',
      '--timeout',
      '120',
    ],
    { timeoutMs: 140_000 },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /absent → bad \(1\)/);
});

test('bisect run exits 125 (skip) when the build command fails, without booting', { timeout: 30_000 }, () => {
  const r = cli([
    'bisect',
    'run',
    '--build',
    'exit 7',
    '--kernel',
    '/nonexistent/bzImage',
    '-t',
    'gmem.create.one_page',
  ]);
  assert.equal(r.status, 125, r.stderr);
  assert.match(r.stderr, /the build failed \(exit 7\) → skip \(125\)/);
});
