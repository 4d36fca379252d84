/**
 * The TypeScript side of the hot-ioctl benchmark (bench/ioctl-loop.c is the C side): the same loops
 * through the suite's own layers, in `batches` rounds; each round times every path over
 * check-iters (gmem-iters) calls, paths alternating so noise hits them alike. A warm-up of a tenth
 * of a batch per path comes first (the JIT has compiled every path before timing starts).
 *
 *   node <build>/bench/ioctl.js <batches> <check-iters> <gmem-iters>
 *
 * Paths, slowest layer first:
 *   kvm.__checkExtension   Kvm.__checkExtension → __ioctlVal → libc.ioctlVal → koffi (what cases call)
 *   libc.ioctlVal          lib/ffi's fixed-prototype koffi ioctl(int, unsigned long, unsigned long) + errno read
 *   libc.syscall           the variadic syscall(SYS_ioctl, …) path cases use for calls lib/ffi has no prototype for
 *   koffi bare             the same koffi prototype called directly, no { ret, errno } object: the FFI floor
 *                          (koffi is imported here for that measurement only; the suite's code keeps it in lib/ffi)
 *   vm.__createGuestMemfd + libc.close    what cases call (packs the struct each time)
 *   libc.ioctlPtr + libc.close            fixed prototype with a struct packed once
 * Prints one JSON line: per path, ns per call in each batch.
 */
import koffi from 'koffi';
import * as libc from '../lib/ffi/libc.js';
import { Kvm } from '../lib/kvm/kvm.js';
import { pack } from '../lib/uapi/struct.js';
import { KVM_CAP_GUEST_MEMFD, KVM_CHECK_EXTENSION, KVM_CREATE_GUEST_MEMFD, SYSCALL } from '../lib/uapi/index.js';

/** ns per call of fn over iters calls. */
function time(iters: number, fn: () => void): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) fn();
  return Number(process.hrtime.bigint() - t0) / iters;
}

/** Fails loudly when a measured call did not do what the C side does. */
function must(ok: boolean, what: string): void {
  if (!ok) throw new Error(`ioctl bench: ${what}`);
}

const batches = Number(process.argv[2] ?? 5);
const checkIters = Number(process.argv[3] ?? 50_000);
const gmemIters = Number(process.argv[4] ?? 5_000);
const kvm = Kvm.open();
const vm = kvm.createVm(0);
const answer = kvm.checkExtension(KVM_CAP_GUEST_MEMFD);
const bare = koffi.load('libc.so.6').func('ioctl', 'int', ['int', 'unsigned long', 'unsigned long']);
const sizeArg = pack('kvm_create_guest_memfd', { size: 4096n, flags: 0n });

const checkPaths: Record<string, () => void> = {
  'kvm.__checkExtension': () => must(kvm.__checkExtension(KVM_CAP_GUEST_MEMFD).ret === answer, 'check'),
  'libc.ioctlVal': () => must(libc.ioctlVal(kvm.fd, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD).ret === answer, 'check'),
  'libc.syscall': () =>
    must(
      libc.syscall(SYSCALL.ioctl as number, kvm.fd, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD).ret === BigInt(answer),
      'check',
    ),
  'koffi bare': () => must(bare(kvm.fd, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD) === answer, 'check'),
};
const gmemPaths: Record<string, () => void> = {
  'vm.__createGuestMemfd': () => {
    const r = vm.__createGuestMemfd(4096n, 0n);
    must(r.ret >= 0, `KVM_CREATE_GUEST_MEMFD errno ${r.errno}`);
    libc.close(r.ret);
  },
  'libc.ioctlPtr': () => {
    const r = libc.ioctlPtr(vm.fd, KVM_CREATE_GUEST_MEMFD, sizeArg);
    must(r.ret >= 0, `KVM_CREATE_GUEST_MEMFD errno ${r.errno}`);
    libc.close(r.ret);
  },
};
const checkExtensionNs: Record<string, number[]> = {};
const gmemCreateCloseNs: Record<string, number[]> = {};
for (const [name, fn] of Object.entries(checkPaths)) {
  time(checkIters / 10, fn);
  checkExtensionNs[name] = [];
}
for (const [name, fn] of Object.entries(gmemPaths)) {
  time(gmemIters / 10, fn);
  gmemCreateCloseNs[name] = [];
}
for (let b = 0; b < batches; b++) {
  for (const [name, fn] of Object.entries(checkPaths)) checkExtensionNs[name]?.push(time(checkIters, fn));
  for (const [name, fn] of Object.entries(gmemPaths)) gmemCreateCloseNs[name]?.push(time(gmemIters, fn));
}
vm.close();
kvm.close();
process.stdout.write(`${JSON.stringify({ answer, checkExtensionNs, gmemCreateCloseNs })}\n`);
