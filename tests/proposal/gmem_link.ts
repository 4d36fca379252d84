/** proposal.gmem_link: KVM_LINK_GUEST_MEMFD (RFC v1 nr 0xd5, RFC v2 nr 0xd6, seed 004) and the link + move migration flow — run only where the probes find them. */
import { defineCase, type Variant } from '../../lib/harness/case.js';
import { PAGE_SIZE } from '../../lib/arch.js';
import type { CaseContext } from '../../lib/harness/context.js';
import { expectEq, expectErrno, expectOk, expectTrue } from '../../lib/harness/expect.js';
import * as libc from '../../lib/ffi/libc.js';
import {
  F_GETFL,
  F_SETFL,
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  KVM_CAP_GUEST_MEMFD_FLAGS,
  KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM,
  KVM_X86_SW_PROTECTED_VM,
  MAP_SHARED,
  MFD_CLOEXEC,
  O_NONBLOCK,
  PROT_READ,
  PROT_WRITE,
} from '../../lib/uapi/index.js';
import { fcntl } from '../../lib/sys/fcntl.js';
import { fstat } from '../../lib/sys/fd.js';
import { memfdCreate } from '../../lib/sys/memfd.js';
import { recvFds, sendFds, socketpair } from '../../lib/sys/socket.js';
import type { Vm } from '../../lib/kvm/vm.js';
import type { Vcpu } from '../../lib/kvm/vcpu.js';
import { requireProposal } from '../../lib/features/proposals/case-support.js';
import { __linkGuestMemfd, type PresentProof } from '../../lib/features/proposals/calls.js';
import {
  SHARED_FILL,
  bindDataSlot,
  readerProgram,
  runForByte,
  writerProgram,
} from '../../lib/features/proposals/guest-flow.js';
import { loadGuest } from '../../lib/kvm/guest.js';

type LinkFeature = 'gmem_link_v1' | 'gmem_link_v2';
/** Which RFC numbering a variant uses. */
interface LinkParams {
  /** The proposal feature (v1: nr 0xd5, v2: nr 0xd6). */ feature: LinkFeature;
}

const PAGE = BigInt(PAGE_SIZE);
const VERSIONS: Variant<LinkParams>[] = [
  { name: 'v1', params: { feature: 'gmem_link_v1' } },
  { name: 'v2', params: { feature: 'gmem_link_v2' } },
];
const SELFTEST = 'guest_memfd_test.c:test_link (link RFC 03/11)';
const KVM = { kvm: true } as const;

/** Tags of a link case (variants v1/v2 cover both RFCs; the seed carries v1). */
function tags(selftest?: string) {
  return { proposal: 'gmem-link-rfc-v1', seed: '004', ...(selftest ? { rfcSelftest: selftest } : {}) };
}

/** Probes the variant's link ABI (skips unless present) and returns its proof. */
function linkProof(ctx: CaseContext<LinkParams>): PresentProof<LinkFeature> {
  return requireProposal(ctx, ctx.params.feature);
}

/** Links fd into vm, expecting success; the new fd (no O_CLOEXEC) is closed after the case. */
function link(ctx: CaseContext<LinkParams>, proof: PresentProof<LinkFeature>, vm: Vm, fd: number): number {
  return ctx.trackFd(Number(expectOk(__linkGuestMemfd(proof, vm, fd), `${ctx.params.feature} of fd ${fd}`)));
}

/** Expects a link request to fail with EINVAL (closing an fd it returned by mistake). */
function expectLinkRefused(
  ctx: CaseContext<LinkParams>,
  proof: PresentProof<LinkFeature>,
  vm: Vm,
  fd: number | bigint,
  flags: bigint,
  what: string,
): void {
  const r = __linkGuestMemfd(proof, vm, fd, flags);
  if (r.ret >= 0) ctx.trackFd(r.ret);
  expectErrno(r, 'EINVAL', what);
}

/** How a case sees guest_memfd contents: host mappings (MMAP|INIT_SHARED) or guests of SW_PROTECTED VMs. */
interface DataPath {
  /** 'mmap' or 'guest'. */ kind: 'mmap' | 'guest';
  /** VM type to create. */ vmType: number;
  /** guest_memfd flags to create with. */ flags: bigint;
}

/** Picks the data path this kernel allows, or skips the case with the unmet requirement. */
function dataPath(ctx: CaseContext<unknown>): DataPath {
  const shared = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
  if ((ctx.env.vmCap(KVM_CAP_GUEST_MEMFD_FLAGS, 0) & shared) === shared)
    return { kind: 'mmap', vmType: 0, flags: BigInt(shared) };
  if (ctx.env.vmTypes.includes(KVM_X86_SW_PROTECTED_VM))
    return { kind: 'guest', vmType: KVM_X86_SW_PROTECTED_VM, flags: 0n };
  return ctx.skip(
    'needs GUEST_MEMFD_FLAG_MMAP|INIT_SHARED on a type-0 VM or VM type KVM_X86_SW_PROTECTED_VM to see guest_memfd contents',
  );
}

/** Stores value at offset 0 of the file behind fd, as seen from vm (host mapping, or vm's guest writing private memory); returns the guest's vCPU if one ran. */
function store(ctx: CaseContext<unknown>, path: DataPath, vm: Vm, fd: number, value: number): Vcpu | undefined {
  if (path.kind === 'mmap') {
    const m = ctx.map(Number(PAGE), PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    m.bytes[0] = value;
    m.close();
    return undefined;
  }
  bindDataSlot(ctx, vm, fd, true);
  const vcpu = loadGuest(ctx, vm, writerProgram(value));
  expectEq(runForByte(vcpu, 'writer guest'), value, 'the writer guest reads back its private byte');
  return vcpu;
}

/** Reads offset 0 of the file behind fd as seen from vm. */
function load(ctx: CaseContext<unknown>, path: DataPath, vm: Vm, fd: number): number {
  if (path.kind === 'mmap') {
    const m = ctx.map(Number(PAGE), PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    const v = m.bytes[0] ?? -1;
    m.close();
    return v;
  }
  bindDataSlot(ctx, vm, fd, true);
  return runForByte(loadGuest(ctx, vm, readerProgram()), 'reader guest');
}

const nonzeroFlags = defineCase<LinkParams>({
  id: 'proposal.gmem_link.nonzero_flags',
  doc: 'KVM_LINK_GUEST_MEMFD with any flag set fails with EINVAL (no flags are defined)',
  requires: KVM,
  variants: VERSIONS,
  tags: tags(SELFTEST),
  run(ctx) {
    const proof = linkProof(ctx);
    const g = ctx.gmem(ctx.vm(), PAGE);
    const dst = ctx.vm();
    for (const flags of [1n, 1n << 63n])
      expectLinkRefused(ctx, proof, dst, g.fd, flags, `flags 0x${flags.toString(16)}`);
  },
});

const badFd = defineCase<LinkParams>({
  id: 'proposal.gmem_link.bad_fd',
  doc: 'KVM_LINK_GUEST_MEMFD with an fd that is not open fails with EINVAL (not EBADF)',
  requires: KVM,
  variants: VERSIONS,
  tags: tags(SELFTEST),
  run(ctx) {
    const proof = linkProof(ctx);
    const dst = ctx.vm();
    const closed = memfdCreate('closed', MFD_CLOEXEC);
    libc.close(closed);
    expectLinkRefused(ctx, proof, dst, closed, 0n, `closed fd ${closed}`);
    expectLinkRefused(ctx, proof, dst, 0x7fffffff, 0n, 'fd 0x7fffffff');
    expectLinkRefused(ctx, proof, dst, (1n << 64n) - 1n, 0n, 'fd -1 (u64 all ones)');
  },
});

const nonGmemFd = defineCase<LinkParams>({
  id: 'proposal.gmem_link.non_gmem_fd',
  doc: 'KVM_LINK_GUEST_MEMFD of an open fd that is not a guest_memfd (memfd, VM fd, /dev/kvm) fails with EINVAL',
  requires: KVM,
  variants: VERSIONS,
  tags: tags(SELFTEST),
  run(ctx) {
    const proof = linkProof(ctx);
    const src = ctx.vm();
    const dst = ctx.vm();
    expectLinkRefused(ctx, proof, dst, ctx.memfd('not_gmem', MFD_CLOEXEC), 0n, 'a memfd');
    expectLinkRefused(ctx, proof, dst, src.fd, 0n, "another VM's fd");
    expectLinkRefused(ctx, proof, dst, ctx.kvm.fd, 0n, 'the /dev/kvm fd');
  },
});

const ownGmem = defineCase<LinkParams>({
  id: 'proposal.gmem_link.own_gmem',
  doc: 'linking a guest_memfd into the VM that already owns it fails with EINVAL',
  requires: KVM,
  variants: VERSIONS,
  tags: tags(SELFTEST),
  run(ctx) {
    const proof = linkProof(ctx);
    const vm = ctx.vm();
    const g = ctx.gmem(vm, PAGE);
    expectLinkRefused(ctx, proof, vm, g.fd, 0n, "the VM's own guest_memfd");
  },
});

const newFileSameInode = defineCase<LinkParams>({
  id: 'proposal.gmem_link.new_file_same_inode',
  doc: 'a successful link returns a new fd for a new file (its own file status flags) on the same inode (equal st_ino and st_size)',
  requires: KVM,
  variants: VERSIONS,
  tags: tags(SELFTEST),
  run(ctx) {
    const proof = linkProof(ctx);
    const g = ctx.gmem(ctx.vm(), 4n * PAGE);
    const fd = link(ctx, proof, ctx.vm(), g.fd);
    expectTrue(fd !== g.fd, 'the link returned the source fd itself');
    const a = fstat(g.fd);
    const b = fstat(fd);
    ctx.observe('st_ino', [a.ino.toString(), b.ino.toString()]);
    expectEq(b.ino, a.ino, 'st_ino of the linked fd');
    expectEq(b.size, a.size, 'st_size of the linked fd');
    const before = fcntl(g.fd, F_GETFL);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK, 'fcntl(F_SETFL, O_NONBLOCK)');
    expectEq(
      fcntl(g.fd, F_GETFL) & O_NONBLOCK,
      before & O_NONBLOCK,
      "the source's O_NONBLOCK after setting it on the linked fd (a new file keeps its own flags; a dup would share them)",
    );
  },
});

const sharedPages = defineCase<LinkParams>({
  id: 'proposal.gmem_link.shared_pages',
  doc: 'data written through one file is visible through the other, in both directions (the pages belong to the inode)',
  requires: KVM,
  variants: VERSIONS,
  tags: tags('private_mem_migrate_tests.c:test_transfer_private_mem (link RFC 04/11)'),
  run(ctx) {
    const proof = linkProof(ctx);
    const path = dataPath(ctx);
    const src = ctx.vm(path.vmType);
    const dst = ctx.vm(path.vmType);
    const g = ctx.gmem(src, PAGE, path.flags);
    const fd = link(ctx, proof, dst, g.fd);
    ctx.observe('data_path', path.kind);
    store(ctx, path, src, g.fd, 0x5a);
    expectEq(load(ctx, path, dst, fd), 0x5a, 'byte written through the source, read through the link');
    if (path.kind === 'mmap') {
      store(ctx, path, dst, fd, 0xa5);
      expectEq(load(ctx, path, src, g.fd), 0xa5, 'byte written through the link, read through the source');
    }
  },
});

const sourceClosed = defineCase<LinkParams>({
  id: 'proposal.gmem_link.source_closed',
  doc: 'after the source fd and the source VM are closed, the linked file keeps the pages and their contents',
  requires: KVM,
  variants: VERSIONS,
  tags: tags(),
  run(ctx) {
    const proof = linkProof(ctx);
    const path = dataPath(ctx);
    const src = ctx.vm(path.vmType);
    const dst = ctx.vm(path.vmType);
    const g = ctx.gmem(src, PAGE, path.flags);
    const fd = link(ctx, proof, dst, g.fd);
    const writer = store(ctx, path, src, g.fd, 0x3c);
    // The source VM's memslot and vCPU hold references too: drop all of them, leaving only the linked file.
    writer?.close();
    g.close();
    src.close();
    const got = load(ctx, path, dst, fd);
    ctx.observe('after_close', got);
    expectTrue(
      got !== SHARED_FILL,
      `the destination guest read the shared side (0x${SHARED_FILL.toString(16)}): the linked page is not private`,
    );
    expectEq(got, 0x3c, 'byte written before the source was closed, read through the link');
  },
});

const migrateFlow = defineCase<LinkParams>({
  id: 'proposal.gmem_link.migrate_flow',
  doc: "the RFC flow: the source guest_memfd travels over a unix socket, the destination links it and binds the slot, KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM moves the private attribute, the destination guest reads the source guest's private data and the source VM is dead",
  requires: KVM,
  variants: VERSIONS,
  tags: tags('private_mem_migrate_tests.c:test_migrate_private_mem_data (link RFC 11/11)'),
  run(ctx) {
    const proof = linkProof(ctx);
    requireProposal(ctx, 'gmem_link_move_memory_context');
    if (!ctx.env.vmTypes.includes(KVM_X86_SW_PROTECTED_VM))
      ctx.skip(
        `needs VM type KVM_X86_SW_PROTECTED_VM (${KVM_X86_SW_PROTECTED_VM}) for private memory: KVM_CAP_VM_TYPES lists only [${ctx.env.vmTypes.join(', ')}]`,
      );
    const src = ctx.vm(KVM_X86_SW_PROTECTED_VM);
    const g = ctx.gmem(src, PAGE);
    bindDataSlot(ctx, src, g.fd, true);
    expectEq(
      runForByte(loadGuest(ctx, src, writerProgram(0x77)), 'source guest'),
      0x77,
      'the source guest reads back its private byte',
    );

    const [a, b] = socketpair();
    ctx.trackFd(a);
    ctx.trackFd(b);
    sendFds(a, [g.fd]);
    const received = recvFds(b).map((fd) => ctx.trackFd(fd));
    expectEq(received.length, 1, 'fds received over the unix socket');
    const dst = ctx.vm(KVM_X86_SW_PROTECTED_VM);
    const linked = link(ctx, proof, dst, received[0] as number);
    bindDataSlot(ctx, dst, linked, false);
    const vcpu = loadGuest(ctx, dst, readerProgram());

    expectOk(
      dst.__enableCap(KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM, [BigInt(src.fd)]),
      'KVM_ENABLE_CAP(KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM, source VM)',
    );
    expectErrno(
      src.__checkExtension(KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM),
      'EIO',
      'an ioctl on the source VM after the move (it must be dead)',
    );
    const got = runForByte(vcpu, 'destination guest');
    ctx.observe('destination_read', got);
    expectTrue(
      got !== SHARED_FILL,
      `the destination guest read the shared side (0x${SHARED_FILL.toString(16)}): the private attribute did not move`,
    );
    expectEq(got, 0x77, 'byte the source guest wrote, read by the destination guest');
  },
});

export default [nonzeroFlags, badFd, nonGmemFd, ownGmem, newFileSameInode, sharedPages, sourceClosed, migrateFlow];
