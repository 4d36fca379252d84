/** gmem.lifetime: what keeps a guest_memfd, its VM and its memslot bindings alive — close orders, dup, SCM_RIGHTS, other processes, vCPUs. */
import { defineCase } from '../../lib/harness/case.js';
import { CaseFailure, expectEq, expectErrno, expectOk, expectTrue, outcome } from '../../lib/harness/expect.js';
import type { CaseContext } from '../../lib/harness/context.js';
import { expectFinished, ProbeProgram, resultOf, runProgram, type StepValue } from '../../lib/harness/probe-program.js';
import type { RawResult } from '../../lib/sys/errors.js';
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  KVM_CAP_GUEST_MEMFD_FLAGS,
  KVM_EXIT_MEMORY_FAULT,
  KVM_MEM_GUEST_MEMFD,
  KVM_MEMORY_EXIT_FLAG_PRIVATE,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  O_ACCMODE,
  O_RDWR,
  F_GETFD,
  SCM_RIGHTS,
  SOL_SOCKET,
} from '../../lib/uapi/index.js';
import { decodeStat, dup, fstat, STAT_SIZE } from '../../lib/sys/fd.js';
import { __fallocate } from '../../lib/sys/io.js';
import { getFl } from '../../lib/sys/fcntl.js';
import { mmap } from '../../lib/sys/mman.js';
import { recvFds, SCM_LAYOUT, sendFds, socketpair } from '../../lib/sys/socket.js';
import { NEEDS_GMEM, PAGE, gmemFlagVariants, hex, type GmemFlagParams } from '../../lib/cases/gmem.js';
import { CODE_GPA, DATA_GPA, STACK_GPA } from '../../lib/kvm/guest.js';
import { __runToHlt, describeStep, describeTrace, step } from '../../lib/kvm/vcpu-run.js';
import {
  NEEDS_GMEM_SHARED,
  NEEDS_GMEM_SLOT,
  RW,
  STORED_VALUE,
  expectFilled,
  expectProgramRan,
  guestReadingGmem,
  mapGmem,
  programRan,
} from '../../lib/cases/mmap.js';

const SHARED = BigInt(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
const P = Number(PAGE);
const SIZE = 4 * P;
const KEEP = FALLOC_FL_KEEP_SIZE;
const PUNCH = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE;

/** What the child reports after using a guest_memfd it inherited or received. */
interface ChildReport {
  /** fd number the child used. */ fd: number;
  /** st_ino it saw (decimal string). */ ino: string;
  /** st_size it saw (decimal string). */ size: string;
  /** First offset of page 0 that was not 0x3c, or -1. */ firstBad: number;
  /** fds that arrived over SCM_RIGHTS (1 expected; null when inherited). */ received: number | null;
  /** F_GETFD on the received fd after the child closed it ('EBADF' expected; null when inherited). */ afterClose:
    | string
    | null;
}

/**
 * In a probe child: gets the guest_memfd (its fd 3, or received over the socket that is its fd 3), then fstat,
 * fallocate the whole file, punch page 3, map it, scan page 0 for the parent's 0x3c and write 0xc3 over page 1.
 */
function useGmemInChild(socketOrFd: number, receive: boolean, size: number): ChildReport {
  const p = new ProbeProgram();
  const L = SCM_LAYOUT;
  let fd: StepValue | number = 3;
  let cmsgLen: StepValue | undefined;
  if (receive) {
    const payload = p.buf(1);
    const iov = p.buf(L.iovec.size);
    p.put64(iov, L.iovec.base, payload);
    p.put64(iov, L.iovec.len, 1);
    const controlLen = L.cmsgData + 16;
    const control = p.buf(controlLen);
    const msg = p.buf(L.msghdr.size);
    p.put64(msg, L.msghdr.iov, iov);
    p.put64(msg, L.msghdr.iovlen, 1);
    p.put64(msg, L.msghdr.control, control);
    p.put64(msg, L.msghdr.controllen, controlLen);
    p.sysOk('recvmsg', 3, msg, 0);
    cmsgLen = p.load32(control, L.cmsghdr.len);
    p.checkEq(p.load32(control, L.cmsghdr.level), SOL_SOCKET);
    p.checkEq(p.load32(control, L.cmsghdr.type), SCM_RIGHTS);
    fd = p.load32(control, L.cmsgData);
  }
  const st = p.buf(STAT_SIZE);
  p.sysOk('fstat', fd, st);
  const stat = p.out(st, STAT_SIZE);
  p.sysOk('fallocate', fd, KEEP, 0, size);
  p.sysOk('fallocate', fd, PUNCH, 3n * PAGE, PAGE);
  const m = p.sysOk('mmap', 0, size, RW, MAP_SHARED, fd, 0);
  const bad = p.scan(m, 0, P, 0x3c);
  p.fill(m, P, 2 * P, 0xc3);
  p.sysOk('munmap', m, size);
  let closed: StepValue | undefined;
  if (receive) {
    p.sysOk('close', fd);
    closed = p.sys('fcntl', fd, F_GETFD);
  }
  const o = runProgram(p, { fds: [socketOrFd], timeoutMs: 20000 });
  expectFinished(o, `the child ${receive ? 'receiving' : 'inheriting'} the guest_memfd`);
  const stv = decodeStat(o.output.get(stat.index) as Buffer);
  const value = (v: StepValue) => Number((resultOf(o, v) as RawResult).ret);
  return {
    fd: typeof fd === 'number' ? fd : value(fd),
    ino: stv.ino.toString(),
    size: stv.size.toString(),
    firstBad: value(bad),
    received: cmsgLen ? (value(cmsgLen) - L.cmsgData) / 4 : null,
    afterClose: closed ? outcome(resultOf(o, closed) as RawResult) : null,
  };
}

const vmClosedFirst = defineCase<GmemFlagParams>({
  id: 'gmem.lifetime.vm_closed_first',
  doc: 'after the VM fd is closed the guest_memfd still works (it holds a VM reference): fallocate, punch, fstat, F_GETFL and, with MMAP, mapping',
  requires: NEEDS_GMEM,
  variants: gmemFlagVariants(),
  run(ctx) {
    const vm = ctx.vm();
    const g = ctx.gmem(vm, BigInt(SIZE), ctx.params.flags);
    vm.close();
    expectOk(
      __fallocate(g.fd, KEEP, 0n, BigInt(SIZE)),
      'fallocate(KEEP_SIZE) of the whole file after the VM fd was closed',
    );
    expectOk(__fallocate(g.fd, PUNCH, PAGE, PAGE), 'fallocate(PUNCH_HOLE) of page 1 after the VM fd was closed');
    expectErrno(__fallocate(g.fd, KEEP, BigInt(SIZE), PAGE), 'EINVAL', 'fallocate past EOF after the VM fd was closed');
    expectEq(fstat(g.fd).size, BigInt(SIZE), 'st_size after the VM fd was closed');
    expectEq(getFl(g.fd) & O_ACCMODE, O_RDWR, 'access mode in F_GETFL after the VM fd was closed');
    if (ctx.params.flags & BigInt(GUEST_MEMFD_FLAG_INIT_SHARED)) {
      const m = mapGmem(ctx, g);
      m.bytes.fill(0x4d);
      expectFilled(m.bytes, 0, SIZE, 0x4d, 'mapping made after the VM fd was closed');
    } else if (ctx.params.flags & BigInt(GUEST_MEMFD_FLAG_MMAP)) {
      mapGmem(ctx, g);
    }
  },
});

const gmemClosedFirst = defineCase({
  id: 'gmem.lifetime.gmem_closed_first',
  doc: 'closing a guest_memfd leaves its VM usable: the VM still reports its flags and creates a new, working guest_memfd',
  requires: NEEDS_GMEM,
  run(ctx) {
    const vm = ctx.vm();
    const flagsBefore = vm.checkExtension(KVM_CAP_GUEST_MEMFD_FLAGS);
    const first = vm.createGuestMemfd(BigInt(SIZE));
    const firstIno = fstat(first.fd).ino;
    first.close();
    expectEq(
      vm.checkExtension(KVM_CAP_GUEST_MEMFD_FLAGS),
      flagsBefore,
      'KVM_CAP_GUEST_MEMFD_FLAGS on the VM after its guest_memfd was closed',
    );
    const second = ctx.gmem(vm, BigInt(SIZE));
    expectOk(__fallocate(second.fd, KEEP, 0n, BigInt(SIZE)), 'fallocate on the new guest_memfd');
    const st = fstat(second.fd);
    expectEq(st.size, BigInt(SIZE), 'st_size of the new guest_memfd');
    ctx.observe('inode_reused', st.ino === firstIno);
  },
});

const manyOutliveVm = defineCase({
  id: 'gmem.lifetime.many_gmem_outlive_vm',
  doc: 'eight guest_memfds of one VM all keep working, with distinct inodes, after the VM fd is closed',
  requires: NEEDS_GMEM,
  run(ctx) {
    const vm = ctx.vm();
    const all = Array.from({ length: 8 }, (_x, i) => ctx.gmem(vm, BigInt((i + 1) * P)));
    vm.close();
    const inos = new Set<bigint>();
    all.forEach((g, i) => {
      expectOk(__fallocate(g.fd, KEEP, 0n, g.size), `fallocate on guest_memfd #${i}`);
      const st = fstat(g.fd);
      expectEq(st.size, BigInt((i + 1) * P), `st_size of guest_memfd #${i}`);
      inos.add(st.ino);
    });
    expectEq(inos.size, all.length, 'distinct inodes among the guest_memfds');
  },
});

const dupOutlivesOriginal = defineCase({
  id: 'gmem.lifetime.dup_outlives_original',
  doc: 'a dup of the guest_memfd fd keeps the file after the original fd and the VM fd are closed',
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const vm = ctx.vm();
    const g = ctx.gmem(vm, BigInt(SIZE), SHARED);
    const ino = fstat(g.fd).ino;
    mapGmem(ctx, g).bytes.fill(0x2e);
    const d = ctx.trackFd(dup(g.fd));
    g.close();
    vm.close();
    expectEq(fstat(d).ino, ino, 'inode of the dup');
    expectOk(__fallocate(d, PUNCH, 0n, PAGE), 'punch page 0 through the dup');
    const m = ctx.map(SIZE, RW, MAP_SHARED, d);
    expectFilled(m.bytes, 0, P, 0, 'punched page 0');
    expectFilled(m.bytes, P, SIZE, 0x2e, 'pages 1-3 written before the original fd was closed');
  },
});

const mappingOutlivesFd = defineCase({
  id: 'gmem.lifetime.mapping_outlives_fds',
  doc: 'a mapping keeps the guest_memfd file alive after its fd and the VM fd are closed: data written before and after stays readable',
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const vm = ctx.vm();
    const g = ctx.gmem(vm, BigInt(SIZE), SHARED);
    const a = mapGmem(ctx, g);
    const b = mapGmem(ctx, g);
    a.bytes.fill(0x19);
    g.close();
    vm.close();
    expectFilled(b.bytes, 0, SIZE, 0x19, 'second mapping after both fds were closed');
    a.bytes.fill(0x91, 2 * P, SIZE);
    expectFilled(b.bytes, 2 * P, SIZE, 0x91, 'second mapping after writes through the first with no fd open');
  },
});

/** A connected AF_UNIX stream pair, both ends closed after the case. */
function pair(ctx: CaseContext<unknown>): [number, number] {
  const [a, b] = socketpair();
  ctx.trackFd(a);
  ctx.trackFd(b);
  return [a, b];
}

const scmSameProcess = defineCase({
  id: 'gmem.lifetime.scm_rights_same_process',
  doc: 'a guest_memfd sent and received over SCM_RIGHTS in one process is a new fd on the same file: same inode, O_RDWR, fallocate and mappings share data',
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const g = ctx.gmem(ctx.vm(), BigInt(SIZE), SHARED);
    const [a, b] = pair(ctx);
    sendFds(a, [g.fd]);
    const got = recvFds(b, 4);
    got.forEach((fd) => ctx.trackFd(fd));
    expectEq(got.length, 1, 'fds received');
    const fd = got[0] as number;
    expectTrue(fd !== g.fd, `the received fd has the sender's number ${fd}`);
    const [orig, recv] = [fstat(g.fd), fstat(fd)];
    expectEq(recv.ino, orig.ino, 'st_ino of the received fd');
    expectEq(recv.dev, orig.dev, 'st_dev of the received fd');
    expectEq(getFl(fd) & O_ACCMODE, O_RDWR, 'access mode of the received fd');
    mapGmem(ctx, g).bytes.fill(0x7e);
    expectOk(__fallocate(fd, PUNCH, PAGE, PAGE), 'punch page 1 through the received fd');
    const m = ctx.map(SIZE, RW, MAP_SHARED, fd);
    expectFilled(m.bytes, 0, P, 0x7e, "page 0 through the received fd's mapping");
    expectFilled(m.bytes, P, 2 * P, 0, 'page 1, punched through the received fd');
  },
});

const scmInFlight = defineCase({
  id: 'gmem.lifetime.scm_rights_in_flight_keeps_file',
  doc: 'a guest_memfd in flight in a unix socket survives the close of every fd of it and of the VM: once received it still holds its data',
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const vm = ctx.vm();
    const g = ctx.gmem(vm, BigInt(SIZE), SHARED);
    const ino = fstat(g.fd).ino;
    const m = mapGmem(ctx, g);
    m.bytes.fill(0x5c);
    m.close();
    const [a, b] = pair(ctx);
    sendFds(a, [g.fd]);
    g.close();
    vm.close();
    const got = recvFds(b, 4);
    got.forEach((fd) => ctx.trackFd(fd));
    expectEq(got.length, 1, 'fds received');
    const fd = got[0] as number;
    expectEq(fstat(fd).ino, ino, 'inode of the received guest_memfd');
    expectFilled(ctx.map(SIZE, RW, MAP_SHARED, fd).bytes, 0, SIZE, 0x5c, 'data written before the fd went in flight');
  },
});

/** Checks a child's report against the parent's file and mapping. */
function checkChild(ctx: CaseContext<unknown>, report: ChildReport, ino: bigint, parentView: Uint8Array): void {
  expectEq(report.ino, ino.toString(), 'st_ino the child saw');
  expectEq(report.size, SIZE.toString(), 'st_size the child saw');
  expectEq(report.firstBad, -1, "first offset of page 0 at which the child did not see the parent's 0x3c (-1 = none)");
  if (report.received !== null) {
    expectEq(report.received, 1, 'fds that arrived over SCM_RIGHTS (cmsg_len)');
    expectEq(report.afterClose, 'EBADF', 'F_GETFD on the received fd after the child closed it');
  }
  expectFilled(parentView, P, 2 * P, 0xc3, "page 1 in the parent's mapping, written by the child");
  expectFilled(parentView, 3 * P, SIZE, 0, "page 3 in the parent's mapping, punched by the child");
  ctx.observe('child_fd', report.fd);
}

const scmOtherProcess = defineCase({
  id: 'gmem.lifetime.scm_rights_other_process',
  doc: 'another process receives the guest_memfd over SCM_RIGHTS after the sender closed the VM fd, and can fstat, fallocate, punch and map it; the sender sees its writes',
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const vm = ctx.vm();
    const g = ctx.gmem(vm, BigInt(SIZE), SHARED);
    const m = mapGmem(ctx, g);
    m.bytes.fill(0x3c);
    const [a, b] = pair(ctx);
    sendFds(a, [g.fd]);
    vm.close();
    checkChild(ctx, useGmemInChild(b, true, SIZE), fstat(g.fd).ino, m.bytes);
  },
});

const inheritedAfterVmClosed = defineCase({
  id: 'gmem.lifetime.inherited_after_vm_closed',
  doc: 'a child process that inherits the guest_memfd after the parent closed the VM fd can fstat, fallocate, punch and map it; the parent sees its writes',
  requires: NEEDS_GMEM_SHARED,
  run(ctx) {
    const vm = ctx.vm();
    const g = ctx.gmem(vm, BigInt(SIZE), SHARED);
    const m = mapGmem(ctx, g);
    m.bytes.fill(0x3c);
    vm.close();
    checkChild(ctx, useGmemInChild(g.fd, false, SIZE), fstat(g.fd).ino, m.bytes);
  },
});

/** Size of the guest_memfd slot in the vCPU cases. */
const SLOT_SIZE = 16n * PAGE;

const vcpuOutlives = defineCase({
  id: 'gmem.lifetime.vcpu_outlives_vm_and_gmem',
  doc: 'with the VM fd and the guest_memfd fd closed, a held vCPU still reads and writes its guest_memfd slot (the host mapping keeps the file) and the host sees its write',
  requires: NEEDS_GMEM_SLOT,
  run(ctx) {
    const vm = ctx.vm();
    const g = ctx.gmem(vm, SLOT_SIZE, SHARED);
    const m = mapGmem(ctx, g);
    m.bytes[0] = 0x42;
    const vcpu = guestReadingGmem(ctx, vm, g.fd, m.addr, SLOT_SIZE);
    g.close();
    vm.close();
    expectProgramRan(__runToHlt(vcpu), 0x42, 'vCPU run after the VM fd and the guest_memfd fd were closed');
    expectEq(m.bytes[1], STORED_VALUE, 'byte the guest stored, seen through the host mapping');
  },
});

const slotAfterGmemClose = defineCase({
  id: 'gmem.lifetime.slot_delete_and_rebind_after_gmem_close',
  doc: 'after the bound guest_memfd is closed (binding invalidated), its memslot can be deleted and the same slot and GPA bound to a new guest_memfd',
  requires: NEEDS_GMEM_SLOT,
  run(ctx) {
    const vm = ctx.vm();
    const anon = ctx.map(Number(SLOT_SIZE), RW, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    const first = ctx.track(vm.createGuestMemfd(SLOT_SIZE, SHARED));
    vm.setUserMemoryRegion2({
      slot: 0,
      flags: KVM_MEM_GUEST_MEMFD,
      gpa: 0n,
      size: SLOT_SIZE,
      hva: anon.addr,
      gmemFd: first.fd,
    });
    const firstFd = first.fd;
    first.close();
    expectOk(
      vm.__setUserMemoryRegion2({
        slot: 0,
        flags: KVM_MEM_GUEST_MEMFD,
        gpa: 0n,
        size: 0n,
        hva: anon.addr,
        gmemFd: firstFd,
      }),
      'delete the slot whose guest_memfd was closed',
    );
    const second = ctx.gmem(vm, SLOT_SIZE, SHARED);
    expectOk(
      vm.__setUserMemoryRegion2({
        slot: 0,
        flags: KVM_MEM_GUEST_MEMFD,
        gpa: 0n,
        size: SLOT_SIZE,
        hva: anon.addr,
        gmemFd: second.fd,
      }),
      'bind the same slot and GPA to a new guest_memfd',
    );
  },
});

const bindingDoesNotPin = defineCase({
  id: 'gmem.lifetime.binding_does_not_pin_file',
  doc: 'a memslot binding holds no reference on the guest_memfd: once its last fd is closed (no mapping), a guest access to the slot fails with EFAULT and KVM_EXIT_MEMORY_FAULT',
  requires: NEEDS_GMEM_SLOT,
  run(ctx) {
    const vm = ctx.vm();
    const g = ctx.track(vm.createGuestMemfd(SLOT_SIZE, SHARED));
    const m = mmap(Number(SLOT_SIZE), RW, MAP_SHARED, g.fd);
    m.bytes[0] = 0x42;
    m.close();
    const vcpu = guestReadingGmem(ctx, vm, g.fd, 0n, SLOT_SIZE); // userspace_addr 0, as upstream: the slot is guest_memfd-only
    const control = __runToHlt(vcpu);
    ctx.observe('control_run', describeTrace(control));
    // a failed KVM_RUN in the control run is a failure of this case, an MMIO exit (emulated vCPU) a skip
    if (control.end.ret < 0)
      throw new CaseFailure(`control run with the guest_memfd fd open: ${describeTrace(control)}`);
    if (!programRan(control, 0x42))
      return ctx.skip(
        `this KVM does not serve a guest_memfd-only memslot (userspace_addr 0) from the guest_memfd: the control run with the fd open got ${describeTrace(control)}; gmem.mmap.guest_uses_gmem_slot covers that failure`,
      );
    g.close(); // the last reference: kvm_gmem_release() invalidates the binding and zaps the guest mappings
    vcpu.setupRealMode(CODE_GPA, STACK_GPA);
    const e = step(vcpu);
    ctx.observe('after_close', describeStep(e));
    expectErrno(e, 'EFAULT', "KVM_RUN after the guest_memfd's last reference was dropped");
    expectEq(e.reason, KVM_EXIT_MEMORY_FAULT, 'exit_reason');
    const f = e.memoryFault ?? { flags: 0n, gpa: 0n, size: 0n };
    expectEq(
      f.flags & BigInt(KVM_MEMORY_EXIT_FLAG_PRIVATE),
      0n,
      'KVM_MEMORY_EXIT_FLAG_PRIVATE in the fault flags (the slot is shared)',
    );
    expectTrue(
      f.gpa <= BigInt(DATA_GPA) && BigInt(DATA_GPA) < f.gpa + f.size,
      `memory fault range ${hex(f.gpa)}+${hex(f.size)} does not cover the guest_memfd slot's first page ${hex(DATA_GPA)}`,
    );
  },
});

export default [
  vmClosedFirst,
  gmemClosedFirst,
  manyOutliveVm,
  dupOutlivesOriginal,
  mappingOutlivesFd,
  scmSameProcess,
  scmInFlight,
  scmOtherProcess,
  inheritedAfterVmClosed,
  vcpuOutlives,
  slotAfterGmemClose,
  bindingDoesNotPin,
];
