/**
 * The calling thread's CPU: how much it has used, from clock_gettime(CLOCK_THREAD_CPUTIME_ID), and
 * its share of a contended CPU, through its nice value.
 *
 * Unlike wall time, thread CPU time does not grow while the thread waits for a CPU, so what a
 * syscall cost in it does not depend on how loaded the machine is. (getrusage(RUSAGE_THREAD),
 * behind process.threadCpuUsage(), is only updated at scheduler ticks; this clock includes the
 * running slice, to the nanosecond.)
 */
import * as libc from '../ffi/libc.js';
import { check } from '../sys/errors.js';
import { CLOCK_THREAD_CPUTIME_ID, PRIO_PROCESS, SYSCALL } from '../uapi/index.js';
import { getField, layoutOf } from '../uapi/struct.js';

const spec = Buffer.alloc(layoutOf('__kernel_timespec').size);

/** CPU time the calling thread has used so far, in ms (user + system). */
export function threadCpuMs(): number {
  check('clock_gettime', libc.syscall(SYSCALL.clock_gettime, CLOCK_THREAD_CPUTIME_ID, spec), 'CLOCK_THREAD_CPUTIME_ID');
  const sec = getField('__kernel_timespec', spec, 'tv_sec');
  const nsec = getField('__kernel_timespec', spec, 'tv_nsec');
  return Number(sec) * 1e3 + Number(nsec) / 1e6;
}

/** Runs fn and returns its value with the thread CPU time and wall time it took, in ms. */
export function timedCall<T>(fn: () => T): { value: T; cpuMs: number; wallMs: number } {
  const wall0 = performance.now();
  const cpu0 = threadCpuMs();
  const value = fn();
  const cpuMs = threadCpuMs() - cpu0;
  return { value, cpuMs, wallMs: performance.now() - wall0 };
}

/** Nice value timing-sensitive sections run at: about 90% of a CPU shared with nice-0 hogs (weight 9548 vs 1024). */
export const RAISED_NICE = -10;

/**
 * Runs fn with the calling thread at RAISED_NICE (setpriority(PRIO_PROCESS, 0) acts on the calling
 * thread on Linux) and restores its nice value afterwards. Without CAP_SYS_NICE the raise fails
 * with EACCES/EPERM and fn runs at the current nice value: `raised` says which it was. Sections
 * under a periodic signal use it so that other load takes less of the CPU they get per period.
 */
export function withRaisedPriority<T>(fn: () => T): { value: T; raised: boolean } {
  const before = libc.syscall(SYSCALL.getpriority, PRIO_PROCESS, 0);
  if (before.ret < 0n) return { value: fn(), raised: false };
  const nice = 20 - Number(before.ret); // the raw syscall returns 20 - nice
  if (nice <= RAISED_NICE) return { value: fn(), raised: false };
  const raised = libc.syscall(SYSCALL.setpriority, PRIO_PROCESS, 0, RAISED_NICE).ret === 0n;
  try {
    return { value: fn(), raised };
  } finally {
    if (raised) check('setpriority', libc.syscall(SYSCALL.setpriority, PRIO_PROCESS, 0, nice), `restore nice ${nice}`);
  }
}
