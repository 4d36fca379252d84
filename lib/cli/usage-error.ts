/** Command-line errors: printed as "gmem-conformance: <message>" with exit status 2. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A bad command line (unknown option, bad value). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Parses a positive integer option or throws a UsageError naming the option. */
export function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${name} expects a positive integer, got "${value}"`);
  return Number(value);
}

/** Parses a positive number of seconds (decimals allowed) or throws a UsageError. */
export function positiveSeconds(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0) throw new UsageError(`${name} expects a positive number of seconds, got "${value}"`);
  return Number(value);
}

/** node:util parseArgs whose complaints (unknown option, missing value) become UsageErrors. */
export function parseCommandLine<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Control characters a label may not hold: C0, DEL, C1 and the Unicode line/paragraph separators. */
const LABEL_CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Checks a label that ends up in files, scripts and reports (platform, kernel, host): non-empty, one line, no control characters, at most max characters. */
export function checkLabel(name: string, value: string, max = 200): string {
  if (value.trim() === '') throw new UsageError(`${name} expects a non-empty label`);
  const bad = LABEL_CONTROL.exec(value);
  if (bad) throw new UsageError(`${name}: control character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()} at column ${bad.index + 1} is not allowed in a label`);
  if (value.length > max) throw new UsageError(`${name}: a label has at most ${max} characters, got ${value.length}`);
  return value;
}
