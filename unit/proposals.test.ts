// Unit tests of the proposal probes (lib/features/proposals): each probe is fed simulated kernel answers — kernels with
// the proposal, without it, and with its number taken by a mainline ABI, plus kernels whose answers contradict each
// other — and must reach the right verdict. No kernel with any of these proposals exists here, so this is where the
// "present" branches are tested. The simulation also logs every call, so the tests check that a probe never issues a
// proposal number in a way that has side effects where it means something else, and that it closes what it opens.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  F_SEAL_EXEC,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  FALLOC_FL_PUNCH_HOLE,
  KVM_CAP_GUEST_MEMFD,
  KVM_CAP_PRE_FAULT_MEMORY,
  KVM_CAP_USER_MEMORY2,
  KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM,
  KVM_CAP_VM_TYPES,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  MFD_HUGETLB,
} from '../lib/uapi/index.js';
import { fail, ok, type Answer, type ProbeKernel, type TouchOutcome } from '../lib/features/proposals/kernel.js';
import { PROPOSAL_FEATURES, proposalFeature, type ProposalFeatureId } from '../lib/features/proposals/registry.js';
import { describeVerdict, type ProbeState, type ProbeVerdict } from '../lib/features/proposals/verdict.js';
import { presentProof } from '../lib/features/proposals/calls.js';
import { PROPOSALS, PROPOSAL_ABI, PROPOSAL_STRUCTS } from '../lib/uapi/proposals.js';

const PAGE = 4096;

// -------------------------------------------------------------------------------------------
// A small model of the kernel behaviours the probes look at, configurable per kernel flavour.

/** How a simulated kernel answers each number the proposals used. */
interface SimConfig {
  /** memfd_create bit 0x8. */ mfd8: 'inaccessible' | 'noexec' | 'none' | 'weird';
  /** memfd seal 0x20. */ seal20: 'autoalloc' | 'exec' | 'none';
  /** fchmod always fails with EPERM (an LSM, say): F_SEAL_EXEC then lands on an executable file. */ fchmodBlocked?: boolean;
  /** memslot bit 2 through the v1 ioctl (v7) / guest_memfd through v2 (mainline; 'gmem-private-vms': 6.8–6.17, type-0 VMs refuse it). */ memslot:
    | 'v7'
    | 'gmem'
    | 'gmem-private-vms'
    | 'none';
  /** syscall 451. */ sys451: 'restricted' | 'restricted+usermnt' | 'cachestat' | 'none' | 'weird';
  /** syscall 452. */ sys452: 'bind' | 'fchmodat2' | 'none';
  /** /dev/kvm present. */ kvm: boolean;
  /** KVM_CREATE_GUEST_MEMFD exists. */ gmem: boolean;
  /** VM ioctl nr 0xd5. */ vmD5: 'link' | 'none' | 'link-new-inode';
  /** vCPU ioctl nr 0xd5. */ vcpuD5: 'prefault' | 'none';
  /** VM ioctl nr 0xd6. */ vmD6: 'link' | 'sma2' | 'none';
  /** KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM between plain VMs. */ move: 'rfc' | 'sev-only' | 'rfc-source-survives';
  /** KVM_X86_SW_PROTECTED_VM is listed. */ swProtected?: boolean;
}

type Obj =
  | {
      kind: 'memfd';
      size: number;
      seals: number;
      mode: number;
      pages: Set<number>;
      inaccessible: boolean;
      sized: boolean;
    }
  | { kind: 'restricted'; size: number }
  | { kind: 'vm'; type: number; dead: boolean }
  | { kind: 'vcpu' }
  | { kind: 'gmem'; inode: number; owner: number }
  | { kind: 'mount' };

/** A simulated kernel: answers from SimConfig, logs every call, tracks open handles. */
class SimKernel implements ProbeKernel {
  readonly log: string[] = [];
  readonly objs = new Map<number, Obj>();
  private nextFd = 10;
  private nextInode = 1000;
  constructor(readonly cfg: SimConfig) {}

  private add(o: Obj): Answer {
    const fd = this.nextFd++;
    this.objs.set(fd, o);
    return ok(fd);
  }
  private memfd(fd: number) {
    const o = this.objs.get(fd);
    return o && o.kind === 'memfd' ? o : undefined;
  }
  private knownSeals(): number {
    return (
      F_SEAL_SEAL |
      F_SEAL_SHRINK |
      F_SEAL_GROW |
      F_SEAL_WRITE |
      F_SEAL_FUTURE_WRITE |
      (this.cfg.seal20 === 'none' ? 0 : 0x20)
    );
  }

  memfdCreate(flags: number): Answer {
    this.log.push(`memfdCreate(0x${flags.toString(16)})`);
    const known = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | (this.cfg.mfd8 === 'none' ? 0 : 0x8);
    if (flags & ~known) return fail('EINVAL');
    const sealing = (flags & MFD_ALLOW_SEALING) !== 0;
    const base = { kind: 'memfd' as const, size: 0, pages: new Set<number>(), inaccessible: false, sized: false };
    if (flags & 0x8) {
      if (this.cfg.mfd8 === 'inaccessible') {
        if (sealing) return fail('EINVAL');
        return this.add({ ...base, seals: F_SEAL_SEAL, mode: 0o777, inaccessible: true });
      }
      if (this.cfg.mfd8 === 'noexec') return this.add({ ...base, seals: F_SEAL_EXEC, mode: 0o666 });
      return this.add({ ...base, seals: F_SEAL_SEAL, mode: 0o777, inaccessible: !sealing });
    }
    return this.add({ ...base, seals: sealing ? 0 : F_SEAL_SEAL, mode: 0o777 });
  }
  close(fd: number): void {
    this.log.push(`close(${fd})`);
    this.objs.delete(fd);
  }
  ftruncate(fd: number, size: number): Answer {
    const o = this.objs.get(fd);
    if (o?.kind === 'restricted') {
      o.size = size;
      return ok();
    }
    const m = this.memfd(fd);
    if (!m) return fail('EINVAL');
    if (m.inaccessible && this.cfg.mfd8 === 'inaccessible') {
      if (m.sized) return fail('EPERM');
      if (size % PAGE) return fail('EINVAL');
      m.sized = true;
    }
    if ((size > m.size && m.seals & F_SEAL_GROW) || (size < m.size && m.seals & F_SEAL_SHRINK)) return fail('EPERM');
    m.size = size;
    return ok();
  }
  fallocate(fd: number, mode: number, offset: number, len: number): Answer {
    const o = this.objs.get(fd);
    if (o?.kind === 'restricted') return ok();
    const m = this.memfd(fd);
    if (!m) return fail('ENODEV');
    if (mode & FALLOC_FL_PUNCH_HOLE) {
      if (m.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) return fail('EPERM');
      for (let p = offset; p < offset + len; p += PAGE) m.pages.delete(p / PAGE);
      return ok();
    }
    if (m.seals & F_SEAL_GROW && offset + len > m.size) return fail('EPERM');
    for (let p = offset; p < offset + len; p += PAGE) m.pages.add(p / PAGE);
    m.size = Math.max(m.size, offset + len);
    return ok();
  }
  private writeAt(fd: number, offset: number): Answer {
    const o = this.objs.get(fd);
    if (o?.kind === 'restricted') return fail('EINVAL');
    const m = this.memfd(fd);
    if (!m) return fail('EINVAL');
    if (m.inaccessible) return fail('EPERM');
    if (m.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) return fail('EPERM');
    const page = Math.floor(offset / PAGE);
    if (!m.pages.has(page) && this.cfg.seal20 === 'autoalloc' && m.seals & 0x20) return fail('ENOENT');
    m.pages.add(page);
    return ok(1);
  }
  pwriteByte(fd: number, offset: number): Answer {
    this.log.push(`pwriteByte(${fd}, ${offset})`);
    return this.writeAt(fd, offset);
  }
  read(fd: number, len: number): Answer {
    const o = this.objs.get(fd);
    if (o?.kind === 'restricted') return fail('EINVAL');
    const m = this.memfd(fd);
    if (!m) return fail('EINVAL');
    if (m.inaccessible) return fail('EPERM');
    return ok(Math.min(len, m.size));
  }
  write(fd: number): Answer {
    return this.writeAt(fd, 0);
  }
  mmapShared(fd: number): Answer {
    const o = this.objs.get(fd);
    if (o?.kind === 'restricted') return fail('ENODEV');
    const m = this.memfd(fd);
    if (!m) return fail('ENODEV');
    if (m.inaccessible) return fail('EPERM');
    if (m.seals & F_SEAL_WRITE) return fail('EPERM');
    return ok();
  }
  writeSharedInChild(fd: number, offset: number): TouchOutcome {
    this.log.push(`writeSharedInChild(${fd}, ${offset})`);
    const m = this.memfd(fd);
    if (!m || m.inaccessible || m.seals & F_SEAL_WRITE) return 'error: mmap failed: EPERM';
    if (offset >= m.size) return 'SIGBUS';
    const page = Math.floor(offset / PAGE);
    if (!m.pages.has(page) && this.cfg.seal20 === 'autoalloc' && m.seals & 0x20) return 'SIGBUS';
    m.pages.add(page);
    return 'ok';
  }
  addSeals(fd: number, seals: number): Answer {
    this.log.push(`addSeals(${fd}, 0x${seals.toString(16)})`);
    const m = this.memfd(fd);
    if (!m) return fail('EINVAL');
    if (seals & ~this.knownSeals()) return fail('EINVAL');
    if (m.seals & F_SEAL_SEAL) return fail('EPERM');
    let add = seals;
    if (this.cfg.seal20 === 'exec' && seals & F_SEAL_EXEC && m.mode & 0o111)
      add |= F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
    m.seals |= add;
    return ok();
  }
  getSeals(fd: number): Answer {
    const m = this.memfd(fd);
    return m ? ok(m.seals) : fail('EINVAL');
  }
  fchmod(fd: number, mode: number): Answer {
    const m = this.memfd(fd);
    if (!m) return fail('EBADF');
    if (this.cfg.fchmodBlocked) return fail('EPERM');
    if (this.cfg.seal20 === 'exec' && m.seals & F_SEAL_EXEC && (mode & 0o111) !== (m.mode & 0o111))
      return fail('EPERM');
    m.mode = mode;
    return ok();
  }
  permBits(fd: number): number {
    return this.memfd(fd)?.mode ?? -1;
  }

  memfdRestricted(flags: number, mountFd: number): Answer {
    this.log.push(`syscall451(${flags}, ${mountFd})`);
    switch (this.cfg.sys451) {
      case 'none':
        return fail('ENOSYS');
      case 'cachestat':
        return this.objs.has(flags) ? fail('EFAULT') : fail('EBADF');
      case 'weird':
        return this.memfdCreate(0);
      case 'restricted':
        return flags === 0 ? this.add({ kind: 'restricted', size: 0 }) : fail('EINVAL');
      case 'restricted+usermnt':
        if (flags & ~1) return fail('EINVAL');
        if (flags === 0) return this.add({ kind: 'restricted', size: 0 });
        return this.objs.get(mountFd)?.kind === 'mount' ? this.add({ kind: 'restricted', size: 0 }) : fail('EINVAL');
    }
  }
  cachestat(fd: number): Answer {
    this.log.push(`cachestat(${fd})`);
    if (this.cfg.sys451 === 'none') return fail('ENOSYS');
    if (this.cfg.sys451 !== 'cachestat') return fail('EINVAL');
    const m = this.memfd(fd);
    return m ? ok(m.pages.size) : fail('EBADF');
  }
  restrictedBind(fd: number): Answer {
    this.log.push(`syscall452-bind(${fd})`);
    if (this.cfg.sys452 === 'none') return fail('ENOSYS');
    if (this.cfg.sys452 === 'fchmodat2') return fail('EFAULT');
    return this.objs.get(fd)?.kind === 'restricted' ? ok() : fail('EINVAL');
  }
  fchmodat2TempFile(mode: number): Answer {
    this.log.push(`syscall452-fchmodat2(0${mode.toString(8)})`);
    if (this.cfg.sys452 === 'none') return fail('ENOSYS');
    if (this.cfg.sys452 === 'bind') return fail('EBADF');
    return ok(mode);
  }
  tmpfsMountFd(): Answer {
    this.log.push('tmpfsMountFd()');
    return this.add({ kind: 'mount' });
  }

  kvmAvailable(): boolean {
    return this.cfg.kvm;
  }
  sysCap(cap: number): number {
    if (!this.cfg.kvm) return 0;
    if (cap === KVM_CAP_GUEST_MEMFD || cap === KVM_CAP_USER_MEMORY2) return this.cfg.gmem ? 1 : 0;
    if (cap === KVM_CAP_PRE_FAULT_MEMORY) return this.cfg.vcpuD5 === 'prefault' ? 1 : 0;
    if (cap === KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM) return 1;
    if (cap === KVM_CAP_VM_TYPES) return this.cfg.swProtected ? 3 : 1;
    return 0;
  }
  vmCap(vm: number, cap: number): number {
    const o = this.objs.get(vm);
    if (!o || o.kind !== 'vm' || o.dead) return 0;
    if (cap === 245) return this.cfg.vmD6 === 'sma2' ? 8 : 0;
    return this.sysCap(cap);
  }
  vmTypes(): number[] {
    return this.cfg.swProtected ? [0, 1] : [0];
  }
  createVm(type: number): Answer {
    if (!this.vmTypes().includes(type)) return fail('EINVAL');
    return this.add({ kind: 'vm', type, dead: false });
  }
  createVcpu(): Answer {
    return this.add({ kind: 'vcpu' });
  }
  createGmem(vm: number): Answer {
    if (!this.cfg.gmem) return fail('ENOTTY');
    return this.add({ kind: 'gmem', inode: this.nextInode++, owner: vm });
  }
  inode(fd: number): string {
    const o = this.objs.get(fd);
    return o?.kind === 'gmem' ? String(o.inode) : '';
  }
  vmIoctlLink(vm: number, nr: 0xd5 | 0xd6, fd: number, flags: number): Answer {
    this.log.push(`vmIoctlLink(0x${nr.toString(16)}, fd ${fd}, flags ${flags})`);
    const mode = nr === 0xd5 ? this.cfg.vmD5 : this.cfg.vmD6;
    if (mode === 'none') return fail('ENOTTY');
    if (mode === 'sma2') return fail('EINVAL');
    const src = this.objs.get(fd);
    if (flags !== 0 || !src || src.kind !== 'gmem' || src.owner === vm) return fail('EINVAL');
    return this.add({ kind: 'gmem', inode: mode === 'link' ? src.inode : this.nextInode++, owner: vm });
  }
  vcpuPreFault(_vcpu: number, gpa: number, size: number, flags: number): Answer {
    this.log.push(`vcpuPreFault(${gpa}, ${size}, ${flags})`);
    if (this.cfg.vcpuD5 === 'none' || flags !== 0 || size === 0 || gpa % PAGE || size % PAGE) return fail('EINVAL');
    return fail('ENOENT');
  }
  setMemslotV1Private(): Answer {
    this.log.push('setMemslotV1Private()');
    return this.cfg.memslot === 'v7' ? ok() : fail('EINVAL');
  }
  setMemslotV2Gmem(): Answer {
    if (this.cfg.memslot === 'gmem-private-vms') return fail('EINVAL');
    return this.cfg.memslot === 'gmem' ? ok() : fail('ENOTTY');
  }
  moveEncContext(dstVm: number, sourceFd: number): Answer {
    this.log.push('moveEncContext()');
    const dst = this.objs.get(dstVm);
    const src = this.objs.get(sourceFd);
    if (!src || src.kind !== 'vm' || !dst || dst.kind !== 'vm')
      return fail(this.cfg.move === 'sev-only' ? 'EINVAL' : 'EBADF');
    if (this.cfg.move === 'sev-only' || src.type !== dst.type) return fail('EINVAL');
    if (this.cfg.move === 'rfc') src.dead = true;
    return ok();
  }
}

// -------------------------------------------------------------------------------------------
// Kernel flavours, by the history of each number.

const MAINLINE_618: SimConfig = {
  mfd8: 'noexec',
  seal20: 'exec',
  memslot: 'gmem',
  sys451: 'cachestat',
  sys452: 'fchmodat2',
  kvm: true,
  gmem: true,
  vmD5: 'none',
  vcpuD5: 'prefault',
  vmD6: 'none',
  move: 'sev-only',
};
const UPM_V7: SimConfig = {
  mfd8: 'inaccessible',
  seal20: 'autoalloc',
  memslot: 'v7',
  sys451: 'none',
  sys452: 'none',
  kvm: true,
  gmem: false,
  vmD5: 'none',
  vcpuD5: 'none',
  vmD6: 'none',
  move: 'sev-only',
};
const LINUX_61: SimConfig = {
  mfd8: 'none',
  seal20: 'none',
  memslot: 'none',
  sys451: 'none',
  sys452: 'none',
  kvm: true,
  gmem: false,
  vmD5: 'none',
  vcpuD5: 'none',
  vmD6: 'none',
  move: 'sev-only',
};
const RESTRICTEDMEM_V10: SimConfig = { ...LINUX_61, sys451: 'restricted' };
const RESTRICTEDMEM_RFCS: SimConfig = {
  ...LINUX_61,
  mfd8: 'noexec',
  seal20: 'exec',
  sys451: 'restricted+usermnt',
  sys452: 'bind',
};
const LINK_RFC_V1: SimConfig = {
  mfd8: 'noexec',
  seal20: 'exec',
  memslot: 'gmem',
  sys451: 'cachestat',
  sys452: 'none',
  kvm: true,
  gmem: true,
  vmD5: 'link',
  vcpuD5: 'none',
  vmD6: 'none',
  move: 'rfc',
  swProtected: true,
};
const LINK_RFC_V2: SimConfig = { ...MAINLINE_618, vmD6: 'link', move: 'rfc', swProtected: true };
const LINUX_612: SimConfig = { ...MAINLINE_618, memslot: 'gmem-private-vms' };
const INPLACE_RFC_V1: SimConfig = { ...MAINLINE_618, vmD6: 'sma2' };
const NO_KVM: SimConfig = { ...MAINLINE_618, kvm: false };

/** The expected state (and, for number-taken, a word of the meaning) of every feature on a flavour. */
type Expectation = Partial<Record<ProposalFeatureId, [ProbeState, string?, string?]>>;

function run(cfg: SimConfig, id: ProposalFeatureId): { v: ProbeVerdict; k: SimKernel } {
  const k = new SimKernel(cfg);
  const v = proposalFeature(id).probe(k);
  return { v, k };
}

function check(name: string, cfg: SimConfig, want: Expectation): void {
  describe(name, () => {
    for (const [id, [state, meaning, evidence]] of Object.entries(want) as [
      ProposalFeatureId,
      [ProbeState, string?, string?],
    ][]) {
      it(`${id} → ${state}${meaning ? ` (${meaning})` : ''}`, () => {
        const { v, k } = run(cfg, id);
        assert.equal(v.state, state, describeVerdict(v));
        if (meaning) assert.match(v.meaning ?? '', new RegExp(meaning), describeVerdict(v));
        if (evidence) assert.match(v.evidence.join('; '), new RegExp(evidence), describeVerdict(v));
        assert.ok(v.evidence.length > 0, 'a verdict carries evidence');
        assert.deepEqual(
          [...k.objs.keys()],
          [],
          `the probe left handles open: ${[...k.objs.entries()].map(([fd, o]) => `${fd}:${o.kind}`).join(', ')}`,
        );
      });
    }
  });
}

check('mainline 6.18 (every number taken or free)', MAINLINE_618, {
  upm_v7_mfd_inaccessible: ['number-taken', 'MFD_NOEXEC_SEAL'],
  upm_v7_seal_auto_allocate: ['number-taken', 'F_SEAL_EXEC'],
  upm_v7_mem_private: ['number-taken', 'KVM_MEM_GUEST_MEMFD'],
  restrictedmem_v10_memfd_restricted: ['number-taken', 'cachestat'],
  restrictedmem_rfc_usermnt: ['number-taken', 'cachestat'],
  restrictedmem_rfc_bind: ['number-taken', 'fchmodat2'],
  gmem_link_v1: ['number-taken', 'KVM_PRE_FAULT_MEMORY'],
  gmem_link_v2: ['absent', 'unassigned'],
  gmem_link_move_memory_context: ['absent', 'SEV'],
});

check('Linux 6.12 (guest_memfd memslots only on private-memory VM types)', LINUX_612, {
  upm_v7_mem_private: ['number-taken', 'KVM_MEM_GUEST_MEMFD', 'type-0 VM refuses bit 2 through both ioctls'],
});

check('UPM v7 kernel (5.19 + the series)', UPM_V7, {
  upm_v7_mfd_inaccessible: ['present'],
  upm_v7_seal_auto_allocate: ['present'],
  upm_v7_mem_private: ['present'],
  restrictedmem_v10_memfd_restricted: ['absent'],
  restrictedmem_rfc_bind: ['absent'],
  gmem_link_v1: ['absent'],
  gmem_link_v2: ['absent'],
  gmem_link_move_memory_context: ['absent'],
});

check('Linux 6.1 (numbers still free)', LINUX_61, {
  upm_v7_mfd_inaccessible: ['absent', 'unknown memfd_create flag'],
  upm_v7_seal_auto_allocate: ['absent', 'unknown seal'],
  upm_v7_mem_private: ['absent'],
  restrictedmem_v10_memfd_restricted: ['absent', 'not implemented'],
  restrictedmem_rfc_usermnt: ['absent'],
  restrictedmem_rfc_bind: ['absent', 'not implemented'],
  gmem_link_v1: ['absent', 'unused'],
  gmem_link_v2: ['absent'],
});

check('restrictedmem v10 (6.1 + the series)', RESTRICTEDMEM_V10, {
  restrictedmem_v10_memfd_restricted: ['present'],
  restrictedmem_rfc_usermnt: ['absent', 'flags other than 0'],
  restrictedmem_rfc_bind: ['absent', 'not implemented'],
});

check('restrictedmem with the mount and bind RFCs', RESTRICTEDMEM_RFCS, {
  restrictedmem_v10_memfd_restricted: ['present'],
  restrictedmem_rfc_usermnt: ['present'],
  restrictedmem_rfc_bind: ['present'],
  upm_v7_mfd_inaccessible: ['number-taken', 'MFD_NOEXEC_SEAL'],
});

check('gmem link RFC v1 (6.5 + guest_mem v11 + the series)', LINK_RFC_V1, {
  gmem_link_v1: ['present'],
  gmem_link_v2: ['absent'],
  gmem_link_move_memory_context: ['present'],
  restrictedmem_v10_memfd_restricted: ['number-taken', 'cachestat'],
  restrictedmem_rfc_bind: ['absent'],
});

check('gmem link RFC v2 (6.15-era mainline + the series)', LINK_RFC_V2, {
  gmem_link_v1: ['number-taken', 'KVM_PRE_FAULT_MEMORY'],
  gmem_link_v2: ['present'],
  gmem_link_move_memory_context: ['present'],
});

check('in-place conversion RFC v1 (KVM_SET_MEMORY_ATTRIBUTES2 at 0xd6)', INPLACE_RFC_V1, {
  gmem_link_v2: ['number-taken', 'KVM_SET_MEMORY_ATTRIBUTES2'],
  gmem_link_v1: ['number-taken', 'KVM_PRE_FAULT_MEMORY'],
});

check('no /dev/kvm', NO_KVM, {
  upm_v7_mem_private: ['absent', 'no KVM'],
  gmem_link_v1: ['absent', 'no KVM'],
  gmem_link_v2: ['absent', 'no KVM'],
  gmem_link_move_memory_context: ['absent', 'no KVM'],
  upm_v7_mfd_inaccessible: ['number-taken', 'MFD_NOEXEC_SEAL'],
});

check(
  'the F_SEAL_EXEC trap: exec bits cannot be dropped, so the seal implies write seals',
  { ...MAINLINE_618, fchmodBlocked: true },
  {
    upm_v7_seal_auto_allocate: ['number-taken', 'F_SEAL_EXEC', 'implied write seals'],
  },
);

check(
  'contradictory kernels',
  { ...MAINLINE_618, mfd8: 'weird', sys451: 'weird', vmD5: 'link-new-inode', move: 'rfc-source-survives' },
  {
    upm_v7_mfd_inaccessible: ['inconclusive'],
    restrictedmem_v10_memfd_restricted: ['inconclusive'],
    gmem_link_v1: ['inconclusive'],
    gmem_link_move_memory_context: ['inconclusive'],
  },
);

// -------------------------------------------------------------------------------------------
// What the probes may issue where a number means something else.

describe('probes are safe where the number means something else', () => {
  it('on mainline, syscall 451 is only issued as cachestat(0, NULL, NULL, 0) and with valid cachestat buffers', () => {
    for (const id of [
      'restrictedmem_v10_memfd_restricted',
      'restrictedmem_rfc_usermnt',
      'restrictedmem_rfc_bind',
    ] as const) {
      const { k } = run(MAINLINE_618, id);
      const calls451 = k.log.filter((l) => l.startsWith('syscall451'));
      assert.deepEqual(calls451, ['syscall451(0, 0)'], `${id}: ${calls451.join(', ')}`);
      assert.ok(
        !k.log.some((l) => l.startsWith('syscall452-bind')),
        `${id} issued memfd_restricted_bind on a fchmodat2 kernel`,
      );
      assert.ok(
        !k.log.includes('tmpfsMountFd()'),
        `${id} built a mount for RMFD_USERMNT on a kernel without memfd_restricted`,
      );
    }
  });
  it('on mainline, the link probes send exactly one valid link request and pre-fault only a valid range', () => {
    for (const id of ['gmem_link_v1', 'gmem_link_v2'] as const) {
      const { k } = run(MAINLINE_618, id);
      const links = k.log.filter((l) => l.startsWith('vmIoctlLink'));
      assert.equal(links.length, 1, `${id}: ${links.join(', ')}`);
      assert.match(links[0] ?? '', /flags 0\)$/);
      for (const pf of k.log.filter((l) => l.startsWith('vcpuPreFault'))) assert.equal(pf, 'vcpuPreFault(0, 4096, 0)');
    }
  });
  it('on mainline, F_SEAL 0x20 goes only on a memfd whose exec bits were dropped first', () => {
    const { k } = run(MAINLINE_618, 'upm_v7_seal_auto_allocate');
    const seal = k.log.findIndex((l) => l.includes(', 0x20)'));
    assert.ok(seal > 0);
    assert.equal(k.log.filter((l) => l.startsWith('writeSharedInChild')).length, 1, 'the mapped write runs in a child');
  });
  it('on mainline, KVM_MEM_PRIVATE goes through the v1 ioctl once', () => {
    const { k } = run(MAINLINE_618, 'upm_v7_mem_private');
    assert.equal(k.log.filter((l) => l === 'setMemslotV1Private()').length, 1);
  });
});

// -------------------------------------------------------------------------------------------
// The registry and the gate in front of the raw proposal calls.

describe('registry', () => {
  it('one feature per probe case id, each naming known ABI entries, structs and series', () => {
    const ids = new Set<string>();
    for (const f of PROPOSAL_FEATURES) {
      assert.ok(!ids.has(f.id), `duplicate ${f.id}`);
      ids.add(f.id);
      assert.match(f.id, /^[a-z0-9_]+$/);
      assert.ok(
        PROPOSALS.some((p) => p.id === f.proposal),
        `${f.id}: unknown series ${f.proposal}`,
      );
      for (const a of f.abi) assert.ok(a in PROPOSAL_ABI, `${f.id}: unknown ABI ${a}`);
      for (const s of f.structs) assert.ok(s in PROPOSAL_STRUCTS, `${f.id}: unknown struct ${s}`);
      assert.ok(f.semantics.length > 20 && f.mainline.length > 3);
    }
  });
  it('every series with a collision is probed by some feature', () => {
    for (const entry of Object.values(PROPOSAL_ABI)) {
      if (entry.proposal === 'gmem-inplace-conversion-rfc-v1') continue; // probed as the collider of gmem_link_v2
      assert.ok(
        PROPOSAL_FEATURES.some((f) => f.proposal === entry.proposal),
        `no feature probes ${entry.proposal}`,
      );
    }
  });
});

describe('the gate in front of proposal calls', () => {
  it('refuses to unlock a feature whose probe did not find it present', () => {
    for (const state of ['absent', 'number-taken', 'inconclusive'] as const) {
      assert.throws(() => presentProof('gmem_link_v1', { state, evidence: ['x'] }), /refusing to unlock/);
    }
    const proof = presentProof('gmem_link_v1', { state: 'present', evidence: ['x'] });
    assert.equal(proof.feature, 'gmem_link_v1');
  });
});
