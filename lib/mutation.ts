/** Mutation runs: the switch and the replacement values every assertion layer uses (a shared leaf). */
import { errnoValue } from './uapi/index.js';

/**
 * A mutation run (run --mutate-expectations, GMEM_MUTATE_EXPECTATIONS=1): expectErrno, expectErrnoOneOf,
 * expectEq and the vCPU exit checks compare against a value the kernel cannot have given (another errno; the expected
 * value plus one, negated, or altered), so every case whose verdict rests on them must fail. A case
 * that still passes asserts nothing through them. Never a real result: the run record says so.
 */
export const MUTATING = process.env.GMEM_MUTATE_EXPECTATIONS === '1';

/** The errno a mutation run expects instead of `want`. */
export function mutatedErrno(want: number): number {
  const einval = errnoValue('EINVAL');
  return want === einval ? errnoValue('EPERM') : einval;
}

/** The value a mutation run expects instead of `v`. */
export function mutatedValue<T>(v: T): T {
  if (typeof v === 'bigint') return (v + 1n) as T;
  if (typeof v === 'number') return (Number.isNaN(v) ? 0 : v + 1) as T;
  if (typeof v === 'boolean') return !v as T;
  if (typeof v === 'string') return `${v}\u0000mutated` as T;
  return { mutated: v } as T;
}
