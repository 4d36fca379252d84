// Probes for KVM_LINK_GUEST_MEMFD (RFC v1 at nr 0xd5, RFC v2 at nr 0xd6) and for the intra-host migration of memory
// context through KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM that the same series proposed.
import {
  KVM_CAP_GUEST_MEMFD,
  KVM_CAP_PRE_FAULT_MEMORY,
  KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM,
  KVM_X86_SW_PROTECTED_VM,
} from '../../uapi/index.js';
import { PAGE_SIZE } from '../../arch.js';
import { PROPOSAL_ABI } from '../../uapi/proposals.js';
import { show, type Answer, type ProbeKernel } from './kernel.js';
import { Evidence, type ProbeVerdict } from './verdict.js';

const PAGE = PAGE_SIZE;
const KVM_CAP_MEMORY_ATTRIBUTES2_RFC_V1 = PROPOSAL_ABI.KVM_CAP_MEMORY_ATTRIBUTES2_RFC_V1.value;

/** What probeGmemLink asks the kernel. */
export type GmemLinkKernel = Pick<
  ProbeKernel,
  | 'kvmAvailable'
  | 'sysCap'
  | 'vmCap'
  | 'createVm'
  | 'createVcpu'
  | 'createGmem'
  | 'inode'
  | 'vmIoctlLink'
  | 'vcpuPreFault'
  | 'close'
>;

/**
 * KVM_LINK_GUEST_MEMFD: on a VM fd, { fd: another VM's guest_memfd, flags: 0 } returns a new fd — a new file on the same
 * inode (equal st_ino). Why issuing the request is safe under the mainline meaning of each number:
 *  - 0xd5 is KVM_PRE_FAULT_MEMORY, a vCPU ioctl: kvm_vm_ioctl() does not know it and answers ENOTTY on a VM fd.
 *    Its mainline meaning is then confirmed on a throwaway vCPU with a valid range { gpa 0, size 4096 }: a kernel
 *    without it answers EINVAL (x86's default for unknown vCPU ioctls), KVM_PRE_FAULT_MEMORY answers anything else
 *    (ENOENT with no memslot, EOPNOTSUPP or ENOSPC without TDP, 0) and at most maps a page of the throwaway VM.
 *  - 0xd6 is unassigned in mainline (through 7.2). The in-place conversion RFC v1 used the same number and size for
 *    KVM_SET_MEMORY_ATTRIBUTES2 on the VM fd: read as kvm_memory_attributes2, the request has address = fd and
 *    size = flags = 0, which kvm_vm_ioctl_set_mem_attributes() refuses with EINVAL before changing anything.
 */
export function probeGmemLink(k: GmemLinkKernel, nr: 0xd5 | 0xd6): ProbeVerdict {
  const ev = new Evidence();
  const hex = `0x${nr.toString(16)}`;
  if (!k.kvmAvailable()) return ev.add('/dev/kvm cannot be opened').absent('no KVM on this machine');
  const opened: number[] = [];
  const keep = (a: Answer): Answer => {
    if (a.ok) opened.push(a.value);
    return a;
  };
  try {
    const src = keep(k.createVm(0));
    const dst = keep(k.createVm(0));
    if (!src.ok || !dst.ok) return ev.inconclusive(`KVM_CREATE_VM(0) failed with ${show(src.ok ? dst : src)}`);
    const gmem = keep(k.createGmem(src.value, PAGE, 0));
    ev.add(`KVM_CREATE_GUEST_MEMFD on the source VM → ${show(gmem)}`);
    let link: Answer | null = null;
    if (gmem.ok) {
      link = keep(k.vmIoctlLink(dst.value, nr, gmem.value, 0));
      ev.add(`VM ioctl ${hex} { fd: the source's guest_memfd, flags: 0 } on a second VM → ${show(link)}`);
      if (link.ok) {
        const a = k.inode(gmem.value);
        const b = k.inode(link.value);
        ev.add(`st_ino source ${a}, new fd ${b}`);
        if (a !== '' && a === b && link.value !== gmem.value) return ev.present();
        return ev.inconclusive(`VM ioctl ${hex} returned an fd that is not a second file on the source's inode`);
      }
    } else {
      ev.add(`KVM_CAP_GUEST_MEMFD → ${k.sysCap(KVM_CAP_GUEST_MEMFD)}: no guest_memfd to link`);
    }
    const vmIoctlUnknown = link === null || (!link.ok && link.errno === 'ENOTTY');
    if (nr === 0xd5) {
      if (link && !vmIoctlUnknown)
        return ev.inconclusive(
          `VM ioctl 0xd5 refused a valid link request with ${show(link)}; KVM_PRE_FAULT_MEMORY is not a VM ioctl`,
        );
      const vcpu = keep(k.createVcpu(dst.value, 0));
      if (!vcpu.ok) return ev.inconclusive(`KVM_CREATE_VCPU failed with ${vcpu.errno}`);
      const pf = k.vcpuPreFault(vcpu.value, 0, PAGE, 0);
      ev.add(`vCPU ioctl 0xd5 { gpa 0, size 4096, flags 0 } → ${show(pf)}`);
      ev.add(`KVM_CAP_PRE_FAULT_MEMORY on the VM → ${k.vmCap(dst.value, KVM_CAP_PRE_FAULT_MEMORY)}`);
      if (pf.ok || pf.errno !== 'EINVAL') return ev.taken('KVM_PRE_FAULT_MEMORY (6.10+, vCPU ioctl)');
      return ev.absent('unused (pre-6.10)');
    }
    const cap245 = k.vmCap(dst.value, KVM_CAP_MEMORY_ATTRIBUTES2_RFC_V1);
    ev.add(
      `KVM_CHECK_EXTENSION(245: KVM_CAP_MEMORY_ATTRIBUTES2 of the conversion RFC v1, KVM_CAP_ARM_SEA_TO_USER in mainline) on the VM → ${cap245}`,
    );
    if (vmIoctlUnknown) {
      if (cap245 !== 0)
        return ev
          .add('KVM_SET_MEMORY_ATTRIBUTES2 is there but VM memory attributes are disabled')
          .taken('KVM_SET_MEMORY_ATTRIBUTES2 (in-place conversion RFC v1)');
      return ev.add('no KVM_SET_MEMORY_ATTRIBUTES2 of the conversion RFC v1 either').absent('unassigned in mainline');
    }
    if (link && !link.ok && link.errno === 'EINVAL' && cap245 !== 0)
      return ev
        .add('the request was read as kvm_memory_attributes2 with size 0')
        .taken('KVM_SET_MEMORY_ATTRIBUTES2 (in-place conversion RFC v1)');
    return ev.inconclusive(
      `VM ioctl 0xd6 refused a valid link request with ${link ? show(link) : '?'} and nothing else claims the number`,
    );
  } finally {
    for (const fd of opened.reverse()) k.close(fd);
  }
}

/** What probeMoveMemoryContext asks the kernel. */
export type MoveMemoryContextKernel = Pick<
  ProbeKernel,
  'kvmAvailable' | 'sysCap' | 'vmCap' | 'vmTypes' | 'createVm' | 'moveEncContext' | 'close'
>;

/**
 * Intra-host migration of memory context (link RFC, patches 07–09/11): KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM moves
 * lpage_info and the memory-attribute xarray between any two VMs of the same type, then marks the source dead.
 * Mainline moves only SEV/SEV-ES encryption contexts: between two plain VMs it fails with EINVAL (no
 * vm_move_enc_context_from on VMX/PVM; !sev_guest(source) on SVM). Safe: both VMs are throwaway, and on a kernel
 * with the RFC the only effect is that the source VM dies. With SW_PROTECTED VMs available the probe uses them
 * (the RFC's own test setup), else two default VMs.
 */
export function probeMoveMemoryContext(k: MoveMemoryContextKernel): ProbeVerdict {
  const ev = new Evidence();
  if (!k.kvmAvailable()) return ev.add('/dev/kvm cannot be opened').absent('no KVM on this machine');
  const cap = k.sysCap(KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM);
  ev.add(`KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM on /dev/kvm → ${cap}`);
  const type = k.vmTypes().includes(KVM_X86_SW_PROTECTED_VM) ? KVM_X86_SW_PROTECTED_VM : 0;
  const src = k.createVm(type);
  const dst = k.createVm(type);
  try {
    if (!src.ok || !dst.ok) return ev.inconclusive(`KVM_CREATE_VM(${type}) failed with ${show(src.ok ? dst : src)}`);
    const moved = k.moveEncContext(dst.value, src.value);
    ev.add(`KVM_ENABLE_CAP(MOVE_ENC_CONTEXT_FROM) between two type-${type} VMs → ${show(moved)}`);
    if (moved.ok) {
      const after = k.vmCap(src.value, KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM);
      ev.add(`source VM afterwards: KVM_CHECK_EXTENSION → ${after} (a dead VM refuses every ioctl)`);
      if (after === 0) return ev.present();
      return ev.inconclusive('the move succeeded but the source VM is still alive');
    }
    if (moved.errno === 'EINVAL') return ev.absent('KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM: SEV/SEV-ES only (5.16+)');
    return ev.inconclusive(`moving between two plain VMs failed with ${moved.errno}, not mainline's EINVAL`);
  } finally {
    if (src.ok) k.close(src.value);
    if (dst.ok) k.close(dst.value);
  }
}
