/**
 * memfd.seals.shared_file_table: seals set and checked by another task that shares this process's file table and mm.
 *
 * memfd_test.c's test_share_* run their checks while an idle clone(CLONE_FILES|CLONE_FS|CLONE_VM) child exists, so
 * fdget() cannot take its single-owner fast path. Here the other task is a worker thread (clone with CLONE_FILES|
 * CLONE_VM|CLONE_THREAD): it uses the very fd numbers of the case, adds seals and tries the sealed operations, and the
 * case checks from its own thread what the worker did. A non-thread CLONE_FILES|CLONE_VM child (no CLONE_THREAD), as
 * memfd_test.c makes it, is not made here: Node offers no raw clone.
 *
 * Kernel checks: seals through a shared file table (mm/memfd.c memfd_add_seals, fs/fcntl.c do_fcntl; read in 7.2.13
 * and 7.3-rc7)
 *   1. a seal added through a dup in another task holds for every fd of the inode → EPERM | refused: memfd.seals.shared_file_table@dup | accepted: n/a (the same variant reads the data back)
 *   2. an O_RDONLY reopen used by another task cannot add seals → EPERM | refused: memfd.seals.shared_file_table@open_rdonly | accepted: memfd.seals.shared_file_table@dup
 *   3. F_SEAL_WRITE from another task while this task maps the file writable → EBUSY | refused: memfd.seals.shared_file_table@mmap | accepted: memfd.seals.shared_file_table@dup
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { defineCase } from '../../lib/harness/case.js';
import { CaseFailure, expectEq, outcome } from '../../lib/harness/expect.js';
import { getSeals } from '../../lib/sys/fcntl.js';
import { dup, open } from '../../lib/sys/fd.js';
import { __pwrite, pwrite } from '../../lib/sys/io.js';
import { memfdCreate } from '../../lib/sys/memfd.js';
import { mmap } from '../../lib/sys/mman.js';
import {
  F_SEAL_GROW,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  MAP_SHARED,
  MFD_ALLOW_SEALING,
  O_CLOEXEC,
  O_RDONLY,
  PROT_READ,
  PROT_WRITE,
} from '../../lib/uapi/index.js';
import { sealText, uniqueName } from '../../lib/cases/memfd.js';
import { MATRIX_SIZE } from '../../lib/cases/memfd-seal-matrix.js';

const FCNTL = fileURLToPath(new URL('../../lib/sys/fcntl.js', import.meta.url));
const IO = fileURLToPath(new URL('../../lib/sys/io.js', import.meta.url));
const EXPECT = fileURLToPath(new URL('../../lib/harness/expect.js', import.meta.url));

// The worker: F_ADD_SEALS(seals) on addFd, then pwrite on writeFd; posts both outcomes and its thread id.
const WORKER_SOURCE = `
const { parentPort, workerData, threadId } = require('node:worker_threads');
(async () => {
  const fcntl = await import(workerData.fcntl);
  const io = await import(workerData.io);
  const expect = await import(workerData.expect);
  const add = expect.outcome(fcntl.__addSeals(workerData.addFd, workerData.seals));
  const write = expect.outcome(io.__pwrite(workerData.writeFd, Buffer.from('w'), 0));
  parentPort.postMessage({ add, write, threadId });
})().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));
`;

/** What the worker thread saw. */
interface WorkerSeen {
  /** F_ADD_SEALS outcome. */ add?: string;
  /** pwrite outcome after it. */ write?: string;
  /** Worker thread id (non-zero: another thread). */ threadId?: number;
  /** Exception text when the worker failed. */ error?: string;
}

/** Runs the seal-adding worker thread (same fd table, same mm) and returns what it saw; the process exit ends it. */
function inWorkerThread(addFd: number, seals: number, writeFd: number): Promise<WorkerSeen> {
  const w = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { fcntl: FCNTL, io: IO, expect: EXPECT, addFd, seals, writeFd },
  });
  return new Promise<WorkerSeen>((resolve, reject) => {
    w.once('message', (m: WorkerSeen) => resolve(m));
    w.once('error', reject);
  });
}

/** What the probe child found: the worker's view, then the seals and a write from the child's main thread. */
interface ShareSeen {
  /** The worker thread's outcomes. */ worker: WorkerSeen;
  /** Seals added by the worker. */ seals: number;
  /** F_GET_SEALS in the main thread afterwards. */ sealsAfter: number;
  /** pwrite in the main thread afterwards. */ mainWrite: string;
}

// In a probe child: worker threads open io_uring and eventfd descriptors of their own, which the case's leak check
// would count, and the worker ends with the child instead of being terminated under the case.
/** Probe: makes the memfd, lets a worker thread act on it through the shared fd table, reports what both saw. */
export async function sharedTableProbe(kind: string): Promise<ShareSeen> {
  const fd = memfdCreate(uniqueName('share'), MFD_ALLOW_SEALING);
  pwrite(fd, Buffer.alloc(MATRIX_SIZE, 0x5a), 0);
  let addFd = fd;
  let seals = F_SEAL_WRITE | F_SEAL_SHRINK;
  if (kind === 'dup') addFd = dup(fd);
  if (kind === 'open_rdonly') {
    addFd = open(`/proc/self/fd/${fd}`, O_RDONLY | O_CLOEXEC);
    seals = F_SEAL_GROW;
  }
  if (kind === 'mmap') mmap(MATRIX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
  const worker = await inWorkerThread(addFd, seals, fd);
  return { worker, seals, sealsAfter: getSeals(fd), mainWrite: outcome(__pwrite(fd, Buffer.from('m'), 1)) };
}

/** One way the worker reaches the memfd, and what it must see. */
interface ShareParams {
  /** dup, open_rdonly or mmap. */ kind: string;
  /** Outcome of the worker's F_ADD_SEALS. */ add: string;
  /** Outcome of the worker's pwrite afterwards. */ write: string;
}

const sharedFileTable = defineCase<ShareParams>({
  id: 'memfd.seals.shared_file_table',
  doc: 'a worker thread sharing the file table adds seals through a dup (then its own write fails with EPERM), is refused F_ADD_SEALS through an O_RDONLY reopen, and gets EBUSY for F_SEAL_WRITE while the case maps the file writable',
  tags: { selftest: ['memfd_test.c:test_share_dup', 'memfd_test.c:test_share_open', 'memfd_test.c:test_share_mmap'] },
  variants: [
    { name: 'dup', params: { kind: 'dup', add: 'OK', write: 'EPERM' } },
    { name: 'open_rdonly', params: { kind: 'open_rdonly', add: 'EPERM', write: 'OK' } },
    { name: 'mmap', params: { kind: 'mmap', add: 'EBUSY', write: 'OK' } },
  ],
  run(ctx) {
    const p = ctx.params;
    const r = ctx.probe('sharedTableProbe', [p.kind], { timeoutMs: 20000 });
    const seen = r.value as ShareSeen | undefined;
    if (r.status !== 0 || !seen)
      throw new CaseFailure(
        `probe child failed: status ${r.status} signal ${r.signal}: ${r.stderr.trim().split('\n').pop()}`,
      );
    if (seen.worker.error !== undefined)
      throw new CaseFailure(`the worker thread failed: ${seen.worker.error.split('\n').slice(0, 3).join(' | ')}`);
    ctx.observe('seen', seen);
    expectEq((seen.worker.threadId ?? 0) > 0, true, 'the worker ran as another thread');
    expectEq(seen.worker.add, p.add, `F_ADD_SEALS(${sealText(seen.seals)}) in the worker thread (${p.kind})`);
    expectEq(seen.worker.write, p.write, 'pwrite in the worker thread after that');
    expectEq(seen.sealsAfter, p.add === 'OK' ? seen.seals : 0, 'F_GET_SEALS in the main thread afterwards');
    expectEq(seen.mainWrite, p.write, 'pwrite in the main thread afterwards');
  },
});

export default [sharedFileTable];
