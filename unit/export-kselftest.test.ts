/**
 * kselftest integration: ci/kselftest/install.sh lays the suite out as a kselftest collection; it runs
 * under run_kselftest.sh's prefixing (emulated here, and the kernel's real runner from Debian's
 * linux-source when it can be had); the TAP 13 parses with tap-parser and the inner KTAP with kunit.py.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Parser } from 'tap-parser';
import { HARNESS_CASES, ROOT, cli } from './helpers.js';
import { BUILD_ROOT, kunitParse, kunitPy, tempDir } from './export-helpers.js';
import { readResults } from '../lib/report/results-file.js';

const COLLECTION = 'gmem_conformance';
const TEST = 'run_gmem_conformance.sh';
const HEADER = `selftests: ${COLLECTION}: ${TEST}`;
const kunit = kunitPy();

let dest: string;
let timeout: number;

function install(into: string): { status: number | null; stderr: string } {
  const r = spawnSync('bash', [join(ROOT, 'ci', 'kselftest', 'install.sh'), '--build', BUILD_ROOT, into], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { status: r.status, stderr: r.stderr };
}

/** Runs the installed test the way runner.sh does: from its directory, stderr merged into stdout. */
function runInstalled(args: string[], env: Record<string, string> = {}): { status: number | null; out: string } {
  const r = spawnSync('sh', ['-c', `./${TEST} "$@" 2>&1`, TEST, ...args], {
    cwd: join(dest, COLLECTION),
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 300_000,
  });
  return { status: r.status, out: r.stdout };
}

/** What run_kselftest.sh prints for one test: TAP 13, the test's output behind "# ", then its result line (runner.sh's mapping of exit codes). */
function emulateRunKselftest(out: string, status: number): string {
  const result =
    status === 0
      ? `ok 1 ${HEADER}`
      : status === 4
        ? `ok 1 ${HEADER} # SKIP`
        : status === 124
          ? `not ok 1 ${HEADER} # TIMEOUT ${timeout} seconds`
          : `not ok 1 ${HEADER} # exit=${status}`;
  const prefixed = out
    .split('\n')
    .filter((l, i, all) => i < all.length - 1 || l !== '')
    .map((l) => `# ${l}`);
  const pass = status === 0 ? 1 : 0;
  const skip = status === 4 ? 1 : 0;
  return [
    'TAP version 13',
    '1..1',
    `# timeout set to ${timeout}`,
    `# ${HEADER}`,
    ...prefixed,
    result,
    `# Totals: pass:${pass} fail:${1 - pass - skip} xfail:0 xpass:0 skip:${skip} error:0`,
    '',
  ].join('\n');
}

/** The test's own output, taken back out of run_kselftest.sh's output. */
function innerOutput(tap: string): string {
  const lines = tap.split('\n');
  const start = lines.indexOf(`# ${HEADER}`);
  const end = lines.findIndex((l) => l.startsWith('ok 1 ') || l.startsWith('not ok 1 '));
  assert.ok(start >= 0 && end > start, "the runner's header and result line are there");
  return `${lines
    .slice(start + 1, end)
    .map((l) => l.replace(/^# ?/, ''))
    .join('\n')}\n`;
}

/** Parses TAP 13 with tap-parser: the top-level assertions, the plan and whether the stream is clean. */
function parseTap(tap: string): {
  asserts: { ok: boolean; name: string; skip: boolean | string }[];
  plan: number | null;
  ok: boolean;
} {
  const asserts: { ok: boolean; name: string; skip: boolean | string }[] = [];
  let plan: number | null = null;
  const p = new Parser();
  p.on('assert', (a: { ok: boolean; name: string; skip: boolean | string }) =>
    asserts.push({ ok: a.ok, name: a.name, skip: a.skip }),
  );
  p.on('plan', (x: { end: number }) => (plan = x.end));
  let ok = false;
  p.on('complete', (r: { ok: boolean }) => (ok = r.ok));
  p.end(tap);
  return { asserts, plan, ok };
}

before(() => {
  dest = tempDir('kselftest');
  const r = install(dest);
  assert.equal(r.status, 0, r.stderr);
  const m = /^timeout=(\d+)$/m.exec(readFileSync(join(dest, COLLECTION, 'settings'), 'utf8'));
  assert.ok(m, 'settings has a timeout');
  timeout = Number(m[1]);
});

test('install.sh lays out a kselftest collection: test, settings, list entry, the suite and its runtime only', () => {
  const coll = join(dest, COLLECTION);
  assert.ok(statSync(join(coll, TEST)).mode & 0o111, 'the test is executable');
  assert.ok(timeout >= 60, "the whole suite gets more than kselftest's default 45 s");
  assert.deepEqual(readFileSync(join(dest, 'kselftest-list.txt'), 'utf8').split('\n').filter(Boolean), [
    `${COLLECTION}:${TEST}`,
  ]);
  for (const p of [
    'suite/dist/lib/cli/main.js',
    'suite/dist/tests',
    'suite/fixtures/expectations',
    'suite/data/kcidb/kcidb-io.schema.v5.3.json',
    'suite/package.json',
    'suite/node_modules/koffi',
    'suite/node_modules/yaml',
  ]) {
    assert.ok(existsSync(join(coll, p)), `${p} installed`);
  }
  const bundled = spawnSync(join(coll, 'node/bin/node'), ['-p', 'process.version'], { encoding: 'utf8' });
  assert.equal(
    bundled.stdout.trim(),
    `v${readFileSync(join(ROOT, 'ci/node.pin'), 'utf8').match(/^version (\S+)$/m)?.[1]}`,
    'the pinned Node.js is in the collection',
  );
  for (const p of ['suite/node_modules/typescript', 'suite/node_modules/playwright-core', 'suite/dist/unit'])
    assert.equal(existsSync(join(coll, p)), false, `${p} not installed`);
  // installing again replaces the collection and keeps one list entry
  assert.equal(install(dest).status, 0);
  assert.equal(
    readFileSync(join(dest, 'kselftest-list.txt'), 'utf8')
      .split('\n')
      .filter((l) => l === `${COLLECTION}:${TEST}`).length,
    1,
  );
});

test('the installed test runs by itself with kselftest exit codes 0, 1 and 4', () => {
  const results = join(tempDir('ks-results'), 'r.jsonl');
  const pass = runInstalled(['-t', 'gmem.create.size_zero'], { GMEM_RESULTS: results });
  assert.ok(pass.status === 0 || pass.status === 4, pass.out); // 4 on a machine without /dev/kvm
  assert.match(pass.out, /^ok 1 gmem\.create( # SKIP .*)?$/m);
  assert.equal(readResults(results).end?.exitCode, pass.status, "the exit status is the run's");
  const fail = runInstalled([
    '--cases',
    HARNESS_CASES,
    '-t',
    'harness.demo.fails',
    '-o',
    join(tempDir('ks'), 'f.jsonl'),
  ]);
  assert.equal(fail.status, 1, fail.out);
  const skip = runInstalled([
    '--cases',
    HARNESS_CASES,
    '-t',
    'harness.demo.needs_missing_file',
    '-o',
    join(tempDir('ks'), 's.jsonl'),
  ]);
  assert.equal(skip.status, 4, skip.out);
  const bad = runInstalled(['--bogus']);
  assert.equal(bad.status, 1, "a bad command line is a failure, not kselftest's 2 (XFAIL)");
  assert.match(bad.out, /gmem-conformance exited with status 2 .*reported as a failure/);
  const noNode = runInstalled([], { GMEM_NODE: '/nonexistent/node' });
  assert.equal(noNode.status, 4);
  assert.match(noNode.out, /^1\.\.0 # SKIP gmem_conformance needs Node\.js >= 24/m);
});

test("under run_kselftest.sh's prefixing the output is TAP 13 with one test, and the project's importer reads the nested KTAP back", () => {
  const results = join(tempDir('ks-results'), 'r.jsonl');
  const r = runInstalled(['-t', 'gmem.create', '-t', 'memfd.create'], { GMEM_RESULTS: results });
  assert.ok(r.status === 0 || r.status === 1 || r.status === 4, r.out);
  const tap = emulateRunKselftest(r.out, r.status as number);
  const parsed = parseTap(tap);
  assert.equal(parsed.plan, 1);
  assert.equal(parsed.asserts.length, 1, 'the nested KTAP stays behind "# ": one top-level test');
  assert.equal(parsed.asserts[0]?.ok, r.status !== 1);
  assert.ok(parsed.asserts[0]?.name.startsWith(HEADER));
  assert.equal(parsed.ok, r.status !== 1);
  const file = join(tempDir('ks-tap'), 'kselftest.tap');
  writeFileSync(file, tap);
  const imported = join(tempDir('ks-import'), 'imported.jsonl');
  const im = cli(['import', file, '-o', imported]);
  assert.equal(im.status, 0, im.stderr);
  const ids = readResults(imported).results.map((x) => x.id);
  assert.equal(ids[0], 'kselftest.gmem_conformance.run_gmem_conformance_sh');
  assert.equal(
    ids.length,
    1 + new Set(readResults(results).results.map((x) => x.family)).size,
    "the runner's test plus each family of the nested KTAP",
  );
});

test('kunit.py parses the inner KTAP of a prefixed run, every case counted', { skip: kunit.why ?? false }, () => {
  const results = join(tempDir('ks-results'), 'r.jsonl');
  const r = runInstalled(['-t', 'gmem.create', '-t', 'memfd.create'], { GMEM_RESULTS: results });
  const inner = innerOutput(emulateRunKselftest(r.out, r.status as number));
  const p = kunitParse(kunit.path as string, inner);
  assert.equal(p.ran, readResults(results).results.length, p.out.slice(-2000));
  assert.doesNotMatch(p.out, /\[ERROR\]|could not parse|unexpected/i);
});

/** The kernel's run_kselftest.sh and kselftest/ (runner.sh …), from the cache (ci/kselftest/kselftest-runner.sh), or why not. */
function realRunner(): { dir?: string; why?: string } {
  const r = spawnSync('bash', [join(ROOT, 'ci', 'kselftest', 'kselftest-runner.sh')], {
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (r.status !== 0) return { why: `run_kselftest.sh unavailable: ${r.stderr.trim().split('\n').pop()}` };
  return { dir: r.stdout.trim() };
}
const runner = realRunner();

/** Runs the real run_kselftest.sh on the installed collection; stdout through a pipe, as the runner's /dev/stdout logfile needs. */
function runKselftest(args: string, extra: string[] = []): { status: number; out: string } {
  const r = spawnSync(
    'bash',
    ['-c', `set -o pipefail; ./run_kselftest.sh -c ${COLLECTION} "$@" 2>&1 | cat`, 'run', ...extra],
    {
      cwd: dest,
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, KSELFTEST_RUN_GMEM_CONFORMANCE_SH_ARGS: args },
    },
  );
  return { status: r.status ?? -1, out: r.stdout };
}

test("the kernel's own run_kselftest.sh runs the collection: TAP 13 result per exit code, KTAP inside", {
  skip: runner.why ?? false,
}, () => {
  cpSync(join(runner.dir as string, 'run_kselftest.sh'), join(dest, 'run_kselftest.sh'));
  cpSync(join(runner.dir as string, 'kselftest'), join(dest, 'kselftest'), { recursive: true });
  const listed = spawnSync('sh', ['./run_kselftest.sh', '-l'], { cwd: dest, encoding: 'utf8' });
  assert.match(listed.stdout, /^gmem_conformance:run_gmem_conformance\.sh$/m);
  const results = join(tempDir('ks-real'), 'r.jsonl');
  const pass = runKselftest(`-t gmem.create -o ${results}`);
  const tap = parseTap(pass.out);
  const code = readResults(results).end?.exitCode;
  assert.equal(tap.asserts.length, 1, pass.out.slice(0, 3000));
  assert.equal(tap.asserts[0]?.ok, code !== 1, "the runner's result follows the suite's exit status");
  assert.equal(pass.status, code === 1 ? 1 : 0, 'run_kselftest.sh exits 1 only when a test failed');
  assert.match(pass.out, new RegExp(`^# timeout set to ${timeout}$`, 'm'), 'the settings file was read');
  if (!kunit.why) {
    const p = kunitParse(kunit.path as string, innerOutput(pass.out));
    assert.equal(p.ran, readResults(results).results.length, p.out.slice(-2000));
  }
  const fail = runKselftest(`--cases ${HARNESS_CASES} -t harness.demo.fails -o ${join(tempDir('ks-real'), 'f.jsonl')}`);
  const failed = parseTap(fail.out).asserts;
  assert.equal(failed.length, 1);
  assert.equal(failed[0]?.ok, false, fail.out);
  assert.equal(
    failed[0]?.name,
    `${HEADER} # exit=1`,
    "tap-parser keeps the runner's non-directive comment in the name",
  );
  assert.match(fail.out, /^not ok 1 selftests: gmem_conformance: run_gmem_conformance\.sh # exit=1$/m);
  const skip = runKselftest(
    `--cases ${HARNESS_CASES} -t harness.demo.needs_missing_file -o ${join(tempDir('ks-real'), 's.jsonl')}`,
  );
  assert.match(skip.out, /^ok 1 selftests: gmem_conformance: run_gmem_conformance\.sh # SKIP$/m, skip.out);
  const override = runKselftest(`-t gmem.create.size_zero -o ${join(tempDir('ks-real'), 'o.jsonl')}`, ['-o', '77']);
  assert.match(override.out, /^# overriding timeout to 77$/m);
});
