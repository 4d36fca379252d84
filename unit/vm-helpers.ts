/** Prerequisites of the tests that boot kernels: QEMU (installed on demand) and the Debian kernels (fetched into the cache). */
import { execFileSync } from 'node:child_process';
import { ensureQemu, QemuUnavailable } from '../lib/vm/qemu.js';
import { loadCandidates, parseKernelSpec } from '../lib/vm/candidates.js';
import { prepareKernel } from '../lib/vm/candidate-run.js';
import { KernelUnavailable } from '../lib/vm/kernel-source.js';

/** Why the VM tests cannot run here (the exact reason), or false when QEMU and the kernels are ready. */
export function vmSkipReason(labels: string[]): string | false {
  try {
    ensureQemu();
  } catch (e) {
    if (e instanceof QemuUnavailable) return e.message;
    throw e;
  }
  const candidates = loadCandidates();
  for (const label of labels) {
    try {
      prepareKernel(parseKernelSpec(label, candidates), () => undefined);
    } catch (e) {
      if (e instanceof KernelUnavailable)
        return `Debian kernel ${label} cannot be fetched (is the network to Debian's archive down?): ${e.message}`;
      throw e;
    }
  }
  return false;
}

/** QEMU processes currently running whose command line contains a marker (a path of ours). */
export function qemuProcessesWith(marker: string): string[] {
  try {
    return execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes('qemu-system') && l.includes(marker));
  } catch {
    return [];
  }
}
