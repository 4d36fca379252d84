/**
 * memfd.seals.grow_by_mmap: F_SEAL_GROW must hold against every way of growing the file, mmap included, on every backing.
 *
 * Kernel checks: growth by mmap (fs/hugetlbfs/inode.c hugetlbfs_file_mmap, mm/shmem.c shmem_mmap_prepare, mm/memfd.c
 * memfd_check_seals_mmap; read in 6.18 (live), 7.2.13 and 7.3-rc7)
 *   1. F_SEAL_GROW refuses any increase of i_size → the size stays | refused: memfd.seals.grow_by_mmap@hugetlb_2m_shared_rw | accepted: memfd.seals.grow_by_mmap@hugetlb_2m_shared_ro
 *   2. hugetlbfs_file_mmap sets i_size to the end of a VM_WRITE mapping without looking at the seals | refused: memfd.seals.grow_by_mmap@hugetlb_2m_private_rw_write_sealed | accepted: n/a (growth by mmap without seals is hugetlbfs's own rule)
 *   3. shmem never changes i_size in mmap | refused: memfd.seals.grow_by_mmap@shmem_shared_rw | accepted: n/a (shmem has no growth by mmap)
 */
import { defineCase } from '../../lib/harness/case.js';
import { expectEq, expectOk } from '../../lib/harness/expect.js';
import { addSeals, getSeals } from '../../lib/sys/fcntl.js';
import { fstat } from '../../lib/sys/fd.js';
import { ftruncate } from '../../lib/sys/io.js';
import { __mmap, Mapping } from '../../lib/sys/mman.js';
import {
  F_SEAL_GROW,
  F_SEAL_WRITE,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  PROT_READ,
  PROT_WRITE,
} from '../../lib/uapi/index.js';
import { BACKINGS, backingNamed, backingRequires, memfdOn } from '../../lib/cases/memfd-backing.js';
import { sealText } from '../../lib/cases/memfd.js';

/** One mapping kind tried on a GROW-sealed memfd. */
interface GrowParams {
  /** BACKINGS name. */ backing: string;
  /** PROT_* of the mapping. */ prot: number;
  /** MAP_SHARED or MAP_PRIVATE. */ flags: number;
  /** Seals added before mapping (F_SEAL_GROW, possibly with F_SEAL_WRITE). */ seals: number;
  /** Text of the mapping for messages. */ what: string;
}

const KINDS: [string, number, number, number, string][] = [
  ['shared_rw', PROT_READ | PROT_WRITE, MAP_SHARED, F_SEAL_GROW, 'PROT_READ|PROT_WRITE, MAP_SHARED'],
  ['shared_ro', PROT_READ, MAP_SHARED, F_SEAL_GROW, 'PROT_READ, MAP_SHARED'],
  ['private_rw', PROT_READ | PROT_WRITE, MAP_PRIVATE, F_SEAL_GROW, 'PROT_READ|PROT_WRITE, MAP_PRIVATE'],
  [
    'private_rw_write_sealed',
    PROT_READ | PROT_WRITE,
    MAP_PRIVATE,
    F_SEAL_GROW | F_SEAL_WRITE,
    'PROT_READ|PROT_WRITE, MAP_PRIVATE',
  ],
];

/** Pages the file has before the mapping, and pages the mapping covers. */
const FILE_PAGES = 1n;
const MAP_PAGES = 4n;

const growByMmap = defineCase<GrowParams>({
  id: 'memfd.seals.grow_by_mmap',
  doc: 'mapping four pages of a one-page memfd sealed with F_SEAL_GROW succeeds (MAP_NORESERVE, nothing faulted) and leaves st_size at one page, whatever the protection and sharing',
  tags: { kernelFn: ['inode.c:hugetlbfs_file_mmap', 'memfd.c:memfd_check_seals_mmap'] },
  variants: BACKINGS.flatMap((b) =>
    KINDS.map(([name, prot, flags, seals, what]) => ({
      name: `${b.name}_${name}`,
      params: { backing: b.name, prot, flags, seals, what },
      requires: backingRequires(b),
    })),
  ),
  run(ctx) {
    const p = ctx.params;
    const b = backingNamed(p.backing);
    const fd = memfdOn(ctx, b, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    ftruncate(fd, FILE_PAGES * b.page);
    addSeals(fd, p.seals);
    expectEq(getSeals(fd), p.seals, `F_GET_SEALS after F_ADD_SEALS(${sealText(p.seals)})`);
    const len = MAP_PAGES * b.page;
    const r = __mmap(len, p.prot, p.flags | MAP_NORESERVE, fd, 0n);
    if (r.ret !== -1n) ctx.track(new Mapping(r.ret, Number(len)));
    expectOk(r, `mmap(${len} bytes, ${p.what}|MAP_NORESERVE) of a ${FILE_PAGES}-page ${b.name} memfd`);
    const size = fstat(fd).size;
    ctx.observe('pages_after', Number(size / b.page));
    expectEq(
      size,
      FILE_PAGES * b.page,
      `st_size of a memfd sealed ${sealText(p.seals)} after mmap(${p.what}) of ${MAP_PAGES} pages`,
    );
  },
});

export default [growByMmap];
