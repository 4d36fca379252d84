/**
 * Where the wall time of a run goes: runs the selected cases through the suite's own runner
 * (lib/harness/runner.ts, as `run` does, without KTAP) and times every worker start, every case as
 * the runner sees it (IPC included) and as the worker measured it (durationMs), every serial
 * segment, and — through bench/process-hook in NODE_OPTIONS — every probe child and each process's
 * peak RSS. Prints a summary; --json FILE writes the figures.
 *
 *   node <build>/bench/profile.js [-j N] [-t SEL]... [-x SEL]... [--cases DIR] [--json FILE]
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { loadInstances, select, DEFAULT_CASES_DIR } from '../lib/harness/registry.js';
import { runInstances } from '../lib/harness/runner.js';
import { WorkerHandle } from '../lib/harness/worker-handle.js';
import { orderByFamily } from '../lib/cli/run.js';
import { DEFAULT_FIXTURES_DIR } from '../lib/paths.js';
import { Expectations } from '../lib/fixtures/expectations.js';
import type { CaseInstance } from '../lib/harness/case.js';
import type { CaseResult } from '../lib/harness/verdict.js';
import type { ProcessRecord } from './process-hook.js';
import { median, sum } from './stats.js';

/** The profile of one run. */
export interface RunProfile {
  /** Parallel workers. */ jobs: number;
  /** Instances run. */ instances: number;
  /** Wall time of the whole run, ms. */ wallMs: number;
  /** Wall time spent in serial segments (each serial case alone), ms. */ serialWallMs: number;
  /** Worker processes started (pool, replacements and fresh), instances marked fresh, time to "ready". */
  workerStarts: {
    total: number;
    freshInstances: number;
    readyMsTotal: number;
    readyMsMedian: number;
    stopMsTotal: number;
  };
  /** Sum over cases of the worker-side durationMs, and of runner-side run() wall (IPC included). */
  caseMs: { worker: number; runner: number };
  /** Children the workers spawned synchronously (probes as module.js, commands by name): count, summed wall time, by module. */
  probes: { count: number; totalMs: number; medianMs: number; byModule: Record<string, { count: number; ms: number }> };
  /** Per family: instances, summed durationMs, slowest instance. */
  families: { family: string; n: number; ms: number; slowest: string; slowestMs: number }[];
  /** Peak RSS (VmHWM, kB) of the runner, of any worker, of any probe. */ peakRssKb: {
    runner: number;
    worker: number;
    probe: number;
  };
  /** CPU time (user + sys, ms) by role: the runner (this process), the workers, their children (probes, commands), and how many of each. */
  cpuMs: Record<string, { count: number; ms: number }>;
}

/** Runs instances with the suite's runner under instrumentation; returns the profile. */
export async function profileRun(
  chosen: CaseInstance[],
  opts: { jobs: number; casesDir: string; fixturesDir: string; timeoutMs?: number },
): Promise<RunProfile> {
  const dir = mkdtempSync(join(tmpdir(), 'gmem-profile-'));
  const proclog = join(dir, 'processes.jsonl');
  const hook = fileURLToPath(new URL('./process-hook.js', import.meta.url));
  const savedNodeOptions = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${savedNodeOptions ?? ''} --import=${hook}`.trim();
  process.env.GMEM_BENCH_PROCLOG = proclog;

  const ready: number[] = [];
  const stops: number[] = [];
  let runnerCaseMs = 0;
  const proto = WorkerHandle.prototype as unknown as {
    whenReady: () => Promise<void>;
    stop: () => Promise<void>;
    run: (...args: unknown[]) => Promise<CaseResult>;
  };
  const orig = { whenReady: proto.whenReady, stop: proto.stop, run: proto.run };
  proto.whenReady = function (this: object) {
    const t0 = performance.now();
    return orig.whenReady.call(this).then(() => void ready.push(performance.now() - t0));
  };
  proto.stop = async function (this: object) {
    const t0 = performance.now();
    await orig.stop.call(this);
    stops.push(performance.now() - t0);
  };
  proto.run = async function (this: object, ...args: unknown[]) {
    const t0 = performance.now();
    const r = await orig.run.apply(this, args);
    runnerCaseMs += performance.now() - t0;
    return r;
  };

  const results: CaseResult[] = [];
  const serialIds = new Set(chosen.filter((i) => i.def.serial).map((i) => i.id));
  let serialWallMs = 0;
  const cpuAtStart = process.resourceUsage();
  const t0 = performance.now();
  let lastArrival = t0;
  try {
    await runInstances(chosen, {
      jobs: opts.jobs,
      timeoutMs: opts.timeoutMs ?? 30_000,
      fixtures: Expectations.load(opts.fixturesDir),
      onResult: (r) => {
        const now = performance.now();
        // a serial case runs alone: from the previous result to its own is its segment (its fresh worker's start included)
        if (serialIds.has(r.id)) serialWallMs += now - lastArrival;
        lastArrival = now;
        results.push(r);
      },
    });
  } finally {
    Object.assign(proto, orig);
    if (savedNodeOptions === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = savedNodeOptions;
    delete process.env.GMEM_BENCH_PROCLOG;
  }
  const wallMs = performance.now() - t0;
  const own = process.resourceUsage();
  const ownCpuMs =
    (own.userCPUTime + own.systemCPUTime) / 1000 - (cpuAtStart.userCPUTime + cpuAtStart.systemCPUTime) / 1000;

  let procs: ProcessRecord[] = [];
  try {
    procs = readFileSync(proclog, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ProcessRecord);
  } catch {
    procs = [];
  }
  rmSync(dir, { recursive: true, force: true });
  // spawnSync calls of the workers: probes (module.js:function) and commands the cases ran
  const probes = procs.filter((p) => p.role === 'spawn');
  const byModule: Record<string, { count: number; ms: number }> = {};
  for (const p of probes) {
    const k = (p.probe ?? '?').split(':')[0] as string;
    const e = (byModule[k] ??= { count: 0, ms: 0 });
    e.count++;
    e.ms += p.endMs - p.startMs;
  }
  const fam = new Map<string, { n: number; ms: number; slowest: string; slowestMs: number }>();
  for (const r of results) {
    const f = fam.get(r.family) ?? { n: 0, ms: 0, slowest: '', slowestMs: -1 };
    f.n++;
    f.ms += r.durationMs;
    if (r.durationMs > f.slowestMs) Object.assign(f, { slowest: r.id, slowestMs: r.durationMs });
    fam.set(r.family, f);
  }
  const fresh = chosen.filter((i) => i.def.isolation === 'fresh').length;
  const cpuMs: Record<string, { count: number; ms: number }> = { runner: { count: 1, ms: Math.round(ownCpuMs) } };
  for (const p of procs) {
    // probe children are counted from the worker's side (spawn records), so that those killed by a signal count too
    if (p.cpuMs === undefined || p.role === 'probe') continue;
    const e = (cpuMs[p.role === 'spawn' ? 'children' : p.role] ??= { count: 0, ms: 0 });
    e.count++;
    e.ms = Math.round(e.ms + p.cpuMs);
  }
  const peak = (role: string) => Math.max(0, ...procs.filter((p) => p.role === role).map((p) => p.hwmKb));
  return {
    jobs: opts.jobs,
    instances: chosen.length,
    wallMs,
    serialWallMs,
    workerStarts: {
      total: ready.length,
      freshInstances: fresh,
      readyMsTotal: sum(ready),
      readyMsMedian: median(ready),
      stopMsTotal: sum(stops),
    },
    caseMs: { worker: sum(results.map((r) => r.durationMs)), runner: runnerCaseMs },
    probes: {
      count: probes.length,
      totalMs: sum(probes.map((p) => p.endMs - p.startMs)),
      medianMs: median(probes.map((p) => p.endMs - p.startMs)),
      byModule,
    },
    families: [...fam].map(([family, f]) => ({ family, ...f })).sort((a, b) => b.ms - a.ms),
    cpuMs,
    peakRssKb: {
      runner: Number(/^VmHWM:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0),
      worker: peak('worker'),
      probe: peak('probe'),
    },
  };
}

/** Human-readable summary of a profile. */
export function describeProfile(p: RunProfile): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const lines = [
    `${p.instances} instances, -j ${p.jobs}: wall ${s(p.wallMs)}, of which serial segments ${s(p.serialWallMs)}`,
    `worker starts: ${p.workerStarts.total} (${p.workerStarts.freshInstances} instances want a fresh worker), ${s(p.workerStarts.readyMsTotal)} to ready in all (median ${p.workerStarts.readyMsMedian.toFixed(0)} ms), stops ${s(p.workerStarts.stopMsTotal)}`,
    `case time: ${s(p.caseMs.worker)} measured in the workers, ${s(p.caseMs.runner)} seen by the runner (IPC and result handling: ${s(p.caseMs.runner - p.caseMs.worker)})`,
    `spawnSync children of the workers (probes, commands): ${p.probes.count}, ${s(p.probes.totalMs)} in all (median ${p.probes.medianMs.toFixed(0)} ms each)`,
    ...Object.entries(p.probes.byModule)
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, 8)
      .map(([m, v]) => `  ${m.padEnd(22)} ${String(v.count).padStart(4)} spawns ${s(v.ms).padStart(9)}`),
    `CPU (user + sys): ${Object.entries(p.cpuMs)
      .map(([role, v]) => `${role} ${s(v.ms)} (${v.count})`)
      .join(
        ', ',
      )}; per instance ${(sum(Object.values(p.cpuMs).map((v) => v.ms)) / Math.max(1, p.instances)).toFixed(2)} ms`,
    `peak RSS: runner ${(p.peakRssKb.runner / 1024).toFixed(0)} MiB, worker ${(p.peakRssKb.worker / 1024).toFixed(0)} MiB, probe ${(p.peakRssKb.probe / 1024).toFixed(0)} MiB`,
    'families by summed durationMs:',
    ...p.families
      .slice(0, 15)
      .map(
        (f) =>
          `  ${f.family.padEnd(26)} ${String(f.n).padStart(4)} ${s(f.ms).padStart(9)}   slowest ${f.slowest} ${f.slowestMs.toFixed(0)} ms`,
      ),
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      jobs: { type: 'string', short: 'j', default: '1' },
      test: { type: 'string', short: 't', multiple: true },
      exclude: { type: 'string', short: 'x', multiple: true },
      cases: { type: 'string' },
      json: { type: 'string' },
    },
  });
  const casesDir = resolve(values.cases ?? DEFAULT_CASES_DIR);
  const chosen = orderByFamily(select(await loadInstances(casesDir), values.test ?? [], values.exclude ?? []));
  const p = await profileRun(chosen, { jobs: Number(values.jobs), casesDir, fixturesDir: DEFAULT_FIXTURES_DIR });
  process.stdout.write(`${describeProfile(p)}\n`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify(p, null, 2)}\n`);
}

if (basename(process.argv[1] ?? '') === 'profile.js') await main();
