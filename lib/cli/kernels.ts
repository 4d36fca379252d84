/** `kernels`: fetch candidate kernels, boot one with the suite inside, or run the suite on a set of kernels and merge the matrix. */
import { availableParallelism, totalmem } from 'node:os';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { positiveInt, positiveSeconds, parseCommandLine } from './args.js';
import {
  DEFAULT_KERNELS_FILE,
  SPEC_HELP,
  kernelSet,
  loadCandidates,
  parseKernelSpec,
  type KernelSpec,
} from '../vm/candidates.js';
import {
  DEFAULT_GUEST_MEMORY_MIB,
  guestSettingsFor,
  prepareKernel,
  runCandidates,
  runKernel,
  unavailableReport,
} from '../vm/candidate-run.js';
import { buildKernel, cachedBuild, type BuildOptions, type BuildSpec } from '../vm/kernel-build.js';
import { UsageError, InputError } from '../errors.js';
import { KernelUnavailable } from '../vm/kernel-source.js';
import { autoAccel, ensureQemu, QemuUnavailable, type Accel } from '../vm/qemu.js';
import type { GuestRunReport } from '../vm/guest-run.js';
import { cacheDir } from '../paths.js';
import { checkOutputDir, checkOutputFile } from './output-paths.js';

const HELP = `usage: gmem-conformance kernels <command> [options]

  kernels run [--set NAME | SPEC...] [-j N] [-t SEL]... [-x SEL]... [--timeout S] -o DIR
      runs the suite on each kernel (the host directly, the others booted in QEMU with the suite
      inside against their own /dev/kvm), writes DIR/<label>.jsonl (+ .ktap, .console.log), a
      summary DIR/kernels.json, and the merged feature matrix DIR/matrix.{md,json,html}.
      Without SPECs: the set (default "default": host, 6.1, 6.12, 7.2, 7.3-rc) and its case selection.
  kernels boot SPEC [--timeout S] [-o FILE] [--console FILE] [--append WORDS] [--json] [-- RUN-ARGS]
      boots one kernel, runs \`run RUN-ARGS\` inside, prints its KTAP (or the report with --json)
  kernels fetch [--set NAME | SPEC...]
      downloads and unpacks kernels into the cache (nothing is installed on the host)
  kernels build [--set NAME | SPEC...] [--fragments A,B] [--force] [--keep-objects] [--build-timeout S] [--build-jobs N]
      builds kernels from source (default: the set "built"): Debian's linux-source-<version> or a
      kernel tree, configured as defconfig + kvm_guest.config + fixtures/kconfig fragments, out of tree
      in the cache, keyed by source version + fragment contents; progress and the log (build.log in
      the build directory) go to the terminal. \`kernels run\` and \`boot\` build what is not cached.
  kernels list
      the candidates, the sets and the kernels already in the cache

options:
  -o, --out DIR/FILE     results directory (run) or results file (boot)
  -j, --jobs N           kernels run at once (default: cores, at most what memory allows)
  -t, --test SEL         cases, as for run (repeatable; overrides the set's selection; -t '*' = all)
  -x, --exclude SEL      cases to leave out (repeatable)
      --set NAME         a set of fixtures/kernels.yaml (default: default)
      --kernels FILE     candidates file (default fixtures/kernels.yaml)
      --timeout S        limit per kernel, boot to end (default 900; boot: 600); QEMU is killed then
      --case-timeout S   per-case timeout inside (default 60)
      --accel A          tcg, kvm or auto (default auto: kvm only where the host CPU shows vmx/svm)
      --memory MIB       guest memory (default: the candidate's guest.memory, else 2048)
      --numa-nodes N     split guest memory into N NUMA nodes (default: the candidate's guest.numa_nodes)
      --fragments A,B    build: fragments for kernel trees given on the command line (default
                         sw-protected-vm,numa,hugetlb,guest-init)
      --force            build: rebuild even when the cache has the build
      --keep-objects     build: keep the object tree (obj/, ~3 GB) in the cache after a build
      --build-timeout S  limit for one kernel build, all steps (default 9000)
      --build-jobs N     make -j for builds (default: cores)
      --append WORDS     extra guest kernel command-line words (after the candidate's guest.append)
      --console FILE     boot: keep the guest console log there
      --json             boot: print the run report as JSON instead of the KTAP

${SPEC_HELP}

exit status: run/boot: 0 every kernel completed and no case failed; 1 a case failed; 5 a kernel
could not be tested (unavailable, panic, oops, hang, boot failure; see the summary); 2 bad usage.
Guests need qemu-system-x86 (>= 8), busybox-static, kmod, xz-utils and zstd; they are installed on
first use by ci/kernels/install-qemu.sh (qemu from bookworm-backports on Debian 12, pinned).`;

/** Exit status when a kernel could not be tested. */
export const EXIT_KERNEL_UNTESTED = 5;

function parse(argv: string[]) {
  return parseCommandLine({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      out: { type: 'string', short: 'o' },
      jobs: { type: 'string', short: 'j' },
      test: { type: 'string', short: 't', multiple: true },
      exclude: { type: 'string', short: 'x', multiple: true },
      set: { type: 'string' },
      kernels: { type: 'string' },
      timeout: { type: 'string' },
      'case-timeout': { type: 'string' },
      accel: { type: 'string' },
      memory: { type: 'string' },
      append: { type: 'string' },
      console: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      'numa-nodes': { type: 'string' },
      fragments: { type: 'string' },
      force: { type: 'boolean' },
      'keep-objects': { type: 'boolean' },
      'build-timeout': { type: 'string' },
      'build-jobs': { type: 'string' },
    },
  });
}

/** The accelerator an --accel value asks for. */
export function accelOf(value: string | undefined): Accel {
  if (value === undefined || value === 'auto') return autoAccel();
  if (value === 'tcg' || value === 'kvm') return value;
  throw new UsageError(`--accel expects tcg, kvm or auto, got "${value}"`);
}

/** `run` arguments for the suite: selection, per-case timeout, one worker, no per-run matrix. A selection that matches no case is a UsageError (checked here, before any boot). */
export async function suiteRunArgs(tests: string[], exclude: string[], caseTimeoutS: number): Promise<string[]> {
  const { loadInstances, select, DEFAULT_CASES_DIR } = await import('../harness/registry.js');
  if (select(await loadInstances(DEFAULT_CASES_DIR), tests, exclude).length === 0)
    throw new UsageError(
      `no case matches ${[...tests.map((t) => `-t ${t}`), ...exclude.map((x) => `-x ${x}`)].join(' ')}`,
    );
  const args = ['run', '-j', '1', '--timeout', String(caseTimeoutS)];
  for (const t of tests) args.push('-t', t);
  for (const x of exclude) args.push('-x', x);
  const { RUN_HELP } = (await import('./run.js')) as { RUN_HELP?: string };
  if (RUN_HELP?.includes('--matrix')) args.push('--matrix', 'none');
  return args;
}

function log(line: string): void {
  process.stderr.write(`# kernels: ${line}\n`);
}

function defaultJobs(memoryMiB: number): number {
  const byMemory = Math.max(1, Math.floor((totalmem() / 2 ** 20 - 2048) / (memoryMiB + 512)));
  return Math.max(1, Math.min(availableParallelism(), byMemory));
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The per-kernel summary table printed at the end of `kernels run`. */
export function summaryTable(reports: GuestRunReport[]): string {
  const rows = [['label', 'kernel', 'outcome', 'results', 'suite exit', 'boot→result', 'total']];
  for (const r of reports)
    rows.push([
      r.label,
      r.release || '-',
      r.outcome,
      String(r.resultCount),
      r.suiteExit === null ? '-' : String(r.suiteExit),
      r.outcome === 'unavailable' ? '-' : secs(r.timings.bootToResultMs),
      r.outcome === 'unavailable' ? '-' : secs(r.timings.totalMs),
    ]);
  const widths = rows[0]?.map((_c, i) => Math.max(...rows.map((r) => (r[i] as string).length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] as number))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** kselftest-like status over several kernels: 5 if any could not be tested, else 1 if any case failed, else 0. */
export function overallStatus(reports: GuestRunReport[]): number {
  if (reports.some((r) => r.outcome !== 'completed')) return EXIT_KERNEL_UNTESTED;
  if (reports.some((r) => r.suiteExit !== 0 && r.suiteExit !== 4)) return 1;
  return 0;
}

function specsFrom(positionals: string[], setName: string | undefined, kernelsFile: string, fragments?: string) {
  const candidates = loadCandidates(kernelsFile);
  const frags = fragments?.split(',').filter(Boolean);
  if (positionals.length) {
    const specs = positionals
      .map((p) => parseKernelSpec(p, candidates))
      .map((s) => (frags && s.kind === 'build' ? { ...s, fragments: frags } : s));
    return { specs, tests: [] as string[], exclude: [] as string[] };
  }
  return kernelSet(candidates, setName ?? 'default');
}

async function runCommand(p: ReturnType<typeof parse>): Promise<number> {
  const v = p.values;
  if (!v.out) throw new UsageError('kernels run needs -o DIR');
  if (p.positionals.length > 1 && v.set) throw new UsageError('give kernel specs or --set, not both');
  const memoryMiB = v.memory === undefined ? undefined : positiveInt('--memory', v.memory, DEFAULT_GUEST_MEMORY_MIB);
  const sel = specsFrom(p.positionals.slice(1), v.set, resolve(v.kernels ?? DEFAULT_KERNELS_FILE), v.fragments);
  const largest = Math.max(...sel.specs.map((s) => guestSettingsFor(s, { memoryMiB }).memoryMiB));
  const jobs = positiveInt('--jobs', v.jobs, defaultJobs(largest));
  const cliSelects = (v.test?.length ?? 0) + (v.exclude?.length ?? 0) > 0;
  const tests = cliSelects ? (v.test ?? []) : sel.tests;
  const exclude = cliSelects ? (v.exclude ?? []) : sel.exclude;
  const outDir = resolve(v.out);
  checkOutputDir('-o', outDir);
  // every number is checked before the first kernel is fetched or booted
  const timeoutMs = positiveSeconds('--timeout', v.timeout, 900) * 1000;
  const accel = accelOf(v.accel);
  const suiteArgs = await suiteRunArgs(tests, exclude, positiveSeconds('--case-timeout', v['case-timeout'], 60));
  const started = Date.now();
  log(
    `${sel.specs.length} kernel(s), ${jobs} at a time; cases: ${tests.length ? tests.join(' ') : 'all'}${exclude.length ? ` except ${exclude.join(' ')}` : ''}; cache ${cacheDir()}`,
  );
  const reports = await runCandidates({
    specs: sel.specs,
    outDir,
    jobs,
    log,
    suiteArgs,
    timeoutMs,
    accel,
    memoryMiB,
    append: v.append?.split(/\s+/).filter(Boolean),
    build: buildOptions(v),
    numaNodes: numaNodesOf(v['numa-nodes']),
  });
  for (const r of reports.filter((x) => x.outcome !== 'completed')) {
    process.stderr.write(`\n# ${r.label}: ${r.outcome}: ${r.detail}\n`);
    if (r.excerpt)
      process.stderr.write(
        `${r.excerpt
          .split('\n')
          .map((l) => `#   ${l}`)
          .join('\n')}\n`,
      );
  }
  process.stdout.write(`${summaryTable(reports)}\n`);
  process.stdout.write(`total ${secs(Date.now() - started)} for ${reports.length} kernel(s) with -j ${jobs}\n`);
  const files = reports
    .map((r) => r.resultsFile)
    .filter((f): f is string => !!f && existsSync(f) && readFileSync(f, 'utf8').startsWith('{"type":"run"'));
  if (files.length) {
    try {
      const matrix = (await import('./matrix.js')) as { default: (a: string[]) => Promise<number> };
      await matrix.default([...files, '-o', outDir]);
      process.stdout.write(`matrix: ${join(outDir, 'matrix.md')}\n`);
    } catch (e) {
      process.stderr.write(`# kernels: the matrix could not be written: ${(e as Error).message}\n`);
    }
  }
  return overallStatus(reports);
}

async function bootCommand(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  const runArgs = dash >= 0 ? argv.slice(dash + 1) : [];
  const p = parse(own);
  const v = p.values;
  if (v.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const [, specText, ...extra] = p.positionals;
  if (!specText || extra.length)
    throw new UsageError('kernels boot takes exactly one kernel spec (suite arguments go after --)');
  if (runArgs.some((a) => a === '-o' || a === '--results' || a.startsWith('--results=') || a === '--platform'))
    throw new UsageError('kernels boot sets -o and --platform of the run inside itself; give -o before --');
  const spec: KernelSpec = parseKernelSpec(specText, loadCandidates(resolve(v.kernels ?? DEFAULT_KERNELS_FILE)));
  // every number and output is checked before the kernel is fetched or booted
  const timeoutMs = positiveSeconds('--timeout', v.timeout, 600) * 1000;
  const accel = accelOf(v.accel);
  const memoryMiB = v.memory === undefined ? undefined : positiveInt('--memory', v.memory, DEFAULT_GUEST_MEMORY_MIB);
  const numaNodes = numaNodesOf(v['numa-nodes']);
  if (v.out) checkOutputFile('-o', resolve(v.out), 'replace');
  if (v.console) checkOutputFile('--console', resolve(v.console));
  let report: GuestRunReport;
  try {
    if (spec.kind !== 'host') ensureQemu();
    const k = prepareKernel(spec, log, buildOptions(v));
    const results = resolve(v.out ?? join('results', `${k.label}.jsonl`));
    report = await runKernel(
      k,
      { results, console: v.console ? resolve(v.console) : undefined },
      {
        suiteArgs: ['run', ...runArgs.filter((a, i) => !(i === 0 && a === 'run'))],
        timeoutMs,
        accel,
        memoryMiB,
        append: v.append?.split(/\s+/).filter(Boolean),
        numaNodes,
      },
    );
  } catch (e) {
    if (!(e instanceof KernelUnavailable || e instanceof QemuUnavailable)) throw e;
    report = unavailableReport(specText, e.message);
  }
  if (v.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(report.ktap);
  if (report.outcome !== 'completed') {
    process.stderr.write(`# kernels: ${report.label}: ${report.outcome}: ${report.detail}\n`);
    if (report.excerpt)
      process.stderr.write(
        `${report.excerpt
          .split('\n')
          .map((l) => `#   ${l}`)
          .join('\n')}\n`,
      );
    return EXIT_KERNEL_UNTESTED;
  }
  log(
    `${report.label} (${report.release}): ${report.detail}; ${report.resultCount} results → ${report.resultsFile ?? '(none)'}; boot to result ${secs(report.timings.bootToResultMs)}`,
  );
  return report.suiteExit ?? EXIT_KERNEL_UNTESTED;
}

function fetchCommand(p: ReturnType<typeof parse>): number {
  if (p.positionals.length > 1 && p.values.set) throw new UsageError('give kernel specs or --set, not both');
  const sel = specsFrom(p.positionals.slice(1), p.values.set, resolve(p.values.kernels ?? DEFAULT_KERNELS_FILE));
  let status = 0;
  for (const spec of sel.specs) {
    if (spec.kind === 'host' || spec.kind === 'build') continue;
    try {
      const k = prepareKernel(spec, log);
      const t = k.tree;
      process.stdout.write(`${k.label}\t${t?.release}\t${t?.image}\t${t?.modulesDir ?? '-'}\t${t?.origin}\n`);
    } catch (e) {
      if (!(e instanceof KernelUnavailable)) throw e;
      process.stderr.write(`# kernels: ${spec.label ?? ''}: ${e.message}\n`);
      status = EXIT_KERNEL_UNTESTED;
    }
  }
  return status;
}

function listCommand(p: ReturnType<typeof parse>): number {
  const c = loadCandidates(resolve(p.values.kernels ?? DEFAULT_KERNELS_FILE));
  for (const s of c.specs) {
    const what =
      s.kind === 'host'
        ? 'the live kernel'
        : s.kind === 'debian'
          ? `debian ${s.suite} ${s.package}${s.version ? `=${s.version}` : ''}`
          : s.kind === 'build'
            ? `build ${s.source.kind === 'tree' ? s.source.path : `${s.source.suite} ${s.source.package}${s.source.version ? `=${s.source.version}` : ''}`} + ${s.fragments.join(', ')}${buildState(s)}`
            : `image ${s.image}`;
    process.stdout.write(`${(s.label ?? '').padEnd(8)} ${what}${s.note ? `  (${s.note})` : ''}\n`);
  }
  for (const [name, set] of c.sets)
    process.stdout.write(
      `set ${name}: ${set.kernels.join(' ')}${set.tests.length ? `; cases ${set.tests.join(' ')}` : ''}\n`,
    );
  for (const sub of ['kernels', 'kernel-builds']) {
    const dir = join(cacheDir(), sub);
    if (existsSync(dir))
      for (const name of readdirSync(dir))
        if (existsSync(join(dir, name, 'kernel.json'))) process.stdout.write(`cached: ${join(dir, name)}\n`);
  }
  return 0;
}

function numaNodesOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = positiveInt('--numa-nodes', value, 1);
  if (n > 8) throw new UsageError(`--numa-nodes expects 1 to 8, got ${n}`);
  return n;
}

function buildState(s: BuildSpec): string {
  try {
    const hit = cachedBuild(s);
    return hit?.record ? ` [built: ${hit.record.release}]` : ' [not built yet]';
  } catch (e) {
    return ` [${(e as Error).message}]`;
  }
}

function buildOptions(v: ReturnType<typeof parse>['values']): BuildOptions {
  return {
    timeoutMs: positiveSeconds('--build-timeout', v['build-timeout'], 150 * 60) * 1000,
    jobs: v['build-jobs'] === undefined ? undefined : positiveInt('--build-jobs', v['build-jobs'], 1),
    force: v.force ?? false,
    keepObjects: v['keep-objects'] ?? false,
  };
}

function buildCommand(p: ReturnType<typeof parse>): number {
  const sel = specsFrom(
    p.positionals.slice(1),
    p.values.set ?? 'built',
    resolve(p.values.kernels ?? DEFAULT_KERNELS_FILE),
    p.values.fragments,
  );
  const o = buildOptions(p.values);
  const builds = sel.specs.filter((s): s is BuildSpec => s.kind === 'build');
  if (builds.length === 0)
    throw new UsageError(
      `none of ${sel.specs.map((s) => s.label ?? s.kind).join(', ')} is built from source (source: build in fixtures/kernels.yaml, or a kernel tree directory)`,
    );
  let status = 0;
  for (const spec of builds) {
    const started = Date.now();
    try {
      const t = buildKernel(spec, log, o);
      process.stdout.write(
        `${t.label}\t${t.release}\t${t.image}\t${t.modulesDir ?? '-'}\t${secs(Date.now() - started)}\t${t.origin}\n`,
      );
    } catch (e) {
      if (!(e instanceof KernelUnavailable || e instanceof InputError)) throw e;
      process.stderr.write(`# kernels: ${spec.label ?? 'build'}: ${e.message}\n`);
      status = EXIT_KERNEL_UNTESTED;
    }
  }
  return status;
}

/** Runs the kernels command. */
export default async function kernelsCommand(argv: string[]): Promise<number> {
  const sub = argv[0];
  if (!sub || sub === '-h' || sub === '--help' || sub === 'help') {
    process.stdout.write(`${HELP}\n`);
    return sub ? 0 : 2;
  }
  if (sub === 'boot') return bootCommand(argv);
  const p = parse(argv);
  if (p.values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (sub === 'run') return runCommand(p);
  if (sub === 'fetch') return fetchCommand(p);
  if (sub === 'list') return listCommand(p);
  if (sub === 'build') return buildCommand(p);
  throw new UsageError(`unknown kernels command "${sub}" (run, boot, fetch, build, list)`);
}
