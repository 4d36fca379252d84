/** Booting real kernels: a result comes back from inside the guest; a panic is reported as a panic and a hang as a hang, never waited on. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cli, useScratchDirs } from './helpers.js';
import { vmSkipReason, qemuProcessesWith } from './vm-helpers.js';

/** A temporary directory removed when the file's tests are done. */
const scratch = useScratchDirs();

const KERNEL = '6.12';
const skip = vmSkipReason([KERNEL]);

/** A private TMPDIR per boot: the guest's work directory (and so QEMU's command line) lands under it. */
function privateTmp(): { env: Record<string, string>; leftovers: () => string[] } {
  const dir = scratch('gmem-unit-tmp-');
  // node-compile-cache is Node's own compile cache (lib/cli/compile-cache.ts), kept on purpose for the next start
  return {
    env: { TMPDIR: dir },
    leftovers: () => [...qemuProcessesWith(dir), ...readdirSync(dir).filter((f) => f !== 'node-compile-cache')],
  };
}

test(`boots ${KERNEL} under QEMU and a real result of the suite comes back from its own /dev/kvm`, {
  skip,
  timeout: 150_000,
}, () => {
  const dir = scratch('gmem-unit-');
  const results = join(dir, 'r.jsonl');
  const tmp = privateTmp();
  const r = cli(
    [
      'kernels',
      'boot',
      KERNEL,
      '--timeout',
      '120',
      '-o',
      results,
      '--json',
      '--',
      '-t',
      'gmem.create.one_page@noflags',
    ],
    { timeoutMs: 140_000, env: tmp.env },
  );
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as {
    outcome: string;
    release: string;
    init: Record<string, string>;
    resultCount: number;
  };
  assert.equal(report.outcome, 'completed');
  assert.equal(report.init['dev-kvm'], 'yes', 'kvm_amd gave the guest its own /dev/kvm');
  const lines = readFileSync(results, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const run = lines[0] as {
    type: string;
    kernel: string;
    platform: string;
    kvm: { module?: string; sysCaps: Record<string, number> };
  };
  assert.equal(run.type, 'run');
  assert.match(run.kernel, /^6\.12\./, 'the run record names the guest kernel, not the host one');
  assert.equal(run.kernel, report.release);
  assert.equal(run.platform, KERNEL);
  assert.equal(run.kvm.sysCaps.KVM_CAP_GUEST_MEMFD, 1);
  const result = lines.find((l) => l.type === 'result') as { id: string; verdict: string };
  assert.deepEqual([result.id, result.verdict], ['gmem.create.one_page@noflags', 'pass']);
  assert.equal((lines.at(-1) as { type: string }).type, 'end');
  assert.deepEqual(tmp.leftovers(), [], 'no QEMU left running, no work directory left behind');
});

test('a guest that panics early is reported as a panic with a console excerpt, long before the timeout', {
  skip,
  timeout: 120_000,
}, () => {
  const started = Date.now();
  const tmp = privateTmp();
  const r = cli(
    [
      'kernels',
      'boot',
      KERNEL,
      '--timeout',
      '100',
      '--append',
      'rdinit=/nonexistent',
      '--json',
      '--',
      '-t',
      'gmem.create.one_page@noflags',
    ],
    { timeoutMs: 115_000, env: tmp.env },
  );
  const seconds = (Date.now() - started) / 1000;
  assert.equal(r.status, 5, r.stderr);
  const report = JSON.parse(r.stdout) as { outcome: string; detail: string; excerpt: string };
  assert.equal(report.outcome, 'panic');
  assert.match(report.detail, /Kernel panic - not syncing/);
  assert.match(report.excerpt, /Kernel panic - not syncing: VFS: Unable to mount root fs/);
  assert.match(r.stderr, /panic: Kernel panic/);
  assert.ok(seconds < 60, `reported after ${seconds} s, not at the 100 s timeout`);
  assert.deepEqual(tmp.leftovers(), [], 'no QEMU left running, no work directory left behind');
});

test('a guest that hangs is killed at the timeout and reported as a hang', { skip, timeout: 90_000 }, () => {
  const started = Date.now();
  // init is replaced by a sleep: the kernel boots, nothing ever comes back
  const tmp = privateTmp();
  const r = cli(
    [
      'kernels',
      'boot',
      KERNEL,
      '--timeout',
      '15',
      '--append',
      'rdinit=/bin/sleep -- 3600',
      '--json',
      '--',
      '-t',
      'gmem.create.one_page@noflags',
    ],
    { timeoutMs: 80_000, env: tmp.env },
  );
  const seconds = (Date.now() - started) / 1000;
  assert.equal(r.status, 5, r.stderr);
  const report = JSON.parse(r.stdout) as { outcome: string; detail: string; excerpt: string };
  assert.equal(report.outcome, 'hang');
  assert.match(report.detail, /no result within 15 s/);
  assert.ok(report.excerpt.length > 0);
  assert.ok(seconds >= 15 && seconds < 45, `ended after ${seconds} s`);
  assert.deepEqual(tmp.leftovers(), [], 'QEMU was killed and its work directory removed');
});
