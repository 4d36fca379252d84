/**
 * coco.move_enc_context / coco.copy_enc_context: KVM_ENABLE_CAP(KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM /
 * KVM_CAP_VM_COPY_ENC_CONTEXT_FROM, args[0] = source VM fd). Mainline supports SEV and SEV-ES sources only; the
 * never-merged gmem-link RFC extends the move to software-protected VMs.
 */
import { defineCase } from '../../lib/harness/case.js';
import { CaseFailure, expectErrno, expectErrnoOneOf, expectOk, outcome } from '../../lib/harness/expect.js';
import { open } from '../../lib/sys/fd.js';
import { close } from '../../lib/ffi/libc.js';
import {
  KVM_CAP_VM_COPY_ENC_CONTEXT_FROM,
  KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM,
  KVM_CAP_NR_MEMSLOTS,
  O_CLOEXEC,
  O_RDWR,
  errnoName,
} from '../../lib/uapi/index.js';
import { SEV_DEVICE, __sevInit2, vmTypeVariants, type VmTypeParams } from '../../lib/cases/coco.js';

const MOVE = KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM;
const COPY = KVM_CAP_VM_COPY_ENC_CONTEXT_FROM;

const moveNonSevSource = defineCase({
  id: 'coco.move_enc_context.non_sev_source',
  doc: 'moving the encryption context from a VM that is not an SEV guest (another default VM, or the VM itself) fails with EINVAL',
  requires: { caps: ['KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM'] },
  tags: {
    linuxGit: ['b56639318bb2'],
    selftest: 'x86/sev_migrate_tests.c:test_sev_migrate_parameters',
    proposal: 'gmem-link-rfc-v1',
  },
  run(ctx) {
    const dst = ctx.vm(0);
    const src = ctx.vm(0);
    const r = dst.__enableCap(MOVE, [BigInt(src.fd)]);
    ctx.observe('outcome', outcome(r));
    expectErrno(r, 'EINVAL', 'KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM from a default (non-SEV) VM');
    expectErrno(
      dst.__enableCap(MOVE, [BigInt(dst.fd)]),
      'EINVAL',
      'KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM from the VM itself',
    );
  },
});

const moveBadSourceFd = defineCase({
  id: 'coco.move_enc_context.bad_source_fd',
  doc: 'a source fd that is closed or not a VM is refused: EBADF from sev.c where the vendor module implements the move, EINVAL where it has no vm_move_enc_context_from (VMX, other vendors)',
  requires: { caps: ['KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM'] },
  tags: {
    linuxGit: ['b56639318bb2'],
    kernelFn: 'svm/sev.c:sev_vm_move_enc_context_from; x86.c:kvm_vm_ioctl_enable_cap',
  },
  run(ctx) {
    const dst = ctx.vm(0);
    const devNull = open('/dev/null', O_RDWR | O_CLOEXEC);
    ctx.defer(() => void close(devNull));
    const closed = open('/dev/null', O_RDWR | O_CLOEXEC);
    close(closed);
    const a = dst.__enableCap(MOVE, [BigInt(devNull)]);
    const b = dst.__enableCap(MOVE, [BigInt(closed)]);
    const c = dst.__enableCap(MOVE, [BigInt(ctx.kvm.fd)]);
    ctx.observe('nonVmFd', outcome(a));
    ctx.observe('closedFd', outcome(b));
    expectErrnoOneOf(a, ['EBADF', 'EINVAL'], 'source fd is /dev/null');
    expectErrnoOneOf(b, ['EBADF', 'EINVAL'], 'source fd is closed');
    expectErrnoOneOf(c, ['EBADF', 'EINVAL'], 'source fd is /dev/kvm');
    if (outcome(a) !== outcome(b))
      throw new CaseFailure(
        `a non-VM fd gave ${outcome(a)} but a closed fd gave ${outcome(b)}: one path checks the fd, the other does not`,
      );
  },
});

const copyNonSevSource = defineCase({
  id: 'coco.copy_enc_context.non_sev_source',
  doc: 'mirroring the encryption context of a VM that is not an SEV guest, or of the VM itself, fails with EINVAL',
  requires: { caps: ['KVM_CAP_VM_COPY_ENC_CONTEXT_FROM'] },
  tags: { selftest: 'x86/sev_migrate_tests.c:test_sev_mirror_parameters' },
  run(ctx) {
    const dst = ctx.vm(0);
    const src = ctx.vm(0);
    expectErrno(
      dst.__enableCap(COPY, [BigInt(src.fd)]),
      'EINVAL',
      'KVM_CAP_VM_COPY_ENC_CONTEXT_FROM from a default (non-SEV) VM',
    );
    expectErrno(
      dst.__enableCap(COPY, [BigInt(dst.fd)]),
      'EINVAL',
      'KVM_CAP_VM_COPY_ENC_CONTEXT_FROM from the VM itself',
    );
  },
});

const moveDeadSource = defineCase<VmTypeParams>({
  id: 'coco.move_enc_context.sev_dead_source',
  doc: 'an initialised SEV/SEV-ES VM moves its context into an uninitialised VM of the same type; the source is then dead (its ioctls fail with EIO) and moving back into it fails with EIO',
  requires: { caps: ['KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM'], files: [SEV_DEVICE], root: true },
  variants: vmTypeVariants((t) => t.variant === 'sev' || t.variant === 'sev_es'),
  tags: { linuxGit: ['b56639318bb2'], selftest: 'x86/sev_migrate_tests.c:test_sev_migrate_from' },
  run(ctx) {
    const t = ctx.params.type;
    const sevFd = open(SEV_DEVICE, O_RDWR | O_CLOEXEC);
    ctx.defer(() => void close(sevFd));
    const src = ctx.vm();
    const init = __sevInit2(src, sevFd);
    if (init.ret < 0)
      throw new CaseFailure(
        `KVM_SEV_INIT2 on the source ${t.name} failed with ${errnoName(init.errno)} (firmware error ${init.fwError})`,
      );
    const dst = ctx.vm();
    expectOk(
      dst.__enableCap(MOVE, [BigInt(src.fd)]),
      `moving the context of an initialised ${t.name} into a new ${t.name}`,
    );
    expectErrno(
      src.__checkExtension(KVM_CAP_NR_MEMSLOTS),
      'EIO',
      'KVM_CHECK_EXTENSION on the source VM after the move (the source is dead)',
    );
    expectErrno(src.__enableCap(MOVE, [BigInt(dst.fd)]), 'EIO', 'moving the context back into the dead source');
  },
});

export default [moveNonSevSource, moveBadSourceFd, copyNonSevSource, moveDeadSource];
