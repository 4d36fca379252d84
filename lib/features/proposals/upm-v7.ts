// Probes for the UPM v7 ABIs (seed 001): MFD_INACCESSIBLE, F_SEAL_AUTO_ALLOCATE, KVM_MEM_PRIVATE.
// Each decides by behaviour only the proposal has, then names what the number means instead.
import {
  MFD_CLOEXEC,
  MFD_ALLOW_SEALING,
  F_SEAL_EXEC,
  F_SEAL_SEAL,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_KEEP_SIZE,
  KVM_CAP_GUEST_MEMFD,
  KVM_CAP_USER_MEMORY2,
} from '../../uapi/index.js';
import { PAGE_SIZE } from '../../arch.js';
import { PROPOSAL_ABI } from '../../uapi/proposals.js';
import { isErrno, show, type ProbeKernel } from './kernel.js';
import { Evidence, type ProbeVerdict } from './verdict.js';

const PAGE = PAGE_SIZE;
const MFD_INACCESSIBLE = PROPOSAL_ABI.MFD_INACCESSIBLE.value;
const F_SEAL_AUTO_ALLOCATE = PROPOSAL_ABI.F_SEAL_AUTO_ALLOCATE.value;
const KVM_MEM_PRIVATE = PROPOSAL_ABI.KVM_MEM_PRIVATE.value;

/** What probeMfdInaccessible asks the kernel. */
export type MfdInaccessibleKernel = Pick<
  ProbeKernel,
  'memfdCreate' | 'close' | 'getSeals' | 'ftruncate' | 'pwriteByte' | 'mmapShared' | 'permBits'
>;

/**
 * MFD_INACCESSIBLE (0x8): the v7 fd refuses write and mmap (EPERM from shmem's MEMFILE_F_USER_INACCESSIBLE checks),
 * and memfd_create(MFD_INACCESSIBLE | MFD_ALLOW_SEALING) fails with EINVAL. On 6.3+ the same bit is MFD_NOEXEC_SEAL:
 * the fd works normally, carries F_SEAL_EXEC and has no exec bits, and the combination with MFD_ALLOW_SEALING is fine.
 * Safe under every meaning: it only creates throwaway memfds.
 */
export function probeMfdInaccessible(k: MfdInaccessibleKernel): ProbeVerdict {
  const ev = new Evidence();
  const created = k.memfdCreate(MFD_CLOEXEC | MFD_INACCESSIBLE);
  ev.add(`memfd_create(MFD_CLOEXEC|0x8) → ${show(created)}`);
  if (!created.ok) {
    if (created.errno === 'EINVAL') return ev.absent('unused: unknown memfd_create flag (pre-6.3)');
    return ev.inconclusive(`memfd_create with bit 0x8 failed with ${created.errno}, which neither meaning explains`);
  }
  const fd = created.value;
  try {
    const seals = k.getSeals(fd);
    ev.add(`F_GET_SEALS → ${seals.ok ? `0x${seals.value.toString(16)}` : seals.errno}`);
    const perm = k.permBits(fd);
    ev.add(`mode 0${perm.toString(8)}`);
    const size = k.ftruncate(fd, PAGE);
    ev.add(`ftruncate(4096) → ${show(size)}`);
    const wr = k.pwriteByte(fd, 0, 0x5a);
    ev.add(`pwrite → ${show(wr)}`);
    const mm = k.mmapShared(fd, PAGE);
    ev.add(`mmap(MAP_SHARED) → ${show(mm)}`);
    const combo = k.memfdCreate(MFD_CLOEXEC | MFD_INACCESSIBLE | MFD_ALLOW_SEALING);
    if (combo.ok) k.close(combo.value);
    ev.add(`memfd_create(0x8|MFD_ALLOW_SEALING) → ${show(combo)}`);

    const refusesIo = !wr.ok && !mm.ok;
    if (refusesIo && isErrno(combo, 'EINVAL')) return ev.present();
    const execSealed = seals.ok && (seals.value & F_SEAL_EXEC) !== 0;
    if (wr.ok && mm.ok && combo.ok && execSealed)
      return ev.add('the fd is ordinary memory sealed against exec').taken('MFD_NOEXEC_SEAL (6.3+)');
    return ev.inconclusive('the fd neither refuses I/O like MFD_INACCESSIBLE nor behaves like MFD_NOEXEC_SEAL');
  } finally {
    k.close(fd);
  }
}

/** What probeSealAutoAllocate asks the kernel. */
export type SealAutoAllocateKernel = Pick<
  ProbeKernel,
  | 'memfdCreate'
  | 'close'
  | 'ftruncate'
  | 'fchmod'
  | 'fallocate'
  | 'addSeals'
  | 'getSeals'
  | 'pwriteByte'
  | 'writeSharedInChild'
>;

/**
 * F_SEAL_AUTO_ALLOCATE (0x20): after PUNCH_HOLE a write() into the hole fails (shmem SGP_NOALLOC) and a write through a
 * shared mapping gets SIGBUS, while writes to allocated pages and fallocate() still work. On 6.3+ 0x20 is F_SEAL_EXEC,
 * whose documented side effect matters: sealing an *executable* memfd also adds F_SEAL_SHRINK|GROW|WRITE|FUTURE_WRITE,
 * after which every write fails and a naive test would see "writes refused" and call the proposal present. The probe
 * therefore drops the exec bits first (fchmod 0600), checks F_GET_SEALS, and identifies F_SEAL_EXEC by its own
 * behaviour: fchmod adding exec bits fails with EPERM. Safe: everything happens on one throwaway memfd; the mapped
 * write runs in a child process.
 */
export function probeSealAutoAllocate(k: SealAutoAllocateKernel): ProbeVerdict {
  const ev = new Evidence();
  const created = k.memfdCreate(MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (!created.ok) return ev.inconclusive(`memfd_create(MFD_ALLOW_SEALING) failed with ${created.errno}`);
  const fd = created.value;
  try {
    ev.add(`ftruncate(8192) → ${show(k.ftruncate(fd, 2 * PAGE))}`);
    const chmod = k.fchmod(fd, 0o600);
    ev.add(`fchmod(0600) → ${show(chmod)}`);
    ev.add(`fallocate(0, 8192) → ${show(k.fallocate(fd, 0, 0, 2 * PAGE))}`);
    const sealed = k.addSeals(fd, F_SEAL_AUTO_ALLOCATE);
    ev.add(`F_ADD_SEALS(0x20) → ${show(sealed)}`);
    if (!sealed.ok) {
      if (sealed.errno === 'EINVAL') return ev.absent('unused: unknown seal (pre-6.3)');
      return ev.inconclusive(`F_ADD_SEALS(0x20) on a fresh sealable memfd failed with ${sealed.errno}`);
    }
    const seals = k.getSeals(fd);
    ev.add(`F_GET_SEALS → ${seals.ok ? `0x${seals.value.toString(16)}` : seals.errno}`);
    if (!seals.ok || (seals.value & F_SEAL_AUTO_ALLOCATE) === 0)
      return ev.inconclusive('the seal was accepted but F_GET_SEALS does not show it');
    const extra = seals.value & ~F_SEAL_AUTO_ALLOCATE & ~F_SEAL_SEAL;
    if (extra !== 0)
      ev.add(`the kernel added seals 0x${extra.toString(16)} of its own (F_SEAL_EXEC on an executable file does that)`);

    const allocated = k.pwriteByte(fd, 0, 0x11);
    ev.add(`pwrite into an allocated page → ${show(allocated)}`);
    ev.add(`PUNCH_HOLE(4096, 4096) → ${show(k.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PAGE, PAGE))}`);
    const hole = k.pwriteByte(fd, PAGE, 0x22);
    ev.add(`pwrite into the hole → ${show(hole)}`);
    k.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PAGE, PAGE);
    const touch = k.writeSharedInChild(fd, PAGE);
    ev.add(`write through a shared mapping into the hole (child) → ${touch}`);
    const refill = k.fallocate(fd, 0, PAGE, PAGE);
    ev.add(`fallocate(4096, 4096) → ${show(refill)}`);
    const after = k.pwriteByte(fd, PAGE, 0x33);
    ev.add(`pwrite after fallocate → ${show(after)}`);
    const chmodX = k.fchmod(fd, 0o700);
    ev.add(`fchmod(0700) → ${show(chmodX)}`);

    const proposal = !hole.ok && touch === 'SIGBUS' && allocated.ok && refill.ok && after.ok;
    const execSeal = isErrno(chmodX, 'EPERM');
    if (proposal && !execSeal) return ev.present();
    if (execSeal && hole.ok && touch === 'ok')
      return ev.add('the seal forbids chmod of the exec bits; holes still fill on write').taken('F_SEAL_EXEC (6.3+)');
    if (execSeal && extra !== 0 && !allocated.ok)
      return ev
        .add('F_SEAL_EXEC on an executable memfd implied write seals, so every write fails: not AUTO_ALLOCATE')
        .taken('F_SEAL_EXEC (6.3+)');
    return ev.inconclusive(
      'the seal neither blocks hole allocation like F_SEAL_AUTO_ALLOCATE nor guards exec bits like F_SEAL_EXEC',
    );
  } finally {
    k.close(fd);
  }
}

/** What probeMemPrivate asks the kernel. */
export type MemPrivateKernel = Pick<
  ProbeKernel,
  | 'kvmAvailable'
  | 'sysCap'
  | 'createVm'
  | 'createGmem'
  | 'memfdCreate'
  | 'ftruncate'
  | 'close'
  | 'setMemslotV1Private'
  | 'setMemslotV2Gmem'
>;

/**
 * KVM_MEM_PRIVATE (1 << 2): v7 accepts it on KVM_SET_USER_MEMORY_REGION and reads { private_offset, private_fd }
 * after the 32-byte region. Mainline (6.8+) gave bit 2 to KVM_MEM_GUEST_MEMFD, accepted only through
 * KVM_SET_USER_MEMORY_REGION2 with a guest_memfd (the v1 ioctl refuses it with EINVAL). Safe: a throwaway type-0 VM;
 * mainline reads only the 32-byte v1 region and refuses the flag before touching anything.
 */
export function probeMemPrivate(k: MemPrivateKernel): ProbeVerdict {
  const ev = new Evidence();
  if (!k.kvmAvailable()) return ev.add('/dev/kvm cannot be opened').absent('no KVM on this machine');
  const vm = k.createVm(0);
  if (!vm.ok) return ev.inconclusive(`KVM_CREATE_VM(0) failed with ${vm.errno}`);
  const mfd = k.memfdCreate(MFD_CLOEXEC);
  try {
    if (!mfd.ok) return ev.inconclusive(`memfd_create failed with ${mfd.errno}`);
    k.ftruncate(mfd.value, PAGE);
    const v1 = k.setMemslotV1Private(vm.value, 0, 0, PAGE, mfd.value, 0);
    ev.add(`KVM_SET_USER_MEMORY_REGION(flags 0x${KVM_MEM_PRIVATE.toString(16)}, private_fd = memfd) → ${show(v1)}`);
    if (v1.ok) return ev.present();
    if (v1.errno !== 'EINVAL')
      return ev.inconclusive(`the v1 ioctl refused KVM_MEM_PRIVATE with ${v1.errno}, not EINVAL`);
    const caps = k.sysCap(KVM_CAP_GUEST_MEMFD) !== 0 && k.sysCap(KVM_CAP_USER_MEMORY2) !== 0;
    ev.add(`KVM_CAP_GUEST_MEMFD and KVM_CAP_USER_MEMORY2 → ${caps ? 'both set' : 'not both set'}`);
    if (!caps) return ev.absent('unused: not a memslot flag (pre-6.8)');
    const gmem = k.createGmem(vm.value, PAGE, 0);
    ev.add(`KVM_CREATE_GUEST_MEMFD → ${show(gmem)}`);
    if (!gmem.ok) return ev.inconclusive('KVM_CAP_GUEST_MEMFD is set but KVM_CREATE_GUEST_MEMFD fails');
    const v2 = k.setMemslotV2Gmem(vm.value, 1, 16 * PAGE, PAGE, gmem.value);
    k.close(gmem.value);
    ev.add(`KVM_SET_USER_MEMORY_REGION2(KVM_MEM_GUEST_MEMFD) → ${show(v2)}`);
    if (v2.ok)
      return ev
        .add('bit 2 binds a guest_memfd, and only through KVM_SET_USER_MEMORY_REGION2')
        .taken('KVM_MEM_GUEST_MEMFD (6.8+)');
    // 6.8–6.17: only VM types with private memory accept KVM_MEM_GUEST_MEMFD (check_memory_region_flags), so a
    // type-0 VM refuses it with EINVAL through both ioctls. The proposal's own behaviour (the v1 ioctl accepting
    // the bit) is absent all the same, and the headers the kernel advertises give the bit to KVM_MEM_GUEST_MEMFD.
    if (v2.errno === 'EINVAL') {
      return ev
        .add(
          'a type-0 VM refuses bit 2 through both ioctls: KVM_MEM_GUEST_MEMFD is limited to VM types with private memory here',
        )
        .taken('KVM_MEM_GUEST_MEMFD (6.8+; private-memory VM types only on this kernel)');
    }
    return ev.inconclusive('bit 2 is neither KVM_MEM_PRIVATE nor a working KVM_MEM_GUEST_MEMFD');
  } finally {
    if (mfd.ok) k.close(mfd.value);
    k.close(vm.value);
  }
}
