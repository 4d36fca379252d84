/** Probe programs on the live kernel: the interpreter reports each step's raw value and errno, and dies where the program faults. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HarnessError } from '../lib/harness/expect.js';
import {
  ProbeProgram,
  parseProgramOutput,
  resultOf,
  runProgram,
  startProgram,
  waitExitCode,
  writeThroughSharedMapping,
} from '../lib/harness/probe-program.js';
import { memfdCreate } from '../lib/sys/memfd.js';
import { close } from '../lib/sys/fd.js';
import { ftruncate } from '../lib/sys/io.js';
import { AT_FDCWD, MFD_CLOEXEC } from '../lib/uapi/index.js';

test('the program text: syscall numbers, 64-bit literals, step references with an addend', () => {
  const p = new ProbeProgram();
  const b = p.buf(8);
  p.sys('close', -1);
  p.sysOk('lseek', 0, 2n ** 64n - 1n, 0);
  p.load(b.add(4), 1);
  p.put64(b, 0, b);
  assert.equal(p.text(), ['buf 8', 'sys 3 -1', 'sys 8 0 -1 0 !', 'load $0+4 1', 'put64 $0 0 $0'].join('\n'));
});

test('the output parser keeps results by step and out() bytes, and refuses output without READY', () => {
  const got = parseProgramOutput('READY\nR 0 5 0\nO 1 6869\nR 1 2 0\nR 2 -1 22\n');
  assert.deepEqual(got?.results, [
    { ret: 5n, errno: 0 },
    { ret: 2n, errno: 0 },
    { ret: -1n, errno: 22 },
  ]);
  assert.equal(got?.output.get(1)?.toString(), 'hi');
  assert.equal(parseProgramOutput('probe-exec: line 1: unknown step\n'), null);
});

test('raw results: a refused syscall reports -1 and its errno, a finished one its value; out() returns the bytes', () => {
  const p = new ProbeProgram();
  const bad = p.sys('close', 12345);
  const pid = p.sys('getpid');
  const buf = p.buf(64);
  const n = p.sys('readlinkat', AT_FDCWD, p.bytes('/proc/self/exe'), buf, 64);
  const text = p.out(buf, n);
  const o = runProgram(p);
  assert.equal(o.status, 0, o.stderr);
  assert.deepEqual(resultOf(o, bad), { ret: -1n, errno: 9 });
  assert.ok((resultOf(o, pid)?.ret ?? 0n) > 1n);
  assert.match(o.output.get(text.index)?.toString() ?? '', /probe-exec$/);
});

test('a fault kills the child in the step that touched the page: the steps before it reported, none after', () => {
  const fd = memfdCreate('probe-program-test', MFD_CLOEXEC);
  try {
    ftruncate(fd, 4096n);
    const p = new ProbeProgram();
    const map = p.sysOk('mmap', 0, 8192, 3, 1, 3, 0);
    const inside = p.store(map, 4095, 7);
    const beyond = p.load(map, 4096);
    const never = p.sys('getpid');
    const o = runProgram(p, { fds: [fd] });
    assert.equal(o.signal, 'SIGBUS');
    assert.equal(resultOf(o, inside)?.ret, 7n);
    assert.equal(resultOf(o, beyond), undefined);
    assert.equal(resultOf(o, never), undefined);
    assert.equal(writeThroughSharedMapping(fd, 8192, 4095, 0x48), 'ok');
    assert.equal(writeThroughSharedMapping(fd, 8192, 4096, 0x48), 'SIGBUS');
  } finally {
    close(fd);
  }
});

test('a must-succeed step that fails stops the child with exit 3 after reporting it', () => {
  const p = new ProbeProgram();
  p.sysOk('close', 12345);
  const after = p.sys('getpid');
  const o = runProgram(p);
  assert.equal(o.status, 3);
  assert.deepEqual(o.results, [{ ret: -1n, errno: 9 }]);
  assert.equal(resultOf(o, after), undefined);
});

test('the idle task shares the file table and the mm (kcmp 0) and is reaped', () => {
  const p = new ProbeProgram();
  const self = p.sys('getpid');
  const task = p.idleTask();
  const files = p.sys('kcmp', self, task, 2, 0, 0);
  const vm = p.sys('kcmp', self, task, 1, 0, 0);
  const reaped = p.reap(task);
  const o = runProgram(p);
  assert.equal(o.status, 0, o.stderr);
  const t = resultOf(o, task)?.ret ?? -1n;
  assert.ok(t > 0n);
  if (resultOf(o, files)?.errno !== 38) {
    assert.equal(resultOf(o, files)?.ret, 0n);
    assert.equal(resultOf(o, vm)?.ret, 0n);
  }
  assert.equal(resultOf(o, reaped)?.ret, t);
});

test('a program the interpreter cannot parse is a harness error, not an outcome', () => {
  const p = new ProbeProgram();
  p.sys('getpid');
  // a reference to a later step: the interpreter refuses the whole program before running any of it
  (p as unknown as { lines: string[] }).lines.push('load $5 0');
  assert.throws(
    () => runProgram(p),
    (e: unknown) => e instanceof HarnessError && /line 2/.test(String(e)),
  );
});

test('readFile returns a file the child read; startProgram runs it without blocking this thread', async () => {
  const p = new ProbeProgram();
  const text = p.readFile('/proc/sys/kernel/ostype');
  const started = startProgram(p);
  const o = await started.done;
  assert.equal(o.status, 0, o.stderr);
  assert.equal(o.output.get(text.index)?.toString().trim(), 'Linux');
});

test('pid 1 of a new pid namespace: pidnsFork reports its unshare, its steps and its exit status', () => {
  const p = new ProbeProgram();
  let inside = p.sys('getpid');
  const fork = p.pidnsFork(() => {
    inside = p.sys('getpid');
    p.checkEq(inside, 2); // pid 1 is not 2: the child stops with exit 3
  });
  const waited = p.wait(fork);
  const o = runProgram(p);
  assert.equal(o.status, 0, o.stderr);
  if (o.unshareErrno.get(fork.index) !== 0) return; // unshare(CLONE_NEWPID) refused (no privilege here)
  assert.equal(resultOf(o, inside)?.ret, 1n);
  assert.equal(waitExitCode(BigInt(resultOf(o, waited)?.ret ?? -1n)), 3);
});
