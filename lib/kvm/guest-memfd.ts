/** GuestMemfd: an fd from KVM_CREATE_GUEST_MEMFD with the size and flags it was created with. */
import * as libc from '../ffi/libc.js';
import { check } from '../sys/errors.js';

/** A guest_memfd file. */
export class GuestMemfd {
  /** The fd. */
  readonly fd: number;
  /** Size passed at creation. */
  readonly size: bigint;
  /** Flags passed at creation. */
  readonly flags: bigint;
  private closed = false;
  constructor(fd: number, size: bigint, flags: bigint) {
    this.fd = fd;
    this.size = size;
    this.flags = flags;
  }
  /** Closes the fd (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    check('close', libc.close(this.fd), `guest_memfd ${this.fd}`);
  }
  /** True once closed. */
  get isClosed(): boolean {
    return this.closed;
  }
}
