/** migrate.move_enc_context: mainline KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM / COPY_ENC_CONTEXT_FROM (SEV intra-host migration), after x86/sev_migrate_tests.c. */
import { defineCase, type Requires } from '../../lib/harness/case.js';
import { CaseFailure, expectErrno, expectOk, outcome } from '../../lib/harness/expect.js';
import * as libc from '../../lib/ffi/libc.js';
import { existsSync, readFileSync } from 'node:fs';
import type { CaseContext } from '../../lib/harness/context.js';
import {
  KVM_CAP_VM_COPY_ENC_CONTEXT_FROM,
  KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM,
  KVM_ENABLE_CAP,
  KVM_SEV_DBG_DECRYPT,
  KVM_SEV_DBG_ENCRYPT,
  KVM_SEV_GUEST_STATUS,
  KVM_SEV_INIT,
  KVM_SEV_LAUNCH_UPDATE_VMSA,
  KVM_SEV_NR_MAX,
  KVM_SEV_SNP_LAUNCH_FINISH,
  KVM_SEV_SNP_LAUNCH_START,
  MFD_CLOEXEC,
  errnoName,
} from '../../lib/uapi/index.js';
import type { ErrnoName } from '../../lib/uapi/index.js';
import { pack } from '../../lib/uapi/struct.js';
import { __sevInit2 } from '../../lib/cases/coco.js';
import { memfdCreate } from '../../lib/sys/memfd.js';
import type { Vm } from '../../lib/kvm/vm.js';
import { NR_MIGRATE_VCPUS, SEV_DEVICE, __sevCommand, auxVm, sevCommand, sevFd, sevVm } from '../../lib/cases/sev.js';

const SELFTEST = 'x86/sev_migrate_tests.c';
const MOVE = KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM;
const NEEDS_MOVE: Requires = { caps: ['KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM'] };
const NEEDS_SEV: Requires = {
  caps: ['KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM'],
  vmType: 'KVM_X86_SEV_VM',
  files: [SEV_DEVICE],
};
const NEEDS_SEV_ES: Requires = {
  caps: ['KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM'],
  vmType: 'KVM_X86_SEV_ES_VM',
  files: [SEV_DEVICE],
};

/** Raw KVM_ENABLE_CAP(KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM, args[0] = source) on dst. */
function __moveFrom(dst: Vm, source: number | bigint, flags = 0) {
  return dst.__enableCap(MOVE, [BigInt(source)], flags);
}

const nonSevSource = defineCase({
  id: 'migrate.move_enc_context.non_sev_source',
  doc: 'moving from a VM that is not an SEV guest fails with EINVAL ("Migrations require SEV enabled")',
  requires: NEEDS_MOVE,
  tags: { selftest: `${SELFTEST}:test_sev_migrate_parameters`, linuxGit: ['b56639318bb2'] },
  run(ctx) {
    const dst = ctx.vm(0);
    const src = auxVm(ctx, NR_MIGRATE_VCPUS);
    expectErrno(__moveFrom(dst, src.fd), 'EINVAL', 'move from a plain VM with vCPUs into a VM without');
  },
});

type BadFd = 'closed' | 'memfd' | 'dev_kvm' | 'vcpu' | 'guest_memfd';

const badFd = defineCase<{ kind: BadFd }>({
  id: 'migrate.move_enc_context.bad_source_fd',
  doc: 'a source that is not a VM fd is refused: EINVAL where the vendor has no move (x86.c refuses before reading the fd), EBADF on kvm_amd (sev.c checks file_is_kvm first; fixture)',
  requires: NEEDS_MOVE,
  expect: { errno: 'EINVAL' },
  variants: (['closed', 'memfd', 'dev_kvm', 'vcpu', 'guest_memfd'] as const).map((kind) => ({
    name: kind,
    params: { kind },
    ...(kind === 'guest_memfd' ? { requires: { caps: ['KVM_CAP_GUEST_MEMFD'] } } : {}),
  })),
  run(ctx) {
    const dst = ctx.vm(0);
    let fd: number;
    switch (ctx.params.kind) {
      case 'closed':
        fd = memfdCreate('closed', MFD_CLOEXEC);
        libc.close(fd);
        break;
      case 'memfd':
        fd = ctx.memfd('not_a_vm', MFD_CLOEXEC);
        break;
      case 'dev_kvm':
        fd = ctx.kvm.fd;
        break;
      case 'vcpu':
        fd = ctx.track(auxVm(ctx, 0).createVcpu(0)).fd;
        break;
      case 'guest_memfd':
        fd = ctx.gmem(ctx.vm(0), 4096n).fd;
        break;
    }
    const r = __moveFrom(dst, fd);
    ctx.observe('outcome', outcome(r));
    expectErrno(r, ctx.expected<ErrnoName>('errno'), `source fd: ${ctx.params.kind}`);
  },
});

const selfSource = defineCase({
  id: 'migrate.move_enc_context.self_source',
  doc: 'a VM cannot move the context from itself: EINVAL',
  requires: NEEDS_MOVE,
  run(ctx) {
    const vm = auxVm(ctx, 1);
    expectErrno(__moveFrom(vm, vm.fd), 'EINVAL', 'source = the destination VM itself');
  },
});

const nonzeroFlags = defineCase({
  id: 'migrate.move_enc_context.nonzero_flags',
  doc: 'KVM_ENABLE_CAP(KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM) with kvm_enable_cap.flags != 0 fails with EINVAL',
  requires: NEEDS_MOVE,
  run(ctx) {
    const dst = ctx.vm(0);
    const src = ctx.vm(0);
    expectErrno(__moveFrom(dst, src.fd, 1), 'EINVAL', 'flags 1');
  },
});

const copyNonSev = defineCase({
  id: 'migrate.copy_enc_context.non_sev_source',
  doc: 'KVM_CAP_VM_COPY_ENC_CONTEXT_FROM (mirror VM) from a VM that is not an SEV guest fails with EINVAL ("Copy context requires SEV enabled")',
  requires: { caps: ['KVM_CAP_VM_COPY_ENC_CONTEXT_FROM'] },
  tags: { selftest: `${SELFTEST}:test_sev_mirror_parameters` },
  run(ctx) {
    const dst = ctx.vm(0);
    const src = auxVm(ctx, 1);
    expectErrno(dst.__enableCap(KVM_CAP_VM_COPY_ENC_CONTEXT_FROM, [BigInt(src.fd)]), 'EINVAL', 'mirror of a plain VM');
  },
});

const sevChain = defineCase<{ es: boolean }>({
  id: 'migrate.move_enc_context.sev_chain',
  doc: 'an SEV(-ES) context moves from the guest to a VM with vCPUs and on along a chain of three; moving back into the original VM fails with EIO (it is dead)',
  variants: [
    { name: 'sev', params: { es: false }, requires: NEEDS_SEV },
    { name: 'sev_es', params: { es: true }, requires: NEEDS_SEV_ES },
  ],
  tags: { selftest: `${SELFTEST}:test_sev_migrate_from`, linuxGit: ['b56639318bb2'] },
  run(ctx) {
    const fd = sevFd(ctx);
    const src = sevVm(ctx, fd, { es: ctx.params.es });
    const chain = [0, 1, 2].map(() => auxVm(ctx, NR_MIGRATE_VCPUS));
    expectOk(__moveFrom(chain[0] as Vm, src.fd), 'move from the SEV guest to the first VM');
    for (let i = 1; i < chain.length; i++)
      expectOk(__moveFrom(chain[i] as Vm, (chain[i - 1] as Vm).fd), `move ${i} → ${i + 1}`);
    expectErrno(__moveFrom(src, (chain[2] as Vm).fd), 'EIO', 'moving back into the VM that was moved from');
  },
});

const intoSevGuest = defineCase({
  id: 'migrate.move_enc_context.into_sev_guest',
  doc: 'the destination must not already be an SEV guest: moving into one fails with EINVAL',
  requires: NEEDS_SEV,
  tags: { selftest: `${SELFTEST}:test_sev_migrate_parameters` },
  run(ctx) {
    const fd = sevFd(ctx);
    const a = sevVm(ctx, fd, { es: false });
    const b = sevVm(ctx, fd, { es: false });
    expectErrno(__moveFrom(a, b.fd), 'EINVAL', 'move from one SEV guest into another');
  },
});

const esVcpuCount = defineCase({
  id: 'migrate.move_enc_context.sev_es_vcpu_count',
  doc: 'an SEV-ES move needs the same number of vCPUs on both sides: a destination without vCPUs gets EINVAL',
  requires: NEEDS_SEV_ES,
  tags: { selftest: `${SELFTEST}:test_sev_migrate_parameters` },
  run(ctx) {
    const fd = sevFd(ctx);
    const src = sevVm(ctx, fd, { es: true });
    expectErrno(__moveFrom(ctx.vm(0), src.fd), 'EINVAL', 'SEV-ES source with 4 vCPUs, destination with none');
  },
});

const esWithoutVmsa = defineCase({
  id: 'migrate.move_enc_context.sev_es_without_vmsa',
  doc: 'an SEV-ES source whose vCPUs never went through LAUNCH_UPDATE_VMSA cannot be moved: EINVAL',
  requires: NEEDS_SEV_ES,
  tags: { selftest: `${SELFTEST}:test_sev_migrate_parameters` },
  run(ctx) {
    const fd = sevFd(ctx);
    const src = sevVm(ctx, fd, { es: true, vcpus: 1, launch: false });
    expectErrno(__moveFrom(auxVm(ctx, 1), src.fd), 'EINVAL', 'SEV-ES source without UPDATE_VMSA');
  },
});

/** Raw KVM_ENABLE_CAP(KVM_CAP_VM_COPY_ENC_CONTEXT_FROM, args[0] = source) on dst (a mirror of source's context). */
function __mirrorFrom(dst: Vm, source: number | bigint) {
  return dst.__enableCap(KVM_CAP_VM_COPY_ENC_CONTEXT_FROM, [BigInt(source)]);
}

const NEEDS_COPY_SEV: Requires = {
  caps: ['KVM_CAP_VM_COPY_ENC_CONTEXT_FROM'],
  vmType: 'KVM_X86_SEV_VM',
  files: [SEV_DEVICE],
};
const NEEDS_MOVE_COPY_SEV: Requires = {
  caps: ['KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM', 'KVM_CAP_VM_COPY_ENC_CONTEXT_FROM'],
  vmType: 'KVM_X86_SEV_VM',
  files: [SEV_DEVICE],
};
const NEEDS_SNP: Requires = { vmType: 'KVM_X86_SNP_VM', files: [SEV_DEVICE], root: true };
/** SNP guest policy bits of sev.h: reserved-must-be-one (17) and SMT allowed (16). */
const SNP_POLICY_RSVD_MBO = 1n << 17n;
const SNP_POLICY_SMT = 1n << 16n;

/** An SNP VM (KVM_X86_SNP_VM) initialised with KVM_SEV_INIT2, one vCPU, launched (SNP_LAUNCH_START, SNP_LAUNCH_FINISH). */
function snpVm(ctx: CaseContext<unknown>, fd: number, launched: boolean): Vm {
  const vm = ctx.vm(4);
  const init = __sevInit2(vm, fd);
  if (init.ret < 0)
    throw new CaseFailure(
      `KVM_SEV_INIT2 on an SNP VM failed with ${errnoName(init.errno)} (firmware error ${init.fwError})`,
    );
  ctx.track(vm.createVcpu(0));
  if (!launched) return vm;
  const smt =
    existsSync('/sys/devices/system/cpu/smt/active') &&
    readFileSync('/sys/devices/system/cpu/smt/active', 'utf8').trim() === '1';
  const start = Buffer.alloc(64); // struct kvm_sev_snp_launch_start { u64 policy; u8 gosvw[16]; u16 flags; u8 pad0[6]; u64 pad1[4]; }
  start.writeBigUInt64LE(SNP_POLICY_RSVD_MBO | (smt ? SNP_POLICY_SMT : 0n), 0);
  sevCommand(vm, KVM_SEV_SNP_LAUNCH_START, start, fd, 'KVM_SEV_SNP_LAUNCH_START');
  sevCommand(vm, KVM_SEV_SNP_LAUNCH_FINISH, Buffer.alloc(88), fd, 'KVM_SEV_SNP_LAUNCH_FINISH'); // struct kvm_sev_snp_launch_finish, zeroed
  return vm;
}

const locking = defineCase({
  id: 'migrate.move_enc_context.locking',
  doc: 'three SEV guests moving contexts into each other from three threads at once (10000 attempts each, most refused) neither deadlock nor crash: every call returns',
  requires: NEEDS_SEV,
  isolation: 'fresh',
  timeoutMs: 120_000,
  tags: { selftest: `${SELFTEST}:test_sev_migrate_locking`, kernelFn: 'svm/sev.c:sev_lock_two_vms' },
  async run(ctx) {
    const fd = sevFd(ctx);
    const vms = [0, 1, 2].map(() => sevVm(ctx, fd, { es: false }));
    const results = await Promise.all(
      vms.map(async (vm) => {
        let ok = 0;
        for (let i = 0; i < 10000; i++) {
          const src = vms[i % vms.length] as Vm;
          const arg = pack('kvm_enable_cap', { cap: MOVE, flags: 0, args: [BigInt(src.fd)] });
          if ((await libc.ioctlPtrAsync(vm.fd, KVM_ENABLE_CAP, arg)) === 0) ok++;
        }
        return ok;
      }),
    );
    ctx.note(`successful moves per thread: ${results.join(', ')}`);
  },
});

const sevMirror = defineCase<{ es: boolean }>({
  id: 'migrate.copy_enc_context.sev_mirror',
  doc: "a VM without vCPUs mirrors an SEV(-ES) guest's context; after vCPUs are added (and LAUNCH_UPDATE_VMSA for SEV-ES) the mirror refuses every SEV command with EINVAL except LAUNCH_UPDATE_VMSA, GUEST_STATUS and the DBG ones, and GUEST_STATUS works",
  variants: [
    { name: 'sev', params: { es: false }, requires: NEEDS_COPY_SEV },
    { name: 'sev_es', params: { es: true }, requires: { ...NEEDS_COPY_SEV, vmType: 'KVM_X86_SEV_ES_VM' } },
  ],
  tags: { selftest: `${SELFTEST}:test_sev_mirror` },
  run(ctx) {
    const fd = sevFd(ctx);
    const src = sevVm(ctx, fd, { es: ctx.params.es });
    const dst = auxVm(ctx, 0);
    expectOk(__mirrorFrom(dst, src.fd), 'KVM_CAP_VM_COPY_ENC_CONTEXT_FROM into a VM without vCPUs');
    for (let i = 0; i < NR_MIGRATE_VCPUS; i++) ctx.track(dst.createVcpu(i));
    if (ctx.params.es)
      sevCommand(dst, KVM_SEV_LAUNCH_UPDATE_VMSA, null, fd, 'KVM_SEV_LAUNCH_UPDATE_VMSA on the mirror');
    const allowed = new Set([
      KVM_SEV_LAUNCH_UPDATE_VMSA,
      KVM_SEV_GUEST_STATUS,
      KVM_SEV_DBG_DECRYPT,
      KVM_SEV_DBG_ENCRYPT,
    ]);
    for (let cmd = KVM_SEV_INIT; cmd < KVM_SEV_NR_MAX; cmd++)
      if (!allowed.has(cmd))
        expectErrno(__sevCommand(dst, cmd, null, fd), 'EINVAL', `SEV command ${cmd} on the mirror`);
    sevCommand(dst, KVM_SEV_GUEST_STATUS, Buffer.alloc(12), fd, 'KVM_SEV_GUEST_STATUS on the mirror');
  },
});

const mirrorParameters = defineCase({
  id: 'migrate.copy_enc_context.parameters',
  doc: 'KVM_CAP_VM_COPY_ENC_CONTEXT_FROM refuses with EINVAL: an SEV guest mirroring itself, a destination that has vCPUs, and (with SEV-ES) an SEV guest into an SEV-ES guest and back',
  requires: NEEDS_COPY_SEV,
  tags: { selftest: `${SELFTEST}:test_sev_mirror_parameters` },
  run(ctx) {
    const fd = sevFd(ctx);
    const sev = sevVm(ctx, fd, { es: false });
    const withVcpus = auxVm(ctx, NR_MIGRATE_VCPUS);
    expectErrno(__mirrorFrom(sev, sev.fd), 'EINVAL', 'copy context to self');
    expectErrno(__mirrorFrom(auxVm(ctx, 0), withVcpus.fd), 'EINVAL', 'copy context from a non-SEV VM');
    expectErrno(__mirrorFrom(withVcpus, sev.fd), 'EINVAL', 'copy context into a VM with vCPUs');
    if (!ctx.env.vmTypes.includes(3)) {
      ctx.note('SEV-ES not listed in KVM_CAP_VM_TYPES: SEV <-> SEV-ES checks not run');
      return;
    }
    const es = sevVm(ctx, fd, { es: true });
    expectErrno(__mirrorFrom(sev, es.fd), 'EINVAL', 'copy context into an SEV guest');
    expectErrno(__mirrorFrom(es, sev.fd), 'EINVAL', 'copy context into an SEV-ES guest');
  },
});

const snpMoveRejected = defineCase({
  id: 'migrate.move_enc_context.snp_rejected',
  doc: 'the context of a launched SNP guest cannot be moved into another SNP VM: EINVAL',
  requires: { ...NEEDS_SNP, caps: ['KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM'] },
  tags: { selftest: `${SELFTEST}:test_sev_snp_migrate_reject` },
  run(ctx) {
    const fd = sevFd(ctx);
    const src = snpVm(ctx, fd, true);
    const dst = ctx.vm(4);
    ctx.track(dst.createVcpu(0));
    expectErrno(__moveFrom(dst, src.fd), 'EINVAL', 'move from a launched SNP guest');
  },
});

const snpMirrorRejected = defineCase({
  id: 'migrate.copy_enc_context.snp_rejected',
  doc: 'the context of a launched SNP guest cannot be mirrored into a plain VM: EINVAL',
  requires: { ...NEEDS_SNP, caps: ['KVM_CAP_VM_COPY_ENC_CONTEXT_FROM'] },
  tags: { selftest: `${SELFTEST}:test_sev_snp_mirror_reject` },
  run(ctx) {
    const fd = sevFd(ctx);
    const src = snpVm(ctx, fd, true);
    expectErrno(__mirrorFrom(auxVm(ctx, 0), src.fd), 'EINVAL', 'mirror of a launched SNP guest');
  },
});

const withMirrors = defineCase({
  id: 'migrate.move_enc_context.with_mirrors',
  doc: "an SEV guest and its mirror both move on: the mirror's context moves along a chain of mirror VMs and the guest's along a chain of VMs with vCPUs, in either order relative to each other",
  requires: NEEDS_MOVE_COPY_SEV,
  tags: { selftest: `${SELFTEST}:test_sev_move_copy` },
  run(ctx) {
    const fd = sevFd(ctx);
    {
      const sev = sevVm(ctx, fd, { es: false });
      const [dst, dst2, dst3] = [0, 1, 2].map(() => auxVm(ctx, NR_MIGRATE_VCPUS)) as [Vm, Vm, Vm];
      const [mirror, dstMirror, dst2Mirror, dst3Mirror] = [0, 1, 2, 3].map(() => auxVm(ctx, 0)) as [Vm, Vm, Vm, Vm];
      expectOk(__mirrorFrom(mirror, sev.fd), 'mirror the SEV guest');
      expectOk(__moveFrom(dstMirror, mirror.fd), 'move the mirror');
      expectOk(__moveFrom(dst, sev.fd), 'move the guest');
      expectOk(__moveFrom(dst2, dst.fd), 'move the guest again');
      expectOk(__moveFrom(dst2Mirror, dstMirror.fd), 'move the mirror again');
      expectOk(__moveFrom(dst3Mirror, dst2Mirror.fd), 'move the mirror a third time');
      expectOk(__moveFrom(dst3, dst2.fd), 'move the guest a third time');
    }
    {
      // Moving the guest before its mirror.
      const sev = sevVm(ctx, fd, { es: false });
      const dst = auxVm(ctx, NR_MIGRATE_VCPUS);
      const mirror = auxVm(ctx, 0);
      const dstMirror = auxVm(ctx, 0);
      expectOk(__mirrorFrom(mirror, sev.fd), 'mirror the second SEV guest');
      expectOk(__moveFrom(dstMirror, mirror.fd), 'move its mirror');
      expectOk(__moveFrom(dst, sev.fd), 'move the guest after its mirror moved');
    }
  },
});

export default [
  nonSevSource,
  badFd,
  selfSource,
  nonzeroFlags,
  copyNonSev,
  sevChain,
  intoSevGuest,
  esVcpuCount,
  esWithoutVmsa,
  locking,
  sevMirror,
  mirrorParameters,
  snpMoveRejected,
  snpMirrorRejected,
  withMirrors,
];
