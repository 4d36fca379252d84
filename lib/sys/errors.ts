/** SyscallError and the raw→checked conversion shared by every checked wrapper. */
import { formatErrno } from '../uapi/index.js';

export { formatErrno };

/** A raw result of any syscall wrapper: return value plus errno read right after the call. */
export interface RawResult {
  /** Return value (number or BigInt). */
  ret: number | bigint;
  /** errno, 0 on success. */
  errno: number;
}

/** Thrown by checked wrappers: names the call (ioctl name, syscall) and the errno it failed with. */
export class SyscallError extends Error {
  /** Name of the call that failed, e.g. KVM_CREATE_GUEST_MEMFD. */
  readonly call: string;
  /** errno the kernel returned. */
  readonly errno: number;
  constructor(call: string, errno: number, detail?: string) {
    super(`${call}${detail ? ` (${detail})` : ''} failed: ${formatErrno(errno)}`);
    this.name = 'SyscallError';
    this.call = call;
    this.errno = errno;
  }
}

/** Returns true when a raw result is a failure (-1 with errno). */
export function failed(r: RawResult): boolean {
  return r.ret === -1 || r.ret === -1n;
}

/** Turns a raw result into its return value, or throws a SyscallError naming the call. */
export function check<T extends RawResult>(call: string, r: T, detail?: string): T['ret'] {
  if (failed(r)) throw new SyscallError(call, r.errno, detail);
  return r.ret;
}
