/**
 * A vCPU that runs on one of libuv's worker threads (KVM_RUN through koffi's async calls) while the case changes
 * memslots on the main thread — what set_memory_region_test.c does with a pthread per vCPU.
 */
import { ioctlValAsync } from '../ffi/libc.js';
import { KVM_EXIT_IO, KVM_EXIT_IO_OUT, KVM_EXIT_MMIO, KVM_RUN } from '../uapi/index.js';
import { HarnessError } from '../harness/expect.js';
import type { Vcpu } from '../kvm/vcpu.js';
import { GuestProgram } from '../kvm/guest-program.js';
import { REPORT_PORT } from '../kvm/guest.js';
import { completeMmioRead, describeStep, type Step } from '../kvm/vcpu-run.js';

/**
 * Real-mode code that polls the byte at seg:0 and reports every change of it: `mov bl, initial; L: mov al, [0];
 * cmp al, bl; je L; mov bl, al; out REPORT_PORT, al; jmp L`. It only leaves KVM_RUN when the byte changes (an OUT)
 * or when its load has no memslot (an MMIO read that userspace answers).
 */
export function pollingGuest(seg: number, initial: number): Buffer {
  const p = new GuestProgram().setDs(seg).movBlImm(initial);
  const loop = p.here();
  p.loadAl(0).cmpAlBl().je(loop).movBlAl().outAl(REPORT_PORT).jmp(loop);
  return p.bytes();
}

/** One exit the background vCPU saw, with the time it arrived. */
export interface LoggedExit extends Step {
  /** ms since the vCPU was started. */ at: number;
}

/** Runs a vCPU on a worker thread until stop() or an exit the handler does not continue from. */
export class BackgroundVcpu {
  /** Every exit so far, in order. */ readonly exits: LoggedExit[] = [];
  /** Why the loop ended (undefined while running). */ ended?: string;
  private readonly t0 = Date.now();
  private stopAfterNext = false;
  private readonly done: Promise<void>;
  /** Data the next MMIO read is answered with (a function of its GPA). */
  mmioData: (gpa: bigint) => number = () => 0;

  constructor(
    private readonly vcpu: Vcpu,
    private readonly quitValue: number,
  ) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    for (;;) {
      const ret = await ioctlValAsync(this.vcpu.fd, KVM_RUN, 0);
      const e: LoggedExit = { ...this.vcpu.exit(), ret, errno: 0, at: Date.now() - this.t0 }; // errno is not read here
      this.exits.push(e);
      if (ret < 0) {
        this.ended = `KVM_RUN returned ${ret} (${describeStep(e)})`;
        return;
      }
      if (e.reason === KVM_EXIT_IO && e.io && e.io.direction === KVM_EXIT_IO_OUT && e.io.port === REPORT_PORT) {
        if (e.io.data[0] === this.quitValue) {
          this.ended = 'quit';
          return;
        }
      } else if (e.reason === KVM_EXIT_MMIO && e.mmio && !e.mmio.isWrite) {
        completeMmioRead(this.vcpu, [this.mmioData(e.mmio.physAddr) & 0xff]);
      } else {
        this.ended = `exit ${describeStep(e)}`;
        return;
      }
      if (this.stopAfterNext) {
        this.ended = 'stopped';
        return;
      }
    }
  }

  /** The bytes the guest reported (OUT on REPORT_PORT), in order. */
  reported(): number[] {
    return this.exits
      .filter((e) => e.reason === KVM_EXIT_IO && e.io?.port === REPORT_PORT)
      .map((e) => e.io?.data[0] as number);
  }

  /** MMIO reads so far. */
  mmioReads(): LoggedExit[] {
    return this.exits.filter((e) => e.reason === KVM_EXIT_MMIO && e.mmio && !e.mmio.isWrite);
  }

  /** Waits until pred holds (checked every ms) or the loop ends; false on timeout or end without it. */
  async waitFor(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (pred()) return true;
      if (this.ended !== undefined) return pred();
      await new Promise((r) => setTimeout(r, 1));
    }
    return pred();
  }

  /** Waits for the loop to end (after the guest reported the quit value or stopped); throws after timeoutMs. */
  async finish(timeoutMs: number): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_r, reject) => {
      timer = setTimeout(
        () => reject(new HarnessError(`the vCPU did not leave KVM_RUN within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([this.done, timeout]);
    } finally {
      clearTimeout(timer);
    }
    return this.ended ?? 'running';
  }

  /** Sleeps on the main thread's event loop (the vCPU keeps running). */
  static sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }
}
