/**
 * The only module that imports koffi: raw libc entry points that return { ret, errno }.
 *
 * errno is read in the same breath as the call (koffi.errno() straight after it), and is 0 when
 * the call succeeded, so callers can compare results without caring about stale errno values.
 * Values that are u64 in the kernel ABI (offsets, lengths, addresses) travel as BigInt.
 */
import koffi from 'koffi';

/** Result of a raw call whose return value fits an int (fds, 0/-1 statuses). */
export interface Raw {
  /** The C return value. */
  ret: number;
  /** errno read immediately after the call; 0 when ret is not -1. */
  errno: number;
}

/** Result of a raw call whose return value is 64-bit (addresses, offsets, syscall longs). */
export interface RawBig {
  /** The C return value as BigInt. */
  ret: bigint;
  /** errno read immediately after the call; 0 when ret is not -1. */
  errno: number;
}

/** A value accepted where the kernel takes a u64/s64 or a pointer-sized integer. */
export type U64 = bigint | number;

const libc = koffi.load('libc.so.6');

const c = {
  open: libc.func('open', 'int', ['str', 'int', 'uint32_t']),
  close: libc.func('close', 'int', ['int']),
  ioctlPtr: libc.func('ioctl', 'int', ['int', 'unsigned long', 'void *']),
  ioctlVal: libc.func('ioctl', 'int', ['int', 'unsigned long', 'unsigned long']),
  syscall: libc.func('syscall', 'long', ['long', '...']),
  mmap: libc.func('mmap', 'intptr_t', ['uintptr_t', 'size_t', 'int', 'int', 'int', 'int64_t']),
  munmap: libc.func('munmap', 'int', ['uintptr_t', 'size_t']),
  madvise: libc.func('madvise', 'int', ['uintptr_t', 'size_t', 'int']),
  mprotect: libc.func('mprotect', 'int', ['uintptr_t', 'size_t', 'int']),
  fallocate: libc.func('fallocate', 'int', ['int', 'int', 'int64_t', 'int64_t']),
  ftruncate: libc.func('ftruncate', 'int', ['int', 'int64_t']),
  fstat: libc.func('fstat', 'int', ['int', 'void *']),
  fcntl: libc.func('fcntl', 'int', ['int', 'int', 'long']),
  read: libc.func('read', 'intptr_t', ['int', 'void *', 'size_t']),
  write: libc.func('write', 'intptr_t', ['int', 'void *', 'size_t']),
  pread: libc.func('pread', 'intptr_t', ['int', 'void *', 'size_t', 'int64_t']),
  pwrite: libc.func('pwrite', 'intptr_t', ['int', 'void *', 'size_t', 'int64_t']),
  memfdCreate: libc.func('memfd_create', 'int', ['str', 'unsigned int']),
  lseek: libc.func('lseek', 'int64_t', ['int', 'int64_t', 'int']),
  dup: libc.func('dup', 'int', ['int']),
  dup2: libc.func('dup2', 'int', ['int', 'int']),
  socketpair: libc.func('socketpair', 'int', ['int', 'int', 'int', 'void *']),
  sendmsg: libc.func('sendmsg', 'intptr_t', ['int', 'void *', 'int']),
  recvmsg: libc.func('recvmsg', 'intptr_t', ['int', 'void *', 'int']),
  getpid: libc.func('getpid', 'int', []),
  gettid: libc.func('gettid', 'int', []),
  kill: libc.func('kill', 'int', ['int', 'int']),
  flock: libc.func('flock', 'int', ['int', 'int']),
  getrlimit: libc.func('getrlimit', 'int', ['int', 'void *']),
  setrlimit: libc.func('setrlimit', 'int', ['int', 'void *']),
  sysconf: libc.func('sysconf', 'long', ['int']),
  prctl: libc.func('prctl', 'int', ['int', 'unsigned long', 'unsigned long', 'unsigned long', 'unsigned long']),
};

let addressSpaceCalls = 0;

/**
 * How many calls that can create, move, split or remove a mapping (mmap, munmap, mprotect, madvise, and every
 * raw syscall, which may be mremap, shmat, mlock…) this process has made through this module; the leak check
 * re-reads /proc/self/maps only when it changed.
 */
export function addressSpaceGeneration(): number {
  return addressSpaceCalls;
}

function raw(ret: number): Raw {
  return { ret, errno: ret === -1 ? koffi.errno() : 0 };
}

function rawBig(ret: number | bigint): RawBig {
  const big = BigInt(ret);
  return { ret: big, errno: big === -1n ? koffi.errno() : 0 };
}

/** open(2). */
export function open(path: string, flags: number, mode = 0): Raw {
  return raw(c.open(path, flags, mode));
}

/** close(2). */
export function close(fd: number): Raw {
  return raw(c.close(fd));
}

/** ioctl(2) whose argument is a pointer to a buffer the kernel reads and/or writes. */
export function ioctlPtr(fd: number, request: number, arg: Buffer | null): Raw {
  return raw(c.ioctlPtr(fd, request, arg));
}

/** ioctl(2) whose argument is an integer passed by value (KVM_CHECK_EXTENSION, KVM_CREATE_VM…). */
export function ioctlVal(fd: number, request: number, arg: U64 = 0): Raw {
  return raw(c.ioctlVal(fd, request, arg));
}

type AsyncFn = { async: (...args: unknown[]) => void };

function onWorkerThread(fn: unknown, args: unknown[]): Promise<number> {
  return new Promise((resolve, reject) => {
    (fn as AsyncFn).async(...args, (err: unknown, ret: number) => (err ? reject(err) : resolve(ret)));
  });
}

/**
 * ioctl(2) with a pointer argument, issued on one of libuv's worker threads so that this thread can act while it
 * blocks (KVM_RUN of a vCPU while the memslots change). Resolves with the return value only: errno is per
 * thread and is not carried back, so callers read the outcome from what the kernel wrote (kvm_run, the struct).
 */
export function ioctlPtrAsync(fd: number, request: number, arg: Buffer | null): Promise<number> {
  return onWorkerThread(c.ioctlPtr, [fd, request, arg]);
}

/** ioctl(2) with an integer argument on a worker thread (see ioctlPtrAsync: return value only, no errno). */
export function ioctlValAsync(fd: number, request: number, arg: U64 = 0): Promise<number> {
  return onWorkerThread(c.ioctlVal, [fd, request, arg]);
}

/** One argument of a raw syscall: an integer, or a buffer passed as a pointer, or a string. */
export type SyscallArg = number | bigint | Buffer | string | null;

/** syscall(2) with up to six arguments; integers are passed as 64-bit, buffers as pointers. */
export function syscall(nr: number, ...args: SyscallArg[]): RawBig {
  addressSpaceCalls++;
  const typed: unknown[] = [];
  for (const a of args) {
    if (a === null) typed.push('void *', null);
    else if (typeof a === 'string') typed.push('str', a);
    else if (Buffer.isBuffer(a)) typed.push('void *', a);
    else typed.push('int64_t', a);
  }
  return rawBig(c.syscall(nr, ...typed));
}

/** mmap(2); ret is the mapping's address, or -1n with errno. */
export function mmap(addr: U64, length: U64, prot: number, flags: number, fd: number, offset: U64): RawBig {
  addressSpaceCalls++;
  return rawBig(c.mmap(addr, length, prot, flags, fd, offset));
}

/** munmap(2). */
export function munmap(addr: U64, length: U64): Raw {
  addressSpaceCalls++;
  return raw(c.munmap(addr, length));
}

/** madvise(2). */
export function madvise(addr: U64, length: U64, advice: number): Raw {
  addressSpaceCalls++;
  return raw(c.madvise(addr, length, advice));
}

/** mprotect(2). */
export function mprotect(addr: U64, length: U64, prot: number): Raw {
  addressSpaceCalls++;
  return raw(c.mprotect(addr, length, prot));
}

/** fallocate(2). */
export function fallocate(fd: number, mode: number, offset: U64, length: U64): Raw {
  return raw(c.fallocate(fd, mode, offset, length));
}

/** ftruncate(2). */
export function ftruncate(fd: number, length: U64): Raw {
  return raw(c.ftruncate(fd, length));
}

/** fstat(2) into a caller-provided buffer laid out as the kernel's struct stat. */
export function fstat(fd: number, statbuf: Buffer): Raw {
  return raw(c.fstat(fd, statbuf));
}

/** fcntl(2) with an integer argument (F_GETFL, F_ADD_SEALS, F_GET_SEALS, F_SETFL…). */
export function fcntl(fd: number, cmd: number, arg: number = 0): Raw {
  return raw(c.fcntl(fd, cmd, arg));
}

/** read(2) into buf; ret is the byte count. */
export function read(fd: number, buf: Buffer, count = buf.length): RawBig {
  return rawBig(c.read(fd, buf, count));
}

/** write(2) from buf; ret is the byte count. */
export function write(fd: number, buf: Buffer, count = buf.length): RawBig {
  return rawBig(c.write(fd, buf, count));
}

/** pread(2). */
export function pread(fd: number, buf: Buffer, count: number, offset: U64): RawBig {
  return rawBig(c.pread(fd, buf, count, offset));
}

/** pwrite(2). */
export function pwrite(fd: number, buf: Buffer, count: number, offset: U64): RawBig {
  return rawBig(c.pwrite(fd, buf, count, offset));
}

/** memfd_create(2). */
export function memfdCreate(name: string, flags: number): Raw {
  return raw(c.memfdCreate(name, flags));
}

/** lseek(2); ret is the resulting offset. */
export function lseek(fd: number, offset: U64, whence: number): RawBig {
  return rawBig(c.lseek(fd, offset, whence));
}

/** dup(2). */
export function dup(fd: number): Raw {
  return raw(c.dup(fd));
}

/** dup2(2). */
export function dup2(oldfd: number, newfd: number): Raw {
  return raw(c.dup2(oldfd, newfd));
}

/** socketpair(2); on success fds holds the two ends. */
export function socketpair(domain: number, type: number, protocol: number): Raw & { fds: [number, number] } {
  const sv = new Int32Array(2);
  const r = raw(c.socketpair(domain, type, protocol, sv));
  return { ...r, fds: [sv[0] ?? -1, sv[1] ?? -1] };
}

/** sendmsg(2) with a caller-built struct msghdr buffer. */
export function sendmsg(fd: number, msghdr: Buffer, flags = 0): RawBig {
  return rawBig(c.sendmsg(fd, msghdr, flags));
}

/** recvmsg(2) with a caller-built struct msghdr buffer. */
export function recvmsg(fd: number, msghdr: Buffer, flags = 0): RawBig {
  return rawBig(c.recvmsg(fd, msghdr, flags));
}

/** getpid(2). */
export function getpid(): number {
  return c.getpid();
}

/** gettid(2): the calling thread's id (Node's main thread here). */
export function gettid(): number {
  return c.gettid();
}

/** kill(2). */
export function kill(pid: number, sig: number): Raw {
  return raw(c.kill(pid, sig));
}

/** flock(2): advisory whole-file lock on an fd (LOCK_EX | LOCK_NB …); released when the last fd closes. */
export function flock(fd: number, op: number): Raw {
  return raw(c.flock(fd, op));
}

/** getrlimit(2) into a 16-byte struct rlimit buffer. */
export function getrlimit(resource: number, rlim: Buffer): Raw {
  return raw(c.getrlimit(resource, rlim));
}

/** setrlimit(2) from a 16-byte struct rlimit buffer. */
export function setrlimit(resource: number, rlim: Buffer): Raw {
  return raw(c.setrlimit(resource, rlim));
}

/** prctl(2) with integer arguments (PR_SET_PDEATHSIG…). */
export function prctl(option: number, arg2: U64 = 0, arg3: U64 = 0, arg4: U64 = 0, arg5: U64 = 0): Raw {
  return raw(c.prctl(option, arg2, arg3, arg4, arg5));
}

/** sysconf(3). */
export function sysconf(name: number): number {
  return Number(c.sysconf(name));
}

/** The address of a Node Buffer's bytes, for structs that carry pointers (msghdr, iovec). */
export function addressOf(buf: Buffer): bigint {
  return koffi.address(buf);
}

/** An ArrayBuffer over native memory at addr (an mmap'd region) without copying. */
export function viewAt(addr: U64, length: number): ArrayBuffer {
  return koffi.view(addr, length);
}
