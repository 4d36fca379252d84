/** Runs one exported function of a case module in a child process and reports how that process ended. */
import { timeoutScale } from './timeout-scale.js';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CaseFailure, HarnessError } from './expect.js';
import { crashCause } from './crash-cause.js';
import { PROBE_LOADED } from './probe-marker.js';

/** Options for a probe child. */
export interface ProbeOptions {
  /** fds of this process to hand to the child as fds 3, 4, … (in order). */ fds?: number[];
  /** Milliseconds before the child is killed (default 10000). */ timeoutMs?: number;
}

/** How a probe ended: its exit status or the signal that killed it, and what it printed. */
export interface ProbeOutcome {
  /** Exit code, null when killed by a signal. */ status: number | null;
  /** Signal name (SIGBUS…) when killed by one. */ signal: string | null;
  /** The value the probe function returned (JSON), when it returned. */ value?: unknown;
  /** stderr text. */ stderr: string;
  /** True when the parent killed it for exceeding timeoutMs. */ timedOut: boolean;
}

const MAIN = fileURLToPath(new URL('./probe-main.js', import.meta.url));

/** The argv of a probe child after node (probe-main.js <module> <fn> <args>), BigInts encoded. */
export function probeArgv(module: string, fn: string, args: unknown[]): string[] {
  const json = JSON.stringify(args, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
  return [MAIN, module, fn, json];
}

/** The environment of a probe child: it dies with this process (probe-main arms PR_SET_PDEATHSIG for that pid). */
function probeEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GMEM_PROBE_PARENT: String(process.pid) };
}

/** Whether a probe child's output shows that it loaded its case module (so it reached the case's code). */
export function probeLoaded(stdout: string): boolean {
  return new RegExp(`^${PROBE_LOADED}$`, 'm').test(stdout);
}

/** The HarnessError for a probe child that ended (`how`) before it loaded its case module, with the crash cause. */
export function probeNotLoaded(module: string, fn: string, how: string, stderr: string): HarnessError {
  const cause = crashCause(stderr);
  return new HarnessError(
    `probe child for ${fn} of ${module} ended before its module loaded (${how}${cause ? `: ${cause}` : ''})`,
  );
}

/** The value a probe child printed on its PROBE-RESULT line, undefined when it printed none. */
export function probeValue(stdout: string): unknown {
  const m = /^PROBE-RESULT (.*)$/m.exec(stdout);
  return m ? (JSON.parse(m[1] as string) as unknown) : undefined;
}

/**
 * Spawns node probe-main.js <module> <fn> <args>; the child gets the given fds as 3, 4, ….
 * A child that ended before it had loaded the case module never reached the kernel: that is a HarnessError (an
 * `error` result), not an outcome for the case to judge.
 */
export function runProbe(module: string, fn: string, args: unknown[], opts: ProbeOptions = {}): ProbeOutcome {
  const fds = opts.fds ?? [];
  const r = spawnSync(process.execPath, probeArgv(module, fn, args), {
    stdio: ['ignore', 'pipe', 'pipe', ...fds],
    timeout: Math.round((opts.timeoutMs ?? 10000) * timeoutScale()),
    killSignal: 'SIGKILL',
    encoding: 'utf8',
    env: probeEnv(),
  });
  if (!probeLoaded(r.stdout ?? '')) {
    const how = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
    throw probeNotLoaded(module, fn, how, r.stderr ?? '');
  }
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  const value = probeValue(r.stdout ?? '');
  const sig = r.signal ?? null;
  return { status: r.status, signal: sig, value, stderr: r.stderr ?? '', timedOut };
}

/** Fails unless the probe child ran its function to the end (exit 0 with a value); returns that value. */
export function expectProbeValue<T>(o: ProbeOutcome, what: string): T {
  if (o.signal !== null || o.status !== 0 || o.value === undefined) {
    const how = o.timedOut ? 'timed out' : o.signal ? `was killed by ${o.signal}` : `exited with status ${o.status}`;
    throw new CaseFailure(`${what}: the child ${how} (${crashCause(o.stderr)})`);
  }
  return o.value as T;
}
