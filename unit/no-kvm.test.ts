/** On a machine without /dev/kvm the whole suite passes: KVM cases skip naming /dev/kvm, memfd cases run. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { CLI, ROOT } from './helpers.js';
import { readResults } from '../lib/report/results-file.js';

const canUnshare = process.getuid?.() === 0 && spawnSync('unshare', ['-m', 'true']).status === 0;

test('the full suite in a mount namespace without /dev/kvm', {
  skip: canUnshare ? false : 'needs root and unshare(1) to hide /dev/kvm',
  timeout: 600_000,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gmem-nokvm-'));
  const results = join(dir, 'r.jsonl');
  const r = spawnSync(
    'unshare',
    ['-m', 'bash', join(ROOT, 'ci/without-kvm.sh'), process.execPath, CLI, '-j', '2', '-o', results],
    { encoding: 'utf8', timeout: 600_000 },
  );
  assert.equal(r.status, 0, `exit ${r.status}\n${r.stdout.slice(-3000)}\n${r.stderr}`);
  const file = readResults(results);
  assert.equal((file.run.kvm as { available: boolean }).available, false);
  const list = JSON.parse(spawnSync(process.execPath, [CLI, '-l', '--json'], { encoding: 'utf8' }).stdout) as {
    cases: { id: string; requires: Record<string, unknown> }[];
  };
  const needsKvm = new Set(
    list.cases
      .filter((c) => ['kvm', 'caps', 'vmCaps', 'vmType', 'gmemFlags'].some((k) => k in c.requires))
      .map((c) => c.id),
  );
  const kvmCases = file.results.filter((x) => needsKvm.has(x.id));
  assert.ok(kvmCases.length > 500, `${kvmCases.length} cases declare a KVM requirement`);
  for (const c of kvmCases) {
    assert.equal(c.verdict, 'skip', `${c.id}: ${c.verdict} ${c.message}`);
    assert.match(c.message, /^needs \/dev\/kvm: \/dev\/kvm does not exist$|\/dev\/sev/, c.id);
  }
  const memfd = file.results.filter((x) => x.id.startsWith('memfd.') && x.verdict === 'pass');
  assert.ok(memfd.length > 200, `memfd cases still run (${memfd.length} passed)`);
});
