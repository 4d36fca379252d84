/** NUMA memory policy syscalls (mbind, get_mempolicy, move_pages) as raw pairs over the generated numbers. */
import * as libc from '../ffi/libc.js';
import { MPOL_F_ADDR, MPOL_F_NODE, SYSCALL } from '../uapi/index.js';

/** Bits of the nodemask buffers passed to the kernel (must cover nr_node_ids for get_mempolicy). */
export const MASK_BITS = 1024;

/** A nodemask buffer of MASK_BITS bits with the given nodes set. */
export function nodemask(nodes: readonly number[]): Buffer {
  const b = Buffer.alloc(MASK_BITS / 8);
  for (const n of nodes) b[n >> 3] = (b[n >> 3] ?? 0) | (1 << (n & 7));
  return b;
}

/** The node numbers set in a nodemask buffer. */
export function nodesOf(mask: Buffer): number[] {
  const out: number[] = [];
  for (let n = 0; n < mask.length * 8; n++) if (((mask[n >> 3] ?? 0) >> (n & 7)) & 1) out.push(n);
  return out;
}

/** Raw mbind(2) of [addr, addr+length) with a nodemask of the given nodes (null = no mask). */
export function __mbind(
  addr: bigint,
  length: number,
  mode: number,
  nodes: readonly number[] | null,
  flags = 0,
): libc.RawBig {
  return libc.syscall(SYSCALL.mbind, addr, length, mode, nodes ? nodemask(nodes) : null, nodes ? MASK_BITS : 0, flags);
}

/** Raw get_mempolicy(2) with MPOL_F_ADDR: the policy mode and nodes that apply at addr. */
export function __getMempolicy(addr: bigint): libc.RawBig & { mode: number; nodes: number[] } {
  const mode = Buffer.alloc(4);
  const mask = Buffer.alloc(MASK_BITS / 8);
  const r = libc.syscall(SYSCALL.get_mempolicy, mode, mask, MASK_BITS, addr, MPOL_F_ADDR);
  return { ...r, mode: mode.readInt32LE(0), nodes: nodesOf(mask) };
}

/** Raw get_mempolicy(2) with MPOL_F_NODE | MPOL_F_ADDR: the node of the page at addr (faults it in). */
export function __nodeOfPage(addr: bigint): libc.RawBig & { node: number } {
  const node = Buffer.alloc(4);
  const r = libc.syscall(SYSCALL.get_mempolicy, node, null, 0, addr, MPOL_F_ADDR | MPOL_F_NODE);
  return { ...r, node: node.readInt32LE(0) };
}

/** Raw move_pages(2) on this process in query mode (nodes = NULL): the node, or -errno, of each page. */
export function __queryPages(addrs: readonly bigint[]): libc.RawBig & { status: number[] } {
  const pages = Buffer.alloc(8 * addrs.length);
  addrs.forEach((a, i) => pages.writeBigUInt64LE(a, 8 * i));
  const status = Buffer.alloc(4 * addrs.length);
  const r = libc.syscall(SYSCALL.move_pages, 0, addrs.length, pages, null, status, 0);
  return { ...r, status: addrs.map((_a, i) => status.readInt32LE(4 * i)) };
}
