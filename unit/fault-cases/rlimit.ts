/** Resource-limit helpers for the fault-injection cases (soft limits only: the hard limit is never lowered). */
import { readFileSync } from 'node:fs';
import * as libc from '../../lib/ffi/libc.js';
import { check } from '../../lib/sys/errors.js';

/** A resource's soft and hard limit (RLIM_INFINITY is 2^64-1). */
export interface Limit {
  /** Soft limit. */ soft: bigint;
  /** Hard limit. */ hard: bigint;
}

/** getrlimit(2) of a resource (RLIMIT_NOFILE, RLIMIT_AS…). */
export function getLimit(resource: number): Limit {
  const buf = Buffer.alloc(16);
  check('getrlimit', libc.getrlimit(resource, buf), `resource ${resource}`);
  return { soft: buf.readBigUInt64LE(0), hard: buf.readBigUInt64LE(8) };
}

/** Sets a resource's soft limit, keeping its hard limit; returns the limit it replaced. */
export function setSoftLimit(resource: number, soft: bigint): Limit {
  const old = getLimit(resource);
  const buf = Buffer.alloc(16);
  buf.writeBigUInt64LE(soft, 0);
  buf.writeBigUInt64LE(old.hard, 8);
  check('setrlimit', libc.setrlimit(resource, buf), `resource ${resource} soft ${soft}`);
  return old;
}

/** The process's current virtual size in bytes (VmSize from /proc/self/status). */
export function virtualSize(): bigint {
  const m = /^VmSize:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error('no VmSize in /proc/self/status');
  return BigInt(m[1] as string) * 1024n;
}
