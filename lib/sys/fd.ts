/** File-descriptor basics: open/close/dup, fstat decoded from the kernel's struct stat, fd counting. */
import * as libc from '../ffi/libc.js';
import { STRUCTS, SYSCALL } from '../uapi/index.js';
import { check, type RawResult } from './errors.js';
import { readdirSync } from 'node:fs';

/** Decoded fields of struct stat that the suite asserts on. */
export interface StatInfo {
  /** st_dev. */ dev: bigint;
  /** st_ino. */ ino: bigint;
  /** st_mode (file type and permission bits). */ mode: number;
  /** st_nlink. */ nlink: bigint;
  /** st_uid. */ uid: number;
  /** st_gid. */ gid: number;
  /** st_size. */ size: bigint;
  /** st_blksize. */ blksize: bigint;
  /** st_blocks (512-byte units). */ blocks: bigint;
}

const ST = STRUCTS.stat;

function field(buf: Buffer, name: string): bigint {
  const f = (ST.fields as Record<string, { offset: number; size: number }>)[name];
  if (!f) throw new Error(`struct stat has no field ${name}`);
  return f.size === 8 ? buf.readBigUInt64LE(f.offset) : BigInt(buf.readUInt32LE(f.offset));
}

/** Raw open(2). */
export function __open(path: string, flags: number, mode = 0): libc.Raw {
  return libc.open(path, flags, mode);
}

/** Checked open(2): returns the fd. */
export function open(path: string, flags: number, mode = 0): number {
  return check('open', __open(path, flags, mode), path);
}

/** Raw close(2). */
export function __close(fd: number): libc.Raw {
  return libc.close(fd);
}

/** Checked close(2). */
export function close(fd: number): void {
  check('close', __close(fd), `fd ${fd}`);
}

/** Raw dup(2). */
export function __dup(fd: number): libc.Raw {
  return libc.dup(fd);
}

/** Checked dup(2). */
export function dup(fd: number): number {
  return check('dup', __dup(fd));
}

/** Bytes of this architecture's struct stat (asm/stat.h). */
export const STAT_SIZE: number = ST.size;

/** Decodes a struct stat that fstat(2) filled (here or in a probe child). */
export function decodeStat(buf: Buffer): StatInfo {
  return {
    dev: field(buf, 'st_dev'),
    ino: field(buf, 'st_ino'),
    mode: Number(field(buf, 'st_mode')),
    nlink: field(buf, 'st_nlink'),
    uid: Number(field(buf, 'st_uid')),
    gid: Number(field(buf, 'st_gid')),
    size: field(buf, 'st_size'),
    blksize: field(buf, 'st_blksize'),
    blocks: field(buf, 'st_blocks'),
  };
}

/** Raw fstat(2): the decoded stat when it succeeded. */
export function __fstat(fd: number): RawResult & { stat?: StatInfo } {
  const buf = Buffer.alloc(ST.size);
  const r = libc.fstat(fd, buf);
  if (r.ret !== 0) return r;
  return { ...r, stat: decodeStat(buf) };
}

/** Checked fstat(2). */
export function fstat(fd: number): StatInfo {
  const r = __fstat(fd);
  check('fstat', r, `fd ${fd}`);
  return r.stat as StatInfo;
}

/** The fds this process has open right now (from /proc/self/fd), for leak checks. */
export function openFds(): number[] {
  return readdirSync('/proc/self/fd')
    .map(Number)
    .filter((n) => Number.isInteger(n));
}

/** Raw fchmod(2). */
export function __fchmod(fd: number, mode: number): libc.RawBig {
  return libc.syscall(SYSCALL.fchmod, fd, mode);
}

/** Raw chmod(2) on a path. */
export function __chmod(path: string, mode: number): libc.RawBig {
  return libc.syscall(SYSCALL.chmod, path, mode);
}

/** Raw pipe2(2): the two ends on success. */
export function __pipe2(flags: number): libc.RawBig & { fds: [number, number] } {
  const buf = Buffer.alloc(8);
  const r = libc.syscall(SYSCALL.pipe2, buf, flags);
  return { ...r, fds: [buf.readInt32LE(0), buf.readInt32LE(4)] };
}
