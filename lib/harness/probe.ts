/** Runs one exported function of a case module in a child process and reports how that process ended. */
import { timeoutScale } from './timeout-scale.js';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HarnessError } from './expect.js';
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

/**
 * Spawns node probe-main.js <module> <fn> <args>; the child gets the given fds as 3, 4, …. A child that ended
 * before it had loaded the case module never reached the kernel: that is a HarnessError (an `error` result),
 * not an outcome for the case to judge.
 */
export function runProbe(module: string, fn: string, args: unknown[], opts: ProbeOptions = {}): ProbeOutcome {
  const fds = opts.fds ?? [];
  const r = spawnSync(process.execPath, [MAIN, module, fn, JSON.stringify(args, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))], {
    stdio: ['ignore', 'pipe', 'pipe', ...fds],
    timeout: Math.round((opts.timeoutMs ?? 10000) * timeoutScale()),
    killSignal: 'SIGKILL',
    encoding: 'utf8',
    env: { ...process.env, GMEM_PROBE_PARENT: String(process.pid) },
  });
  if (!new RegExp(`^${PROBE_LOADED}$`, 'm').test(r.stdout ?? '')) {
    const how = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
    const cause = crashCause(r.stderr ?? '');
    const why = `${how}${cause ? `: ${cause}` : ''}`;
    throw new HarnessError(`probe child for ${fn} of ${module} ended before its module loaded (${why})`);
  }
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  let value: unknown;
  const m = /^PROBE-RESULT (.*)$/m.exec(r.stdout ?? '');
  if (m) value = JSON.parse(m[1] as string);
  const sig = r.signal ?? null;
  return { status: r.status, signal: sig, value, stderr: r.stderr ?? '', timedOut };
}
