/** `bisect`: judge one kernel for `git bisect run` (0 good / 1 bad / 125 skip), or find the first kernel of an ordered list where a case flips. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { positiveInt, positiveSeconds, parseCommandLine } from './args.js';
import { UsageError, InputError } from '../errors.js';
import { buildKernel } from '../vm/kernel-build.js';
import {
  DEFAULT_BUILD_FRAGMENTS,
  DEFAULT_KERNELS_FILE,
  SPEC_HELP,
  kernelSet,
  loadCandidates,
  parseKernelSpec,
  type KernelSpec,
} from '../vm/candidates.js';
import { filesIn, prepareKernel, runKernel, type RunKernelOptions } from '../vm/candidate-run.js';
import { KernelUnavailable } from '../vm/kernel-source.js';
import { ensureQemu, QemuUnavailable } from '../vm/qemu.js';
import { judge, resultLines, type GoodIf, type Judgement } from '../vm/judge.js';
import { accelOf, suiteRunArgs } from './kernels.js';

const HELP = `usage: gmem-conformance bisect run --kernel IMAGE [--modules DIR] [--build CMD] -t SEL... [options]
       gmem-conformance bisect run --tree DIR [--fragments A,B] -t SEL... [options]
       gmem-conformance bisect list [--set NAME | SPEC...] -t SEL... [options]

bisect run   for \`git bisect run\`: optionally builds (--build, run with sh -c in the current
             directory), boots IMAGE in QEMU, runs the selected cases inside and exits
               0   good     1   bad     125 skip: cannot be tested (build failed, kernel did not
             boot, panicked or hung, the feature is absent with --good-if pass/fail, a case errored)
               255 stop the bisection (bad usage, QEMU cannot be installed)
             e.g.  git bisect run gmem-conformance bisect run --build 'make -j2 bzImage modules &&
                     make modules_install INSTALL_MOD_PATH=/tmp/mods' --kernel arch/x86/boot/bzImage
                     --modules /tmp/mods -t gmem.create.one_page --good-if absent
             or, with the project's own build (defconfig + kvm_guest.config + fixtures/kconfig
             fragments, out of tree, cached per commit; a failed build is a skip):
                   git bisect run gmem-conformance bisect run --tree . -t attr.convert
bisect list  walks an ordered list of kernels (default: the "debian" set of fixtures/kernels.yaml,
             6.1 → 7.3-rc) by binary search and prints the first one whose state differs from the
             first kernel's, with every step. Exit 0 found, 1 no change between first and last,
             5 could not decide (kernels that cannot be tested in the way), 2 bad usage.

options:
  -t, --test SEL        the cases to judge (repeatable, as for run)
  -x, --exclude SEL     cases to leave out
      --good-if WHAT    pass (default): good when every selected case that ran passed;
                        fail: good when one failed; present: good when a selected case ran at all
                        (not skipped for a missing capability); absent: good when all skipped
      --crash AS        what a panic/oops/hang counts as: skip (default) or bad
      --kernel IMAGE    run: the kernel image (bzImage)
      --modules DIR     run: its modules (a modules_install root or lib/modules/<release>)
      --build CMD       run: build command; a non-zero exit means skip (125)
      --tree DIR        run: build the kernel tree DIR at its current commit with the project's
                        fragments (kernels build), instead of --kernel/--build
      --fragments A,B   run --tree: fragments (default sw-protected-vm,numa,hugetlb,guest-init)
      --set NAME        list: a set of fixtures/kernels.yaml (default: debian)
      --kernels FILE    candidates file (default fixtures/kernels.yaml)
      --timeout S       limit per boot (default 600)
      --case-timeout S  per-case timeout inside (default 60)
      --accel A         tcg, kvm or auto (default auto)
      --memory MIB      guest memory (default 2048)
      --append WORDS    extra guest kernel command-line words
  -o, --out DIR         keep each kernel's results, KTAP and console log in DIR
      --json            list: print the steps and the answer as JSON

${SPEC_HELP}`;

function parse(argv: string[]) {
  return parseCommandLine({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      test: { type: 'string', short: 't', multiple: true },
      exclude: { type: 'string', short: 'x', multiple: true },
      'good-if': { type: 'string' },
      crash: { type: 'string' },
      kernel: { type: 'string' },
      modules: { type: 'string' },
      build: { type: 'string' },
      tree: { type: 'string' },
      fragments: { type: 'string' },
      set: { type: 'string' },
      kernels: { type: 'string' },
      timeout: { type: 'string' },
      'case-timeout': { type: 'string' },
      accel: { type: 'string' },
      memory: { type: 'string' },
      append: { type: 'string' },
      out: { type: 'string', short: 'o' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

type Parsed = ReturnType<typeof parse>;

function goodIfOf(value: string | undefined): GoodIf {
  const g = value ?? 'pass';
  if (g !== 'pass' && g !== 'fail' && g !== 'present' && g !== 'absent')
    throw new UsageError(`--good-if expects pass, fail, present or absent, got "${g}"`);
  return g;
}

function say(line: string): void {
  process.stderr.write(`bisect: ${line}\n`);
}

/** One kernel tested: its label/release and the judgement. */
export interface BisectStep {
  /** Position in the list. */ index: number;
  /** Candidate label. */ label: string;
  /** Kernel release ('' when it never booted). */ release: string;
  /** The judgement. */ judgement: Judgement;
  /** Seconds the step took. */ seconds: number;
}

/** Checks every number and choice of the command line before anything is built, fetched or booted. */
function checkNumbers(p: Parsed): void {
  const v = p.values;
  positiveSeconds('--case-timeout', v['case-timeout'], 60);
  positiveSeconds('--timeout', v.timeout, 600);
  positiveInt('--memory', v.memory, 2048);
  accelOf(v.accel);
  if (v.crash && v.crash !== 'skip' && v.crash !== 'bad')
    throw new UsageError(`--crash expects skip or bad, got "${v.crash}"`);
}

async function testKernel(
  spec: KernelSpec,
  p: Parsed,
  outDir: string,
  goodIf: GoodIf,
): Promise<{ label: string; release: string; judgement: Judgement }> {
  const v = p.values;
  const crashBad = (v.crash ?? 'skip') === 'bad';
  if (v.crash && v.crash !== 'skip' && v.crash !== 'bad')
    throw new UsageError(`--crash expects skip or bad, got "${v.crash}"`);
  let k;
  try {
    k = prepareKernel(spec, (l) => say(l));
  } catch (e) {
    if (!(e instanceof KernelUnavailable)) throw e;
    return {
      label: spec.label ?? spec.kind,
      release: '',
      judgement: { code: 125, state: 'untestable', why: e.message },
    };
  }
  const opts: RunKernelOptions = {
    suiteArgs: await suiteRunArgs(
      v.test ?? [],
      v.exclude ?? [],
      positiveSeconds('--case-timeout', v['case-timeout'], 60),
    ),
    timeoutMs: positiveSeconds('--timeout', v.timeout, 600) * 1000,
    accel: accelOf(v.accel),
    memoryMiB: positiveInt('--memory', v.memory, 2048),
    append: v.append?.split(/\s+/).filter(Boolean),
  };
  const files = filesIn(outDir, k.label);
  const r = await runKernel(k, files, opts);
  if (r.outcome !== 'completed' && r.outcome !== 'oops') {
    if (r.excerpt)
      process.stderr.write(
        `${r.excerpt
          .split('\n')
          .map((l) => `#   ${l}`)
          .join('\n')}\n`,
      );
    const judgement: Judgement =
      crashBad && ['panic', 'hang'].includes(r.outcome)
        ? { code: 1, state: r.outcome, why: r.detail }
        : { code: 125, state: 'untestable', why: `${r.outcome}: ${r.detail}` };
    return { label: k.label, release: r.release, judgement };
  }
  if (r.outcome === 'oops' && crashBad)
    return { label: k.label, release: r.release, judgement: { code: 1, state: 'oops', why: r.detail } };
  return {
    label: k.label,
    release: r.release,
    judgement: r.resultsFile
      ? judge(resultLines(r.resultsFile), goodIf)
      : { code: 125, state: 'untestable', why: 'no results came back' },
  };
}

async function runMode(p: Parsed): Promise<number> {
  const v = p.values;
  if (v.tree && (v.kernel || v.build || v.modules))
    throw new UsageError('bisect run takes --tree DIR, or --kernel IMAGE with --build/--modules, not both');
  if (!v.kernel && !v.tree) throw new UsageError('bisect run needs --kernel IMAGE (or --tree DIR)');
  if (!v.test?.length) throw new UsageError('bisect run needs -t SEL (the cases to judge)');
  const goodIf = goodIfOf(v['good-if']);
  checkNumbers(p);
  if (v.build) {
    say(`building: ${v.build}`);
    const b = spawnSync('sh', ['-c', v.build], { stdio: ['ignore', 2, 2] });
    if (b.status !== 0) {
      say(`the build failed (${b.status === null ? `signal ${b.signal}` : `exit ${b.status}`}) → skip (125)`);
      return 125;
    }
  }
  try {
    ensureQemu();
  } catch (e) {
    if (e instanceof QemuUnavailable) {
      say(`${e.message} → stopping the bisection (255)`);
      return 255;
    }
    throw e;
  }
  let spec: KernelSpec;
  if (v.tree) {
    const tree = resolve(v.tree);
    const fragments = v.fragments?.split(',').filter(Boolean) ?? [...DEFAULT_BUILD_FRAGMENTS];
    try {
      const built = buildKernel({ kind: 'build', source: { kind: 'tree', path: tree }, fragments }, (l) => say(l));
      spec = { kind: 'image', label: built.label, image: built.image, modules: built.modulesDir ?? undefined };
    } catch (e) {
      if (e instanceof InputError) throw new UsageError(e.message);
      if (!(e instanceof KernelUnavailable)) throw e;
      say(`the build failed: ${e.message} → skip (125)`);
      return 125;
    }
  } else
    spec = { kind: 'image', image: resolve(v.kernel as string), modules: v.modules ? resolve(v.modules) : undefined };
  const outDir = v.out ? resolve(v.out) : mkdtempSync(join(tmpdir(), 'gmem-bisect-'));
  try {
    const t = await testKernel(spec, p, outDir, goodIf);
    const word = t.judgement.code === 0 ? 'good' : t.judgement.code === 1 ? 'bad' : 'skip';
    say(`${t.release || t.label}: ${t.judgement.state} → ${word} (${t.judgement.code}): ${t.judgement.why}`);
    return t.judgement.code;
  } finally {
    if (!v.out) rmSync(outDir, { recursive: true, force: true });
  }
}

/** Result of walking a list. */
export interface ListBisection {
  /** Every kernel tested, in test order. */ steps: BisectStep[];
  /** The first kernel whose state differs from the first one's, when found. */ firstFlip: BisectStep | null;
  /** The kernel just before it. */ lastBefore: BisectStep | null;
  /** Why there is no answer, when there is none. */ reason: string;
}

async function listMode(p: Parsed): Promise<number> {
  const v = p.values;
  if (!v.test?.length) throw new UsageError('bisect list needs -t SEL (the cases to judge)');
  const goodIf = goodIfOf(v['good-if']);
  checkNumbers(p);
  const candidates = loadCandidates(resolve(v.kernels ?? DEFAULT_KERNELS_FILE));
  const positionals = p.positionals.slice(1);
  if (positionals.length && v.set) throw new UsageError('give kernel specs or --set, not both');
  const specs = positionals.length
    ? positionals.map((s) => parseKernelSpec(s, candidates))
    : kernelSet(candidates, v.set ?? 'debian').specs;
  if (specs.length < 2) throw new UsageError('bisect list needs at least two kernels');
  const outDir = v.out ? resolve(v.out) : mkdtempSync(join(tmpdir(), 'gmem-bisect-'));
  const steps: BisectStep[] = [];
  const seen = new Map<number, BisectStep>();
  const test = async (i: number): Promise<BisectStep> => {
    const known = seen.get(i);
    if (known) return known;
    const t0 = Date.now();
    const t = await testKernel(specs[i] as KernelSpec, p, outDir, goodIf);
    const step: BisectStep = {
      index: i,
      label: t.label,
      release: t.release,
      judgement: t.judgement,
      seconds: (Date.now() - t0) / 1000,
    };
    steps.push(step);
    seen.set(i, step);
    process.stdout.write(
      `step ${steps.length}: [${i}] ${t.label}${t.release ? ` (${t.release})` : ''}: ${t.judgement.state} — ${t.judgement.why} (${step.seconds.toFixed(1)} s)\n`,
    );
    return step;
  };
  const testable = (s: BisectStep) => s.judgement.state !== 'untestable';
  let answer: ListBisection;
  try {
    answer = await (async (): Promise<ListBisection> => {
      let lo = 0;
      let first = await test(lo);
      while (!testable(first) && lo < specs.length - 1) first = await test(++lo);
      let hi = specs.length - 1;
      let last = hi > lo ? await test(hi) : first;
      while (!testable(last) && hi > lo + 1) last = await test(--hi);
      if (!testable(first) || !testable(last) || hi <= lo)
        return { steps, firstFlip: null, lastBefore: null, reason: 'fewer than two kernels could be tested' };
      if (first.judgement.state === last.judgement.state)
        return {
          steps,
          firstFlip: null,
          lastBefore: null,
          reason: `${first.label} and ${last.label} are both ${first.judgement.state}: no change in this list`,
        };
      // invariant: state(lo) = first's state, state(hi) differs
      let loStep = first;
      let hiStep = last;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        // an untestable kernel is skipped: try its neighbours inside (lo, hi), nearest first
        const order = Array.from({ length: hi - lo - 1 }, (_x, k) => lo + 1 + k).sort(
          (a, b) => Math.abs(a - mid) - Math.abs(b - mid) || a - b,
        );
        let step: BisectStep | null = null;
        for (const i of order) {
          const s = await test(i);
          if (testable(s)) {
            step = s;
            break;
          }
        }
        if (!step) break;
        if (step.judgement.state === first.judgement.state) {
          lo = step.index;
          loStep = step;
        } else {
          hi = step.index;
          hiStep = step;
        }
      }
      const untestedBetween = Array.from({ length: hi - lo - 1 }, (_x, k) => lo + 1 + k);
      if (untestedBetween.length)
        return {
          steps,
          firstFlip: null,
          lastBefore: loStep,
          reason: `the change is between ${loStep.label} and ${hiStep.label}, but the kernels between them cannot be tested`,
        };
      return { steps, firstFlip: hiStep, lastBefore: loStep, reason: '' };
    })();
  } finally {
    if (!v.out) rmSync(outDir, { recursive: true, force: true });
  }
  if (v.json) process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
  const sel = (v.test ?? []).join(' ');
  if (answer.firstFlip && answer.lastBefore) {
    process.stdout.write(
      `first kernel where ${sel} is ${answer.firstFlip.judgement.state}: ${answer.firstFlip.label} (${answer.firstFlip.release}); the one before, ${answer.lastBefore.label} (${answer.lastBefore.release}), is ${answer.lastBefore.judgement.state} (${answer.steps.length} boots)\n`,
    );
    return 0;
  }
  process.stdout.write(`no answer: ${answer.reason}\n`);
  return answer.reason.includes('no change') ? 1 : 5;
}

/** Runs the bisect command. */
export default async function bisectCommand(argv: string[]): Promise<number> {
  const sub = argv[0];
  if (!sub || sub === '-h' || sub === '--help' || sub === 'help') {
    process.stdout.write(`${HELP}\n`);
    return sub ? 0 : 2;
  }
  if (sub === 'list') {
    const p = parse(argv);
    if (p.values.help) {
      process.stdout.write(`${HELP}\n`);
      return 0;
    }
    return listMode(p);
  }
  if (sub !== 'run') throw new UsageError(`unknown bisect command "${sub}" (run, list)`);
  // git bisect run reads exit 2 as "bad": a usage error must stop the bisection instead
  try {
    const p = parse(argv);
    if (p.values.help) {
      process.stdout.write(`${HELP}\n`);
      return 0;
    }
    return await runMode(p);
  } catch (e) {
    if (e instanceof UsageError || e instanceof InputError) {
      say(`${e.message} → stopping the bisection (255)`);
      return 255;
    }
    // git bisect run reads 3 (this suite's internal error) as "bad" too: anything unforeseen stops it
    say(`internal error: ${(e as Error).stack ?? String(e)} → stopping the bisection (255)`);
    return 255;
  }
}
