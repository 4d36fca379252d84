/**
 * memfd.seals.shared_file_table: seals added and checked while another task shares this one's file table and mm.
 *
 * memfd_test.c's test_share_* run their checks again while an idle clone(CLONE_FILES|CLONE_FS|CLONE_VM) child
 * exists, so that fdget() cannot take its single-owner fast path (the file table has two users). Here the same: a
 * probe-exec child starts such an idle task, shows with kcmp(KCMP_FILES) and kcmp(KCMP_VM) that the two share the
 * file table and the mm, then adds seals through a dup, an O_RDONLY reopen or beside a writable shared mapping of
 * the memfd (its fd 3, made and filled by the case) and tries a write; the case checks the seals from its own fd too.
 *
 * Kernel checks: seals through a shared file table (mm/memfd.c memfd_add_seals, fs/fcntl.c do_fcntl; read in 7.2.13
 * and 7.3-rc7)
 *   1. a seal added through a dup while the table is shared holds for every fd of the inode → EPERM | refused: memfd.seals.shared_file_table@dup | accepted: n/a (the same variant reads the data back)
 *   2. an O_RDONLY reopen cannot add seals while the table is shared → EPERM | refused: memfd.seals.shared_file_table@open_rdonly | accepted: memfd.seals.shared_file_table@dup
 *   3. F_SEAL_WRITE while the file is mapped writable and the table is shared → EBUSY | refused: memfd.seals.shared_file_table@mmap | accepted: memfd.seals.shared_file_table@dup
 */
import { defineCase } from '../../lib/harness/case.js';
import { CaseFailure, expectEq, outcome } from '../../lib/harness/expect.js';
import { ProbeProgram, resultOf, runProgram, type StepValue } from '../../lib/harness/probe-program.js';
import type { RawResult } from '../../lib/sys/errors.js';
import { getSeals } from '../../lib/sys/fcntl.js';
import { pread, pwrite } from '../../lib/sys/io.js';
import { memfdCreate } from '../../lib/sys/memfd.js';
import {
  AT_FDCWD,
  F_ADD_SEALS,
  F_GET_SEALS,
  F_SEAL_GROW,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  MAP_SHARED,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  O_CLOEXEC,
  O_RDONLY,
  PROT_READ,
  PROT_WRITE,
} from '../../lib/uapi/index.js';
import { sealText, uniqueName } from '../../lib/cases/memfd.js';
import { MATRIX_SIZE } from '../../lib/cases/memfd-seal-matrix.js';

/** enum kcmp_type of <linux/kcmp.h>: the mm and the file table. */
const KCMP_VM = 1;
const KCMP_FILES = 2;

/** One way the memfd is reached while the file table is shared, and what must happen. */
interface ShareParams {
  /** dup, open_rdonly or mmap. */ kind: string;
  /** Outcome of F_ADD_SEALS. */ add: string;
  /** Outcome of a pwrite through fd 3 afterwards. */ write: string;
}

/** The seals each kind adds: W+S through a dup or beside the mapping; GROW through the read-only reopen. */
function sealsFor(kind: string): number {
  return kind === 'open_rdonly' ? F_SEAL_GROW : F_SEAL_WRITE | F_SEAL_SHRINK;
}

const sharedFileTable = defineCase<ShareParams>({
  id: 'memfd.seals.shared_file_table',
  doc: 'with an idle CLONE_FILES|CLONE_VM task sharing the file table, seals added through a dup hold (a write then fails with EPERM), an O_RDONLY reopen is refused F_ADD_SEALS, and F_SEAL_WRITE beside a writable shared mapping gets EBUSY',
  tags: { selftest: ['memfd_test.c:test_share_dup', 'memfd_test.c:test_share_open', 'memfd_test.c:test_share_mmap'] },
  variants: [
    { name: 'dup', params: { kind: 'dup', add: 'OK', write: 'EPERM' } },
    { name: 'open_rdonly', params: { kind: 'open_rdonly', add: 'EPERM', write: 'OK' } },
    { name: 'mmap', params: { kind: 'mmap', add: 'EBUSY', write: 'OK' } },
  ],
  run(ctx) {
    const p = ctx.params;
    const fd = ctx.trackFd(memfdCreate(uniqueName('share'), MFD_CLOEXEC | MFD_ALLOW_SEALING));
    pwrite(fd, Buffer.alloc(MATRIX_SIZE, 0x5a), 0);
    const seals = sealsFor(p.kind);

    const prog = new ProbeProgram();
    const self = prog.sysOk('getpid');
    const task = prog.idleTask();
    const files = prog.sys('kcmp', self, task, KCMP_FILES, 0, 0);
    const vm = prog.sys('kcmp', self, task, KCMP_VM, 0, 0);
    let addFd: number | StepValue = 3;
    if (p.kind === 'dup') addFd = prog.sysOk('dup', 3);
    if (p.kind === 'open_rdonly')
      addFd = prog.sysOk('openat', AT_FDCWD, prog.bytes('/proc/self/fd/3'), O_RDONLY | O_CLOEXEC);
    if (p.kind === 'mmap') prog.sysOk('mmap', 0, MATRIX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
    const add = prog.sys('fcntl', addFd, F_ADD_SEALS, seals);
    const write = prog.sys('pwrite64', 3, prog.bytes(Buffer.from('w')), 1, 0);
    const after = prog.sys('fcntl', 3, F_GET_SEALS);
    prog.reap(task);
    const o = runProgram(prog, { fds: [fd], timeoutMs: 20000 });
    const r = (v: StepValue): RawResult => {
      const got = resultOf(o, v);
      if (!got)
        throw new CaseFailure(
          `the probe child ended (status ${o.status} signal ${o.signal}) before step ${v.index}: ${o.stderr.trim()}`,
        );
      return got;
    };
    const t = r(task);
    if (t.ret === -1n) throw new CaseFailure(`clone(CLONE_FILES|CLONE_FS|CLONE_VM) of the idle task: ${outcome(t)}`);
    const shared = [r(files), r(vm)];
    if (shared.some((k) => k.ret === -1n))
      ctx.note(`kcmp unavailable (${shared.map(outcome).join(', ')}): the sharing is the clone flags' word alone`);
    else {
      expectEq(r(files).ret, 0n, 'kcmp(KCMP_FILES) of the child and its idle task (0: one file table)');
      expectEq(r(vm).ret, 0n, 'kcmp(KCMP_VM) of the child and its idle task (0: one mm)');
    }
    ctx.observe('seen', { add: outcome(r(add)), write: outcome(r(write)), seals: Number(r(after).ret) });
    expectEq(outcome(r(add)), p.add, `F_ADD_SEALS(${sealText(seals)}) with the table shared (${p.kind})`);
    expectEq(outcome(r(write)), p.write, 'pwrite through fd 3 after that');
    const want = p.add === 'OK' ? seals : 0;
    expectEq(Number(r(after).ret), want, 'F_GET_SEALS in the child afterwards');
    expectEq(getSeals(fd), want, "F_GET_SEALS through the case's own fd of the same file");
    expectEq(pread(fd, 1, 0)[0], p.write === 'OK' ? 0x77 : 0x5a, 'the first byte of the file afterwards');
  },
});

export default [sharedFileTable];
