/**
 * eintr.signal: a control for the EINTR family. The handler Node installs for the periodic signal
 * uses SA_RESTART, so a syscall the kernel ends with -ERESTARTSYS is restarted and userspace never
 * sees EINTR. This case shows that on the live kernel: a blocking read() on a unix socket (which the
 * kernel ends with -ERESTARTSYS when a signal arrives) keeps going through many ticks and returns the
 * byte another thread writes later. So the EINTR the guest_memfd cases see is the kernel returning
 * -EINTR, not an artefact of how the signal handler was installed.
 */
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineCase } from '../../lib/harness/case.js';
import { CaseFailure, expectTrue } from '../../lib/harness/expect.js';
import * as libc from '../../lib/ffi/libc.js';
import { socketpair } from '../../lib/sys/socket.js';
import { formatErrno } from '../../lib/sys/errors.js';
import { PeriodicSignal } from '../../lib/cases/periodic-signal.js';
import { periodVariants, resolvePeriod, type PeriodParams } from '../../lib/cases/eintr.js';

/** How many periods the writer thread waits before it writes the byte the read is blocked on. */
const PERIODS_BEFORE_WRITE = 6;

/** Worker thread body: on 'go', wait ms, write one byte to fd, report, exit. */
const WRITER = `
const { parentPort, workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
parentPort.once('message', () => {
  setTimeout(() => {
    writeSync(workerData.fd, Buffer.from('x'));
    parentPort.close();
  }, workerData.ms);
});
`;

const saRestart = defineCase<PeriodParams>({
  id: 'eintr.signal.sa_restart_control',
  doc: 'with the periodic-signal handler installed, a blocking read() on a unix socket is restarted across ticks (SA_RESTART + -ERESTARTSYS) and returns the byte written later',
  tags: { seed: '001' },
  variants: periodVariants(['env']),
  serial: true,
  timeoutMs: 30_000,
  async run(ctx) {
    const periodMs = resolvePeriod(ctx.params.period);
    ctx.observe('period_ms', periodMs);
    const [reader, writer] = socketpair();
    ctx.trackFd(reader);
    ctx.trackFd(writer);
    const waitMs = PERIODS_BEFORE_WRITE * periodMs;
    const worker = new Worker(WRITER, { eval: true, workerData: { fd: writer, ms: waitMs } });
    const exited = once(worker, 'exit');
    ctx.defer(() => void worker.terminate());
    await once(worker, 'online');
    const sig = ctx.track(PeriodicSignal.start(periodMs));
    let r: libc.RawBig;
    let readMs: number;
    try {
      worker.postMessage('go');
      const buf = Buffer.alloc(1);
      const t0 = performance.now();
      r = libc.read(reader, buf, 1);
      readMs = performance.now() - t0;
      sig.disarm();
      await sleep(Math.max(30, 2 * periodMs)); // let the event loop hand the queued signals to the listener
    } finally {
      sig.stop();
    }
    await exited;
    const ticks = sig.delivered;
    ctx.observe('read_ms', Math.round(readMs * 10) / 10);
    ctx.observe('signals_delivered', ticks);
    ctx.observe('read_outcome', r.ret === 1n ? 'OK' : formatErrno(r.errno));
    ctx.note(
      `read() blocked ${readMs.toFixed(1)} ms across ${ticks} SIGALRM ticks of ${periodMs} ms and returned ${r.ret === 1n ? '1 byte' : formatErrno(r.errno)}`,
    );
    if (r.ret !== 1n)
      throw new CaseFailure(
        `read() on a unix socket returned ${r.ret === -1n ? formatErrno(r.errno) : r.ret} after ${readMs.toFixed(1)} ms instead of being restarted: the handler does not use SA_RESTART, so EINTR in the other cases may come from it`,
      );
    expectTrue(
      ticks >= 3,
      `only ${ticks} signals reached the listener during a ${readMs.toFixed(1)} ms read with a ${periodMs} ms timer: the control did not exercise a restart`,
    );
  },
});

export default [saRestart];
