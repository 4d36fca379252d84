/**
 * LAVA: the test definition and the rendered QEMU job pass lava-common's own schema validators (Debian's
 * lava-common, unpacked by ci/debian-python.sh), or the project's structural check where lava-common
 * cannot be had; `export lava-results` scripts report through LAVA's real lava-test-case/lava-test-set.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import * as v from 'valibot';
import { ROOT, cli } from './helpers.js';
import {
  BUILD_ROOT,
  debianPython,
  everyVerdictRun,
  liveRun,
  python,
  summaryCounts,
  tempDir,
} from './export-helpers.js';
import { readResults } from '../lib/report/results-file.js';

const TESTDEF = join(ROOT, 'ci', 'lava', 'gmem-conformance.yaml');
const SAMPLE: Record<string, string> = {
  '--kernel-url': 'https://storage.example.org/kernels/7.3-rc1/bzImage',
  '--rootfs-url': 'https://storage.example.org/rootfs/debian-trixie-amd64.ext4.gz',
  '--repo-url': 'https://gitlab.example.org/kernel/gmem-conformance.git',
  '--platform': 'x86_64-qemu',
  '--suite-args': '-t gmem -j 2',
};

/** lava-common's validators: the job schema (strict, as the LAVA server checks a submission) and the test definition schema. */
const VALIDATE = `
import json, sys
from voluptuous import Invalid
kind = sys.argv[1]
data = json.load(sys.stdin)
try:
    if kind == 'job':
        from lava_common.schemas import validate
        validate(data, strict=True)
    else:
        from lava_common.schemas.test.testdef import validate
        validate(data)
except Invalid as e:
    print(json.dumps({'valid': False, 'error': str(e)}))
    sys.exit(0)
print(json.dumps({'valid': True}))
`;

const lavaCommon = debianPython('lava-common', 'python3-voluptuous');
const lavaDispatcher = debianPython('lava-dispatcher');

function lavaValidate(kind: 'job' | 'testdef', doc: unknown): { valid: boolean; error?: string } {
  const r = python(lavaCommon.path as string, VALIDATE, [kind], JSON.stringify(doc));
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { valid: boolean; error?: string };
}

// The project's own structural check of the keys our files use (the fallback when lava-common is missing).
const Timeout = v.union([
  v.strictObject({ days: v.pipe(v.number(), v.minValue(1)) }),
  v.strictObject({ hours: v.pipe(v.number(), v.minValue(1)) }),
  v.strictObject({ minutes: v.pipe(v.number(), v.minValue(1)) }),
  v.strictObject({ seconds: v.pipe(v.number(), v.minValue(1)) }),
]);
const Url = v.pipe(v.string(), v.url());
const TestDefSchema = v.strictObject({
  metadata: v.strictObject({
    format: v.literal('Lava-Test Test Definition 1.0'),
    name: v.pipe(v.string(), v.regex(/^[-_a-zA-Z0-9.]+$/)),
    description: v.string(),
    os: v.array(v.string()),
    scope: v.array(v.string()),
    devices: v.array(v.string()),
    environment: v.array(v.string()),
  }),
  params: v.record(v.pipe(v.string(), v.regex(/^[A-Z_][A-Z0-9_]*$/)), v.string()),
  run: v.strictObject({ steps: v.pipe(v.array(v.string()), v.minLength(1)) }),
});
const JobSchema = v.strictObject({
  device_type: v.string(),
  job_name: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
  priority: v.picklist(['high', 'medium', 'low']),
  visibility: v.literal('public'),
  timeouts: v.strictObject({ job: Timeout, action: v.optional(Timeout), connection: v.optional(Timeout) }),
  context: v.strictObject({
    arch: v.string(),
    cpu: v.string(),
    memory: v.number(),
    extra_options: v.array(v.string()),
  }),
  metadata: v.record(v.string(), v.string()),
  actions: v.tuple([
    v.strictObject({
      deploy: v.strictObject({
        to: v.literal('tmpfs'),
        timeout: Timeout,
        images: v.strictObject({
          kernel: v.strictObject({ image_arg: v.pipe(v.string(), v.includes('{kernel}')), url: Url }),
          rootfs: v.strictObject({
            image_arg: v.pipe(v.string(), v.includes('{rootfs}')),
            url: Url,
            compression: v.picklist(['bz2', 'gz', 'xz', 'zip', 'zstd']),
          }),
        }),
      }),
    }),
    v.strictObject({
      boot: v.strictObject({
        method: v.literal('qemu'),
        media: v.literal('tmpfs'),
        timeout: Timeout,
        prompts: v.array(v.string()),
        auto_login: v.strictObject({ login_prompt: v.pipe(v.string(), v.minLength(1)), username: v.string() }),
      }),
    }),
    v.strictObject({
      test: v.strictObject({
        timeout: Timeout,
        definitions: v.tuple([
          v.strictObject({
            repository: v.string(),
            from: v.literal('git'),
            branch: v.string(),
            path: v.string(),
            name: v.pipe(v.string(), v.regex(/^[-_a-zA-Z0-9.]+$/)),
            parameters: v.record(v.string(), v.string()),
          }),
        ]),
      }),
    }),
  ]),
});

function minutes(t: Record<string, number>): number {
  return (t.days ?? 0) * 1440 + (t.hours ?? 0) * 60 + (t.minutes ?? 0) + (t.seconds ?? 0) / 60;
}

function renderJob(extra: string[] = []): {
  status: number | null;
  stdout: string;
  stderr: string;
  job: Record<string, unknown>;
} {
  const args = ['export', 'lava-job', ...Object.entries(SAMPLE).map(([k, x]) => `${k}=${x}`), ...extra];
  const r = cli(args);
  return { ...r, job: r.status === 0 ? (parse(r.stdout, { uniqueKeys: true }) as Record<string, unknown>) : {} };
}

test("the test definition passes the project's structural check and its run step exists", () => {
  const def = parse(readFileSync(TESTDEF, 'utf8'), { uniqueKeys: true }) as v.InferOutput<typeof TestDefSchema>;
  v.parse(TestDefSchema, def);
  for (const step of def.run.steps) {
    const script = join(ROOT, step.split(' ')[0] as string);
    assert.ok(existsSync(script), `${step}: no such script`);
    assert.ok(statSync(script).mode & 0o111, `${script} is executable`);
    assert.equal(spawnSync('sh', ['-n', script]).status, 0, `${script} is valid POSIX sh`);
  }
});

test(`the test definition passes lava-common's test definition schema (${lavaCommon.why ?? 'Debian lava-common'})`, {
  skip: lavaCommon.why ?? false,
}, () => {
  const def = parse(readFileSync(TESTDEF, 'utf8'));
  assert.deepEqual(lavaValidate('testdef', def), { valid: true });
  assert.equal(
    lavaValidate('testdef', { ...def, metadata: { ...def.metadata, format: 'Lava-Test Test Definition 2.0' } }).valid,
    false,
    'the validator does refuse a bad definition',
  );
});

test("export lava-job fills every placeholder and passes the project's structural check", () => {
  const r = renderJob();
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /\{\{/);
  const job = v.parse(JobSchema, r.job);
  assert.equal(job.actions[0].deploy.images.kernel.url, SAMPLE['--kernel-url']);
  assert.equal(job.actions[2].test.definitions[0].parameters.SUITE_ARGS, '-t gmem -j 2');
  assert.equal(job.actions[2].test.definitions[0].path, 'ci/lava/gmem-conformance.yaml');
  assert.ok(existsSync(join(ROOT, job.actions[2].test.definitions[0].path)));
  assert.equal(
    job.actions[2].test.definitions[0].name,
    (parse(readFileSync(TESTDEF, 'utf8')) as { metadata: { name: string } }).metadata.name,
  );
  for (const a of job.actions)
    for (const x of Object.values(a))
      assert.ok(minutes(x.timeout) <= minutes(job.timeouts.job), 'no action outlives the job');
  // values with quotes, backslashes and colons survive as the same string
  const tricky = 'say "hi": C:\\path\\ {{ not_a_placeholder }}';
  const t = renderJob(['--job-name', tricky]);
  assert.equal(t.status, 0, t.stderr);
  assert.equal(t.job.job_name, tricky);
});

test(`the rendered job passes lava-common's job schema, strict (${lavaCommon.why ?? 'Debian lava-common'})`, {
  skip: lavaCommon.why ?? false,
}, () => {
  const { job, stderr, status } = renderJob();
  assert.equal(status, 0, stderr);
  assert.deepEqual(lavaValidate('job', job), { valid: true });
  const bad = structuredClone(job) as { timeouts: { action: unknown; job: unknown } };
  bad.timeouts.action = { hours: 9 };
  assert.match(
    lavaValidate('job', bad).error ?? '',
    /timeout is larger than job timeout/,
    'the validator does run its checks',
  );
});

test('export lava-job refuses missing values and bad ones', () => {
  const noKernel = cli(['export', 'lava-job', '--rootfs-url', 'https://x/r.gz', '--repo-url', 'https://x/r.git']);
  assert.equal(noKernel.status, 2);
  assert.match(noKernel.stderr, /export lava-job needs --kernel-url/);
  const badComp = cli([
    'export',
    'lava-job',
    ...Object.entries(SAMPLE).map(([k, x]) => `${k}=${x}`),
    '--rootfs-compression',
    'rar',
  ]);
  assert.equal(badComp.status, 2);
  assert.match(badComp.stderr, /--rootfs-compression expects gz, xz, zstd, bz2 or zip/);
  const tmpl = join(tempDir('lava'), 'job.yaml');
  writeFileSync(tmpl, 'job_name: "{{ job_name }} {{ colour }}"\n');
  const unknown = cli([
    'export',
    'lava-job',
    ...Object.entries(SAMPLE).map(([k, x]) => `${k}=${x}`),
    '--template',
    tmpl,
  ]);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /no value for placeholder\(s\) colour/);
});

/** Installs LAVA's own test shell helpers (from Debian's lava-dispatcher) the way LAVA deploys them: interpreter line first. */
function lavaTestShell(): string {
  const src = join(lavaDispatcher.path as string, 'lava_dispatcher', 'lava_test_shell');
  const bin = join(tempDir('lava-bin'), 'bin');
  mkdirSync(bin);
  for (const name of ['lava-test-case', 'lava-test-set', 'lava-common-functions']) {
    const body = readFileSync(join(src, name), 'utf8');
    writeFileSync(join(bin, name), name === 'lava-common-functions' ? body : `#!/bin/sh\n${body}`);
    chmodSync(join(bin, name), 0o755);
  }
  return bin;
}

interface Signal {
  name: string;
  params: string[];
}

/** The dispatcher's view of a test shell's output: its signal pattern, and a TESTCASE's key=value parameters. */
function signals(out: string): Signal[] {
  return [...out.matchAll(/<LAVA_SIGNAL_(\S+) ([^>]+)>/g)].map((m) => ({
    name: m[1] as string,
    params: (m[2] as string).split(/\s+/).filter(Boolean),
  }));
}

function testcase(params: string[]): Record<string, string> {
  const data: Record<string, string> = {};
  for (const p of params) {
    const eq = p.indexOf('=');
    assert.ok(eq > 0, `malformed TESTCASE parameter ${p}`);
    data[p.slice(0, eq).toLowerCase()] = p.slice(eq + 1);
  }
  return data;
}

const dir = tempDir('lava-runs');
let every: ReturnType<typeof everyVerdictRun>;
let live: ReturnType<typeof liveRun>;
before(() => {
  every = everyVerdictRun(dir);
  live = liveRun(dir, ['gmem.create', 'memfd.create']);
});

for (const which of ['every verdict', 'live'] as const) {
  test(`lava-results of a ${which} run report through LAVA's lava-test-case, counts equal to the summary line (${lavaDispatcher.why ?? 'Debian lava-dispatcher'})`, {
    skip: lavaDispatcher.why ?? false,
  }, () => {
    const run = which === 'live' ? live : every;
    const script = join(dir, `${which.replace(' ', '-')}.sh`);
    const g = cli(['export', 'lava-results', run.results, '-o', script]);
    assert.equal(g.status, 0, g.stderr);
    const resultDir = tempDir('lava-result-dir');
    const r = spawnSync('sh', [script], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${lavaTestShell()}:${process.env.PATH}`, LAVA_RESULT_DIR: resultDir },
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const sig = signals(r.stdout);
    const cases = sig.filter((s) => s.name === 'TESTCASE').map((s) => testcase(s.params));
    const file = readResults(run.results);
    assert.equal(cases.length, file.results.length + 1, 'one case per instance plus the run');
    for (const c of cases) {
      assert.ok(['pass', 'fail', 'skip', 'unknown'].includes(c.result as string), `LAVA accepts result ${c.result}`);
      assert.match(c.test_case_id as string, /^[-_a-zA-Z0-9.]+$/);
      assert.ok(Number.isFinite(Number(c.measurement ?? '0')), 'measurements are numbers');
    }
    assert.equal(new Set(cases.map((c) => c.test_case_id)).size, cases.length, 'case ids are unique');
    const s = summaryCounts(run.ktap);
    const perInstance = cases.slice(0, -1);
    assert.equal(perInstance.filter((c) => c.result === 'pass').length, s.passed);
    assert.equal(perInstance.filter((c) => c.result === 'fail').length, s.failed);
    assert.equal(perInstance.filter((c) => c.result === 'skip').length, s.skipped);
    assert.deepEqual(cases.at(-1), {
      test_case_id: 'gmem_conformance',
      result: run === every ? 'fail' : file.end?.exitCode === 0 ? 'pass' : 'fail',
    });
    // one test set per family, opened and closed in order
    const sets = sig.filter((x) => x.name === 'TESTSET').map((x) => x.params.join(' '));
    const families = [...new Set(file.results.map((x) => x.family))];
    assert.deepEqual(
      sets,
      families.flatMap((f) => [`START ${f}`, 'STOP']),
    );
    // lava-test-case also leaves each result where LAVA's result collection looks
    const first = cases[0]?.test_case_id as string;
    assert.equal(readFileSync(join(resultDir, 'results', first, 'result'), 'utf8').trim(), cases[0]?.result);
    if (run === every)
      assert.match(
        r.stdout,
        /^# harness\.demo\.sigbus: crashed: killed by SIGBUS$/m,
        'the reason of a failure is in the log beside its result',
      );
  });
}

test(`ci/lava/lava-run.sh, the definition's run step, runs the suite and reports each case in a LAVA test shell (${lavaDispatcher.why ?? 'Debian lava-dispatcher'})`, {
  skip: lavaDispatcher.why ?? false,
}, () => {
  // a checkout whose ./run.sh goes straight to this build (the real one would bootstrap and compile dist/ first)
  const checkout = tempDir('lava-checkout');
  mkdirSync(join(checkout, 'ci', 'lava'), { recursive: true });
  copyFileSync(join(ROOT, 'ci', 'lava', 'lava-run.sh'), join(checkout, 'ci', 'lava', 'lava-run.sh'));
  chmodSync(join(checkout, 'ci', 'lava', 'lava-run.sh'), 0o755);
  symlinkSync(BUILD_ROOT, join(checkout, 'dist'));
  writeFileSync(join(checkout, 'run.sh'), '#!/bin/sh\nexec node "$(dirname "$0")/dist/lib/cli/main.js" "$@"\n');
  chmodSync(join(checkout, 'run.sh'), 0o755);
  const resultDir = tempDir('lava-result-dir');
  const env = {
    ...process.env,
    PATH: `${lavaTestShell()}:${process.env.PATH}`,
    LAVA_RESULT_DIR: resultDir,
    SUITE_ARGS: '-t gmem.create.size_zero -t memfd.create',
    PLATFORM: 'lava-qemu',
    RESULTS_DIR: 'results/lava',
  };
  const r = spawnSync(join(checkout, 'ci', 'lava', 'lava-run.sh'), [], {
    cwd: '/',
    encoding: 'utf8',
    env,
    timeout: 300_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const results = readResults(join(checkout, 'results', 'lava', 'results.jsonl'));
  assert.equal(results.run.platform, 'lava-qemu');
  assert.ok(existsSync(join(checkout, 'results', 'lava', 'results.ktap')));
  const cases = signals(r.stdout)
    .filter((x) => x.name === 'TESTCASE')
    .map((x) => testcase(x.params));
  assert.equal(cases.length, results.results.length + 1);
  assert.match(r.stdout, /^gmem-conformance: suite exit status \d/m);
  // no results file at all: one failed case, not a silent pass
  const broken = spawnSync(join(checkout, 'ci', 'lava', 'lava-run.sh'), [], {
    cwd: '/',
    encoding: 'utf8',
    env: { ...env, SUITE_ARGS: '--bogus', RESULTS_DIR: 'results/broken' },
    timeout: 120_000,
  });
  assert.equal(broken.status, 0);
  assert.deepEqual(
    signals(broken.stdout)
      .filter((x) => x.name === 'TESTCASE')
      .map((x) => testcase(x.params)),
    [{ test_case_id: 'gmem_conformance', result: 'fail' }],
  );
});
