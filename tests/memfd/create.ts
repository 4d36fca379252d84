/**
 * memfd.create: memfd_create(2) flags, names, and the state of a new memfd (seals, mode, fd flags, /proc link).
 *
 * Kernel checks: memfd_create (mm/memfd.c SYSCALL memfd_create, sanitize_flags, alloc_name,
 * check_sysctl_memfd_noexec; read in 7.2.13 and 7.3-rc7, measured on 6.18)
 *   1. a flag bit outside MFD_ALL_FLAGS without MFD_HUGETLB → EINVAL | refused: memfd.create.unknown_flag_bit@bit5 | accepted: memfd.create.flags@cloexec_exec_allow_sealing
 *   2. with MFD_HUGETLB a bit outside MFD_ALL_FLAGS and the size field → EINVAL | refused: memfd.hugetlb.unknown_bits | accepted: memfd.hugetlb.size_encoding@2mb
 *   3. a size encoding without MFD_HUGETLB → EINVAL | refused: memfd.hugetlb.size_without_hugetlb@huge_2mb | accepted: memfd.hugetlb.size_encoding@2mb
 *   4. MFD_EXEC together with MFD_NOEXEC_SEAL → EINVAL | refused: memfd.create.exec_with_noexec_seal@alone | accepted: memfd.create.flags@exec
 *   5. vm.memfd_noexec=2 without MFD_NOEXEC_SEAL → EACCES | refused: memfd.exec.sysctl_2 | accepted: memfd.exec.sysctl_1
 *   6. name longer than MFD_NAME_MAX_LEN (249) → EINVAL | refused: memfd.create.name_length@len250 | accepted: memfd.create.name_length@len249
 *   7. name unreadable (strncpy_from_user fails) → EFAULT | refused: memfd.create.name_bad_pointer@null | accepted: memfd.create.name_length@len0
 *   8. a huge page size the kernel has no hstate for → ENODEV (hugetlb_file_setup) | refused: memfd.hugetlb.size_encoding@16gb | accepted: memfd.hugetlb.size_encoding@2mb
 */
import { defineCase } from '../../lib/harness/case.js';
import { expectFinished, ProbeProgram, resultOf, runProgram } from '../../lib/harness/probe-program.js';
import { expectErrno, expectEq, expectOk, expectTrue } from '../../lib/harness/expect.js';
import { __getSeals, fcntl, getFl } from '../../lib/sys/fcntl.js';
import { fstat } from '../../lib/sys/fd.js';
import { __memfdCreate } from '../../lib/sys/memfd.js';
import {
  AT_FDCWD,
  F_GETFD,
  F_SEAL_EXEC,
  F_SEAL_SEAL,
  FD_CLOEXEC,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  MFD_EXEC,
  MFD_HUGETLB,
  MFD_NOEXEC_SEAL,
  O_LARGEFILE,
  O_RDWR,
} from '../../lib/uapi/index.js';
import {
  NEEDS_HUGETLBFS,
  NEEDS_MEMFD_EXEC_API,
  __memfdCreateRawName,
  fdLink,
  hostMemfdNoexec,
  memfdLink,
  modeOf,
  octal,
  requireDefaultExecPolicy,
  sealText,
  uniqueName,
} from '../../lib/cases/memfd.js';

const S_IFREG = 0o100000;
const S_IFMT = 0o170000;

/** One flag combination and the state the new memfd must have. */
interface FlagsParams {
  /** memfd_create flags. */ flags: number;
  /** F_GET_SEALS right after creation. */ seals: number;
  /** Permission bits right after creation. */ mode: number;
  /** FD_CLOEXEC expected in F_GETFD. */ cloexec: boolean;
  /** The result depends on the default exec policy (no MFD_EXEC/MFD_NOEXEC_SEAL given). */ usesDefaultPolicy: boolean;
}

function flagsVariant(name: string, flags: number, seals: number, mode: number) {
  const usesDefaultPolicy = (flags & (MFD_EXEC | MFD_NOEXEC_SEAL)) === 0;
  return {
    name,
    params: { flags, seals, mode, cloexec: (flags & MFD_CLOEXEC) !== 0, usesDefaultPolicy },
    ...(usesDefaultPolicy ? {} : { requires: NEEDS_MEMFD_EXEC_API }),
  };
}

const flagCombos = defineCase<FlagsParams>({
  id: 'memfd.create.flags',
  doc: 'each valid flag combination creates a memfd with the documented seals, mode, FD_CLOEXEC, F_GETFL O_RDWR|O_LARGEFILE, size 0 and an unlinked regular inode',
  tags: {
    selftest: ['memfd_test.c:test_create', 'memfd_test.c:test_exec_no_seal', 'memfd_test.c:test_noexec_seal'],
    linuxGit: ['9183df25fe7b', '105ff5339f49'],
  },
  variants: [
    flagsVariant('none', 0, F_SEAL_SEAL, 0o777),
    flagsVariant('cloexec', MFD_CLOEXEC, F_SEAL_SEAL, 0o777),
    flagsVariant('allow_sealing', MFD_ALLOW_SEALING, 0, 0o777),
    flagsVariant('cloexec_allow_sealing', MFD_CLOEXEC | MFD_ALLOW_SEALING, 0, 0o777),
    flagsVariant('exec', MFD_EXEC, F_SEAL_SEAL, 0o777),
    flagsVariant('exec_allow_sealing', MFD_EXEC | MFD_ALLOW_SEALING, 0, 0o777),
    flagsVariant('cloexec_exec_allow_sealing', MFD_CLOEXEC | MFD_EXEC | MFD_ALLOW_SEALING, 0, 0o777),
    flagsVariant('noexec_seal', MFD_NOEXEC_SEAL, F_SEAL_EXEC, 0o666),
    flagsVariant('noexec_seal_allow_sealing', MFD_NOEXEC_SEAL | MFD_ALLOW_SEALING, F_SEAL_EXEC, 0o666),
    flagsVariant('cloexec_noexec_seal', MFD_CLOEXEC | MFD_NOEXEC_SEAL, F_SEAL_EXEC, 0o666),
  ],
  run(ctx) {
    const p = ctx.params;
    if (p.usesDefaultPolicy) requireDefaultExecPolicy(ctx);
    if (p.flags & MFD_EXEC && hostMemfdNoexec() === 2)
      ctx.skip('vm.memfd_noexec is 2 in this pid namespace, which refuses MFD_EXEC (memfd.exec.sysctl_2 covers that)');
    const name = uniqueName('flags');
    const fd = ctx.trackFd(
      Number(expectOk(__memfdCreate(name, p.flags), `memfd_create(flags 0x${p.flags.toString(16)})`)),
    );
    const seals = Number(expectOk(__getSeals(fd), 'F_GET_SEALS'));
    ctx.observe('seals', seals);
    expectEq(seals, p.seals, `F_GET_SEALS (${sealText(seals)} vs ${sealText(p.seals)})`);
    const st = fstat(fd);
    expectEq(st.mode & S_IFMT, S_IFREG, 'file type (S_IFREG)');
    expectEq(st.mode & 0o7777, p.mode, `mode (${octal(st.mode & 0o7777)} vs ${octal(p.mode)})`);
    expectEq(st.size, 0n, 'st_size');
    expectEq(st.blocks, 0n, 'st_blocks');
    expectEq(st.nlink, 0n, 'st_nlink (the inode has no name in any directory)');
    expectEq(getFl(fd), O_RDWR | O_LARGEFILE, 'F_GETFL');
    expectEq((fcntl(fd, F_GETFD, 0, 'fcntl(F_GETFD)') & FD_CLOEXEC) !== 0, p.cloexec, 'FD_CLOEXEC in F_GETFD');
    expectEq(fdLink(fd), memfdLink(name), 'readlink /proc/self/fd/N');
  },
});

const execWithNoexec = defineCase<{ flags: number }>({
  id: 'memfd.create.exec_with_noexec_seal',
  doc: 'MFD_EXEC together with MFD_NOEXEC_SEAL fails with EINVAL, whatever else is set',
  tags: { selftest: 'memfd_test.c:test_create', linuxGit: ['105ff5339f49'] },
  variants: [
    { name: 'alone', params: { flags: MFD_EXEC | MFD_NOEXEC_SEAL } },
    { name: 'allow_sealing', params: { flags: MFD_EXEC | MFD_NOEXEC_SEAL | MFD_ALLOW_SEALING } },
    { name: 'cloexec', params: { flags: MFD_EXEC | MFD_NOEXEC_SEAL | MFD_CLOEXEC } },
    { name: 'hugetlb', params: { flags: MFD_EXEC | MFD_NOEXEC_SEAL | MFD_HUGETLB }, requires: NEEDS_HUGETLBFS },
  ],
  run(ctx) {
    const r = __memfdCreate(uniqueName('exnx'), ctx.params.flags);
    if (r.ret >= 0) ctx.trackFd(r.ret);
    expectErrno(r, 'EINVAL', `memfd_create(flags 0x${ctx.params.flags.toString(16)})`);
  },
});

const unknownBit = defineCase<{ bit: number }>({
  id: 'memfd.create.unknown_flag_bit',
  doc: 'each flag bit above MFD_EXEC (bits 5..31) fails with EINVAL without MFD_HUGETLB',
  tags: { selftest: 'memfd_test.c:test_create' },
  variants: Array.from({ length: 27 }, (_x, i) => ({ name: `bit${i + 5}`, params: { bit: i + 5 } })),
  run(ctx) {
    const flags = (1 << ctx.params.bit) >>> 0;
    const r = __memfdCreate(uniqueName('bit'), flags);
    if (r.ret >= 0) ctx.trackFd(r.ret);
    expectErrno(r, 'EINVAL', `memfd_create(flags 0x${flags.toString(16)})`);
  },
});

const invalidMasks = defineCase({
  id: 'memfd.create.invalid_masks',
  doc: 'flag masks that include unknown bits fail with EINVAL: ~0, ~MFD_CLOEXEC, ~MFD_ALLOW_SEALING, 0x80000000, 0x100, and valid flags plus bit 5',
  tags: { selftest: 'memfd_test.c:test_create' },
  run(ctx) {
    for (const flags of [
      0xffffffff,
      ~MFD_CLOEXEC >>> 0,
      ~MFD_ALLOW_SEALING >>> 0,
      0x80000000,
      0x100,
      MFD_CLOEXEC | MFD_ALLOW_SEALING | 0x20,
    ]) {
      const r = __memfdCreate(uniqueName('mask'), flags);
      if (r.ret >= 0) ctx.trackFd(r.ret);
      expectErrno(r, 'EINVAL', `memfd_create(flags 0x${flags.toString(16)})`);
    }
  },
});

/** A name length and whether the kernel must accept it (249 = NAME_MAX - strlen("memfd:")). */
interface NameLenParams {
  /** Bytes in the name (without the NUL). */ length: number;
  /** Accepted, else EINVAL. */ ok: boolean;
}

const nameLength = defineCase<NameLenParams>({
  id: 'memfd.create.name_length',
  doc: 'names up to 249 bytes (NAME_MAX minus "memfd:") are accepted and shown in /proc/self/fd; 250 bytes and more fail with EINVAL',
  tags: { selftest: 'memfd_test.c:test_create' },
  variants: [0, 1, 248, 249, 250, 255, 256, 4095].map((length) => ({
    name: `len${length}`,
    params: { length, ok: length <= 249 },
  })),
  run(ctx) {
    const name = 'n'.repeat(ctx.params.length);
    const r = __memfdCreate(name, MFD_CLOEXEC);
    if (r.ret >= 0) ctx.trackFd(r.ret);
    if (ctx.params.ok) {
      const fd = Number(expectOk(r, `a ${ctx.params.length}-byte name`));
      expectEq(fdLink(fd), memfdLink(name), 'readlink /proc/self/fd/N');
    } else expectErrno(r, 'EINVAL', `a ${ctx.params.length}-byte name`);
  },
});

const nameUnterminated = defineCase({
  id: 'memfd.create.name_unterminated',
  doc: 'a name buffer of 4096 non-NUL bytes (no terminator within 250 bytes) fails with EINVAL',
  tags: { selftest: 'memfd_test.c:test_create' },
  run(ctx) {
    const r = __memfdCreateRawName(Buffer.alloc(4096, 0xff), MFD_CLOEXEC);
    if (r.ret >= 0n) ctx.trackFd(Number(r.ret));
    expectErrno(r, 'EINVAL', 'an unterminated 4096-byte name');
  },
});

const nameBadPointer = defineCase<{ pointer: bigint | null }>({
  id: 'memfd.create.name_bad_pointer',
  doc: 'a NULL or unmapped name pointer fails with EFAULT',
  tags: { selftest: 'memfd_test.c:test_create' },
  variants: [
    { name: 'null', params: { pointer: null } },
    { name: 'address_1', params: { pointer: 1n } },
    { name: 'kernel_address', params: { pointer: -0x800000000000n } },
  ],
  run(ctx) {
    const r = __memfdCreateRawName(ctx.params.pointer, MFD_CLOEXEC);
    if (r.ret >= 0n) ctx.trackFd(Number(r.ret));
    expectErrno(
      r,
      'EFAULT',
      `name pointer ${ctx.params.pointer === null ? 'NULL' : `0x${BigInt.asUintN(64, ctx.params.pointer).toString(16)}`}`,
    );
  },
});

const nameCharacters = defineCase<{ name: string }>({
  id: 'memfd.create.name_characters',
  doc: 'the name is not a path: "/", "..", newlines, spaces and UTF-8 are accepted and shown verbatim in /proc/self/fd',
  variants: [
    { name: 'slash', params: { name: 'a/b' } },
    { name: 'only_slash', params: { name: '/' } },
    { name: 'dotdot', params: { name: '..' } },
    { name: 'newline', params: { name: 'a\nb' } },
    { name: 'spaces', params: { name: ' x ' } },
    { name: 'utf8', params: { name: 'ü-名' } },
    { name: 'deleted_suffix', params: { name: 'x (deleted)' } },
  ],
  run(ctx) {
    const fd = ctx.trackFd(
      Number(expectOk(__memfdCreate(ctx.params.name, MFD_CLOEXEC), `name ${JSON.stringify(ctx.params.name)}`)),
    );
    expectEq(fdLink(fd), memfdLink(ctx.params.name), 'readlink /proc/self/fd/N');
  },
});

const modeIgnoresUmask = defineCase({
  id: 'memfd.create.mode_ignores_umask',
  doc: 'the process umask does not apply: with umask 077 a memfd is still 0777 (0666 with MFD_NOEXEC_SEAL)',
  isolation: 'fresh',
  run(ctx) {
    requireDefaultExecPolicy(ctx);
    const old = process.umask(0o077);
    ctx.defer(() => void process.umask(old));
    const fd = ctx.trackFd(Number(expectOk(__memfdCreate(uniqueName('umask'), MFD_CLOEXEC), 'memfd_create')));
    expectEq(modeOf(fd), 0o777, 'mode under umask 077');
  },
});

const modeIgnoresUmaskNoexec = defineCase({
  id: 'memfd.create.mode_ignores_umask_noexec_seal',
  doc: 'with umask 077, MFD_NOEXEC_SEAL still gives 0666 (only the exec bits are removed)',
  requires: NEEDS_MEMFD_EXEC_API,
  isolation: 'fresh',
  run(ctx) {
    const old = process.umask(0o077);
    ctx.defer(() => void process.umask(old));
    const fd = ctx.trackFd(
      Number(expectOk(__memfdCreate(uniqueName('umask'), MFD_CLOEXEC | MFD_NOEXEC_SEAL), 'memfd_create')),
    );
    expectEq(modeOf(fd), 0o666, 'mode under umask 077');
  },
});

const owner = defineCase({
  id: 'memfd.create.owner',
  doc: 'a new memfd belongs to the caller: st_uid/st_gid are its fsuid/fsgid, st_blksize the page size',
  run(ctx) {
    const fd = ctx.trackFd(Number(expectOk(__memfdCreate(uniqueName('owner'), MFD_CLOEXEC), 'memfd_create')));
    const st = fstat(fd);
    expectEq(st.uid, process.geteuid?.() ?? st.uid, 'st_uid');
    expectEq(st.gid, process.getegid?.() ?? st.gid, 'st_gid');
    expectEq(st.blksize, ctx.env.pageSize, 'st_blksize');
  },
});

const distinct = defineCase({
  id: 'memfd.create.distinct_inodes',
  doc: 'every memfd_create makes a new inode on the same internal tmpfs (same st_dev, different st_ino), even with equal names',
  run(ctx) {
    const a = ctx.trackFd(Number(expectOk(__memfdCreate('same', MFD_CLOEXEC), 'first')));
    const b = ctx.trackFd(Number(expectOk(__memfdCreate('same', MFD_CLOEXEC), 'second')));
    const sa = fstat(a);
    const sb = fstat(b);
    expectEq(sa.dev, sb.dev, 'st_dev');
    expectTrue(sa.ino !== sb.ino, `both memfds have inode ${sa.ino}`);
  },
});

/** What fd N is in a probe child (a new program, so after execve), as readlink of /proc/self/fd/N shows it. */
function fdLinkInChild(fd: number): string | null {
  const p = new ProbeProgram();
  const buf = p.buf(4096);
  const n = p.sys('readlinkat', AT_FDCWD, p.bytes(`/proc/self/fd/${fd}`), buf, 4096);
  const text = p.out(buf, n);
  const o = runProgram(p);
  expectFinished(o, `readlink of /proc/self/fd/${fd} in a child`);
  return resultOf(o, n)?.ret === -1n ? null : (o.output.get(text.index)?.toString() ?? null);
}

const cloexecAcrossExec = defineCase<{ cloexec: boolean }>({
  id: 'memfd.create.cloexec_across_exec',
  doc: 'MFD_CLOEXEC closes the memfd on execve: a spawned child does not have it at the same fd number; without the flag it does',
  variants: [
    { name: 'cloexec', params: { cloexec: true } },
    { name: 'no_cloexec', params: { cloexec: false } },
  ],
  run(ctx) {
    const name = uniqueName('cloexec');
    const fd = ctx.trackFd(Number(expectOk(__memfdCreate(name, ctx.params.cloexec ? MFD_CLOEXEC : 0), 'memfd_create')));
    const link = fdLinkInChild(fd);
    ctx.observe('childLink', link);
    if (ctx.params.cloexec)
      expectTrue(link !== memfdLink(name), `the child still has the MFD_CLOEXEC memfd at fd ${fd}`);
    else expectEq(link, memfdLink(name), `fd ${fd} in the child`);
  },
});

export default [
  flagCombos,
  execWithNoexec,
  unknownBit,
  invalidMasks,
  nameLength,
  nameUnterminated,
  nameBadPointer,
  nameCharacters,
  modeIgnoresUmask,
  modeIgnoresUmaskNoexec,
  owner,
  distinct,
  cloexecAcrossExec,
];
