/**
 * coco.create_vm / coco.vm_types / coco.prefault: which VM types KVM_CREATE_VM accepts (exactly those
 * KVM_CAP_VM_TYPES lists), and the per-type pre-fault rule for types whose memory is set up by a launch flow.
 */
import { defineCase, type Variant } from '../../lib/harness/case.js';
import { expectEq, expectErrno, expectOk, expectTrue, outcome } from '../../lib/harness/expect.js';
import { __ioctlVal } from '../../lib/kvm/ioctl.js';
import { Vcpu } from '../../lib/kvm/vcpu.js';
import {
  KVM_CAP_PRE_FAULT_MEMORY,
  KVM_CAP_VM_TYPES,
  KVM_CREATE_VM,
  MAP_ANONYMOUS,
  MAP_NORESERVE,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  errnoName,
} from '../../lib/uapi/index.js';
import { hex } from '../../lib/cases/gmem.js';
import { PAGE } from '../../lib/cases/attr.js';
import { X86_VM_TYPES, vmTypeVariants, type VmTypeParams } from '../../lib/cases/coco.js';

/** Parameters of a KVM_CREATE_VM type probe. */
interface CreateParams {
  /** The type argument. */ type: bigint;
}

const createVariants: Variant<CreateParams>[] = [
  ...X86_VM_TYPES.map((t) => ({ name: t.variant, params: { type: BigInt(t.value) } })),
  { name: 'unassigned6', params: { type: 6n } },
  { name: 'bit31', params: { type: 31n } },
  { name: 'bit32', params: { type: 32n } },
  { name: 'bit63', params: { type: 1n << 63n } },
];

const createType = defineCase<CreateParams>({
  id: 'coco.create_vm.type',
  doc: 'KVM_CREATE_VM succeeds for a type exactly when KVM_CAP_VM_TYPES lists it (type 0 always), and fails with EINVAL for every other type',
  requires: { kvm: true },
  variants: createVariants,
  tags: { linuxGit: ['89ea60c2c7b5'], kernelFn: 'x86.c:kvm_is_vm_type_supported' },
  run(ctx) {
    const type = ctx.params.type;
    const listed = ctx.env.vmTypes.map(BigInt);
    ctx.observe('vmTypes', ctx.env.vmTypes);
    const r = __ioctlVal(ctx.kvm.fd, KVM_CREATE_VM, type);
    if (r.ret >= 0) ctx.trackFd(r.ret);
    ctx.observe('outcome', outcome(r));
    if (listed.includes(type)) expectOk(r, `KVM_CREATE_VM(${hex(type)}), listed in KVM_CAP_VM_TYPES`);
    else
      expectErrno(
        r,
        'EINVAL',
        `KVM_CREATE_VM(${hex(type)}), not listed in KVM_CAP_VM_TYPES [${ctx.env.vmTypes.join(', ')}]`,
      );
  },
});

const capConsistent = defineCase({
  id: 'coco.vm_types.cap_consistent',
  doc: 'KVM_CAP_VM_TYPES is the same on /dev/kvm and on a VM fd and always includes the default type',
  requires: { caps: ['KVM_CAP_VM_TYPES'] },
  tags: { linuxGit: ['89ea60c2c7b5'] },
  run(ctx) {
    const sys = ctx.env.sysCap(KVM_CAP_VM_TYPES);
    const vm = ctx.vm(0).checkExtension(KVM_CAP_VM_TYPES);
    ctx.observe('sysCap', sys);
    expectEq(vm, sys, 'KVM_CAP_VM_TYPES on a VM fd vs /dev/kvm');
    expectTrue((sys & 1) === 1, `KVM_CAP_VM_TYPES ${hex(sys)} does not list KVM_X86_DEFAULT_VM`);
  },
});

const prefaultBeforeLaunch = defineCase<VmTypeParams>({
  id: 'coco.prefault.before_launch',
  doc: 'SNP and TDX VMs refuse KVM_PRE_FAULT_MEMORY with EOPNOTSUPP until launch is finalised (pre_fault_allowed is set by SNP_LAUNCH_FINISH / TDX_FINALIZE_VM)',
  requires: { caps: ['KVM_CAP_PRE_FAULT_MEMORY'] },
  variants: vmTypeVariants((t) => !t.preFaultAtCreate),
  tags: { linuxGit: ['bc1a5cd00211'], kernelFn: 'svm/sev.c:snp_launch_finish; vmx/tdx.c:tdx_td_finalize' },
  run(ctx) {
    const vm = ctx.vm();
    ctx.observe('vmCap', vm.checkExtension(KVM_CAP_PRE_FAULT_MEMORY));
    const m = ctx.map(Number(16n * PAGE), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
    const slot = vm.__setUserMemoryRegion2({ slot: 0, gpa: 0x100000n, size: 16n * PAGE, hva: m.addr });
    if (slot.ret < 0)
      ctx.skip(
        `a shared memslot on an unlaunched ${ctx.params.type.name} is refused (${errnoName(slot.errno)}); the case needs one to pre-fault into`,
      );
    const v = vm.__createVcpu(0);
    if (v.ret < 0)
      ctx.skip(
        `KVM_CREATE_VCPU on an unlaunched ${ctx.params.type.name} failed with ${errnoName(v.errno)}; this case does not run the launch flow`,
      );
    const vcpu = ctx.track(Vcpu.attach(vm, v.ret, 0));
    const r = vcpu.__preFaultMemory(0x100000n, PAGE);
    expectErrno(r, 'EOPNOTSUPP', `KVM_PRE_FAULT_MEMORY on an unlaunched ${ctx.params.type.name}`);
    expectEq(r.size, PAGE, 'size left in the struct');
  },
});

export default [createType, capConsistent, prefaultBeforeLaunch];
