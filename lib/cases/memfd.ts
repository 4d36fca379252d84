/** Shared pieces of every memfd case: names, requirement sets, seal masks as text, the exec policy of this namespace. */
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { PAGE_SIZE } from '../arch.js';
import * as libc from '../ffi/libc.js';
import type { CaseContext } from '../harness/context.js';
import type { Requires } from '../harness/case.js';
import { CaseFailure, expectOk } from '../harness/expect.js';
import { fstat } from '../sys/fd.js';
import { getSeals } from '../sys/fcntl.js';
import { __memfdCreate } from '../sys/memfd.js';
import {
  F_SEAL_EXEC,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  SYSCALL,
} from '../uapi/index.js';

/** The page size the memfd cases use, as a number (lib/arch.ts's one page size). */
export const PAGE = PAGE_SIZE;

/** Name prefix of every memfd the suite creates (visible in /proc/<pid>/fd while a case runs). */
export const MEMFD_NAME = 'gmem-conformance';

/** The sysctl that selects the default exec policy of memfd_create in this pid namespace (6.3+). */
export const MEMFD_NOEXEC_SYSCTL = '/proc/sys/vm/memfd_noexec';

// MFD_EXEC, MFD_NOEXEC_SEAL and F_SEAL_EXEC arrived in 6.3 together with vm.memfd_noexec
// (105ff5339f49, 6fd7353829ca), so the sysctl file marks the whole API.
/** Requirement of cases that use MFD_EXEC, MFD_NOEXEC_SEAL or F_SEAL_EXEC (6.3+). */
export const NEEDS_MEMFD_EXEC_API: Requires = { files: [MEMFD_NOEXEC_SYSCTL] };

// Keyed by behaviour, not by CONFIG_HUGETLBFS: the kernel config is unreadable on some kernels (Debian 6.1 in a
// guest has neither /proc/config.gz nor /boot/config-*), while hugetlb_sysfs_init() creates this directory exactly
// when the kernel has hugetlb pages (CONFIG_HUGETLBFS selects CONFIG_HUGETLB_PAGE).
/** The sysfs directory that exists exactly when the kernel has hugetlb support. */
export const HUGEPAGES_SYSFS = '/sys/kernel/mm/hugepages';

/** Requirement of MFD_HUGETLB cases: the kernel has hugetlb support (hugetlbfs). */
export const NEEDS_HUGETLBFS: Requires = { files: [HUGEPAGES_SYSFS] };

/** Every F_SEAL_* the kernel defines (F_ALL_SEALS in mm/memfd.c). */
export const ALL_SEALS = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | F_SEAL_EXEC;

/** The seals F_SEAL_EXEC implies on a memfd whose mode has an exec bit (c4f75bc8bd6b, "W^X from the start"). */
export const SEAL_EXEC_IMPLIES = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;

const SEAL_NAMES: [number, string][] = [
  [F_SEAL_SEAL, 'SEAL'],
  [F_SEAL_SHRINK, 'SHRINK'],
  [F_SEAL_GROW, 'GROW'],
  [F_SEAL_WRITE, 'WRITE'],
  [F_SEAL_FUTURE_WRITE, 'FUTURE_WRITE'],
  [F_SEAL_EXEC, 'EXEC'],
];

/** A seal mask as text for messages: "0x3e (SHRINK|GROW|WRITE|FUTURE_WRITE|EXEC)". */
export function sealText(mask: number): string {
  const names = SEAL_NAMES.filter(([bit]) => mask & bit).map(([, n]) => n);
  const rest = mask & ~ALL_SEALS;
  if (rest) names.push(`0x${rest.toString(16)}`);
  return `0x${mask.toString(16)} (${names.length ? names.join('|') : 'none'})`;
}

/** Expects F_GET_SEALS on fd to equal want, naming both masks on failure. */
export function expectSeals(fd: number, want: number, what: string): void {
  const got = getSeals(fd);
  if (got !== want) throw new CaseFailure(`${what}: F_GET_SEALS is ${sealText(got)}, expected ${sealText(want)}`);
}

/** A unique memfd name for one case (so /proc/self/fd links can be told apart). */
export function uniqueName(tag: string): string {
  return `${MEMFD_NAME}-${tag}-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
}

/** The link /proc/self/fd/N shows for a memfd of that name. */
export function memfdLink(name: string): string {
  return `/memfd:${name} (deleted)`;
}

/** readlink of /proc/self/fd/N, or null when fd N is not open. */
export function fdLink(fd: number): string | null {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

/** Permission bits (07777) of an fd's inode. */
export function modeOf(fd: number): number {
  return fstat(fd).mode & 0o7777;
}

/** Octal text of a mode for messages. */
export function octal(mode: number): string {
  return `0${mode.toString(8)}`;
}

/** Raw memfd_create(2) with the name given as raw bytes (not NUL-terminated unless the buffer is) or a bad pointer. */
export function __memfdCreateRawName(name: Buffer | bigint | null, flags: number): libc.RawBig {
  return libc.syscall(SYSCALL.memfd_create, name, flags);
}

/** vm.memfd_noexec of this process's pid namespace; 0 when the kernel predates the sysctl (6.3). */
export function hostMemfdNoexec(): number {
  if (!existsSync(MEMFD_NOEXEC_SYSCTL)) return 0;
  return Number(readFileSync(MEMFD_NOEXEC_SYSCTL, 'utf8').trim());
}

// With vm.memfd_noexec 1 or 2 a memfd created without MFD_EXEC/MFD_NOEXEC_SEAL gets F_SEAL_EXEC and
// with 2 MFD_EXEC is refused; memfd.exec.sysctl_* test those policies in a pid namespace of their own.
/** Skips the case unless this pid namespace's vm.memfd_noexec is 0 (the default exec policy). */
export function requireDefaultExecPolicy(ctx: CaseContext<unknown>): void {
  const v = hostMemfdNoexec();
  if (v !== 0)
    ctx.skip(
      `vm.memfd_noexec is ${v} in this pid namespace (needs 0, the default exec policy); memfd.exec.sysctl_* cover ${v}`,
    );
}

/** A new memfd of the given flags, closed after the case; its creation is asserted to succeed. */
export function newMemfd(ctx: CaseContext<unknown>, flags: number, tag = 'fd'): number {
  const r = __memfdCreate(uniqueName(tag), flags);
  return ctx.trackFd(Number(expectOk(r, `memfd_create(flags 0x${flags.toString(16)})`)));
}
