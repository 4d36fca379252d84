/** Running a probe of a memfd case as pid 1 of a new pid namespace (vm.memfd_noexec is per pid namespace). */
import { existsSync, readlinkSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { spawn } from 'node:child_process';
import { probeArgv, probeValue, runProbe, type ProbeOutcome } from '../harness/probe.js';
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
  unshare: string, module: string, fn: string, args: unknown[], timeoutMs = 20000,
): NsOutcome {
  return runProbe(module, fn, args, { wrapper: unshareWrapper(unshare), timeoutMs });
}

/**
 * Starts fn of module as pid 1 of a new pid namespace without waiting for it: the caller acts while the child
 * runs (memfd_test.c changes vm.memfd_noexec after the child namespace exists) and then awaits `done`.
 */
export function startInNewPidNamespace(
  unshare: string, module: string, fn: string, args: unknown[], timeoutMs = 20000,
): { done: Promise<NsOutcome> } {
  const [cmd, ...argv] = probeArgv(module, fn, args, unshareWrapper(unshare));
  const child = spawn(cmd as string, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, Math.round(timeoutMs * timeoutScale()));
  const done = new Promise<NsOutcome>((resolve) => {
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal: signal ?? null, value: probeValue(stdout), stderr, timedOut });
    });
  });
  return { done };
}
