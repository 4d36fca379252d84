/** Children of the suite (workers, probe children) die with their parent instead of outliving a killed runner. */
import { prctl } from '../ffi/libc.js';

/** PR_SET_PDEATHSIG from <linux/prctl.h>: the signal this process gets when its parent thread exits. */
const PR_SET_PDEATHSIG = 1;
/** SIGKILL: a child of a killed runner has nobody to report to, so nothing is left for it to finish. */
const SIGKILL = 9;

/**
 * Asks the kernel to SIGKILL this process when its parent exits, however the parent ends (SIGKILL included,
 * where no 'disconnect' or exit handler of the parent runs). `parentPid` closes the race with a parent that
 * died before the call: then this process has already been re-parented and exits at once.
 */
export function dieWithParent(parentPid: number): void {
  const r = prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (r.ret !== 0) throw new Error(`prctl(PR_SET_PDEATHSIG) failed with errno ${r.errno}`);
  if (process.ppid !== parentPid) process.exit(70);
}
