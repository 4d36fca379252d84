/** migrate.move_enc_context: mainline KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM / COPY_ENC_CONTEXT_FROM (SEV intra-host migration), after x86/sev_migrate_tests.c. */
import { defineCase, type Requires } from '../../lib/harness/case.js';
import { expectErrno, expectOk, outcome } from '../../lib/harness/expect.js';
import * as libc from '../../lib/ffi/libc.js';
import { KVM_CAP_VM_COPY_ENC_CONTEXT_FROM, KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM, MFD_CLOEXEC } from '../../lib/uapi/index.js';
import { memfdCreate } from '../../lib/sys/memfd.js';
import type { Vm } from '../../lib/kvm/vm.js';
import { NR_MIGRATE_VCPUS, SEV_DEVICE, auxVm, sevFd, sevVm } from '../../lib/cases/sev.js';

const SELFTEST = 'x86/sev_migrate_tests.c';
const MOVE = KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM;
const NEEDS_MOVE: Requires = { caps: ['KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM'] };
const NEEDS_SEV: Requires = { caps: ['KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM'], vmType: 'KVM_X86_SEV_VM', files: [SEV_DEVICE] };
const NEEDS_SEV_ES: Requires = { caps: ['KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM'], vmType: 'KVM_X86_SEV_ES_VM', files: [SEV_DEVICE] };

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
    name: kind, params: { kind }, ...(kind === 'guest_memfd' ? { requires: { caps: ['KVM_CAP_GUEST_MEMFD'] } } : {}),
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
    expectErrno(r, ctx.expected<string>('errno'), `source fd: ${ctx.params.kind}`);
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
    for (let i = 1; i < chain.length; i++) expectOk(__moveFrom(chain[i] as Vm, (chain[i - 1] as Vm).fd), `move ${i} → ${i + 1}`);
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

export default [nonSevSource, badFd, selfSource, nonzeroFlags, copyNonSev, sevChain, intoSevGuest, esVcpuCount, esWithoutVmsa];
