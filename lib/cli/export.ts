/** `export`: a results file as KCIDB JSON, JUnit XML or LAVA test-case calls; the LAVA QEMU job from its template. */
import { readFileSync } from 'node:fs';
import type { ResultsFile } from '../harness/verdict.js';
import { UsageError } from '../errors.js';
import { resolve } from 'node:path';
import { readResults } from '../report/results-file.js';
import {
  toKcidb,
  validateAgainstSchema,
  ORIGIN_RE,
  OBJECT_ID_RE,
  PATH_RE,
  KCIDB_SCHEMA_FILE,
} from '../export/kcidb.js';
import { toJunit } from '../export/junit.js';
import { lavaResultsScript, renderLavaJob, LAVA_JOB_PLACEHOLDERS } from '../export/lava.js';
import { DEFAULT_CASES_DIR, loadInstances, select } from '../harness/registry.js';
import { DEFAULT_FIXTURES_DIR, PROJECT_ROOT } from '../paths.js';
import { Expectations, type Platform } from '../fixtures/expectations.js';
import type { KnownFailureInfo } from '../export/kcidb.js';
import type { CaseResult } from '../harness/verdict.js';
import { checkNotAnInput, checkOutputFile, writeOutputFile } from './output-paths.js';
import { checkLabel, existingDir, parseCommandLine } from './args.js';

/** The LAVA QEMU job template shipped with the suite. */
export const LAVA_JOB_TEMPLATE = resolve(PROJECT_ROOT, 'ci', 'lava', 'qemu-job.yaml');

const JOB_DEFAULTS: Record<string, string> = {
  job_name: 'gmem-conformance',
  rootfs_compression: 'gz',
  repo_branch: 'main',
  platform: 'x86_64-qemu',
  suite_args: '',
};

const HELP = `usage: gmem-conformance export FORMAT [RESULTS.jsonl] [-o FILE] [options]

Turns a results file (run -o) into what a lab or CI system ingests; writes FILE, or stdout without -o.

formats:
  kcidb RESULTS.jsonl         KCIDB I/O v5.3 JSON for KernelCI (kcidb-submit): a checkout and build for
                              the kernel, one test per case (path <prefix>.<id>, variant as last segment),
                              the run as the root test, known failures as issues + incidents. Checked
                              against data/kcidb/kcidb-io.schema.v5.3.json before it is written.
      --origin NAME           submitting CI system, [a-z0-9_]+ (default gmem_conformance)
      --checkout-id ID        checkout to attach to; an id of another origin ("maestro:…") is referenced,
                              not emitted (default: <origin>:kernel-<release>, or the git commit)
      --build-id ID           build to attach to, same rule (default: <checkout>-<arch>)
      --run-id ID             replaces the run key in test ids (default: hash of host, kernel, start)
      --path-prefix P         root of the test paths (default gmem_conformance)
      --git-commit HASH       40-hex commit of the kernel source     --git-url URL   https:// repository
      --git-branch NAME       branch     --tree-name NAME   tree (mainline, next…)
      --config-name NAME      kernel config of the build
      --log-url URL           URL of the run's KTAP log, attached to every test
      --cases DIR             case modules used to list what a killed run never ran (reported as MISS;
                              default dist/tests)     --no-miss   do not report them
      --fixtures DIR          fixtures giving the reason and fix of known failures (default fixtures/)
  junit RESULTS.jsonl         JUnit XML for Jenkins/GitLab: a <testsuite> per family, a <testcase> per
                              instance; <failure>/<error>/<skipped> carry the reason and the errno
      --name NAME             name of <testsuites> (default gmem-conformance)
  lava-results RESULTS.jsonl  a POSIX sh script of lava-test-set/lava-test-case calls: run it in a LAVA
                              test shell (ci/lava/lava-run.sh does)
  lava-job                    ci/lava/qemu-job.yaml (or --template FILE) with its placeholders filled:
${Object.entries(LAVA_JOB_PLACEHOLDERS)
  .map(
    ([k, v]) =>
      `      --${k.replace(/_/g, '-')}`.padEnd(28) +
      v +
      (JOB_DEFAULTS[k] !== undefined ? ` (default "${JOB_DEFAULTS[k]}")` : ''),
  )
  .join('\n')}

Exit status: 0 written, 2 bad command line or bad results file (file:line:col).`;

function write(out: string | undefined, text: string): void {
  if (!out) {
    process.stdout.write(text);
    return;
  }
  writeOutputFile(resolve(out), text);
}

/** Reads the one results file of an export, after checking the output path (-o) can be written and is not that file. */
function oneResultsFile(format: string, positionals: string[], out: string | undefined): ResultsFile {
  if (positionals.length !== 1) throw new UsageError(`export ${format} needs exactly one results file`);
  const input = resolve(positionals[0] as string);
  if (out !== undefined) {
    checkNotAnInput('-o', resolve(out), [input]);
    checkOutputFile('-o', resolve(out), 'replace');
  }
  return readResults(input);
}

/** Instance ids a killed run had planned but never reported, from the run's own -t/-x selection. */
async function missingInstances(file: ResultsFile, casesDir: string): Promise<string[]> {
  if (file.end) return [];
  const include = file.run.options.include;
  const exclude = file.run.options.exclude ?? [];
  if (!Array.isArray(include) || !Array.isArray(exclude)) return []; // not a run of this suite (e.g. imported TAP)
  let all;
  try {
    all = await loadInstances(casesDir);
  } catch (e) {
    process.stderr.write(`export: cannot list the planned cases (${(e as Error).message}); no MISS tests\n`);
    return [];
  }
  const done = new Set(file.results.map((r) => r.id));
  return select(all, include as string[], exclude as string[])
    .map((i) => i.id)
    .filter((id) => !done.has(id));
}

/** Looks up the fixture entry behind an xfail/xpass, for the platform the run recorded. */
function knownFailureLookup(file: ResultsFile, fixturesDir: string): (r: CaseResult) => KnownFailureInfo | null {
  const fixtures = Expectations.load(fixturesDir); // a bad fixture is an InputError (exit 2), as for run
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(file.run.kernel);
  const platform: Platform = {
    kernel: m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : [0, 0, 0],
    arch: file.run.arch,
    ...(typeof file.run.kvm.module === 'string' ? { kvmModule: file.run.kvm.module } : {}),
  };
  return (r) => fixtures.knownFailure(r.id, r.case, platform);
}

function checkOption(name: string, value: string | undefined, re: RegExp, what: string): void {
  if (value !== undefined && !re.test(value)) throw new UsageError(`${name} expects ${what}, got "${value}"`);
}

async function exportKcidb(argv: string[]): Promise<number> {
  const p = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string', short: 'o' },
      origin: { type: 'string' },
      'checkout-id': { type: 'string' },
      'build-id': { type: 'string' },
      'run-id': { type: 'string' },
      'path-prefix': { type: 'string' },
      'git-commit': { type: 'string' },
      'git-url': { type: 'string' },
      'git-branch': { type: 'string' },
      'tree-name': { type: 'string' },
      'config-name': { type: 'string' },
      'log-url': { type: 'string' },
      cases: { type: 'string' },
      'no-miss': { type: 'boolean' },
      fixtures: { type: 'string' },
    },
  });
  const v = p.values;
  const origin = v.origin ?? 'gmem_conformance';
  checkOption('--origin', origin, ORIGIN_RE, 'a KCIDB origin ([a-z0-9_]+)');
  checkOption('--checkout-id', v['checkout-id'], /^[^\0]+$/, 'a non-empty id');
  checkOption('--build-id', v['build-id'], /^[^\0]+$/, 'a non-empty id');
  checkOption(
    '--path-prefix',
    v['path-prefix'],
    /^[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*$/,
    'dotted segments of [A-Za-z0-9_-]',
  );
  checkOption('--git-commit', v['git-commit'], /^[0-9a-f]{40}$/, 'a full 40-hex commit id');
  checkOption('--git-url', v['git-url'], /^https:\/\/[^\s\0]+$/, 'an https:// URL');
  checkOption('--log-url', v['log-url'], /^[a-z][a-z0-9+.-]*:[^\s\0]+$/i, 'a URL');
  const file = oneResultsFile('kcidb', p.positionals, v.out);
  if (v.cases !== undefined) existingDir('--cases', resolve(v.cases));
  const missing = v['no-miss'] ? [] : await missingInstances(file, resolve(v.cases ?? DEFAULT_CASES_DIR));
  const doc = toKcidb(file, {
    origin,
    checkoutId: v['checkout-id'],
    buildId: v['build-id'],
    runId: v['run-id'],
    pathPrefix: v['path-prefix'] ?? 'gmem_conformance',
    gitCommitHash: v['git-commit'],
    gitRepositoryUrl: v['git-url'],
    gitRepositoryBranch: v['git-branch'],
    treeName: v['tree-name'],
    configName: v['config-name'],
    logUrl: v['log-url'],
    missing,
    knownFailure: knownFailureLookup(file, resolve(v.fixtures ?? DEFAULT_FIXTURES_DIR)),
  });
  for (const t of doc.tests)
    if (!PATH_RE.test(t.path) || !OBJECT_ID_RE.test(t.id)) throw new Error(`export kcidb made an invalid test ${t.id}`);
  const problems = validateAgainstSchema(doc);
  if (problems.length) {
    const list = problems
      .slice(0, 5)
      .map((x) => `${x.at}: ${x.message}`)
      .join('; ');
    throw new UsageError(`the KCIDB document does not match ${KCIDB_SCHEMA_FILE}: ${list}`);
  }
  write(v.out, `${JSON.stringify(doc, null, 1)}\n`);
  const counts = new Map<string, number>();
  for (const t of doc.tests) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
  process.stderr.write(
    `export kcidb: ${doc.tests.length} test(s) (${[...counts].map(([s, n]) => `${s} ${n}`).join(', ')}), ${doc.issues?.length ?? 0} known issue(s)${v.out ? ` → ${v.out}` : ''}\n`,
  );
  return 0;
}

async function exportJunit(argv: string[]): Promise<number> {
  const p = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: { out: { type: 'string', short: 'o' }, name: { type: 'string' } },
  });
  const file = oneResultsFile('junit', p.positionals, p.values.out);
  write(p.values.out, toJunit(file, { name: p.values.name ?? 'gmem-conformance' }));
  return 0;
}

async function exportLavaResults(argv: string[]): Promise<number> {
  const p = parseCommandLine({ args: argv, allowPositionals: true, options: { out: { type: 'string', short: 'o' } } });
  const file = oneResultsFile('lava-results', p.positionals, p.values.out);
  write(p.values.out, lavaResultsScript(file));
  return 0;
}

async function exportLavaJob(argv: string[]): Promise<number> {
  const options: Record<string, { type: 'string'; short?: string }> = {
    out: { type: 'string', short: 'o' },
    template: { type: 'string' },
  };
  for (const k of Object.keys(LAVA_JOB_PLACEHOLDERS)) options[k.replace(/_/g, '-')] = { type: 'string' };
  const p = parseCommandLine({ args: argv, allowPositionals: false, options });
  const given = p.values as Record<string, string | undefined>;
  const values: Record<string, string> = { ...JOB_DEFAULTS };
  for (const k of Object.keys(LAVA_JOB_PLACEHOLDERS)) {
    const x = given[k.replace(/_/g, '-')];
    // every value lands in a YAML job that LAVA turns into shell steps: one line, no control characters
    if (x !== undefined)
      values[k] = k === 'suite_args' && x === '' ? x : checkLabel(`--${k.replace(/_/g, '-')}`, x, 8192);
  }
  const missing = Object.keys(LAVA_JOB_PLACEHOLDERS).filter((k) => values[k] === undefined);
  if (missing.length)
    throw new UsageError(`export lava-job needs ${missing.map((k) => `--${k.replace(/_/g, '-')}`).join(', ')}`);
  checkOption('--rootfs-compression', values.rootfs_compression, /^(gz|xz|zstd|bz2|zip)$/, 'gz, xz, zstd, bz2 or zip');
  const template = resolve(given.template ?? LAVA_JOB_TEMPLATE);
  if (given.out !== undefined) {
    checkNotAnInput('-o', resolve(given.out), [template]);
    checkOutputFile('-o', resolve(given.out), 'replace');
  }
  let text: string;
  try {
    text = readFileSync(template, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the job template ${template}: ${(e as Error).message}`);
  }
  let job: string;
  try {
    job = renderLavaJob(text, values);
  } catch (e) {
    throw new UsageError(`${template}: ${(e as Error).message}`);
  }
  write(given.out, job);
  return 0;
}

const FORMATS: Record<string, (argv: string[]) => Promise<number>> = {
  kcidb: exportKcidb,
  junit: exportJunit,
  'lava-results': exportLavaResults,
  'lava-job': exportLavaJob,
};

/** Runs the export command. */
export default async function exportCommand(argv: string[]): Promise<number> {
  const [format, ...rest] = argv;
  if (format === undefined)
    throw new UsageError(`export needs a format: ${Object.keys(FORMATS).join(', ')} (see export --help)`);
  if (format === '-h' || format === '--help' || rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const fn = FORMATS[format];
  if (!fn) throw new UsageError(`export: unknown format "${format}" (${Object.keys(FORMATS).join(', ')})`);
  return fn(rest);
}
