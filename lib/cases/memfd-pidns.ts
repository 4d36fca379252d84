/** Probe children that must not block the case: as pid 1 of a new pid namespace, or where exiting may hit a kernel BUG. */
import { existsSync, readlinkSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { spawn } from 'node:child_process';
import { probeArgv, probeLoaded, probeNotLoaded, probeValue, runProbe, type ProbeOutcome } from '../harness/probe.js';
import { timeoutScale } from '../harness/timeout-scale.js';

/** Where an executable is found on PATH, or null. */
export function findInPath(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    const p = join(dir, cmd);
    if (dir && existsSync(p)) return p;
  }
  return null;
}

/** The pid namespace of this process as /proc/self/ns/pid names it ("pid:[4026531836]"). */
export function pidNamespaceId(): string {
  return readlinkSync('/proc/self/ns/pid');
}

/** How a child in a new pid namespace ended and what its function returned (a probe outcome). */
export type NsOutcome = ProbeOutcome;

/** The unshare(1) prefix that makes the probe pid 1 of a new pid namespace, killed together with unshare. */
export function unshareWrapper(unshare: string): string[] {
  return [unshare, '--pid', '--fork', '--kill-child'];
}

// unshare(1) --pid --fork --kill-child from util-linux; the child is killed with unshare on timeout.
// Per-namespace state changed there (vm.memfd_noexec) never reaches this namespace.
/** Runs an exported function of a case module as pid 1 of a new pid namespace, through the harness's probe runner. */
export function runInNewPidNamespace(
  unshare: string,
  module: string,
  fn: string,
  args: unknown[],
  timeoutMs = 20000,
): NsOutcome {
  return runProbe(module, fn, args, { wrapper: unshareWrapper(unshare), timeoutMs });
}

/**
 * Starts a probe child (under wrapper) without waiting for it; `done` resolves when it has exited and closed its
 * output, or timeoutMs (scaled) after the start: it is then SIGKILLed and, two seconds later, given up on even if it
 * never dies (a task that oopsed in the kernel holding a lock never does), with what it printed so far.
 */
export function startProbe(
  module: string,
  fn: string,
  args: unknown[],
  wrapper: readonly string[] = [],
  timeoutMs = 20000,
): { done: Promise<NsOutcome> } {
  const [cmd, ...argv] = probeArgv(module, fn, args, wrapper);
  const child = spawn(cmd as string, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const done = new Promise<NsOutcome>((resolve, reject) => {
    let timedOut = false;
    const finish = (status: number | null, signal: string | null) => {
      clearTimeout(timer);
      // as runProbe: a child that ended before its module loaded never reached the kernel (the harness broke)
      if (!timedOut && !probeLoaded(stdout)) {
        reject(probeNotLoaded(module, fn, signal ? `killed by ${signal}` : `exit status ${status}`, stderr));
        return;
      }
      resolve({ status, signal, value: probeValue(stdout), stderr, timedOut });
    };
    const timer = setTimeout(
      () => {
        timedOut = true;
        child.kill('SIGKILL');
        setTimeout(() => finish(null, null), 2000).unref();
      },
      Math.round(timeoutMs * timeoutScale()),
    );
    child.on('close', (status, signal) => finish(status, signal ?? null));
  });
  return { done };
}

/**
 * Starts fn of module as pid 1 of a new pid namespace without waiting for it: the caller acts while the child
 * runs (memfd_test.c changes vm.memfd_noexec after the child namespace exists) and then awaits `done`.
 */
export function startInNewPidNamespace(
  unshare: string,
  module: string,
  fn: string,
  args: unknown[],
  timeoutMs = 20000,
): { done: Promise<NsOutcome> } {
  return startProbe(module, fn, args, unshareWrapper(unshare), timeoutMs);
}
