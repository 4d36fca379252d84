/**
 * The cost of a fresh worker: starts a worker process the way the runner does (WorkerHandle), waits
 * until it is ready, runs one instance in it and stops it; repeated. Prints JSON: ready, first
 * result and stop times (median/min/max ms) and the instance's own durationMs.
 *
 *   node <build>/bench/worker-start.js [--id INSTANCE] [-n N] [--cases DIR] [--fixtures DIR]
 */
import { parseArgs } from 'node:util';
import { basename, resolve } from 'node:path';
import { WorkerHandle } from '../lib/harness/worker-handle.js';
import { loadInstances, DEFAULT_CASES_DIR } from '../lib/harness/registry.js';
import { summary } from './stats.js';

/** Timings of fresh workers running one instance each. */
export interface WorkerStartFigures {
  /** Instance run in each worker. */ id: string;
  /** new WorkerHandle → ready, ms. */ readyMs: ReturnType<typeof summary>;
  /** ready → the instance's result, ms (IPC and the case). */ firstResultMs: ReturnType<typeof summary>;
  /** The instance's durationMs as the worker measured it. */ caseMs: ReturnType<typeof summary>;
  /** stop() (IPC disconnect → exit), ms. */ stopMs: ReturnType<typeof summary>;
  /** new WorkerHandle → stopped: what one fresh case costs beyond its body. */ totalMs: ReturnType<typeof summary>;
}

/** Starts n fresh workers one after another, each running the instance `id`. */
export async function measureWorkerStart(id: string, n: number, casesDir: string): Promise<WorkerStartFigures> {
  const inst = (await loadInstances(casesDir)).find((i) => i.id === id);
  if (!inst) throw new Error(`no instance ${id} in ${casesDir}`);
  const ready: number[] = [];
  const first: number[] = [];
  const body: number[] = [];
  const stop: number[] = [];
  const total: number[] = [];
  for (let k = 0; k < n; k++) {
    const t0 = performance.now();
    const w = new WorkerHandle({ allowHostUnsafe: false, runnerPid: process.pid });
    await w.whenReady();
    const t1 = performance.now();
    const r = await w.run(inst, 30_000);
    const t2 = performance.now();
    await w.stop();
    const t3 = performance.now();
    if (r.verdict === 'error' || r.verdict === 'timeout') throw new Error(`${id}: ${r.verdict} ${r.message}`);
    ready.push(t1 - t0);
    first.push(t2 - t1);
    body.push(r.durationMs);
    stop.push(t3 - t2);
    total.push(t3 - t0);
  }
  return {
    id,
    readyMs: summary(ready),
    firstResultMs: summary(first),
    caseMs: summary(body, 3),
    stopMs: summary(stop),
    totalMs: summary(total),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      id: { type: 'string', default: 'memfd.create.mode_ignores_umask' },
      n: { type: 'string', short: 'n', default: '9' },
      cases: { type: 'string' },
    },
  });
  const figures = await measureWorkerStart(
    values.id as string,
    Number(values.n),
    resolve(values.cases ?? DEFAULT_CASES_DIR),
  );
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

if (basename(process.argv[1] ?? '') === 'worker-start.js') await main();
