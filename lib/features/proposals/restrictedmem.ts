// Probes for the restrictedmem series: memfd_restricted (syscall 451), RMFD_USERMNT (its mount flag) and
// memfd_restricted_bind (syscall 452). Mainline gave 451 to cachestat (6.5) and 452 to fchmodat2 (6.6).
import { MFD_CLOEXEC, MPOL_DEFAULT } from '../../uapi/index.js';
import { PAGE_SIZE } from '../../arch.js';
import { PROPOSAL_ABI } from '../../uapi/proposals.js';
import { isErrno, show, type ProbeKernel } from './kernel.js';
import { Evidence, type ProbeVerdict } from './verdict.js';

const PAGE = PAGE_SIZE;
const RMFD_USERMNT = PROPOSAL_ABI.RMFD_USERMNT.value;

/** What probeMemfdRestricted asks the kernel. */
export type MemfdRestrictedKernel = Pick<
  ProbeKernel,
  | 'memfdRestricted'
  | 'cachestat'
  | 'memfdCreate'
  | 'close'
  | 'ftruncate'
  | 'fallocate'
  | 'pwriteByte'
  | 'read'
  | 'write'
  | 'mmapShared'
>;

/**
 * memfd_restricted(0): v10 returns an fd of a file with only .fallocate/.release — read/write fail with EINVAL, mmap
 * with ENODEV, ftruncate and fallocate work. On 6.5+ the call is cachestat(fd 0, NULL, NULL, 0): EBADF/EFAULT (or
 * EOPNOTSUPP/EPERM) before it reads anything, and cachestat never writes file state, so the call is safe; a real
 * cachestat of a memfd (valid range and buffer) then confirms the mainline meaning.
 */
export function probeMemfdRestricted(k: MemfdRestrictedKernel): ProbeVerdict {
  const ev = new Evidence();
  const r = k.memfdRestricted(0, 0);
  ev.add(`syscall 451(0, 0, 0, 0) → ${show(r)}`);
  if (r.ok) {
    const fd = r.value;
    try {
      const rd = k.read(fd, 1);
      const wr = k.write(fd, 1);
      const size = k.ftruncate(fd, PAGE);
      const mm = k.mmapShared(fd, PAGE);
      const fa = k.fallocate(fd, 0, 0, PAGE);
      ev.add(
        `on the new fd: read → ${show(rd)}, write → ${show(wr)}, ftruncate → ${show(size)}, mmap → ${show(mm)}, fallocate → ${show(fa)}`,
      );
      if (isErrno(rd, 'EINVAL') && isErrno(wr, 'EINVAL') && isErrno(mm, 'ENODEV') && size.ok && fa.ok)
        return ev.present();
      return ev.inconclusive('syscall 451 returned an fd that does not behave like a restrictedmem file');
    } finally {
      k.close(fd);
    }
  }
  if (r.errno === 'ENOSYS') return ev.absent('unused: syscall 451 not implemented (pre-6.5)');
  const mfd = k.memfdCreate(MFD_CLOEXEC);
  if (!mfd.ok) return ev.inconclusive(`memfd_create failed with ${mfd.errno}`);
  try {
    k.ftruncate(mfd.value, 2 * PAGE);
    k.pwriteByte(mfd.value, 0, 1);
    const cs = k.cachestat(mfd.value);
    ev.add(`cachestat(memfd with one written page) → ${cs.ok ? `OK, nr_cache ${cs.value}` : cs.errno}`);
    if (cs.ok && cs.value >= 1) return ev.taken('cachestat (6.5+)');
    return ev.inconclusive(
      `syscall 451 refused memfd_restricted(0) with ${r.errno} but is not a working cachestat either`,
    );
  } finally {
    k.close(mfd.value);
  }
}

/** What probeRestrictedUserMount asks the kernel. */
export type RestrictedUserMountKernel = MemfdRestrictedKernel & Pick<ProbeKernel, 'tmpfsMountFd'>;

/**
 * RMFD_USERMNT (RFC v3): memfd_restricted(RMFD_USERMNT, mount_fd) creates the file on a user-supplied tmpfs mount.
 * Only meaningful when syscall 451 is memfd_restricted, so it is never issued otherwise. With the RFC, a detached
 * tmpfs mount fd yields a new fd; v10 alone refuses flags != 0 with EINVAL.
 */
export function probeRestrictedUserMount(k: RestrictedUserMountKernel): ProbeVerdict {
  const base = probeMemfdRestricted(k);
  const ev = new Evidence();
  for (const line of base.evidence) ev.add(line);
  if (base.state === 'inconclusive') return ev.inconclusive('memfd_restricted itself could not be decided');
  if (base.state !== 'present') {
    ev.add('RMFD_USERMNT is a flag of memfd_restricted, which this kernel does not have: not issued');
    return base.state === 'number-taken' ? ev.taken(base.meaning ?? '?') : ev.absent(base.meaning);
  }
  const mnt = k.tmpfsMountFd();
  ev.add(`fsopen/fsmount(tmpfs) → ${show(mnt)}`);
  if (!mnt.ok) return ev.inconclusive(`cannot make a tmpfs mount fd (${mnt.errno}) to test RMFD_USERMNT with`);
  try {
    const r = k.memfdRestricted(RMFD_USERMNT, mnt.value);
    ev.add(`memfd_restricted(RMFD_USERMNT, tmpfs mount) → ${show(r)}`);
    if (r.ok) {
      k.close(r.value);
      return ev.present();
    }
    if (r.errno === 'EINVAL') return ev.absent('memfd_restricted without the mount RFC (flags other than 0 refused)');
    return ev.inconclusive(`memfd_restricted(RMFD_USERMNT) failed with ${r.errno}`);
  } finally {
    k.close(mnt.value);
  }
}

/** What probeRestrictedBind asks the kernel. */
export type RestrictedBindKernel = MemfdRestrictedKernel & Pick<ProbeKernel, 'restrictedBind' | 'fchmodat2TempFile'>;

/**
 * memfd_restricted_bind (syscall 452, RFC): sets a NUMA policy on a range of a restrictedmem fd; refuses other fds with
 * EINVAL. It needs memfd_restricted; without it the probe identifies 452 instead, by fchmodat2(AT_FDCWD, <temp file>,
 * 0600, 0) changing that file's mode — harmless under the RFC too, where fd AT_FDCWD (-100) is refused with EBADF.
 */
export function probeRestrictedBind(k: RestrictedBindKernel): ProbeVerdict {
  const base = probeMemfdRestricted(k);
  const ev = new Evidence();
  for (const line of base.evidence) ev.add(line);
  if (base.state === 'present') {
    const rfd = k.memfdRestricted(0, 0);
    if (!rfd.ok) return ev.inconclusive(`a second memfd_restricted(0) failed with ${rfd.errno}`);
    try {
      k.ftruncate(rfd.value, PAGE);
      const bound = k.restrictedBind(rfd.value, 0, PAGE, MPOL_DEFAULT);
      ev.add(`memfd_restricted_bind(restricted fd, 0..4096, MPOL_DEFAULT) → ${show(bound)}`);
      const mfd = k.memfdCreate(MFD_CLOEXEC);
      const other = mfd.ok ? k.restrictedBind(mfd.value, 0, PAGE, MPOL_DEFAULT) : mfd;
      if (mfd.ok) k.close(mfd.value);
      ev.add(`memfd_restricted_bind(plain memfd) → ${show(other)}`);
      if (bound.ok && isErrno(other, 'EINVAL')) return ev.present();
      if (isErrno(bound, 'ENOSYS')) return ev.absent('unused: syscall 452 not implemented');
    } finally {
      k.close(rfd.value);
    }
  } else {
    ev.add('memfd_restricted_bind needs a restrictedmem fd, which this kernel cannot make');
  }
  const chmod = k.fchmodat2TempFile(0o600);
  ev.add(
    `syscall 452(AT_FDCWD, temp file 0644, 0600, 0) → ${chmod.ok ? `OK, mode now 0${chmod.value.toString(8)}` : chmod.errno}`,
  );
  if (chmod.ok && chmod.value === 0o600) return ev.taken('fchmodat2 (6.6+)');
  if (isErrno(chmod, 'ENOSYS')) return ev.absent('unused: syscall 452 not implemented (pre-6.6)');
  if (base.state === 'present')
    return ev.inconclusive('memfd_restricted exists but syscall 452 is neither its bind call nor fchmodat2');
  return ev.inconclusive(`syscall 452 answered ${show(chmod)}: neither fchmodat2 nor memfd_restricted_bind`);
}
