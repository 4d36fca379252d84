/** The backings a memfd can have (shmem, hugetlbfs 2 MiB, hugetlbfs 1 GiB) and how a case runs on each as variants. */
import type { Requires } from '../harness/case.js';
import type { CaseContext } from '../harness/context.js';
import { expectOk } from '../harness/expect.js';
import { __fallocate, pwrite } from '../sys/io.js';
import { __memfdCreate } from '../sys/memfd.js';
import { mmap } from '../sys/mman.js';
import { MAP_SHARED, MFD_HUGE_1GB, MFD_HUGE_2MB, MFD_HUGETLB, PROT_READ, PROT_WRITE } from '../uapi/index.js';
import { availableHugepages, hugepageDir, hugepagePoolText } from './memfd-hugepages.js';
import { PAGE, uniqueName } from './memfd.js';

/** One backing of a memfd: the memfd_create flags that select it and the page size of its files. */
export interface MemfdBacking {
  /** Variant prefix: shmem, hugetlb_2m, hugetlb_1g. */ name: string;
  /** Flags OR-ed into memfd_create (0 for shmem). */ flags: number;
  /** Bytes of one page of the file (PAGE, or the huge page size). */ page: bigint;
  /** Huge page size in kB, 0 for shmem. */ hugeKb: number;
}

/** Every backing the memfd cases run on. */
export const BACKINGS: readonly MemfdBacking[] = [
  { name: 'shmem', flags: 0, page: BigInt(PAGE), hugeKb: 0 },
  { name: 'hugetlb_2m', flags: (MFD_HUGETLB | MFD_HUGE_2MB) >>> 0, page: 2n << 20n, hugeKb: 2048 },
  { name: 'hugetlb_1g', flags: (MFD_HUGETLB | MFD_HUGE_1GB) >>> 0, page: 1n << 30n, hugeKb: 1048576 },
];

/** What a variant on backing b requires: nothing for shmem; hugetlbfs and the hstate of that size otherwise. */
export function backingRequires(b: MemfdBacking): Requires {
  return b.hugeKb ? { files: [hugepageDir(b.hugeKb)] } : {};
}

/** The backing a variant names; throws (a broken case table) when the name is unknown. */
export function backingNamed(name: string): MemfdBacking {
  const b = BACKINGS.find((x) => x.name === name);
  if (!b) throw new Error(`unknown memfd backing ${name}`);
  return b;
}

/** A new memfd on backing b with the extra flags, closed after the case; creation is asserted to succeed. */
export function memfdOn(ctx: CaseContext<unknown>, b: MemfdBacking, flags: number, tag = b.name): number {
  const all = (b.flags | flags) >>> 0;
  const r = __memfdCreate(uniqueName(tag), all);
  return ctx.trackFd(Number(expectOk(r, `memfd_create(${b.name}, flags 0x${all.toString(16)})`)));
}

/** Free minus reserved huge pages of b's size (Infinity for shmem, whose pages are not a pool). */
export function freePages(b: MemfdBacking): number {
  return b.hugeKb ? availableHugepages(b.hugeKb) : Infinity;
}

/** Skips unless n pages of b can be allocated (always true for shmem), naming the pool it looked at. */
export function requireFreePages(ctx: CaseContext<unknown>, b: MemfdBacking, n: number): void {
  const free = freePages(b);
  if (free < n)
    ctx.skip(`needs ${n} free ${b.hugeKb} kB huge page(s), ${free} available (${hugepagePoolText(b.hugeKb)})`);
}

/**
 * Leaves exactly `keep` free huge pages of b's size by moving the others into a holder memfd that the case's
 * cleanup closes. Only in a suite guest, whose pool exists for the suite; on a host the case skips instead.
 */
export function leaveFreePages(ctx: CaseContext<unknown>, b: MemfdBacking, keep: number): void {
  requireFreePages(ctx, b, keep);
  const extra = freePages(b) - keep;
  if (extra === 0) return;
  if (!ctx.env.inSuiteGuest)
    ctx.skip(
      `needs exactly ${keep} free ${b.hugeKb} kB huge page(s), ${keep + extra} are free ` +
        `(${hugepagePoolText(b.hugeKb)}); only a suite guest takes pool pages`,
    );
  const holder = memfdOn(ctx, b, 0, 'holder');
  const taken = __fallocate(holder, 0, 0n, BigInt(extra) * b.page);
  expectOk(taken, `fallocate of ${extra} huge pages into a holder memfd`);
  const left = freePages(b);
  if (left !== keep)
    ctx.skip(`${left} huge pages are free after taking ${extra}, not ${keep} (another user of the pool?)`);
}

/** Writes len bytes of `byte` at offset of a memfd on b: pwrite on shmem, stores through a shared mapping on hugetlbfs. */
export function fillOn(b: MemfdBacking, fd: number, offset: bigint, len: bigint, byte: number): void {
  if (!b.hugeKb) {
    pwrite(fd, Buffer.alloc(Number(len), byte), offset);
    return;
  }
  // hugetlbfs has no write(2): map the huge pages the range touches and store through the mapping.
  const start = offset - (offset % b.page);
  const end = ((offset + len + b.page - 1n) / b.page) * b.page;
  const map = mmap(Number(end - start), PROT_READ | PROT_WRITE, MAP_SHARED, fd, start);
  try {
    map.bytes.fill(byte, Number(offset - start), Number(offset - start + len));
  } finally {
    map.close();
  }
}

/** Writes `data` at offset of a memfd on b: pwrite on shmem, stores through a shared mapping of the huge pages it touches on hugetlbfs. */
export function storeOn(b: MemfdBacking, fd: number, offset: bigint, data: Buffer): void {
  if (!b.hugeKb) {
    pwrite(fd, data, offset);
    return;
  }
  const start = offset - (offset % b.page);
  const end = ((offset + BigInt(data.length) + b.page - 1n) / b.page) * b.page;
  const map = mmap(Number(end - start), PROT_READ | PROT_WRITE, MAP_SHARED, fd, start);
  try {
    map.bytes.set(data, Number(offset - start));
  } finally {
    map.close();
  }
}

/** st_blocks (512-byte units) of n allocated pages of b. */
export function blocksOf(b: MemfdBacking, n: bigint): bigint {
  return (n * b.page) / 512n;
}
