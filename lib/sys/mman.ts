/** mmap/munmap/madvise/mprotect raw/checked pairs and Mapping, a byte view over a mapped region. */
import * as libc from '../ffi/libc.js';
import { check } from './errors.js';
import { MREMAP_MAYMOVE, SYSCALL } from '../uapi/index.js';

/** A live mapping: its address, length and a Uint8Array over its bytes (touching it may fault). */
export class Mapping {
  /** Start address. */
  readonly addr: bigint;
  /** Length in bytes. */
  readonly length: number;
  private unmapped = false;
  private cached?: Uint8Array;
  constructor(addr: bigint, length: number) {
    this.addr = addr;
    this.length = length;
  }
  /** Bytes of the mapping; touching a page the kernel refuses raises SIGBUS/SIGSEGV in this process. */
  get bytes(): Uint8Array {
    if (this.unmapped) throw new Error('mapping already unmapped');
    this.cached ??= new Uint8Array(libc.viewAt(this.addr, this.length));
    return this.cached;
  }
  /** Raw munmap of the whole mapping. */
  __unmap(): libc.Raw {
    const r = libc.munmap(this.addr, this.length);
    if (r.ret === 0) this.unmapped = true;
    return r;
  }
  /** Unmaps (idempotent); throws if the kernel refuses. */
  close(): void {
    if (this.unmapped) return;
    check('munmap', this.__unmap());
  }
  /** True once unmapped. */
  get closed(): boolean {
    return this.unmapped;
  }
}

/** Raw mmap(2): ret is the address or -1n. */
export function __mmap(
  length: libc.U64,
  prot: number,
  flags: number,
  fd: number,
  offset: libc.U64 = 0n,
  addr: libc.U64 = 0n,
): libc.RawBig {
  return libc.mmap(addr, length, prot, flags, fd, offset);
}

/** Checked mmap(2): a Mapping the caller must close. */
export function mmap(length: number, prot: number, flags: number, fd: number, offset: libc.U64 = 0n): Mapping {
  const addr = check(
    'mmap',
    __mmap(length, prot, flags, fd, offset),
    `len ${length} prot 0x${prot.toString(16)} flags 0x${flags.toString(16)} fd ${fd}`,
  );
  return new Mapping(addr as bigint, length);
}

/** Raw madvise(2). */
export function __madvise(addr: libc.U64, length: libc.U64, advice: number): libc.Raw {
  return libc.madvise(addr, length, advice);
}

/** Raw mprotect(2). */
export function __mprotect(addr: libc.U64, length: libc.U64, prot: number): libc.Raw {
  return libc.mprotect(addr, length, prot);
}

/** Raw munmap(2). */
export function __munmap(addr: libc.U64, length: libc.U64): libc.Raw {
  return libc.munmap(addr, length);
}

/** Raw mremap(2) with MREMAP_MAYMOVE: ret is the new address or -1n. */
export function __mremap(addr: bigint, oldLength: libc.U64, newLength: libc.U64): libc.RawBig {
  return libc.syscall(SYSCALL.mremap, addr, oldLength, newLength, MREMAP_MAYMOVE, 0);
}
