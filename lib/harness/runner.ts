/**
 * The runner: schedules instances over persistent worker processes (-j of them). A crash or timeout
 * costs one worker, which is replaced; cases marked serial run alone, cases marked fresh get a
 * worker of their own.
 */
import { timeoutScale } from './timeout-scale.js';
import type { CaseInstance } from './case.js';
import type { CaseResult } from './verdict.js';
import { WorkerHandle } from './worker-handle.js';
import type { Expectations } from '../fixtures/expectations.js';
import { applyKnownFailure, platformOf } from './execute.js';
import { mergeRequires, unmetRequirement } from './requirements.js';
import { env } from './env.js';
import { resultOf } from './result.js';

/** Options of a run. */
export interface RunnerOptions {
  /** The fixtures, loaded (and checked) once by the caller: applied here, not in the workers. */
  fixtures: Expectations;
  /** Parallel workers (≥1). */ jobs: number;
  /** Default per-case timeout in ms. */ timeoutMs: number;
  /** Called as each result arrives (in completion order). */ onResult: (r: CaseResult) => void;
  /** Called with the pid of every worker process started (for leak accounting). */ onWorker?: (pid: number) => void;
  /** Aborting stops the run: no new case starts, every worker is killed, and results not yet reported are dropped (they would only say "killed"). */ signal?: AbortSignal;
}

/**
 * Splits the plan into segments: every parallel-safe case in one segment first, then each serial case alone. A
 * serial case in the middle would split the parallel work in two and leave a worker idle at each split (the
 * longest parallel case, memslot.plain.max_slots, then ran beside almost nothing); results still print in plan
 * order.
 */
export function segments(instances: CaseInstance[]): CaseInstance[][] {
  const parallel = instances.filter((i) => !i.def.serial);
  const serial = instances.filter((i) => i.def.serial).map((i) => [i]);
  return parallel.length ? [parallel, ...serial] : serial;
}

/** Runs the instances and reports every result through onResult; resolves when all are done. */
export async function runInstances(instances: CaseInstance[], opts: RunnerOptions): Promise<void> {
  // the runner's Env is the one place --allow-host-unsafe is held; each worker's Env gets it from here
  const args = { allowHostUnsafe: env().allowHostUnsafe, runnerPid: process.pid };
  const pool: (WorkerHandle | null)[] = Array.from({ length: Math.max(1, opts.jobs) }, () => null);
  const live = new Set<WorkerHandle>();
  const aborted = () => opts.signal?.aborted === true;
  const killAll = () => {
    for (const w of live) w.kill();
  };
  opts.signal?.addEventListener('abort', killAll, { once: true });
  const startWorker = async (): Promise<WorkerHandle> => {
    if (aborted()) throw new Error('the run was stopped');
    const w = new WorkerHandle(args);
    live.add(w);
    void w.whenExited().then(() => live.delete(w));
    opts.onWorker?.(w.pid);
    await w.whenReady();
    return w;
  };
  // fixtures are applied here, not in the workers: a worker then needs neither yaml nor valibot, and a
  // crash or timeout of a known failure is marked like any other result of it
  const fixtures = opts.fixtures;
  const platform = platformOf(env());
  const runOne = async (slot: number, inst: CaseInstance): Promise<CaseResult> =>
    applyKnownFailure(await runRaw(slot, inst), fixtures, platform);
  const runRaw = async (slot: number, inst: CaseInstance): Promise<CaseResult> => {
    const fixture = fixtures.overrides(inst.id, inst.def.id, platform);
    const timeout = Math.round((inst.def.timeoutMs ?? opts.timeoutMs) * timeoutScale());
    // a case that will skip needs no worker round trip (nor, if fresh, a process of its own) to say so; a
    // requirement check that breaks is left to the worker, which reports it as an error
    let unmet: string | null = null;
    try {
      unmet = unmetRequirement(mergeRequires(inst.def.requires, inst.variant?.requires), env());
    } catch {
      // left to the worker
    }
    if (unmet) return resultOf(inst, 'skip', unmet, 0);
    if (inst.def.isolation === 'fresh') {
      const w = await startWorker();
      try {
        return await w.run(inst, timeout, fixture);
      } finally {
        await w.stop();
      }
    }
    let w = pool[slot];
    if (!w || w.dead) {
      w = await startWorker();
      pool[slot] = w;
    }
    const r = await w.run(inst, timeout, fixture);
    if (w.dead) pool[slot] = null;
    return r;
  };
  try {
    for (const seg of segments(instances)) {
      if (aborted()) break;
      let next = 0;
      const slots = Math.min(pool.length, seg.length);
      await Promise.all(
        Array.from({ length: slots }, async (_x, slot) => {
          while (next < seg.length && !aborted()) {
            const inst = seg[next++] as CaseInstance;
            let r: CaseResult;
            try {
              r = await runOne(slot, inst);
            } catch (e) {
              pool[slot] = null;
              r = resultOf(inst, 'error', (e as Error).message, 0);
            }
            if (!aborted()) opts.onResult(r);
          }
        }),
      );
    }
  } finally {
    opts.signal?.removeEventListener('abort', killAll);
    await Promise.all(pool.map((w) => w?.stop()));
  }
}
