/** read/write/pread/pwrite/lseek/ftruncate/fallocate raw and checked pairs. */
import * as libc from '../ffi/libc.js';
import { check } from './errors.js';

/** Raw read(2) of count bytes into a fresh buffer (returned alongside). */
export function __read(fd: number, count: number): libc.RawBig & { data: Buffer } {
  const data = Buffer.alloc(count);
  return { ...libc.read(fd, data, count), data };
}

/** Raw write(2) of data. */
export function __write(fd: number, data: Buffer): libc.RawBig {
  return libc.write(fd, data, data.length);
}

/** Checked write(2): the byte count written. */
export function write(fd: number, data: Buffer): bigint {
  return check('write', __write(fd, data));
}

/** Raw pread(2) of count bytes at offset. */
export function __pread(fd: number, count: number, offset: libc.U64): libc.RawBig & { data: Buffer } {
  const data = Buffer.alloc(count);
  return { ...libc.pread(fd, data, count, offset), data };
}

/** Checked pread(2): the bytes read. */
export function pread(fd: number, count: number, offset: libc.U64): Buffer {
  const r = __pread(fd, count, offset);
  const n = check('pread', r);
  return r.data.subarray(0, Number(n));
}

/** Raw pwrite(2) of data at offset. */
export function __pwrite(fd: number, data: Buffer, offset: libc.U64): libc.RawBig {
  return libc.pwrite(fd, data, data.length, offset);
}

/** Checked pwrite(2). */
export function pwrite(fd: number, data: Buffer, offset: libc.U64): bigint {
  return check('pwrite', __pwrite(fd, data, offset));
}

/** Raw lseek(2). */
export function __lseek(fd: number, offset: libc.U64, whence: number): libc.RawBig {
  return libc.lseek(fd, offset, whence);
}

/** Raw ftruncate(2). */
export function __ftruncate(fd: number, length: libc.U64): libc.Raw {
  return libc.ftruncate(fd, length);
}

/** Checked ftruncate(2). */
export function ftruncate(fd: number, length: libc.U64): void {
  check('ftruncate', __ftruncate(fd, length), `length ${length}`);
}

/** Raw fallocate(2). */
export function __fallocate(fd: number, mode: number, offset: libc.U64, length: libc.U64): libc.Raw {
  return libc.fallocate(fd, mode, offset, length);
}

/** Checked fallocate(2). */
export function fallocate(fd: number, mode: number, offset: libc.U64, length: libc.U64): void {
  check(
    'fallocate',
    __fallocate(fd, mode, offset, length),
    `mode 0x${mode.toString(16)} offset ${offset} len ${length}`,
  );
}
