/** The machine's architecture and base page size, in the kernel's terms: a leaf every layer may import. */
import { arch as nodeArch } from 'node:os';

/**
 * The kernel's (uname -m) name for a Node.js arch: 'x64' → 'x86_64', 'arm64' → 'aarch64', others unchanged.
 * The one mapping: results files, fixture rules (`when: { arch }`), platform labels and imports all use it.
 */
export function kernelArch(node: string = nodeArch()): string {
  if (node === 'x64') return 'x86_64';
  if (node === 'arm64') return 'aarch64';
  return node;
}

/** The base page size the cases and the uapi tables assume (x86_64: 4 KiB); PAGE in lib/cases is this one. */
export const PAGE_SIZE = 4096;
