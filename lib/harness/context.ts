/** CaseContext: what a case body gets — params, env, tracked resources, expectations, notes, skip. */
import * as libc from '../ffi/libc.js';
import { memfdCreate } from '../sys/memfd.js';
import { Mapping, mmap } from '../sys/mman.js';
import type { Kvm } from '../kvm/kvm.js';
import type { Vm } from '../kvm/vm.js';
import type { GuestMemfd } from '../kvm/guest-memfd.js';
import type { Env } from './env.js';
import { CaseSkip, HarnessError } from './expect.js';

/** Anything with a close() the context can release after the case. */
export interface Closable {
  /** Releases the resource. */ close(): void;
}

/** The context handed to a case body. */
export class CaseContext<P = unknown> {
  /** The variant's parameters. */ readonly params: P;
  /** The variant name, if any. */ readonly variant: string | undefined;
  /** Machine and kernel facts. */ readonly env: Env;
  /** VM type the case's requirements selected (default 0). */ readonly vmType: number;
  /** Diagnostic lines for the report. */ readonly notes: string[] = [];
  /** Observations recorded for the feature matrix. */ readonly observations: Record<string, unknown> = {};
  private readonly cleanups: (() => void)[] = [];
  private readonly overrides: Record<string, unknown>;
  private readonly defaults: Record<string, unknown>;
  constructor(opts: {
    params: P;
    variant?: string;
    env: Env;
    vmType: number;
    defaults?: Record<string, unknown>;
    overrides?: Record<string, unknown>;
  }) {
    this.params = opts.params;
    this.variant = opts.variant;
    this.env = opts.env;
    this.vmType = opts.vmType;
    this.defaults = opts.defaults ?? {};
    this.overrides = opts.overrides ?? {};
  }
  /** The shared /dev/kvm handle (the case must require kvm). */
  get kvm(): Kvm {
    const k = this.env.kvm;
    if (!k) throw new HarnessError('case uses KVM without requiring it');
    return k;
  }
  /** Registers a cleanup to run after the case, last registered first. */
  defer(fn: () => void): void {
    this.cleanups.push(fn);
  }
  /** Registers a resource to close after the case; returns it. */
  track<T extends Closable>(res: T): T {
    this.defer(() => res.close());
    return res;
  }
  /** Registers a raw fd to close after the case (ignores EBADF if the case closed it); returns it. */
  trackFd(fd: number): number {
    if (fd >= 0) this.defer(() => void libc.close(fd));
    return fd;
  }
  /** A new VM of the case's type (or the given one), closed after the case. */
  vm(type = this.vmType): Vm {
    return this.track(this.kvm.createVm(type));
  }
  /** A new guest_memfd on vm, closed after the case. */
  gmem(vm: Vm, size: bigint, flags: bigint = 0n): GuestMemfd {
    return this.track(vm.createGuestMemfd(size, flags));
  }
  /** A new memfd, closed after the case. */
  memfd(name: string, flags: number): number {
    return this.trackFd(memfdCreate(name, flags));
  }
  /** A mapping unmapped after the case. */
  map(length: number, prot: number, flags: number, fd: number, offset: bigint = 0n): Mapping {
    return this.track(mmap(length, prot, flags, fd, offset));
  }
  /** An expectation: fixture override for this kernel/platform, else the case's default, else fallback. */
  expected<T>(key: string, fallback?: T): T {
    if (key in this.overrides) return this.overrides[key] as T;
    if (key in this.defaults) return this.defaults[key] as T;
    if (fallback !== undefined) return fallback;
    throw new HarnessError(`no expectation "${key}" in the case or its fixtures`);
  }
  /** Adds a diagnostic line to the report. */
  note(line: string): void {
    this.notes.push(line);
  }
  /** Records an observation (an errno, a count) for the feature matrix and JSON results. */
  observe(key: string, value: unknown): void {
    this.observations[key] = value;
  }
  /** Ends the case as SKIP with a reason found at run time. */
  skip(reason: string): never {
    throw new CaseSkip(reason);
  }
  /** Runs every cleanup; returns the errors they threw (the case result notes them). */
  cleanup(): string[] {
    const errors: string[] = [];
    while (this.cleanups.length) {
      const fn = this.cleanups.pop() as () => void;
      try {
        fn();
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    return errors;
  }
}
