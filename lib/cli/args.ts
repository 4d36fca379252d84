/** Command-line option parsing whose complaints are UsageErrors (printed as "gmem-conformance: <message>", exit status 2). */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';


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
