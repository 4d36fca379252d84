/**
 * A periodic signal aimed at the calling thread: a POSIX CLOCK_MONOTONIC timer with
 * SIGEV_THREAD_ID, plus the Node listener that keeps the signal from killing the process.
 *
 * Node (libuv) installs a real handler with SA_RESTART once a listener exists. SA_RESTART only
 * makes a syscall restart when the kernel returned -ERESTARTSYS; a call that returns -EINTR
 * (guest_memfd's fallocate) still reaches userspace as EINTR, which is exactly what the EINTR cases
 * observe. The timer is created and armed with raw syscalls (timer_create, timer_settime,
 * timer_delete) and released in stop(); stop() is idempotent and also serves as close() for
 * ctx.track(), so a case that throws still leaves no timer and no listener behind.
 */
import * as libc from '../ffi/libc.js';
import { check } from '../sys/errors.js';
import { SYSCALL, SIGALRM, SIGUSR1, SIGUSR2, CLOCK_MONOTONIC, SIGEV_THREAD_ID } from '../uapi/index.js';
import { layoutOf, pack, setField } from '../uapi/struct.js';

/** Signals the helper may use: each must be one Node can install a listener for. */
export const PERIODIC_SIGNALS = { SIGALRM, SIGUSR1, SIGUSR2 } as const;

/** Name of a signal the helper may use. */
export type PeriodicSignalName = keyof typeof PERIODIC_SIGNALS;

/** Builds the kernel's struct sigevent for SIGEV_THREAD_ID delivery of signo to thread tid. */
export function threadSigevent(signo: number, tid: number): Buffer {
  return pack('sigevent', { sigev_signo: signo, sigev_notify: SIGEV_THREAD_ID, '_sigev_un._tid': tid });
}

/** Builds struct __kernel_itimerspec with the same first expiry and interval (a periodic timer); 0 disarms. */
export function periodicItimerspec(periodNs: bigint): Buffer {
  const sec = periodNs / 1_000_000_000n;
  const nsec = periodNs % 1_000_000_000n;
  const spec = pack('__kernel_itimerspec');
  for (const member of ['it_interval', 'it_value']) {
    const base = layoutOf('__kernel_itimerspec').fields[member]?.offset ?? 0;
    setField('__kernel_timespec', spec, 'tv_sec', sec, base);
    setField('__kernel_timespec', spec, 'tv_nsec', nsec, base);
  }
  return spec;
}

/** A running periodic signal; stop() deletes the timer, then removes the listener. */
export class PeriodicSignal {
  /** Period in milliseconds. */ readonly periodMs: number;
  /** Signal name. */ readonly signal: PeriodicSignalName;
  /** Thread the signal is aimed at. */ readonly tid: number;
  /** Kernel timer id (timer_t). */ readonly timerId: number;
  private readonly listener: () => void;
  private readonly counter: { n: number };
  private disarmed = false;
  private stopped = false;

  private constructor(
    periodMs: number,
    signal: PeriodicSignalName,
    tid: number,
    timerId: number,
    listener: () => void,
    counter: { n: number },
  ) {
    this.periodMs = periodMs;
    this.signal = signal;
    this.tid = tid;
    this.timerId = timerId;
    this.listener = listener;
    this.counter = counter;
  }

  /**
   * Signals the JS listener has seen. libuv's handler queues each signal on a pipe and the listener
   * runs only when the event loop turns, so this lags while the thread is blocked in a syscall.
   */
  get delivered(): number {
    return this.counter.n;
  }

  /**
   * Installs a no-op listener for `signal`, creates a CLOCK_MONOTONIC timer that sends it to the
   * calling thread, and arms it with first expiry = interval = periodMs. On any failure everything
   * set up so far is undone before the error propagates.
   */
  static start(periodMs: number, signal: PeriodicSignalName = 'SIGALRM'): PeriodicSignal {
    if (!(periodMs > 0) || !Number.isFinite(periodMs))
      throw new RangeError(`period ${periodMs} ms is not a positive number`);
    const signo = PERIODIC_SIGNALS[signal];
    const counter = { n: 0 };
    const listener = (): void => {
      counter.n++;
    };
    process.on(signal, listener);
    let timerId = -1;
    try {
      const tid = libc.gettid();
      const idBuf = Buffer.alloc(4);
      check(
        'timer_create',
        libc.syscall(SYSCALL.timer_create, CLOCK_MONOTONIC, threadSigevent(signo, tid), idBuf),
        `CLOCK_MONOTONIC, SIGEV_THREAD_ID ${signal} → tid ${tid}`,
      );
      timerId = idBuf.readInt32LE(0);
      const periodNs = BigInt(Math.round(periodMs * 1e6));
      check(
        'timer_settime',
        libc.syscall(SYSCALL.timer_settime, timerId, 0, periodicItimerspec(periodNs), null),
        `timer ${timerId}, period ${periodMs} ms`,
      );
      return new PeriodicSignal(periodMs, signal, tid, timerId, listener, counter);
    } catch (e) {
      if (timerId >= 0) libc.syscall(SYSCALL.timer_delete, timerId);
      process.off(signal, listener);
      throw e;
    }
  }

  /**
   * Deletes the timer, then removes the listener. A signal already pending for this thread is
   * delivered on the way back from timer_delete, while the handler is still installed, so removing
   * the listener afterwards cannot let a stray tick reach the default action (termination).
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    try {
      this.disarm();
    } finally {
      process.off(this.signal, this.listener);
    }
  }

  /** Deletes the timer but keeps the listener, so signals already queued for the event loop are still counted. */
  disarm(): void {
    if (this.disarmed) return;
    this.disarmed = true;
    check('timer_delete', libc.syscall(SYSCALL.timer_delete, this.timerId), `timer ${this.timerId}`);
  }

  /** Same as stop(), so ctx.track() can release it. */
  close(): void {
    this.stop();
  }

  /** True once stopped. */
  get isStopped(): boolean {
    return this.stopped;
  }
}

/** Default period when GMEM_EINTR_PERIOD_MS is unset. */
export const DEFAULT_EINTR_PERIOD_MS = 20;

/** The period the environment asks for (GMEM_EINTR_PERIOD_MS), or the default; rejects junk loudly. */
export function periodFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.GMEM_EINTR_PERIOD_MS;
  if (text === undefined || text === '') return DEFAULT_EINTR_PERIOD_MS;
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0 || v > 10_000)
    throw new RangeError(`GMEM_EINTR_PERIOD_MS=${text} is not a period in ms (0 < p ≤ 10000)`);
  return v;
}
