/** `export kcidb`: documents valid against KernelCI's KCIDB I/O v5.3 schema (ajv + ajv-formats), statuses, ids, paths. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import AjvModule from 'ajv/dist/2020.js';
import formatsModule from 'ajv-formats';
import { HARNESS_CASES, ROOT, cli } from './helpers.js';
import { everyVerdictRun, liveRun, tempDir } from './export-helpers.js';
import { readResults } from '../lib/report/results-file.js';

/** The project's reference copy of the schema (shared/ beside the clone); the shipped copy when it is absent. */
const SHARED_SCHEMA = resolve(ROOT, '..', 'shared', 'kcidb', 'kcidb-io.schema.v5.3.json');
const SHIPPED_SCHEMA = join(ROOT, 'data', 'kcidb', 'kcidb-io.schema.v5.3.json');
const SCHEMA = existsSync(SHARED_SCHEMA) ? SHARED_SCHEMA : SHIPPED_SCHEMA;

const ajv = new AjvModule.default({ allErrors: true, strict: true });
formatsModule.default(ajv);
const validate = ajv.compile(JSON.parse(readFileSync(SCHEMA, 'utf8')) as object);

interface Doc {
  version: { major: number; minor: number };
  checkouts?: Record<string, unknown>[];
  builds?: Record<string, unknown>[];
  tests: ({
    id: string;
    path: string;
    status: string;
    build_id: string;
    origin: string;
    misc?: Record<string, unknown>;
    log_excerpt?: string;
    duration?: number;
    comment?: string;
  } & Record<string, unknown>)[];
  issues?: Record<string, unknown>[];
  incidents?: { test_id: string; issue_id: string; present: boolean }[];
}

function assertValid(doc: unknown): void {
  const ok = validate(doc);
  assert.ok(ok, `KCIDB schema violations: ${JSON.stringify(validate.errors?.slice(0, 5), null, 1)}`);
}

function exportKcidb(results: string, extra: string[] = []): { status: number | null; doc: Doc; stderr: string } {
  const out = join(tempDir('kcidb'), 'kcidb.json');
  const r = cli(['export', 'kcidb', results, '-o', out, ...extra]);
  assert.equal(r.status, 0, r.stderr);
  return { status: r.status, doc: JSON.parse(readFileSync(out, 'utf8')) as Doc, stderr: r.stderr };
}

const dir = tempDir('kcidb-runs');
let every: ReturnType<typeof everyVerdictRun>;
let live: ReturnType<typeof liveRun>;

before(() => {
  every = everyVerdictRun(dir);
  live = liveRun(dir, ['gmem.create', 'memfd.create']);
});

test("the shipped KCIDB schema is the project's reference copy, byte for byte", {
  skip: existsSync(SHARED_SCHEMA) ? false : `no ${SHARED_SCHEMA} beside the clone`,
}, () => {
  assert.equal(readFileSync(SHIPPED_SCHEMA, 'utf8'), readFileSync(SHARED_SCHEMA, 'utf8'));
  assert.match(readFileSync(join(ROOT, 'data', 'kcidb', 'ORIGIN.md'), 'utf8'), /kcidb-io/);
});

test('the schema validator really refuses what KCIDB refuses', () => {
  assert.equal(validate({ version: { major: 5, minor: 3 } }), true);
  for (const bad of [
    { version: { major: 4, minor: 0 } },
    {
      version: { major: 5, minor: 3 },
      tests: [{ id: 'x:1', origin: 'x', build_id: 'x:b', path: 'gmem.create.size_zero@noflags' }],
    },
    { version: { major: 5, minor: 3 }, tests: [{ id: 'no-origin-prefix', origin: 'x', build_id: 'x:b' }] },
    { version: { major: 5, minor: 3 }, tests: [{ id: 'x:1', origin: 'Bad-Origin', build_id: 'x:b' }] },
    { version: { major: 5, minor: 3 }, tests: [{ id: 'x:1', origin: 'x', build_id: 'x:b', status: 'XFAIL' }] },
    { version: { major: 5, minor: 3 }, tests: [{ id: 'x:1', origin: 'x', build_id: 'x:b', start_time: 'yesterday' }] },
    {
      version: { major: 5, minor: 3 },
      checkouts: [{ id: 'x:1', origin: 'x', git_repository_url: 'git://example.org/linux.git' }],
    },
  ])
    assert.equal(validate(bad), false, JSON.stringify(bad));
});

test('a run with every verdict exports to a valid document with each verdict mapped to its KCIDB status', () => {
  const { doc, stderr } = exportKcidb(every.results, ['--fixtures', every.fixtures]);
  assertValid(doc);
  assert.deepEqual(doc.version, { major: 5, minor: 3 });
  const byPath = new Map(doc.tests.map((t) => [t.path, t]));
  const status = (id: string) => byPath.get(`gmem_conformance.${id}`)?.status;
  assert.equal(status('harness.demo.pass_after'), 'PASS');
  assert.equal(status('harness.demo.fails'), 'FAIL', 'xfail: the code is still faulty (a known issue)');
  assert.equal(status('harness.demo.pass_before'), 'PASS', 'xpass: the code is correct now');
  assert.equal(status('harness.demo.sigbus'), 'FAIL');
  assert.equal(status('harness.demo.hang'), 'FAIL', "a timeout counts as a failure, as in kselftest's totals");
  assert.equal(status('harness.demo.throws'), 'ERROR');
  assert.equal(status('harness.demo.leaks'), 'ERROR');
  assert.equal(status('harness.demo.needs_missing_file'), 'SKIP');
  const root = byPath.get('gmem_conformance');
  assert.equal(root?.status, 'FAIL', 'the run as a whole: kselftest exit 1');
  assert.equal(doc.tests.length, readResults(every.results).results.length + 1);
  // the finer verdict, the signal and the KTAP lines travel with each test
  const sigbus = byPath.get('gmem_conformance.harness.demo.sigbus');
  assert.equal(sigbus?.misc?.verdict, 'fail');
  assert.equal(sigbus?.misc?.signal, 'SIGBUS');
  assert.match(
    sigbus?.log_excerpt ?? '',
    /^# harness\.demo\.sigbus: crashed: killed by SIGBUS\nnot ok 2 harness\.demo\.sigbus/m,
  );
  assert.match(byPath.get('gmem_conformance.harness.demo.hang')?.log_excerpt ?? '', /# TIMEOUT no result after/);
  assert.ok((byPath.get('gmem_conformance.harness.demo.hang')?.duration ?? 0) >= 1, 'durations in seconds');
  // known failures: one issue each, an incident saying whether it showed up
  assert.equal(doc.issues?.length, 2);
  const fails = doc.issues?.find((i) => String(i.id).endsWith(':harness.demo.fails'));
  assert.match(String(fails?.comment), /demo: the kernel is known to get this wrong; fixed by 0123456789ab/);
  const inc = new Map(doc.incidents?.map((i) => [i.test_id, i]));
  assert.equal(inc.get(byPath.get('gmem_conformance.harness.demo.fails')?.id as string)?.present, true);
  assert.equal(inc.get(byPath.get('gmem_conformance.harness.demo.pass_before')?.id as string)?.present, false);
  assert.match(stderr, new RegExp(`export kcidb: ${doc.tests.length} test\\(s\\) \\(.*\\), 2 known issue\\(s\\)`));
});

test('a live run exports checkout, build and one PASS/FAIL/SKIP test per case, every object linked', () => {
  const { doc } = exportKcidb(live.results);
  assertValid(doc);
  const file = readResults(live.results);
  assert.equal(doc.checkouts?.length, 1);
  assert.equal(doc.builds?.length, 1);
  const build = doc.builds?.[0] as { id: string; checkout_id: string; architecture: string };
  assert.equal(build.checkout_id, doc.checkouts?.[0]?.id);
  assert.equal(build.architecture, file.run.arch);
  assert.equal(doc.tests.length, file.results.length + 1);
  for (const t of doc.tests) {
    assert.equal(t.build_id, build.id);
    assert.equal(t.origin, 'gmem_conformance');
    assert.ok(t.id.startsWith('gmem_conformance:'));
    assert.deepEqual((t.environment as { misc: { kernel: string } }).misc.kernel, file.run.kernel);
  }
  assert.equal(new Set(doc.tests.map((t) => t.id)).size, doc.tests.length, 'test ids are unique');
  assert.equal(new Set(doc.tests.map((t) => t.path)).size, doc.tests.length, 'test paths are unique');
  const variant = file.results.find((r) => r.variant);
  assert.ok(variant, 'the run has variants');
  assert.ok(
    doc.tests.some((t) => t.path === `gmem_conformance.${variant.case}.${variant.variant}`),
    'the variant is the last path segment',
  );
  const counts = (s: string) => doc.tests.filter((t) => t.status === s && t.path !== 'gmem_conformance').length;
  assert.equal(counts('PASS') + counts('FAIL') + counts('SKIP') + counts('ERROR'), file.results.length);
  // the same results file gives the same ids: a re-submission updates, it does not duplicate
  assert.deepEqual(
    exportKcidb(live.results).doc.tests.map((t) => t.id),
    doc.tests.map((t) => t.id),
  );
});

test('a killed run reports what never ran as MISS and the run as ERROR', () => {
  const killed = join(dir, 'killed.jsonl');
  const lines = readFileSync(every.results, 'utf8').trim().split('\n');
  writeFileSync(killed, `${lines.slice(0, 4).join('\n')}\n${lines[4]?.slice(0, 20)}`); // run + 3 results + a torn line
  const { doc } = exportKcidb(killed, ['--cases', HARNESS_CASES]);
  assertValid(doc);
  const miss = doc.tests.filter((t) => t.status === 'MISS').map((t) => t.path);
  const planned = readResults(every.results).results.length; // the complete run ran every harness case
  assert.equal(miss.length, planned - 3, JSON.stringify(miss));
  assert.ok(miss.includes('gmem_conformance.harness.demo.pass_after'));
  assert.equal(doc.tests.find((t) => t.path === 'gmem_conformance')?.status, 'ERROR');
  assert.equal(
    exportKcidb(killed, ['--cases', HARNESS_CASES, '--no-miss']).doc.tests.filter((t) => t.status === 'MISS').length,
    0,
  );
});

test('ids of another origin are referenced, not re-submitted; git facts go into the checkout', () => {
  const { doc } = exportKcidb(live.results, [
    '--origin',
    'my_lab',
    '--checkout-id',
    'maestro:68f0c1',
    '--build-id',
    'maestro:68f0c2',
    '--log-url',
    'https://lab.example.org/logs/run-1.ktap',
    '--run-id',
    'job-1234',
  ]);
  assertValid(doc);
  assert.equal(doc.checkouts, undefined);
  assert.equal(doc.builds, undefined);
  assert.ok(
    doc.tests.every(
      (t) =>
        t.build_id === 'maestro:68f0c2' &&
        t.origin === 'my_lab' &&
        t.id.startsWith('my_lab:job-1234:') &&
        t.log_url === 'https://lab.example.org/logs/run-1.ktap',
    ),
  );
  const git = exportKcidb(live.results, [
    '--git-commit',
    'a'.repeat(40),
    '--git-url',
    'https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git',
    '--git-branch',
    'master',
    '--tree-name',
    'mainline',
    '--config-name',
    'defconfig',
  ]).doc;
  assertValid(git);
  assert.equal(git.checkouts?.[0]?.git_commit_hash, 'a'.repeat(40));
  assert.equal(git.checkouts?.[0]?.tree_name, 'mainline');
  assert.equal(git.builds?.[0]?.config_name, 'defconfig');
});

test('awkward ids, messages and records still give a valid document with unique paths', () => {
  const odd = join(dir, 'odd.jsonl');
  const run = {
    type: 'run',
    format: 1,
    suiteVersion: '0.1.0',
    started: 'not a date',
    kernel: '7.2.0-rc1+ "custom"\u0000',
    arch: 'x86_64',
    host: 'h',
    platform: 'x86 64/lab',
    kvm: {},
    options: { imported: 'x.tap' },
  };
  const res = (id: string, verdict: string, message: string) => ({
    type: 'result',
    id,
    case: id.split('@')[0],
    ...(id.includes('@') ? { variant: id.split('@')[1] } : {}),
    family: 'a.b',
    verdict,
    message,
    durationMs: 1.5,
  });
  const recs = [
    run,
    res('a.b.c@d', 'pass', ''),
    res('a.b.c.d', 'fail', 'NUL \u0000 and control \u0007 and\nnew line and <xml> & "quotes" and ü'),
    res('a.b.sp ace#hash', 'skip', 'x'.repeat(40_000)),
    res('kselftest.kvm.guest_memfd_test', 'xfail', 'known'),
  ];
  writeFileSync(odd, `${recs.map((r) => JSON.stringify(r)).join('\n')}\n`);
  mkdirSync(join(dir, 'no-fixtures'), { recursive: true }); // an empty fixtures directory (a missing one is refused)
  const { doc } = exportKcidb(odd, ['--fixtures', join(dir, 'no-fixtures')]);
  assertValid(doc);
  const paths = doc.tests.map((t) => t.path);
  assert.equal(new Set(paths).size, paths.length);
  assert.ok(
    paths.includes('gmem_conformance.a.b.c.d') && paths.includes('gmem_conformance.a.b.c.d_2'),
    JSON.stringify(paths),
  );
  assert.ok(paths.includes('gmem_conformance.a.b.sp_ace_hash'));
  assert.ok(doc.tests.every((t) => !t.start_time || t.start_time !== 'not a date'));
  assert.ok(doc.tests.every((t) => (t.log_excerpt ?? '').length <= 16384));
});

test('bad input and bad options are refused with exit status 2', () => {
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(
    bad,
    `${readFileSync(live.results, 'utf8').split('\n')[0]}\n{"type":"result","id":"a.b","case":"a.b","family":"a","verdict":"maybe","message":"","durationMs":1}\n`,
  );
  const cases: [string[], RegExp][] = [
    [['export', 'kcidb', bad], /bad\.jsonl:2:55: result a\.b: unknown verdict "maybe"/],
    [['export', 'kcidb', join(dir, 'missing.jsonl')], /missing\.jsonl: cannot read/],
    [['export', 'kcidb', live.results, '--origin', 'My-Lab'], /--origin expects a KCIDB origin/],
    [['export', 'kcidb', live.results, '--git-commit', 'abc123'], /--git-commit expects a full 40-hex commit id/],
    [['export', 'kcidb', live.results, '--git-url', 'git://example.org/x.git'], /--git-url expects an https:\/\/ URL/],
    [['export', 'kcidb', live.results, '--path-prefix', 'a..b'], /--path-prefix expects dotted segments/],
    [['export', 'kcidb'], /export kcidb needs exactly one results file/],
    [['export', 'kcidb', live.results, '--bogus'], /Unknown option '--bogus'/],
    [['export'], /export needs a format/],
    [['export', 'yaml', live.results], /unknown format "yaml"/],
  ];
  for (const [args, message] of cases) {
    const r = cli(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  const help = cli(['export', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /kcidb RESULTS\.jsonl/);
});

test('the KTAP lines of every excerpt are the same whatever order the cases finished in (as under -j)', () => {
  const lines = readFileSync(every.results, 'utf8').trim().split('\n');
  const [run, ...rest] = lines;
  const end = rest.pop() as string;
  const reversed = join(dir, 'reversed.jsonl');
  writeFileSync(reversed, `${[run, ...rest.reverse(), end].join('\n')}\n`);
  const excerpts = (file: string) =>
    new Map(
      exportKcidb(file, ['--fixtures', every.fixtures, '--no-miss']).doc.tests.map((t) => [t.path, t.log_excerpt]),
    );
  const a = excerpts(every.results);
  const b = excerpts(reversed);
  assert.deepEqual([...b].sort(), [...a].sort());
  assert.match(
    a.get('gmem_conformance.harness.demo.sigbus') ?? '',
    /^not ok 2 harness\.demo\.sigbus/m,
    "the number is the case's place in its family's plan",
  );
  // the LAVA script, too, echoes the plan's numbers
  const lava = (file: string) =>
    cli(['export', 'lava-results', file])
      .stdout.split('\n')
      .filter((l) => /not ok \d+/.test(l))
      .sort();
  assert.deepEqual(lava(reversed), lava(every.results));
});
