/** One worker process seen from the runner: start, run an instance with a timeout, turn deaths into results. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CaseInstance } from './case.js';
import type { CaseResult } from './verdict.js';
import { resultOf } from './result.js';
import type { FixtureOverrides, WorkerArgs, WorkerMessage } from './protocol.js';

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));

import { crashCause } from './crash-cause.js';

export { crashCause };

/** A running worker process. */
export class WorkerHandle {
  private child: ChildProcess;
  private ready: Promise<void>;
  private onMessage: ((m: WorkerMessage) => void) | null = null;
  private onExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | null = null;
  private exited = false;
  private killed = false;
  /** Last stderr lines (for crash messages). */ private stderrTail = '';
  constructor(args: WorkerArgs) {
    this.child = fork(WORKER, [JSON.stringify(args)], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    this.child.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-16000);
    });
    this.child.on('message', (m: WorkerMessage) => this.onMessage?.(m));
    // an IPC write to a worker that just died surfaces here; its exit is handled by onExit
    this.child.on('error', () => undefined);
    this.ready = new Promise((resolve, reject) => {
      this.onMessage = (m) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'fatal') reject(new Error(`worker failed to start: ${m.message}`));
      };
      this.onExit = (code, signal) =>
        reject(
          new Error(`worker exited before it was ready (code ${code}, signal ${signal}): ${this.stderrTail.trim()}`),
        );
    });
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      this.onExit?.(code, signal);
    });
  }
  /** The worker's process id. */
  get pid(): number {
    return this.child.pid ?? -1;
  }
  /** True once the process has exited or was killed (it may not have been reaped yet). */
  get dead(): boolean {
    return this.exited || this.killed;
  }
  /** Resolves once the process has exited. */
  whenExited(): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => this.child.once('exit', () => resolve()));
  }
  /** Waits until the worker has loaded the cases. */
  whenReady(): Promise<void> {
    return this.ready;
  }
  /** Runs one instance; a crash, exit or timeout becomes that instance's result and kills the worker. */
  run(
    inst: CaseInstance,
    timeoutMs: number,
    fixture: FixtureOverrides = { values: {}, commits: [] },
  ): Promise<CaseResult> {
    const t0 = performance.now();
    const elapsed = () => Math.round(performance.now() - t0);
    return new Promise((resolve) => {
      let done = false;
      const settle = (r: CaseResult) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.onMessage = null;
        this.onExit = null;
        resolve(r);
      };
      const timer = setTimeout(() => {
        this.kill();
        settle(resultOf(inst, 'timeout', `no result after ${timeoutMs / 1000} s; worker killed`, elapsed()));
      }, timeoutMs);
      this.onMessage = (m) => {
        if (m.type === 'result') settle(m.result);
        else if (m.type === 'fatal') {
          this.kill();
          settle(resultOf(inst, 'error', `worker: ${m.message}`, elapsed()));
        }
      };
      this.onExit = (code, signal) => {
        const tail = crashCause(this.stderrTail);
        if (signal) {
          const why = `crashed: killed by ${signal}${tail ? ` (${tail})` : ''}`;
          settle(resultOf(inst, 'fail', why, elapsed(), { signal }));
        } else {
          const why = `worker exited with status ${code} during the case${tail ? `: ${tail}` : ''}`;
          settle(resultOf(inst, 'error', why, elapsed()));
        }
      };
      if (this.dead) {
        settle(resultOf(inst, 'error', 'worker was dead before the case started', 0));
        return;
      }
      this.child.send({ type: 'run', id: inst.id, module: inst.module, fixture }, (err) => {
        if (err) settle(resultOf(inst, 'error', `could not send the case to its worker: ${err.message}`, elapsed()));
      });
    });
  }
  /** Kills the worker (SIGKILL); the kernel releases every fd, VM and mapping it held. */
  kill(): void {
    if (this.dead) return;
    this.killed = true;
    this.child.kill('SIGKILL');
  }
  /** Asks the worker to exit by closing its IPC channel, and waits for it. */
  async stop(): Promise<void> {
    if (this.exited) return;
    if (this.killed) {
      await new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      return;
    }
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.disconnect();
    const t = setTimeout(() => this.kill(), 2000);
    await gone;
    clearTimeout(t);
  }
}
