/** Command-line option parsing whose complaints are UsageErrors (printed as "gmem-conformance: <message>", exit status 2). */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readdirSync, statSync } from 'node:fs';
import { UsageError } from '../errors.js';

/** Parses a positive integer option of at most max (default 2^20) or throws a UsageError naming the option. */
export function positiveInt(name: string, value: string | undefined, fallback: number, max = 2 ** 20): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(`${name} expects a positive integer, got "${value}"`);
  if (Number(value) > max) throw new UsageError(`${name} expects at most ${max}, got "${value}"`);
  return Number(value);
}

/** The longest delay Node's timers hold: 2^31-1 ms; a longer one fires after 1 ms. */
export const MAX_TIMER_SECONDS = (2 ** 31 - 1) / 1000;

/** Parses a positive number of seconds (decimals allowed) that a timer can hold (at most 2147483.647 s), or throws a UsageError. */
export function positiveSeconds(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0)
    throw new UsageError(`${name} expects a positive number of seconds, got "${value}"`);
  if (Number(value) > MAX_TIMER_SECONDS)
    throw new UsageError(
      `${name} expects at most ${MAX_TIMER_SECONDS} seconds (Node's timers hold 2^31-1 ms; a longer timeout would fire at once), got "${value}"`,
    );
  if (Number(value) * 1000 < 1) throw new UsageError(`${name} expects at least 0.001 seconds, got "${value}"`);
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
  if (bad)
    throw new UsageError(
      `${name}: control character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()} at column ${bad.index + 1} is not allowed in a label`,
    );
  if (value.length > max) throw new UsageError(`${name}: a label has at most ${max} characters, got ${value.length}`);
  return value;
}

/** Checks that an input directory option names a readable directory; throws a UsageError naming the option. */
export function existingDir(name: string, path: string): string {
  const fail = (e: unknown) =>
    new UsageError(`${name}: ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw fail(e);
  }
  if (!st.isDirectory()) throw new UsageError(`${name}: ${path} is not a directory`);
  try {
    readdirSync(path);
  } catch (e) {
    throw fail(e);
  }
  return path;
}
