/** Small statistics for the benchmarks: sum, median, min, max of repeated measurements. */

/** Sum of the values (0 for none). */
export function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/** Median of the values (NaN for none). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Median, min and max of repeated measurements, rounded to `digits` decimals. */
export function summary(xs: readonly number[], digits = 1): { median: number; min: number; max: number; n: number } {
  const r = (x: number) => Math.round(x * 10 ** digits) / 10 ** digits;
  return { median: r(median(xs)), min: r(Math.min(...xs)), max: r(Math.max(...xs)), n: xs.length };
}
