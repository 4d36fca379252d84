/** Assertions for cases: each failure message says which of three things went wrong. */
import { errnoName, errnoValue, isErrnoName, type ErrnoName } from '../uapi/index.js';
import { MUTATING, mutatedErrno, mutatedValue } from '../mutation.js';

export { MUTATING, mutatedErrno, mutatedValue };
import { formatErrno, type RawResult } from '../sys/errors.js';

/** Thrown by an assertion: the kernel did something other than what the case expects (verdict fail). */
export class CaseFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaseFailure';
  }
}

/** Thrown by ctx.skip(): the case found at run time that it cannot test here (verdict skip). */
export class CaseSkip extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'CaseSkip';
  }
}

/** Thrown when the harness itself cannot go on (verdict error), never for kernel behaviour. */
export class HarnessError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HarnessError';
  }
}

function isFailure(r: RawResult): boolean {
  return r.ret === -1 || r.ret === -1n;
}

/**
 * Expects a raw call to fail with one errno. Messages: "succeeded (ret=N)", "returned N instead of
 * -1", or "failed with X instead of Y". The errno is an ErrnoName, so `'EINVALL'` does not compile.
 */
export function expectErrno(r: RawResult, errno: ErrnoName | number, what: string): void {
  const given = typeof errno === 'number' ? errno : errnoValue(errno);
  const want = MUTATING ? mutatedErrno(given) : given;
  const wantText = formatErrno(want);
  if (isFailure(r)) {
    if (r.errno !== want)
      throw new CaseFailure(`${what}: expected ${wantText}, but it failed with ${formatErrno(r.errno)}`);
    return;
  }
  const n = typeof r.ret === 'bigint' ? r.ret : BigInt(r.ret);
  if (n >= 0n) throw new CaseFailure(`${what}: expected ${wantText}, but the call succeeded (ret=${r.ret})`);
  throw new CaseFailure(`${what}: expected -1 with ${wantText}, but the call returned ${r.ret}`);
}

/**
 * A data-derived expected outcome (a fixture value or a computed contract) as a typed name: one of the
 * case's own words (e.g. 'OK', 'accepted') or an errno name; anything else is a harness error, not a verdict.
 */
export function outcomeName<W extends string>(value: string, words: readonly W[]): W | ErrnoName {
  if ((words as readonly string[]).includes(value)) return value as W;
  if (isErrnoName(value)) return value;
  throw new HarnessError(`expected outcome ${JSON.stringify(value)} is neither ${words.join('/')} nor an errno name`);
}

/** Expects a raw call to fail with any of several errnos (where the ABI allows more than one). */
export function expectErrnoOneOf(r: RawResult, given: readonly ErrnoName[], what: string): void {
  const errnos: readonly ErrnoName[] = MUTATING ? ['ENOTUNIQ'] : given;
  if (isFailure(r) && errnos.some((e) => errnoValue(e) === r.errno)) return;
  if (isFailure(r))
    throw new CaseFailure(`${what}: expected one of ${errnos.join('/')}, but it failed with ${formatErrno(r.errno)}`);
  throw new CaseFailure(`${what}: expected one of ${errnos.join('/')}, but the call succeeded (ret=${r.ret})`);
}

/** Expects a raw call to succeed; returns its return value. Message names the errno it failed with. */
export function expectOk<T extends RawResult>(r: T, what: string): T['ret'] {
  if (isFailure(r)) throw new CaseFailure(`${what}: expected success, but it failed with ${formatErrno(r.errno)}`);
  return r.ret;
}

/** Expects strict equality (BigInt-aware); prints both values in hex where they are integers. */
export function expectEq<T>(actual: T, given: T, what: string): void {
  const expected = MUTATING ? mutatedValue(given) : given;
  if (actual === expected) return;
  throw new CaseFailure(`${what}: expected ${show(expected)}, got ${show(actual)}`);
}

/** Expects a condition to hold. */
export function expectTrue(cond: boolean, what: string): void {
  if (!cond) throw new CaseFailure(what);
}

/** Formats a value for messages: integers also in hex. */
export function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v} (0x${v.toString(16)})`;
  if (typeof v === 'number' && Number.isInteger(v)) return `${v} (0x${(v >>> 0).toString(16)})`;
  if (Buffer.isBuffer(v)) return `<${v.toString('hex')}>`;
  return JSON.stringify(v);
}

/** The errno name of a raw failure, or 'OK' when it succeeded (for observations). */
export function outcome(r: RawResult): string {
  return isFailure(r) ? errnoName(r.errno) : 'OK';
}
