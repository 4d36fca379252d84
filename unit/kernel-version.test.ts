/** The running kernel's version as fixtures compare it: Debian's x.y.0-N releases carry their stable level in /proc/version. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configMatchesRelease, runningKernelVersion } from '../lib/harness/env.js';

const DEBIAN_61 =
  'Linux version 6.1.0-50-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0) ' +
  '#1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-01-10)';

test('a Debian x.y.0-N release takes the stable patch level from /proc/version', () => {
  assert.deepEqual(runningKernelVersion('6.1.0-50-amd64', DEBIAN_61).parts, [6, 1, 176]);
});

test('a release with its own patch level, a release candidate, or no /proc/version is taken as it is', () => {
  assert.deepEqual(runningKernelVersion('6.18.44-fc-v1147', DEBIAN_61).parts, [6, 18, 44]);
  assert.deepEqual(
    runningKernelVersion('7.3.0-rc7-amd64', 'Linux version 7.3.0-rc7-amd64 #1 SMP Debian 7.3~rc7-1~exp1').parts,
    [7, 3, 0],
  );
  assert.deepEqual(runningKernelVersion('6.1.0-50-amd64', null).parts, [6, 1, 0]);
  assert.deepEqual(runningKernelVersion('6.12.0-1-amd64', DEBIAN_61).parts, [6, 12, 0], 'another x.y is not borrowed');
});

test("the guest's kernel config matches a Debian release by its stable level", () => {
  const config = '#\n# Automatically generated file; DO NOT EDIT.\n# Linux/x86 6.1.176 Kernel Configuration\n';
  assert.ok(configMatchesRelease(config, '6.1.0-50-amd64', DEBIAN_61));
  assert.ok(!configMatchesRelease(config, '6.1.0-50-amd64', null));
});
