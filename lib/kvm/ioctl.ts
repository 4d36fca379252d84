/** KVM ioctl plumbing: argument-size check against _IOC_SIZE and a number→name map for messages. */
import * as libc from '../ffi/libc.js';
import { iocSize } from '../uapi/index.js';
import { check } from '../sys/errors.js';

/** Raw ioctl with a struct buffer; refuses (as a harness bug) a buffer whose size differs from _IOC_SIZE. */
export function __ioctlStruct(fd: number, name: string, request: number, buf: Buffer): libc.Raw {
  const want = iocSize(request);
  if (want !== 0 && want !== buf.length)
    throw new Error(`${name}: argument is ${buf.length} bytes but _IOC_SIZE says ${want}`);
  return libc.ioctlPtr(fd, request, buf);
}

/** Checked struct ioctl. */
export function ioctlStruct(fd: number, name: string, request: number, buf: Buffer): number {
  return check(name, __ioctlStruct(fd, name, request, buf));
}

/** Raw ioctl whose argument is passed by value. */
export function __ioctlVal(fd: number, request: number, arg: libc.U64 = 0): libc.Raw {
  return libc.ioctlVal(fd, request, arg);
}

/** Checked by-value ioctl. */
export function ioctlVal(fd: number, name: string, request: number, arg: libc.U64 = 0): number {
  return check(name, libc.ioctlVal(fd, request, arg));
}
