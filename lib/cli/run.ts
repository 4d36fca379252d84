/** `run` (the default command): runs the selected cases on the live kernel, KTAP on stdout, JSON lines to a file. */
import { availableParallelism, freemem } from 'node:os';
import { UsageError } from '../errors.js';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { loadInstances, select, DEFAULT_CASES_DIR } from '../harness/registry.js';
import { runInstances } from '../harness/runner.js';
import { env } from '../harness/env.js';
import { runRecord } from '../harness/metadata.js';
import { KtapWriter, kselftestExitCode, type PlannedFamily } from '../report/ktap.js';
import { ResultsWriter } from '../report/results-writer.js';
import { ReplacedFile } from '../report/replaced-file.js';
import {
  checkDistinctOutputs,
  checkNotAnInput,
  checkOutputDir,
  checkOutputFile,
  makeParentDir,
} from './output-paths.js';
import { Expectations } from '../fixtures/expectations.js';
import type { CaseInstance } from '../harness/case.js';
import { printList } from './list.js';
import { machineState, type MachineState } from '../harness/leaks.js';
import { DEFAULT_FIXTURES_DIR, DEFAULT_RESULTS } from '../paths.js';
import { checkLabel, existingDir, positiveInt, positiveSeconds, parseCommandLine } from './args.js';

/** Help text of the run command. */
export const RUN_HELP = `usage: gmem-conformance [run] [options]
       ./run.sh [options]

Runs the conformance cases against the live kernel. KTAP on stdout, JSON lines to --results.

options:
  -l, --list               list the selected cases instead of running them
      --json               with --list: print case metadata as JSON
  -t, --test SEL           select cases (repeatable): an id, a case id, a family prefix
                           (gmem.create), or a glob (gmem.*.punch_*)
  -x, --exclude SEL        exclude cases (repeatable), same forms as --test
  -j, --jobs N             parallel worker processes (default: the number of CPUs, at most 4)
      --timeout SEC        per-case timeout unless a case sets its own (default 30)
  -o, --results FILE       JSON-lines results file (default results/latest.jsonl)
      --ktap FILE          also write the KTAP to FILE
      --matrix DIR         where the run's feature matrix goes (default results/matrix; 'none' skips it)
      --platform LABEL     platform label recorded for the feature matrix (default: arch)
      --fixtures DIR       fixtures directory (default fixtures/)
      --cases DIR          directory of compiled case modules (default dist/tests)
      --allow-host-unsafe  run cases that refuse to run on a host (they may take it down)
      --mutate-expectations  a mutation run: expected errnos and values are replaced by ones the
                           kernel cannot give, so every case must fail (checks that cases can fail;
                           \`mutation BASE MUTATED\` lists those that did not). Not a result.
  -h, --help               this help
      --version            print the suite version

exit status (kselftest): 0 all ran cases passed, 1 a case failed/errored/timed out/xpassed,
4 every case skipped, 2 bad command line or input.`;

/** Parses the run command's arguments. */
export function parseRunArgs(argv: string[]) {
  const parsed = parseCommandLine({
    args: argv,
    allowPositionals: false,
    strict: true,
    options: {
      list: { type: 'boolean', short: 'l' },
      json: { type: 'boolean' },
      test: { type: 'string', short: 't', multiple: true },
      exclude: { type: 'string', short: 'x', multiple: true },
      jobs: { type: 'string', short: 'j' },
      timeout: { type: 'string' },
      results: { type: 'string', short: 'o' },
      ktap: { type: 'string' },
      matrix: { type: 'string' },
      platform: { type: 'string' },
      fixtures: { type: 'string' },
      cases: { type: 'string' },
      'allow-host-unsafe': { type: 'boolean' },
      'mutate-expectations': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
    },
  });
  const v = parsed.values;
  if (v.json && !v.list) throw new UsageError('--json only goes with --list');
  for (const [name, value] of [
    ['-o/--results', v.results],
    ['--ktap', v.ktap],
    ['--matrix', v.matrix],
    ['--fixtures', v.fixtures],
    ['--cases', v.cases],
  ] as const)
    if (value === '')
      throw new UsageError(
        `${name} expects a ${name === '--ktap' || name === '-o/--results' ? 'file name' : 'directory'}, got ""`,
      );
  if (v.platform !== undefined) checkLabel('--platform', v.platform);
  return {
    list: v.list ?? false,
    json: v.json ?? false,
    include: v.test ?? [],
    exclude: v.exclude ?? [],
    jobs: positiveInt('--jobs', v.jobs, Math.min(4, availableParallelism()), 1024),
    timeoutMs: positiveSeconds('--timeout', v.timeout, 30) * 1000,
    results: resolve(v.results ?? DEFAULT_RESULTS),
    ktap: v.ktap !== undefined ? resolve(v.ktap) : undefined,
    matrix:
      v.matrix === 'none'
        ? undefined
        : resolve(v.matrix ?? join(dirname(resolve(v.results ?? DEFAULT_RESULTS)), 'matrix')),
    platform: v.platform,
    fixtures: resolve(v.fixtures ?? DEFAULT_FIXTURES_DIR),
    cases: resolve(v.cases ?? DEFAULT_CASES_DIR),
    allowHostUnsafe: v['allow-host-unsafe'] ?? false,
    help: v.help ?? false,
    version: v.version ?? false,
    mutateExpectations: v['mutate-expectations'] ?? false,
  };
}

/** Groups instances into families in first-appearance order (the KTAP plan). */
export function planFamilies(instances: CaseInstance[]): PlannedFamily[] {
  const map = new Map<string, string[]>();
  for (const i of instances) {
    const ids = map.get(i.family) ?? [];
    ids.push(i.id);
    map.set(i.family, ids);
  }
  return [...map].map(([name, ids]) => ({ name, ids }));
}

/** Orders instances family by family (families in first-appearance order) so KTAP can stream. */
export function orderByFamily(instances: CaseInstance[]): CaseInstance[] {
  const byFam = new Map<string, CaseInstance[]>();
  for (const i of instances) byFam.set(i.family, [...(byFam.get(i.family) ?? []), i]);
  return [...byFam.values()].flat();
}

/** KTAP diagnostic lines comparing the machine before and after a run (VMs, unevictable, mlocked memory). */
export function machineReport(a: MachineState, b: MachineState): string[] {
  const vms =
    a.vms === null || b.vms === null ? 'VMs unknown (debugfs not mounted)' : `VMs on the machine ${a.vms} → ${b.vms}`;
  const lines = [
    `# machine: ${vms}; Unevictable ${a.unevictableKb} → ${b.unevictableKb} kB; Mlocked ${a.mlockedKb} → ${b.mlockedKb} kB (machine-wide, other processes included)`,
  ];
  if (b.ownVms) lines.push(`# warning: ${b.ownVms} VM(s) created by this run's processes still exist after the run`);
  return lines;
}

/** Memory one worker may need (the largest measured is ~75 MiB, a probe child beside it ~54 MiB). */
export const WORKER_MEMORY_BYTES = 192 * 2 ** 20;

/** -j capped so the workers fit in half of MemAvailable (each case may use the other half); the note says why when it caps. */
export function capJobsByMemory(
  jobs: number,
  memAvailable: number = memAvailableBytes(),
): { jobs: number; note: string | null } {
  const fit = Math.max(1, Math.floor(memAvailable / 2 / WORKER_MEMORY_BYTES));
  if (jobs <= fit) return { jobs, note: null };
  return {
    jobs: fit,
    note: `-j ${jobs} capped at ${fit}: MemAvailable is ${Math.round(memAvailable / 2 ** 20)} MiB and each worker may need ${WORKER_MEMORY_BYTES / 2 ** 20} MiB (half of it is kept for the cases)`,
  };
}

function memAvailableBytes(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    /* no /proc */
  }
  return freemem();
}

/** Signals that end a run early: its workers are stopped, its finished results kept in FILE.partial. */
const STOP_SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;

/** Checks every output path of a run against the others and against its inputs, before anything is touched. */
export function checkRunOutputs(o: ReturnType<typeof parseRunArgs>): void {
  checkOutputFile('-o/--results', o.results, 'replace');
  if (o.ktap) {
    checkOutputFile('--ktap', o.ktap);
    checkDistinctOutputs([
      ['-o/--results', o.results],
      ['--ktap', o.ktap],
    ]);
  }
  if (o.matrix) {
    checkOutputDir('--matrix', o.matrix);
    for (const f of ['matrix.md', 'matrix.json', 'matrix.html']) {
      checkNotAnInput('--matrix', join(o.matrix, f), [o.results]);
      if (o.ktap) checkNotAnInput('--matrix', join(o.matrix, f), [o.ktap]);
    }
  }
  for (const [option, out] of [
    ['-o/--results', o.results],
    ['--ktap', o.ktap],
    ['--matrix', o.matrix],
  ] as const) {
    if (!out) continue;
    for (const [what, dir] of [
      ['--fixtures', o.fixtures],
      ['--cases', o.cases],
    ] as const) {
      const rel = relative(dir, out);
      if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel)))
        throw new UsageError(`${option}: ${out} is inside the ${what} directory ${dir}, an input of the run`);
    }
  }
}

/** Runs the command; returns the process exit status. */
export async function runCommand(argv: string[]): Promise<number> {
  const o = parseRunArgs(argv);
  if (o.help) {
    process.stdout.write(`${RUN_HELP}\n`);
    return 0;
  }
  if (o.version) {
    const { suiteVersion } = await import('../harness/metadata.js');
    process.stdout.write(`gmem-conformance ${suiteVersion()}\n`);
    return 0;
  }
  const all = await loadInstances(existingDir('--cases', o.cases));
  const chosen = orderByFamily(select(all, o.include, o.exclude));
  if (o.include.length && chosen.length === 0)
    throw new UsageError(`no case matches ${o.include.map((s) => `-t ${s}`).join(' ')}`);
  if (o.list) {
    printList(chosen, o.json);
    return 0;
  }
  // everything that can be refused is refused here, before any file is touched
  const fixtures = Expectations.load(o.fixtures);
  // fixture ids must name cases of the suite: those of --cases, and the shipped ones (the default fixtures serve those)
  const known = new Set(all.flatMap((i) => [i.id, i.def.id]));
  if (o.cases !== resolve(DEFAULT_CASES_DIR))
    for (const i of await loadInstances(DEFAULT_CASES_DIR)) known.add(i.id).add(i.def.id);
  fixtures.checkIds((id) => known.has(id));
  checkRunOutputs(o);
  const capped = capJobsByMemory(o.jobs);
  if (capped.note) process.stderr.write(`# ${capped.note}\n`);
  o.jobs = capped.jobs;
  const e = env();
  e.allowHostUnsafe = o.allowHostUnsafe; // the runner hands it on to each worker (lib/harness/runner.ts)
  const platform = o.platform ?? e.arch;
  // workers read it at start (lib/harness/expect.ts): set before any is spawned
  if (o.mutateExpectations) process.env.GMEM_MUTATE_EXPECTATIONS = '1';
  const record = runRecord(e, platform, {
    include: o.include,
    exclude: o.exclude,
    jobs: o.jobs,
    timeoutMs: o.timeoutMs,
    allowHostUnsafe: o.allowHostUnsafe,
    ...(o.mutateExpectations ? { mutateExpectations: true } : {}),
  });
  makeParentDir(o.results);
  const results = new ResultsWriter(o.results); // the lock: a second writer of this file stops here, exit 2
  if (results.movedAside)
    process.stderr.write(`# the results a killed run left in ${results.partial} are kept as ${results.movedAside}\n`);
  let ktap: ReplacedFile | undefined;
  try {
    if (o.ktap) {
      makeParentDir(o.ktap);
      ktap = new ReplacedFile(o.ktap);
    }
  } catch (err) {
    results.discard();
    throw new UsageError(`--ktap: ${(err as Error).message}`);
  }
  const out = (line: string) => {
    process.stdout.write(`${line}\n`);
    ktap?.write(`${line}\n`);
  };
  results.append(record);
  const plan = planFamilies(chosen);
  const numbers = new Map(plan.flatMap((f) => f.ids.map((id, i) => [id, i + 1] as const)));
  const writer = new KtapWriter(out, plan);
  writer.header();
  out(
    `# gmem-conformance ${record.suiteVersion} on ${record.kernel} (${record.arch}, ${record.host}); results: ${o.results}`,
  );
  if (o.mutateExpectations)
    out(
      '# MUTATION RUN: every expected errno and value is replaced by one the kernel cannot give; verdicts are not results',
    );
  const ours = new Set<number>([process.pid]);
  const machineBefore = machineState(ours);
  const abort = new AbortController();
  let stoppedBy: keyof typeof STOP_SIGNALS | undefined;
  const onSignal = (sig: keyof typeof STOP_SIGNALS) => {
    if (stoppedBy) return;
    stoppedBy = sig;
    process.stderr.write(`# ${sig}: stopping the workers\n`);
    abort.abort();
  };
  for (const sig of Object.keys(STOP_SIGNALS) as (keyof typeof STOP_SIGNALS)[]) process.on(sig, onSignal);
  try {
    await runInstances(chosen, {
      jobs: o.jobs,
      timeoutMs: o.timeoutMs,
      fixtures,
      signal: abort.signal,
      onWorker: (pid) => ours.add(pid),
      onResult: (r) => {
        const n = numbers.get(r.id);
        if (n !== undefined) r.ktapNumber = n;
        results.append(r);
        writer.record(r);
      },
    });
  } finally {
    for (const sig of Object.keys(STOP_SIGNALS) as (keyof typeof STOP_SIGNALS)[]) process.off(sig, onSignal);
  }
  if (stoppedBy) {
    // an interrupted run is incomplete: no end record, the previous results file stays as it was
    results.abandon();
    ktap?.abandon();
    process.stderr.write(
      `# interrupted by ${stoppedBy}: the finished results are in ${results.partial}; ${o.results} was not replaced\n`,
    );
    return 128 + STOP_SIGNALS[stoppedBy];
  }
  const machineAfter = machineState(ours);
  for (const line of machineReport(machineBefore, machineAfter)) out(line);
  writer.footer();
  const code = kselftestExitCode(writer.totals);
  results.append({
    type: 'end',
    finished: new Date().toISOString(),
    totals: { ...writer.totals },
    exitCode: code,
    machine: { before: machineBefore, after: machineAfter },
  });
  results.commit();
  ktap?.commit();
  if (o.matrix) {
    const { writeMatrix } = await import('./matrix.js');
    writeMatrix([o.results], o.matrix, ['md', 'json', 'html']);
    process.stderr.write(`# feature matrix: ${o.matrix}/matrix.{md,json,html}\n`);
  }
  return code;
}

/** The run command as a subcommand module. */
export default runCommand;
