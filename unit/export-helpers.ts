/** Runs and tools shared by the export tests: a run with every verdict, a live run, Debian's Python validators. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { CLI, HARNESS_CASES, ROOT, cli } from './helpers.js';

/** The compiled tree these tests run from (holds lib/, tests/, unit/): dist/ under ./test.sh. */
export const BUILD_ROOT = resolve(CLI, '..', '..', '..');

/** A fresh temporary directory. */
export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `gmem-export-${tag}-`));
}

/** A fixtures directory turning harness.demo.fails into an xfail and harness.demo.pass_before into an xpass. */
export function knownFailureFixtures(dir: string): string {
  const fixtures = join(dir, 'fixtures');
  mkdirSync(join(fixtures, 'expectations'), { recursive: true });
  writeFileSync(
    join(fixtures, 'expectations', 'demo.yaml'),
    [
      'known_failures:',
      '  harness.demo.fails:',
      '    - reason: "demo: the kernel is known to get this wrong"',
      '      fixed_by: 0123456789ab',
      '  harness.demo.pass_before:',
      '    - reason: "demo: expected to fail"',
      '',
    ].join('\n'),
  );
  return fixtures;
}

/** A run of the deliberately misbehaving harness cases with known-failure fixtures: every verdict at least once. */
export function everyVerdictRun(dir: string): { results: string; ktap: string; fixtures: string } {
  const fixtures = knownFailureFixtures(dir);
  const results = join(dir, 'every-verdict.jsonl');
  const r = cli(['--cases', HARNESS_CASES, '--fixtures', fixtures, '-o', results]);
  assert.equal(r.status, 1, r.stderr);
  for (const v of ['XFAIL', 'XPASS', 'TIMEOUT', 'ERROR', 'SKIP'])
    assert.match(r.stdout, new RegExp(`# ${v}`), `the run has a ${v}`);
  return { results, ktap: r.stdout, fixtures };
}

/** A run of some families on the live kernel. */
export function liveRun(
  dir: string,
  selectors: string[],
  name = 'live',
): { results: string; ktap: string; status: number | null } {
  const results = join(dir, `${name}.jsonl`);
  const r = cli([...selectors.flatMap((s) => ['-t', s]), '-o', results]);
  assert.ok(r.status === 0 || r.status === 1 || r.status === 4, r.stderr);
  return { results, ktap: r.stdout, status: r.status };
}

/** The suite's "N passed, N failed, N skipped" line, as numbers. */
export function summaryCounts(ktap: string): { passed: number; failed: number; skipped: number } {
  const m = /^(\d+) passed, (\d+) failed, (\d+) skipped$/m.exec(ktap);
  assert.ok(m, 'the KTAP ends with the summary line');
  return { passed: Number(m[1]), failed: Number(m[2]), skipped: Number(m[3]) };
}

/** A PYTHONPATH with pure-Python Debian packages unpacked by ci/debian-python.sh, or why they cannot be had. */
export function debianPython(...packages: string[]): { path?: string; why?: string } {
  const r = spawnSync('bash', [join(ROOT, 'ci', 'debian-python.sh'), 'sid', ...packages], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (r.status !== 0)
    return {
      why: `${packages.join(', ')} from Debian unavailable: ${(r.stderr || String(r.error ?? '')).trim().split('\n').pop()}`,
    };
  return { path: r.stdout.trim() };
}

/** Runs python3 with a PYTHONPATH, code on the command line, input on stdin. */
export function python(
  pythonPath: string,
  code: string,
  args: string[],
  input = '',
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('python3', ['-c', code, ...args], {
    encoding: 'utf8',
    input,
    env: { ...process.env, PYTHONPATH: pythonPath },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The kernel's KTAP parser (kunit.py from Debian's linux-source), or why it is unavailable. */
export function kunitPy(): { path?: string; why?: string } {
  if (process.env.GMEM_KUNIT_PY) return { path: process.env.GMEM_KUNIT_PY };
  const r = spawnSync('bash', [join(ROOT, 'lib/debian/kunit-parser.sh')], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0)
    return { why: `kunit.py unavailable: lib/debian/kunit-parser.sh failed: ${r.stderr.trim().split('\n').pop()}` };
  return { path: r.stdout.trim() };
}

/** Parses KTAP text with kunit.py; returns its output and the "Ran N tests" count. */
export function kunitParse(kunit: string, ktap: string): { out: string; ran: number | null } {
  const file = join(tempDir('kunit'), 'out.ktap');
  writeFileSync(file, ktap);
  const r = spawnSync('python3', [kunit, 'parse', file], { encoding: 'utf8', timeout: 120_000 });
  const out = r.stdout + r.stderr;
  const m = /Testing complete\. Ran (\d+) tests/.exec(out);
  return { out, ran: m ? Number(m[1]) : null };
}
