/** How much longer timeouts are where the same work takes longer (a TCG guest). */
/**
 * The factor every per-case timeout is multiplied by: GMEM_TIMEOUT_SCALE (1 to 20), which the guest
 * runner sets under TCG, where the same work takes several times as long as on the host; 1 otherwise
 * or for a value out of range. Probe children's timeouts scale too; cases' own time bounds inside their verdict logic do not.
 */
export function timeoutScale(): number {
  const v = Number(process.env.GMEM_TIMEOUT_SCALE ?? '1');
  return Number.isFinite(v) && v >= 1 && v <= 20 ? v : 1;
}
