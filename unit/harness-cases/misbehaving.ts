/** Cases that misbehave on purpose, for the harness's own tests (never part of the suite's tests/). */
import { defineCase } from '../../lib/harness/case.js';
import { expectErrno, expectTrue } from '../../lib/harness/expect.js';
import { memfdCreate } from '../../lib/sys/memfd.js';
import { mmap } from '../../lib/sys/mman.js';
import * as libc from '../../lib/ffi/libc.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE, SYSCALL } from '../../lib/uapi/index.js';

export default [
  defineCase({
    id: 'harness.demo.pass_before',
    doc: 'passes: close(-1) fails with EBADF',
    run() {
      expectErrno(libc.close(-1), 'EBADF', 'close(-1)');
    },
  }),
  defineCase({
    id: 'harness.demo.sigbus',
    doc: 'touches a shared mapping of an empty memfd: the kernel sends SIGBUS',
    run() {
      const fd = memfdCreate('harness-sigbus', 0);
      const m = mmap(4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
      m.bytes[0] = 1; // beyond EOF of a 0-byte file: SIGBUS
    },
  }),
  defineCase({
    id: 'harness.demo.hang',
    doc: 'never returns: the runner must time it out',
    timeoutMs: 1500,
    run() {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
    },
  }),
  defineCase({
    id: 'harness.demo.throws',
    doc: 'throws a TypeError: the harness broke, not the kernel',
    run() {
      throw new TypeError('boom');
    },
  }),
  defineCase({
    id: 'harness.demo.fails',
    doc: 'asserts something false',
    run() {
      expectTrue(false, 'deliberately false');
    },
  }),
  defineCase({
    id: 'harness.demo.leaks',
    doc: 'leaks an fd: the harness closes it and reports the leak',
    run() {
      memfdCreate('harness-leak', 0);
    },
  }),
  defineCase({
    id: 'harness.demo.leaks_mapping',
    doc: 'closes its memfd but leaves a mapping of it: the harness unmaps it and reports the leak',
    run() {
      const fd = memfdCreate('harness-leak-map', 0);
      libc.ftruncate(fd, 4096);
      mmap(4096, PROT_READ, MAP_SHARED, fd);
      libc.close(fd);
    },
  }),
  defineCase({
    id: 'harness.demo.needs_missing_file',
    doc: 'requires a file that does not exist',
    requires: { files: ['/nonexistent/gmem-conformance'] },
    run() {
      throw new Error('must not run');
    },
  }),
  defineCase({
    id: 'harness.demo.fresh',
    doc: 'runs in a worker of its own',
    isolation: 'fresh',
    run() {
      expectErrno(libc.close(-1), 'EBADF', 'close(-1)');
    },
  }),
  defineCase({
    id: 'harness.demo.serial',
    doc: 'runs alone',
    serial: true,
    run() {
      expectErrno(libc.close(-1), 'EBADF', 'close(-1)');
    },
  }),
  defineCase({
    id: 'harness.demo.pass_after',
    doc: 'passes after the misbehaving ones: the run went on',
    run() {
      expectErrno(libc.close(-1), 'EBADF', 'close(-1)');
    },
  }),
  defineCase({
    id: 'harness.demo.pins_memory',
    doc: 'locks 128 MiB of anonymous memory and leaves it locked: the result carries a note naming the growth',
    run() {
      const len = 128n << 20n;
      const m = libc.mmap(0n, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n);
      expectTrue(m.ret !== -1n, 'anonymous mmap of 128 MiB');
      const r = libc.syscall(SYSCALL.mlock, m.ret, len);
      expectTrue(r.ret === 0n, `mlock of 128 MiB failed with errno ${r.errno}`);
    },
  }),
];
