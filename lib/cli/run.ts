/** `run` (the default command): runs the selected cases on the live kernel, KTAP on stdout, JSON lines to a file. */
import { availableParallelism } from 'node:os';
import { UsageError } from '../errors.js';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadInstances, select, DEFAULT_CASES_DIR } from '../harness/registry.js';
import { runInstances } from '../harness/runner.js';
import { env } from '../harness/env.js';
import { runRecord } from '../harness/metadata.js';
import { KtapWriter, kselftestExitCode, type PlannedFamily } from '../report/ktap.js';
import { ResultsWriter } from '../report/results-file.js';
import { Expectations } from '../fixtures/expectations.js';
import type { CaseInstance } from '../harness/case.js';
import { printList } from './list.js';
import { machineState, type MachineState } from '../harness/leaks.js';
import { DEFAULT_FIXTURES_DIR, DEFAULT_RESULTS } from '../paths.js';
import { positiveInt, positiveSeconds, parseCommandLine } from './args.js';

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
  return {
    list: v.list ?? false, json: v.json ?? false, include: v.test ?? [], exclude: v.exclude ?? [],
    jobs: positiveInt('--jobs', v.jobs, Math.min(4, availableParallelism())), timeoutMs: positiveSeconds('--timeout', v.timeout, 30) * 1000,
    results: resolve(v.results ?? DEFAULT_RESULTS), ktap: v.ktap ? resolve(v.ktap) : undefined,
    matrix: v.matrix === 'none' ? undefined : resolve(v.matrix ?? join(dirname(resolve(v.results ?? DEFAULT_RESULTS)), 'matrix')),
    platform: v.platform, fixtures: resolve(v.fixtures ?? DEFAULT_FIXTURES_DIR), cases: resolve(v.cases ?? DEFAULT_CASES_DIR),
    allowHostUnsafe: v['allow-host-unsafe'] ?? false, help: v.help ?? false, version: v.version ?? false,
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
  const vms = a.vms === null || b.vms === null ? 'VMs unknown (debugfs not mounted)' : `VMs on the machine ${a.vms} → ${b.vms}`;
  const lines = [`# machine: ${vms}; Unevictable ${a.unevictableKb} → ${b.unevictableKb} kB; Mlocked ${a.mlockedKb} → ${b.mlockedKb} kB (machine-wide, other processes included)`];
  if (b.ownVms) lines.push(`# warning: ${b.ownVms} VM(s) created by this run's processes still exist after the run`);
  return lines;
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
  const all = await loadInstances(o.cases);
  const chosen = orderByFamily(select(all, o.include, o.exclude));
  if (o.include.length && chosen.length === 0) throw new UsageError(`no case matches ${o.include.map((s) => `-t ${s}`).join(' ')}`);
  if (o.list) {
    printList(chosen, o.json);
    return 0;
  }
  Expectations.load(o.fixtures); // fail early, before anything runs, on a bad fixture
  const e = env();
  e.allowHostUnsafe = o.allowHostUnsafe;
  const platform = o.platform ?? (e.arch === 'x64' ? 'x86_64' : e.arch);
  const results = new ResultsWriter(o.results);
  let ktapFile: WriteStream | undefined;
  if (o.ktap) {
    mkdirSync(dirname(o.ktap), { recursive: true });
    ktapFile = createWriteStream(o.ktap);
  }
  const out = (line: string) => {
    process.stdout.write(`${line}\n`);
    ktapFile?.write(`${line}\n`);
  };
  // workers read it at start (lib/harness/expect.ts): set before any is spawned
  if (o.mutateExpectations) process.env.GMEM_MUTATE_EXPECTATIONS = '1';
  const record = runRecord(e, platform, {
    include: o.include, exclude: o.exclude, jobs: o.jobs, timeoutMs: o.timeoutMs, allowHostUnsafe: o.allowHostUnsafe,
    ...(o.mutateExpectations ? { mutateExpectations: true } : {}),
  });
  results.append(record);
  const ktap = new KtapWriter(out, planFamilies(chosen));
  ktap.header();
  out(`# gmem-conformance ${record.suiteVersion} on ${record.kernel} (${record.arch}, ${record.host}); results: ${o.results}`);
  if (o.mutateExpectations) out('# MUTATION RUN: every expected errno and value is replaced by one the kernel cannot give; verdicts are not results');
  const ours = new Set<number>([process.pid]);
  const machineBefore = machineState(ours);
  await runInstances(chosen, {
    jobs: o.jobs, timeoutMs: o.timeoutMs, casesDir: o.cases, fixturesDir: o.fixtures, allowHostUnsafe: o.allowHostUnsafe,
    onWorker: (pid) => ours.add(pid),
    onResult: (r) => {
      results.append(r);
      ktap.record(r);
    },
  });
  const machineAfter = machineState(ours);
  for (const line of machineReport(machineBefore, machineAfter)) out(line);
  ktap.footer();
  const code = kselftestExitCode(ktap.totals);
  results.append({ type: 'end', finished: new Date().toISOString(), totals: { ...ktap.totals }, exitCode: code, machine: { before: machineBefore, after: machineAfter } });
  results.close();
  if (ktapFile) await new Promise<void>((r) => ktapFile?.end(r));
  if (o.matrix) {
    const { writeMatrix } = await import('./matrix.js');
    writeMatrix([o.results], o.matrix, ['md', 'json', 'html']);
    process.stderr.write(`# feature matrix: ${o.matrix}/matrix.{md,json,html}\n`);
  }
  return code;
}

/** The run command as a subcommand module. */
export default runCommand;
