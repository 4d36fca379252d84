/**
 * The benchmark driver behind bench/run.sh: hot-ioctl cost against a C loop compiled on the spot,
 * the cost of a fresh worker, listing time, suite wall time (full and without the serial cases,
 * at several -j), peak RSS of the runner and of the workers, and a profile of where a full run's
 * time goes. Every timing is repeated (--repeat, default 5) and reported as median/min/max.
 * Prints a table; writes everything as JSON to bench/results/<date>.json (or --out FILE).
 *
 *   node <build>/bench/bench.js [--repeat N] [--jobs 1,2,4] [--only ioctl,list,worker,suite,profile,cpu] [--selftests DIR] [--out FILE]
 */
import { parseArgs } from 'node:util';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadInstances, select, DEFAULT_CASES_DIR } from '../lib/harness/registry.js';
import { orderByFamily } from '../lib/cli/run.js';
import { DEFAULT_FIXTURES_DIR, PROJECT_ROOT } from '../lib/paths.js';
import { KVM_CAP_GUEST_MEMFD, KVM_CHECK_EXTENSION, KVM_CREATE_GUEST_MEMFD, KVM_CREATE_VM } from '../lib/uapi/index.js';
import { readResults } from '../lib/report/results-file.js';
import { summary } from './stats.js';
import { measureWorkerStart } from './worker-start.js';
import { describeProfile, profileRun } from './profile.js';
import type { ProcessRecord } from './process-hook.js';
import { benchCpu, cpuRows } from './cpu.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const CLI = fileURLToPath(new URL('../lib/cli/main.js', import.meta.url));
const HOOK = fileURLToPath(new URL('./process-hook.js', import.meta.url));
/** Calls per batch of the ioctl loops (KVM_CHECK_EXTENSION, guest_memfd create+close). */
const CHECK_ITERS = 50_000;
const GMEM_ITERS = 5_000;
/** Batches per ioctl process (C and TS alike). */
const IOCTL_BATCHES = 5;

type Stat = ReturnType<typeof summary>;

/** The machine a figure was measured on. */
function machine() {
  const model = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const memKb = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
  return {
    date: new Date().toISOString(),
    host: hostname(),
    nproc: cpus().length,
    model,
    kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
    memGiB: Math.round(memKb / 1048576),
    node: process.version,
    loadavgStart: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
}

/** Source-of-truth dir for the C file: the source tree (bench/ next to the build's parent). */
function cSource(): string {
  const inSource = resolve(PROJECT_ROOT, 'bench', 'ioctl-loop.c');
  if (existsSync(inSource)) return inSource;
  return resolve(HERE, '..', '..', 'bench', 'ioctl-loop.c');
}

/** Hot ioctls: C (gcc -O2, built now) against the TS layers, process rounds alternating. */
function benchIoctl(repeat: number) {
  const dir = mkdtempSync(join(tmpdir(), 'gmem-bench-'));
  const bin = join(dir, 'ioctl-loop');
  execFileSync('gcc', ['-O2', '-Wall', '-o', bin, cSource()]);
  const gcc = execFileSync('gcc', ['-dumpfullversion'], { encoding: 'utf8' }).trim();
  const c = { check: [] as number[], gmem: [] as number[] };
  const ts: { check: Record<string, number[]>; gmem: Record<string, number[]> } = { check: {}, gmem: {} };
  for (let r = 0; r < repeat; r++) {
    const co = JSON.parse(
      execFileSync(
        bin,
        [
          IOCTL_BATCHES,
          CHECK_ITERS,
          GMEM_ITERS,
          KVM_CHECK_EXTENSION,
          KVM_CAP_GUEST_MEMFD,
          KVM_CREATE_VM,
          KVM_CREATE_GUEST_MEMFD,
        ].map(String),
        { encoding: 'utf8' },
      ),
    ) as {
      checkExtensionNs: number[];
      gmemCreateCloseNs: number[];
    };
    c.check.push(...co.checkExtensionNs);
    c.gmem.push(...co.gmemCreateCloseNs);
    const to = JSON.parse(
      execFileSync(
        process.execPath,
        [join(HERE, 'ioctl.js'), String(IOCTL_BATCHES), String(CHECK_ITERS), String(GMEM_ITERS)],
        { encoding: 'utf8' },
      ),
    ) as {
      checkExtensionNs: Record<string, number[]>;
      gmemCreateCloseNs: Record<string, number[]>;
    };
    for (const [k, v] of Object.entries(to.checkExtensionNs)) (ts.check[k] ??= []).push(...v);
    for (const [k, v] of Object.entries(to.gmemCreateCloseNs)) (ts.gmem[k] ??= []).push(...v);
  }
  rmSync(dir, { recursive: true, force: true });
  const cCheck = summary(c.check);
  const cGmem = summary(c.gmem);
  const paths = (m: Record<string, number[]>, base: Stat) =>
    Object.fromEntries(
      Object.entries(m).map(([k, v]) => {
        const s = summary(v);
        return [
          k,
          {
            ...s,
            ratioMedian: Math.round((s.median / base.median) * 100) / 100,
            ratioMin: Math.round((s.min / base.min) * 100) / 100,
          },
        ];
      }),
    );
  return {
    gcc,
    batches: repeat * IOCTL_BATCHES,
    checkIters: CHECK_ITERS,
    gmemIters: GMEM_ITERS,
    checkExtension: { c: cCheck, ts: paths(ts.check, cCheck) },
    gmemCreateClose: { c: cGmem, ts: paths(ts.gmem, cGmem) },
  };
}

/** Wall time of a command (ms), stdout discarded. */
function wall(args: string[], env: NodeJS.ProcessEnv = process.env): { ms: number; status: number | null } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env, maxBuffer: 64 << 20 });
  return { ms: performance.now() - t0, status: r.status };
}

/** Listing from a new process each time: `-l` and `-l --json`. */
function benchList(repeat: number) {
  const plain: number[] = [];
  const json: number[] = [];
  for (let r = 0; r < repeat; r++) {
    plain.push(wall([CLI, '-l']).ms);
    json.push(wall([CLI, '-l', '--json']).ms);
  }
  const nodeBare: number[] = [];
  for (let r = 0; r < repeat; r++) nodeBare.push(wall(['-e', '0']).ms);
  return { list: summary(plain), listJson: summary(json), nodeStartup: summary(nodeBare) };
}

/** One suite run through the CLI under /usr/bin/time (when present): wall, peak RSS of the process tree, totals. */
function suiteRun(args: string[], jobs: number, hook = false) {
  const dir = mkdtempSync(join(tmpdir(), 'gmem-bench-'));
  const results = join(dir, 'r.jsonl');
  const timeOut = join(dir, 'time.txt');
  const proclog = join(dir, 'processes.jsonl');
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (hook)
    Object.assign(env, {
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${HOOK}`.trim(),
      GMEM_BENCH_PROCLOG: proclog,
    });
  const useTime = existsSync('/usr/bin/time');
  const argv = [CLI, ...args, '-j', String(jobs), '-o', results];
  const t0 = performance.now();
  const r = useTime
    ? spawnSync('/usr/bin/time', ['-f', '%M', '-o', timeOut, process.execPath, ...argv], {
        stdio: ['ignore', 'ignore', 'ignore'],
        env,
      })
    : spawnSync(process.execPath, argv, { stdio: ['ignore', 'ignore', 'ignore'], env });
  const ms = performance.now() - t0;
  const file = readResults(results);
  const treeMaxRssKb = useTime ? Number(readFileSync(timeOut, 'utf8').trim().split('\n').pop()) : null;
  let procs: ProcessRecord[] = [];
  if (hook && existsSync(proclog))
    procs = readFileSync(proclog, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ProcessRecord);
  rmSync(dir, { recursive: true, force: true });
  return { ms, status: r.status, instances: file.results.length, totals: file.end?.totals, treeMaxRssKb, procs };
}

/** Suite wall times: full and without serial cases, at each -j, rounds interleaving the -j values. */
async function benchSuite(repeat: number, jobsList: number[]) {
  const all = orderByFamily(select(await loadInstances(DEFAULT_CASES_DIR), [], []));
  const serialCases = [...new Set(all.filter((i) => i.def.serial).map((i) => i.def.id))];
  const selections: Record<string, string[]> = { full: [], withoutSerial: serialCases.flatMap((id) => ['-x', id]) };
  const out: Record<
    string,
    Record<
      string,
      { wallMs: Stat; instances: number; statuses: (number | null)[]; treeMaxRssKb: Stat | null; totals: unknown }
    >
  > = {};
  for (const [name, args] of Object.entries(selections)) {
    const raw: Record<number, ReturnType<typeof suiteRun>[]> = {};
    for (let r = 0; r < repeat; r++) for (const j of jobsList) (raw[j] ??= []).push(suiteRun(args, j));
    out[name] = Object.fromEntries(
      jobsList.map((j) => {
        const runs = raw[j] ?? [];
        const rss = runs.map((x) => x.treeMaxRssKb).filter((x): x is number => x !== null);
        return [
          `j${j}`,
          {
            wallMs: summary(
              runs.map((x) => x.ms),
              0,
            ),
            instances: runs[0]?.instances ?? 0,
            statuses: runs.map((x) => x.status),
            treeMaxRssKb: rss.length ? summary(rss, 0) : null,
            totals: runs[runs.length - 1]?.totals,
          },
        ];
      }),
    );
  }
  return { serialCases, ...out };
}

/** Peak RSS per role (runner, workers, probes) from runs under the process hook. */
function benchRss(repeat: number, jobs: number) {
  const runner: number[] = [];
  const worker: number[] = [];
  const probe: number[] = [];
  const tree: number[] = [];
  for (let r = 0; r < repeat; r++) {
    const run = suiteRun([], jobs, true);
    const peak = (role: string) => Math.max(0, ...run.procs.filter((p) => p.role === role).map((p) => p.hwmKb));
    runner.push(peak('runner'));
    worker.push(peak('worker'));
    probe.push(peak('probe'));
    if (run.treeMaxRssKb !== null) tree.push(run.treeMaxRssKb);
  }
  return {
    jobs,
    runnerKb: summary(runner, 0),
    workerKb: summary(worker, 0),
    probeKb: summary(probe, 0),
    treeMaxKb: tree.length ? summary(tree, 0) : null,
  };
}

/** The figures as a Markdown table for the README. */
function table(res: Record<string, any>): string {
  const m = res.machine;
  const rows: string[] = [
    `Measured ${m.date.slice(0, 10)} on ${m.nproc} × ${m.model}, ${m.memGiB} GiB, Linux ${m.kernel}, Node ${m.node} (load average at start ${m.loadavgStart}; median of ${res.repeat} unless noted)`,
    '',
    '| figure | value |',
    '|---|---|',
  ];
  const ms = (x: number) =>
    x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`;
  if (res.ioctl) {
    const i = res.ioctl;
    rows.push(
      `| KVM_CHECK_EXTENSION on /dev/kvm, C (gcc -O2) | ${i.checkExtension.c.median} ns/call (min ${i.checkExtension.c.min}) |`,
    );
    for (const [k, v] of Object.entries<any>(i.checkExtension.ts))
      rows.push(
        `| … TS via ${k} | ${v.median.toFixed(0)} ns/call, ${v.ratioMedian}× C (min ${v.min.toFixed(0)}, ${v.ratioMin}×) |`,
      );
    rows.push(
      `| guest_memfd create+close on a VM, C | ${(i.gmemCreateClose.c.median / 1000).toFixed(2)} µs/pair (min ${(i.gmemCreateClose.c.min / 1000).toFixed(2)}) |`,
    );
    for (const [k, v] of Object.entries<any>(i.gmemCreateClose.ts))
      rows.push(
        `| … TS via ${k} | ${(v.median / 1000).toFixed(2)} µs/pair, ${v.ratioMedian}× C (min ${(v.min / 1000).toFixed(2)}, ${v.ratioMin}×) |`,
      );
  }
  if (res.list) {
    rows.push(
      `| \`-l\` (new process, ${res.list.list.n} runs) | ${ms(res.list.list.median)} (min ${ms(res.list.list.min)}) |`,
    );
    rows.push(`| \`-l --json\` | ${ms(res.list.listJson.median)} (min ${ms(res.list.listJson.min)}) |`);
    rows.push(`| \`node -e 0\` (for scale) | ${ms(res.list.nodeStartup.median)} |`);
  }
  if (res.worker) {
    const w = res.worker;
    rows.push(`| fresh worker: start → ready | ${ms(w.readyMs.median)} (min ${ms(w.readyMs.min)}) |`);
    rows.push(
      `| fresh worker: start → one trivial case → stopped | ${ms(w.totalMs.median)} (min ${ms(w.totalMs.min)}) |`,
    );
  }
  if (res.suite) {
    for (const sel of ['full', 'withoutSerial']) {
      for (const [j, v] of Object.entries<any>(res.suite[sel] ?? {})) {
        rows.push(
          `| suite ${sel === 'full' ? 'full' : 'without serial cases'} (${v.instances} instances), -j ${j.slice(1)} | ${ms(v.wallMs.median)} (min ${ms(v.wallMs.min)}, max ${ms(v.wallMs.max)}) |`,
        );
      }
    }
  }
  if (res.rss) {
    const r = res.rss;
    rows.push(`| peak RSS, runner (VmHWM, full suite -j ${r.jobs}) | ${(r.runnerKb.median / 1024).toFixed(0)} MiB |`);
    rows.push(`| peak RSS, largest worker | ${(r.workerKb.median / 1024).toFixed(0)} MiB |`);
    rows.push(`| peak RSS, largest probe child | ${(r.probeKb.median / 1024).toFixed(0)} MiB |`);
    if (r.treeMaxKb)
      rows.push(
        `| max RSS of any process of the run (/usr/bin/time %M) | ${(r.treeMaxKb.median / 1024).toFixed(0)} MiB |`,
      );
  }
  if (res.cpu) rows.push(...cpuRows(res.cpu));
  return rows.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      repeat: { type: 'string', default: process.env.BENCH_REPEAT ?? '5' },
      jobs: { type: 'string', default: process.env.BENCH_JOBS ?? '1,2,4' },
      only: { type: 'string', default: process.env.BENCH_ONLY ?? 'ioctl,list,worker,suite,rss,profile,cpu' },
      selftests: { type: 'string', default: process.env.BENCH_SELFTESTS },
      out: { type: 'string' },
    },
  });
  const repeat = Math.max(1, Number(values.repeat));
  const jobsList = String(values.jobs)
    .split(',')
    .map(Number)
    .filter((n) => n >= 1);
  const only = new Set(String(values.only).split(','));
  const res: Record<string, any> = { machine: machine(), repeat };
  const step = (what: string) =>
    process.stderr.write(
      `# bench: ${what} (load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})\n`,
    );
  if (only.has('ioctl')) {
    step('hot ioctls');
    res.ioctl = benchIoctl(repeat);
  }
  if (only.has('list')) {
    step('listing');
    res.list = benchList(Math.max(repeat, 7));
  }
  if (only.has('worker')) {
    step('fresh workers');
    res.worker = await measureWorkerStart('memfd.create.mode_ignores_umask', Math.max(repeat, 9), DEFAULT_CASES_DIR);
  }
  if (only.has('suite')) {
    step(`suite runs (${repeat} rounds of -j ${jobsList.join(', ')}, full and without serial cases)`);
    res.suite = await benchSuite(repeat, jobsList);
  }
  if (only.has('rss')) {
    step('peak RSS');
    res.rss = benchRss(Math.min(repeat, 3), 2);
  }
  if (only.has('profile')) {
    step('profile of a full run at -j 1');
    const chosen = orderByFamily(select(await loadInstances(DEFAULT_CASES_DIR), [], []));
    const p = await profileRun(chosen, { jobs: 1, casesDir: DEFAULT_CASES_DIR, fixturesDir: DEFAULT_FIXTURES_DIR });
    res.profile = p;
    process.stderr.write(`${describeProfile(p)}\n`);
  }
  if (only.has('cpu')) {
    step('CPU figures of issue #14 (host suite without EINTR, EINTR family, selftests side by side)');
    res.cpu = benchCpu(repeat, values.selftests ? resolve(values.selftests) : undefined);
  }
  res.machine.loadavgEnd = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const outFile = values.out
    ? resolve(values.out)
    : join(PROJECT_ROOT, 'bench', 'results', `${res.machine.date.slice(0, 19).replace(/:/g, '-')}.json`);
  mkdirSync(resolve(outFile, '..'), { recursive: true });
  writeFileSync(outFile, `${JSON.stringify(res, null, 2)}\n`);
  process.stdout.write(`${table(res)}\n\nJSON: ${outFile}\n`);
}

if (basename(process.argv[1] ?? '') === 'bench.js') await main();
