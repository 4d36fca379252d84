/**
 * coco.sev_init2: KVM_SEV_INIT2 (KVM_MEMORY_ENCRYPT_OP) argument checks, after x86/sev_init2_tests.c.
 *
 * Kernel checks (arch/x86/kvm/svm/sev.c sev_guest_init2() and __sev_guest_init(), 6.18 / 7.2 / 7.3):
 * - the VM type must be SEV, SEV-ES or SNP: KVM_SEV_INIT2 on a default or SW_PROTECTED VM → EINVAL;
 * - `flags` must be 0 (no flag is defined): any of the 32 bits → EINVAL;
 * - `vmsa_features` must be a subset of KVM_X86_SEV_VMSA_FEATURES (KVM_GET_DEVICE_ATTR on /dev/kvm, group
 *   KVM_X86_GRP_SEV), and plain SEV has no VMSA: any bit on an SEV VM → EINVAL; a supported bit (DEBUG_SWAP,
 *   the one the selftest knows) succeeds on SEV-ES/SNP.
 * Every case needs /dev/sev and an SEV VM type in KVM_CAP_VM_TYPES; they skip with that reason elsewhere.
 */
import { defineCase } from '../../lib/harness/case.js';
import type { CaseContext } from '../../lib/harness/context.js';
import { CaseFailure, expectErrno } from '../../lib/harness/expect.js';
import { close, open } from '../../lib/ffi/libc.js';
import { errnoName, O_CLOEXEC, O_RDWR } from '../../lib/uapi/index.js';
import {
  SEV_DEVICE,
  X86_VM_TYPES,
  __sevInit2,
  __sevVmsaFeatures,
  vmTypeVariants,
  type VmTypeParams,
} from '../../lib/cases/coco.js';

const ST = 'x86/sev_init2_tests.c';
const NEEDS_SEV = { files: [SEV_DEVICE], root: true, vmType: 'KVM_X86_SEV_VM' } as const;
/** SVM_SEV_FEAT_DEBUG_SWAP: the only VMSA feature sev_init2_tests.c expects to work (its KNOWN_FEATURES). */
const KNOWN_FEATURES = 1n << 5n;
const SEV_TYPES = (t: { variant: string }) => t.variant === 'sev' || t.variant === 'sev_es' || t.variant === 'snp';

function sevDev(ctx: CaseContext<unknown>): number {
  const r = open(SEV_DEVICE, O_RDWR | O_CLOEXEC);
  if (r.ret < 0) throw new CaseFailure(`open(${SEV_DEVICE}) failed with ${errnoName(r.errno)}`);
  ctx.defer(() => void close(r.ret));
  return r.ret;
}

function init2Ok(
  ctx: CaseContext<unknown>,
  type: number,
  sev: number,
  fields: { vmsaFeatures?: bigint; flags?: number },
  what: string,
): void {
  const r = __sevInit2(ctx.vm(type), sev, fields);
  if (r.ret < 0)
    throw new CaseFailure(`${what}: KVM_SEV_INIT2 failed with ${errnoName(r.errno)} (firmware error ${r.fwError})`);
}

const vmTypes = defineCase({
  id: 'coco.sev_init2.vm_types',
  doc: 'KVM_SEV_INIT2 with a zeroed struct succeeds on every SEV VM type KVM_CAP_VM_TYPES lists (SEV, SEV-ES, SNP) and fails with EINVAL on a default and on a SW_PROTECTED VM',
  requires: NEEDS_SEV,
  tags: {
    selftest: [`${ST}:test_vm_types`, `${ST}:test_init2`, `${ST}:test_init2_invalid`],
    kernelFn: 'svm/sev.c:sev_guest_init2',
  },
  run(ctx) {
    const sev = sevDev(ctx);
    const listed = new Set(ctx.env.vmTypes);
    for (const t of X86_VM_TYPES.filter(SEV_TYPES)) if (listed.has(t.value)) init2Ok(ctx, t.value, sev, {}, t.name);
    expectErrno(__sevInit2(ctx.vm(0), sev), 'EINVAL', 'KVM_SEV_INIT2 on a KVM_X86_DEFAULT_VM');
    if (listed.has(1)) expectErrno(__sevInit2(ctx.vm(1), sev), 'EINVAL', 'KVM_SEV_INIT2 on a KVM_X86_SW_PROTECTED_VM');
  },
});

const flags = defineCase<VmTypeParams>({
  id: 'coco.sev_init2.flags',
  doc: 'KVM_SEV_INIT2 refuses each of the 32 bits of kvm_sev_init.flags with EINVAL (none is defined)',
  requires: { files: [SEV_DEVICE], root: true },
  variants: vmTypeVariants(SEV_TYPES),
  tags: { selftest: [`${ST}:test_flags`, `${ST}:test_init2_invalid`] },
  run(ctx) {
    const sev = sevDev(ctx);
    for (let bit = 0; bit < 32; bit++)
      expectErrno(
        __sevInit2(ctx.vm(), sev, { flags: 2 ** bit }),
        'EINVAL',
        `${ctx.params.type.name}: flags bit ${bit}`,
      );
  },
});

const vmsaFeatures = defineCase<VmTypeParams>({
  id: 'coco.sev_init2.vmsa_features',
  doc: 'KVM_SEV_INIT2 refuses every vmsa_features bit outside KVM_X86_SEV_VMSA_FEATURES with EINVAL (all of them on plain SEV, which has no VMSA) and accepts the supported DEBUG_SWAP bit on SEV-ES and SNP',
  requires: { files: [SEV_DEVICE], root: true },
  variants: vmTypeVariants(SEV_TYPES),
  tags: { selftest: [`${ST}:test_features`, `${ST}:test_init2_invalid`, `${ST}:test_init2`] },
  run(ctx) {
    const attr = __sevVmsaFeatures(ctx.kvm.fd);
    if (attr.ret < 0)
      ctx.skip(
        `KVM_GET_DEVICE_ATTR(KVM_X86_GRP_SEV, KVM_X86_SEV_VMSA_FEATURES) on /dev/kvm failed with ${errnoName(attr.errno)}`,
      );
    const supported = ctx.params.type.variant === 'sev' ? 0n : attr.value;
    ctx.note(`KVM_X86_SEV_VMSA_FEATURES = 0x${attr.value.toString(16)}`);
    const sev = sevDev(ctx);
    for (let bit = 0n; bit < 64n; bit++) {
      const f = 1n << bit;
      if (!(supported & f))
        expectErrno(
          __sevInit2(ctx.vm(), sev, { vmsaFeatures: f }),
          'EINVAL',
          `${ctx.params.type.name}: unsupported vmsa_features bit ${bit}`,
        );
      else if (KNOWN_FEATURES & f)
        init2Ok(
          ctx,
          ctx.params.type.value,
          sev,
          { vmsaFeatures: f },
          `${ctx.params.type.name}: supported vmsa_features bit ${bit}`,
        );
    }
  },
});

export default [vmTypes, flags, vmsaFeatures];
