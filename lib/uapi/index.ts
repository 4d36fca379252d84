// The uapi module: generated constants and layouts, the ioctl encoding, and errno lookups.
// Proposal ABIs that never merged are kept apart in ./proposals.js on purpose: import them from there.
import { ERRNO, ERRNO_NAME, type ErrnoName } from './linux.generated.js';

export * from './linux.generated.js';
export * from './ioc.js';

/** Name of an errno value, e.g. errnoName(22) === 'EINVAL'; unknown values give 'errno <n>'. */
export function errnoName(n: number): string {
  return Object.prototype.hasOwnProperty.call(ERRNO_NAME, n) ? ERRNO_NAME[n]! : `errno ${n}`;
}

/** Whether a string read from data (fixtures, results) is an errno name of the tables. */
export function isErrnoName(name: string): name is ErrnoName {
  return Object.prototype.hasOwnProperty.call(ERRNO, name);
}

/**
 * Value of an errno name, e.g. errnoValue('EINVAL') === 22. The type refuses a misspelt name at compile
 * time; a name that reaches it from untyped data anyway throws RangeError.
 */
export function errnoValue(name: ErrnoName): number {
  if (!isErrnoName(name)) throw new RangeError(`unknown errno name ${JSON.stringify(name)}`);
  return ERRNO[name];
}

/** An errno the way messages show it: 'EINVAL (22)'. */
export function formatErrno(n: number): string {
  return `${errnoName(n)} (${n})`;
}
