/** gmem.numa: NUMA memory policy on guest_memfd mappings — mbind/get_mempolicy round trips, policy scope, page placement. */
import { readFileSync } from 'node:fs';
import { defineCase, type Requires } from '../../lib/harness/case.js';
import { expectEq, expectErrno, expectOk, expectTrue } from '../../lib/harness/expect.js';
import type { CaseContext } from '../../lib/harness/context.js';
import { fallocate } from '../../lib/sys/io.js';
import {
  ERRNO,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  MPOL_BIND,
  MPOL_DEFAULT,
  MPOL_INTERLEAVE,
  MPOL_MAX,
  MPOL_PREFERRED,
} from '../../lib/uapi/index.js';
import { PAGE } from '../../lib/cases/gmem.js';
import { mapGmem } from '../../lib/cases/mmap.js';
import { MASK_BITS, __getMempolicy, __mbind, __nodeOfPage, __queryPages } from '../../lib/sys/mempolicy.js';

const MMAP = BigInt(GUEST_MEMFD_FLAG_MMAP);
const SHARED = BigInt(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
const P = Number(PAGE);
const SIZE = 4 * P;
const SELFTEST = 'guest_memfd_test.c';
/** Commit that made guest_memfd keep its NUMA policy in the inode (shared policy) rather than per VMA. */
const SHARED_POLICY_COMMIT = 'ed1ffa810bd6';

const NUMA_MMAP: Requires = {
  kconfig: ['CONFIG_NUMA'],
  caps: ['KVM_CAP_GUEST_MEMFD'],
  gmemFlags: ['GUEST_MEMFD_FLAG_MMAP'],
};
const NUMA_SHARED: Requires = { ...NUMA_MMAP, gmemFlags: ['GUEST_MEMFD_FLAG_MMAP', 'GUEST_MEMFD_FLAG_INIT_SHARED'] };

/** The two memory kinds upstream runs mbind on: private (MMAP only) and shared (MMAP | INIT_SHARED). */
const memoryVariants = [
  { name: 'private', params: { flags: MMAP } },
  { name: 'shared', params: { flags: SHARED }, requires: { gmemFlags: ['GUEST_MEMFD_FLAG_INIT_SHARED'] } },
] as const;

/** Online NUMA nodes from sysfs ("0-1,3" → [0, 1, 3]). */
function onlineNodes(): number[] {
  const out: number[] = [];
  for (const part of readFileSync('/sys/devices/system/node/online', 'utf8').trim().split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let n = a ?? 0; n <= (b ?? a ?? 0); n++) out.push(n);
  }
  return out;
}

const MODE_NAMES: Record<number, string> = {
  [MPOL_DEFAULT]: 'MPOL_DEFAULT',
  [MPOL_PREFERRED]: 'MPOL_PREFERRED',
  [MPOL_BIND]: 'MPOL_BIND',
  [MPOL_INTERLEAVE]: 'MPOL_INTERLEAVE',
};
const modeName = (m: number) => MODE_NAMES[m] ?? `mode ${m}`;

/** Fails unless get_mempolicy at addr reports mode with exactly nodes. */
function expectPolicy(addr: bigint, mode: number, nodes: readonly number[], what: string): void {
  const got = __getMempolicy(addr);
  expectOk(got, `get_mempolicy(MPOL_F_ADDR) ${what}`);
  expectEq(
    `${modeName(got.mode)} on nodes [${got.nodes.join(',')}]`,
    `${modeName(mode)} on nodes [${nodes.join(',')}]`,
    what,
  );
}

/** The first online node (node 0 on almost every machine). */
function firstNode(): number {
  return onlineNodes()[0] ?? 0;
}

function mapped(ctx: CaseContext<unknown>, flags: bigint) {
  const g = ctx.gmem(ctx.vm(), BigInt(SIZE), flags);
  return { g, m: mapGmem(ctx, g) };
}

const roundTrip = defineCase<{ flags: bigint; mode: number }>({
  id: 'gmem.numa.mbind_roundtrip',
  doc: 'a policy set with mbind on two pages of a guest_memfd mapping is what get_mempolicy(MPOL_F_ADDR) reports for them, private memory included',
  requires: NUMA_MMAP,
  variants: [MPOL_INTERLEAVE, MPOL_BIND, MPOL_PREFERRED].flatMap((mode) =>
    memoryVariants.map((v) => ({
      ...v,
      name: `${modeName(mode).slice(5).toLowerCase()}_${v.name}`,
      params: { ...v.params, mode },
    })),
  ),
  tags: { selftest: `${SELFTEST}:test_mbind`, linuxGit: [SHARED_POLICY_COMMIT] },
  run(ctx) {
    const { m } = mapped(ctx, ctx.params.flags);
    const node = firstNode();
    const at = m.addr + 2n * PAGE;
    expectOk(
      __mbind(at, 2 * P, ctx.params.mode, [node]),
      `mbind(${modeName(ctx.params.mode)}, node ${node}) of pages 2-3`,
    );
    expectPolicy(at, ctx.params.mode, [node], 'page 2');
    expectPolicy(at + PAGE, ctx.params.mode, [node], 'page 3');
    expectPolicy(m.addr, MPOL_DEFAULT, [], 'page 0 (outside the mbind range)');
  },
});

const defaultResets = defineCase<{ flags: bigint }>({
  id: 'gmem.numa.mbind_default_resets',
  doc: 'INTERLEAVE on pages 0-1 and BIND on pages 2-3 are independent; MPOL_DEFAULT over the whole mapping resets both',
  requires: NUMA_MMAP,
  variants: memoryVariants,
  tags: { selftest: `${SELFTEST}:test_mbind` },
  run(ctx) {
    const { m } = mapped(ctx, ctx.params.flags);
    const node = firstNode();
    expectOk(__mbind(m.addr, 2 * P, MPOL_INTERLEAVE, [node]), 'mbind(MPOL_INTERLEAVE) of pages 0-1');
    expectOk(__mbind(m.addr + 2n * PAGE, 2 * P, MPOL_BIND, [node]), 'mbind(MPOL_BIND) of pages 2-3');
    expectPolicy(m.addr + PAGE, MPOL_INTERLEAVE, [node], 'page 1');
    expectPolicy(m.addr + 2n * PAGE, MPOL_BIND, [node], 'page 2');
    expectOk(__mbind(m.addr, SIZE, MPOL_DEFAULT, null), 'mbind(MPOL_DEFAULT) of the whole mapping');
    for (let p = 0; p < 4; p++)
      expectPolicy(m.addr + BigInt(p) * PAGE, MPOL_DEFAULT, [], `page ${p} after MPOL_DEFAULT`);
  },
});

const invalidPolicy = defineCase<{ mode: number }>({
  id: 'gmem.numa.mbind_invalid_mode',
  doc: 'mbind on a guest_memfd mapping with an unknown policy mode fails with EINVAL',
  requires: NUMA_SHARED,
  variants: [
    { name: 'mode999', params: { mode: 999 } },
    { name: 'mpol_max', params: { mode: MPOL_MAX } },
  ],
  tags: { selftest: `${SELFTEST}:test_mbind` },
  run(ctx) {
    const { m } = mapped(ctx, SHARED);
    expectErrno(__mbind(m.addr, P, ctx.params.mode, [firstNode()]), 'EINVAL', `mbind mode ${ctx.params.mode}`);
    expectPolicy(m.addr, MPOL_DEFAULT, [], 'page 0 after the refused mbind');
  },
});

const badNodes = defineCase<{ nodes: 'offline' | 'empty' }>({
  id: 'gmem.numa.mbind_bad_nodemask',
  doc: 'MPOL_BIND with an empty nodemask or only an offline node fails with EINVAL and leaves the default policy',
  requires: NUMA_SHARED,
  variants: [
    { name: 'offline_node', params: { nodes: 'offline' } },
    { name: 'empty_mask', params: { nodes: 'empty' } },
  ],
  run(ctx) {
    const { m } = mapped(ctx, SHARED);
    const online = onlineNodes();
    let nodes: number[] = [];
    if (ctx.params.nodes === 'offline') {
      const offline = [...Array(MASK_BITS - 1).keys()].reverse().find((n) => !online.includes(n));
      if (offline === undefined) return ctx.skip(`all ${MASK_BITS - 1} node ids are online`);
      nodes = [offline];
    }
    expectErrno(__mbind(m.addr, P, MPOL_BIND, nodes), 'EINVAL', `mbind(MPOL_BIND) on nodes [${nodes.join(',')}]`);
    expectPolicy(m.addr, MPOL_DEFAULT, [], 'page 0 after the refused mbind');
  },
});

const scopeAcrossMappings = defineCase({
  id: 'gmem.numa.policy_scope_across_mappings',
  doc: "a policy set through one mapping is the file's (shared policy in the inode): a second mapping of the same guest_memfd reports it too",
  requires: NUMA_SHARED,
  expect: { policyScope: 'inode' },
  tags: { linuxGit: [SHARED_POLICY_COMMIT] },
  run(ctx) {
    const { g, m } = mapped(ctx, SHARED);
    const node = firstNode();
    expectOk(__mbind(m.addr + PAGE, P, MPOL_BIND, [node]), 'mbind(MPOL_BIND) of page 1 through the first mapping');
    const other = mapGmem(ctx, g);
    const seen = __getMempolicy(other.addr + PAGE);
    expectOk(seen, 'get_mempolicy of page 1 through the second mapping');
    const scope =
      seen.mode === MPOL_BIND ? 'inode' : seen.mode === MPOL_DEFAULT ? 'vma' : `unexpected ${modeName(seen.mode)}`;
    ctx.observe('policy_scope', scope);
    expectEq(
      scope,
      ctx.expected<string>('policyScope'),
      'where the policy lives (inode: seen by every mapping; vma: only by the one mbind was called on)',
    );
    expectPolicy(m.addr + PAGE, MPOL_BIND, [node], 'page 1 through the first mapping');
  },
});

const survivesRemap = defineCase({
  id: 'gmem.numa.policy_survives_remap',
  doc: 'the policy belongs to the guest_memfd: after munmap of the mapping that set it, a new mapping still reports it',
  requires: NUMA_SHARED,
  expect: { policyScope: 'inode' },
  tags: { linuxGit: [SHARED_POLICY_COMMIT] },
  run(ctx) {
    const { g, m } = mapped(ctx, SHARED);
    expectOk(__mbind(m.addr, SIZE, MPOL_INTERLEAVE, [firstNode()]), 'mbind(MPOL_INTERLEAVE) of the whole mapping');
    m.close();
    const again = mapGmem(ctx, g);
    const seen = __getMempolicy(again.addr + 3n * PAGE);
    expectOk(seen, 'get_mempolicy of page 3 through the new mapping');
    const scope =
      seen.mode === MPOL_INTERLEAVE
        ? 'inode'
        : seen.mode === MPOL_DEFAULT
          ? 'vma'
          : `unexpected ${modeName(seen.mode)}`;
    ctx.observe('policy_scope', scope);
    expectEq(
      scope,
      ctx.expected<string>('policyScope'),
      'policy seen by a mapping made after the one that set it was unmapped',
    );
  },
});

const nodeOfPage = defineCase<{ flags: bigint }>({
  id: 'gmem.numa.get_mempolicy_node_of_page',
  doc: 'get_mempolicy(MPOL_F_NODE|MPOL_F_ADDR) faults a shared page in and names an online node; on private memory the fault is refused with EFAULT',
  requires: NUMA_MMAP,
  variants: memoryVariants,
  run(ctx) {
    const { m } = mapped(ctx, ctx.params.flags);
    const r = __nodeOfPage(m.addr);
    if (ctx.params.flags === MMAP) {
      expectErrno(r, 'EFAULT', 'get_mempolicy(MPOL_F_NODE|MPOL_F_ADDR) of a private page');
      return;
    }
    expectOk(r, 'get_mempolicy(MPOL_F_NODE|MPOL_F_ADDR) of a shared page');
    ctx.observe('node', r.node);
    expectTrue(
      onlineNodes().includes(r.node),
      `page reported on node ${r.node}, which is not online [${onlineNodes().join(',')}]`,
    );
    const q = __queryPages([m.addr]);
    expectOk(q, 'move_pages query');
    expectEq(q.status[0], r.node, 'node move_pages reports for the same page');
  },
});

const queryPages = defineCase<{ flags: bigint }>({
  id: 'gmem.numa.move_pages_query',
  doc: 'move_pages in query mode reports the node of a faulted-in shared page and -ENOENT for pages never faulted in (all private pages)',
  requires: NUMA_MMAP,
  variants: memoryVariants,
  tags: { selftest: `${SELFTEST}:test_numa_allocation` },
  run(ctx) {
    const { m } = mapped(ctx, ctx.params.flags);
    const shared = ctx.params.flags === SHARED;
    if (shared) m.bytes[0] = 0xaa;
    const q = __queryPages([m.addr, m.addr + PAGE]);
    expectOk(q, 'move_pages(status query) of pages 0 and 1');
    ctx.observe('status', q.status);
    if (shared)
      expectTrue(
        onlineNodes().includes(q.status[0] ?? -1),
        `written page 0 reported as ${q.status[0]}, not an online node`,
      );
    else expectEq(q.status[0], -ERRNO.ENOENT, 'status of private page 0 (cannot be faulted in by the host)');
    expectEq(q.status[1], -ERRNO.ENOENT, 'status of page 1 (never touched)');
  },
});

/** The two lowest online nodes; the case requires numaNodes: 2, so both exist. */
function twoNodes(ctx: CaseContext<unknown>): [number, number] {
  const [a, b] = onlineNodes();
  if (a === undefined || b === undefined) ctx.skip('fewer than two online NUMA nodes');
  return [a, b];
}

const placement = defineCase({
  id: 'gmem.numa.placement_follows_bind',
  doc: 'pages allocated after MPOL_BIND land on the bound node: pages 0-1 on the second node, pages 2-3 on the first',
  requires: { ...NUMA_SHARED, numaNodes: 2 },
  tags: { selftest: `${SELFTEST}:test_numa_allocation`, linuxGit: [SHARED_POLICY_COMMIT] },
  run(ctx) {
    const [n0, n1] = twoNodes(ctx);
    const { g, m } = mapped(ctx, SHARED);
    m.bytes.fill(0xaa, 0, P);
    expectOk(__mbind(m.addr, P, MPOL_BIND, [n0]), `mbind page 0 to node ${n0} after it was allocated`);
    fallocate(g.fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 0n, PAGE);
    expectOk(__mbind(m.addr, 2 * P, MPOL_BIND, [n1]), `mbind pages 0-1 to node ${n1}`);
    expectOk(__mbind(m.addr + 2n * PAGE, 2 * P, MPOL_BIND, [n0]), `mbind pages 2-3 to node ${n0}`);
    m.bytes.fill(0xaa);
    const q = __queryPages([0, 1, 2, 3].map((p) => m.addr + BigInt(p) * PAGE));
    expectOk(q, 'move_pages query');
    expectEq(q.status.join(','), [n1, n1, n0, n0].join(','), 'nodes of pages 0-3');
  },
});

const placementAfterPunch = defineCase({
  id: 'gmem.numa.placement_after_punch_rebind',
  doc: 'after punching every page and swapping the bindings, re-allocated pages land on the newly bound nodes',
  requires: { ...NUMA_SHARED, numaNodes: 2 },
  tags: { selftest: `${SELFTEST}:test_numa_allocation`, linuxGit: [SHARED_POLICY_COMMIT] },
  run(ctx) {
    const [n0, n1] = twoNodes(ctx);
    const { g, m } = mapped(ctx, SHARED);
    expectOk(__mbind(m.addr, 2 * P, MPOL_BIND, [n1]), `mbind pages 0-1 to node ${n1}`);
    expectOk(__mbind(m.addr + 2n * PAGE, 2 * P, MPOL_BIND, [n0]), `mbind pages 2-3 to node ${n0}`);
    m.bytes.fill(0xaa);
    fallocate(g.fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 0n, BigInt(SIZE));
    expectOk(__mbind(m.addr, 2 * P, MPOL_BIND, [n0]), `mbind pages 0-1 to node ${n0}`);
    expectOk(__mbind(m.addr + 2n * PAGE, 2 * P, MPOL_BIND, [n1]), `mbind pages 2-3 to node ${n1}`);
    m.bytes.fill(0xaa);
    const q = __queryPages([0, 1, 2, 3].map((p) => m.addr + BigInt(p) * PAGE));
    expectOk(q, 'move_pages query');
    expectEq(q.status.join(','), [n0, n0, n1, n1].join(','), 'nodes of pages 0-3 after punch and rebind');
  },
});

const placementInterleave = defineCase({
  id: 'gmem.numa.placement_interleave',
  doc: 'pages allocated under MPOL_INTERLEAVE over two nodes alternate between them page by page (the interleave index advances by one per page)',
  requires: { ...NUMA_SHARED, numaNodes: 2 },
  tags: { kernelFn: 'guest_memfd.c:kvm_gmem_get_policy', linuxGit: [SHARED_POLICY_COMMIT, '06ba195f136a'] },
  run(ctx) {
    const [n0, n1] = twoNodes(ctx);
    const { m } = mapped(ctx, SHARED);
    expectOk(
      __mbind(m.addr, SIZE, MPOL_INTERLEAVE, [n0, n1]),
      `mbind(MPOL_INTERLEAVE, nodes ${n0},${n1}) of pages 0-3`,
    );
    m.bytes.fill(0xaa);
    const q = __queryPages([0, 1, 2, 3].map((p) => m.addr + BigInt(p) * PAGE));
    expectOk(q, 'move_pages query');
    ctx.observe('nodes', q.status.join(','));
    for (const n of q.status)
      expectTrue(n === n0 || n === n1, `page placed on node ${n}, outside the interleave set ${n0},${n1}`);
    const same = q.status.slice(1).filter((n, i) => n === q.status[i]).length;
    expectEq(
      same,
      0,
      `times consecutive pages share a node (nodes of pages 0-3: ${q.status.join(',')}); under MPOL_INTERLEAVE over two nodes they alternate, an interleave index that advances by two per page puts every page on one node`,
    );
  },
});

export default [
  roundTrip,
  defaultResets,
  invalidPolicy,
  badNodes,
  scopeAcrossMappings,
  survivesRemap,
  nodeOfPage,
  queryPages,
  placement,
  placementAfterPunch,
  placementInterleave,
];
