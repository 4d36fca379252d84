/** Unix sockets and fd passing with SCM_RIGHTS (needed to hand a gmem fd to another process). */
import * as libc from '../ffi/libc.js';
import { STRUCTS, SOL_SOCKET, SCM_RIGHTS, AF_UNIX, SOCK_STREAM } from '../uapi/index.js';
import { check, type RawResult } from './errors.js';

type Layout = { size: number; fields: Record<string, { offset: number; size: number }> };
const MSG = STRUCTS.msghdr as Layout;
const CMSG = STRUCTS.cmsghdr as Layout;
const IOV = STRUCTS.iovec as Layout;

function off(l: Layout, name: string): number {
  const f = l.fields[name];
  if (!f) throw new Error(`layout has no field ${name}`);
  return f.offset;
}

const align8 = (n: number) => (n + 7) & ~7;

/** Offsets and sizes of struct msghdr, iovec and cmsghdr, for code that packs them elsewhere (a probe child). */
export const SCM_LAYOUT = {
  msghdr: {
    size: MSG.size,
    iov: off(MSG, 'msg_iov'),
    iovlen: off(MSG, 'msg_iovlen'),
    control: off(MSG, 'msg_control'),
    controllen: off(MSG, 'msg_controllen'),
  },
  iovec: { size: IOV.size, base: off(IOV, 'iov_base'), len: off(IOV, 'iov_len') },
  cmsghdr: { len: off(CMSG, 'cmsg_len'), level: off(CMSG, 'cmsg_level'), type: off(CMSG, 'cmsg_type') },
  /** CMSG_DATA's offset: the header rounded up to 8 bytes. */ cmsgData: align8(CMSG.size),
} as const;

/** Checked socketpair(AF_UNIX, type): the two connected ends. */
export function socketpair(type = SOCK_STREAM): [number, number] {
  const r = libc.socketpair(AF_UNIX, type, 0);
  check('socketpair', r);
  return r.fds;
}

function buildMsg(payload: Buffer, control: Buffer): { msg: Buffer; keep: Buffer[] } {
  const iov = Buffer.alloc(IOV.size);
  iov.writeBigUInt64LE(libc.addressOf(payload), off(IOV, 'iov_base'));
  iov.writeBigUInt64LE(BigInt(payload.length), off(IOV, 'iov_len'));
  const msg = Buffer.alloc(MSG.size);
  msg.writeBigUInt64LE(libc.addressOf(iov), off(MSG, 'msg_iov'));
  msg.writeBigUInt64LE(1n, off(MSG, 'msg_iovlen'));
  msg.writeBigUInt64LE(libc.addressOf(control), off(MSG, 'msg_control'));
  msg.writeBigUInt64LE(BigInt(control.length), off(MSG, 'msg_controllen'));
  return { msg, keep: [iov, payload, control] };
}

/** Raw sendmsg carrying fds as SCM_RIGHTS plus a one-byte payload. */
export function __sendFds(sock: number, fds: number[]): RawResult {
  const hdr = align8(CMSG.size);
  const control = Buffer.alloc(align8(hdr + 4 * fds.length));
  control.writeBigUInt64LE(BigInt(hdr + 4 * fds.length), off(CMSG, 'cmsg_len'));
  control.writeInt32LE(SOL_SOCKET, off(CMSG, 'cmsg_level'));
  control.writeInt32LE(SCM_RIGHTS, off(CMSG, 'cmsg_type'));
  fds.forEach((fd, i) => control.writeInt32LE(fd, hdr + 4 * i));
  const { msg, keep } = buildMsg(Buffer.from([0x2a]), control);
  const r = libc.sendmsg(sock, msg);
  keep.length = 0;
  return r;
}

/** Checked sendmsg with SCM_RIGHTS. */
export function sendFds(sock: number, fds: number[]): void {
  check('sendmsg(SCM_RIGHTS)', __sendFds(sock, fds));
}

/** Raw recvmsg accepting up to maxFds fds passed with SCM_RIGHTS. */
export function __recvFds(sock: number, maxFds = 4): RawResult & { fds: number[] } {
  const hdr = align8(CMSG.size);
  const control = Buffer.alloc(align8(hdr + 4 * maxFds));
  const { msg } = buildMsg(Buffer.alloc(1), control);
  const r = libc.recvmsg(sock, msg);
  const fds: number[] = [];
  if (r.ret >= 0n) {
    const controllen = Number(msg.readBigUInt64LE(off(MSG, 'msg_controllen')));
    if (controllen >= hdr) {
      const len = Number(control.readBigUInt64LE(off(CMSG, 'cmsg_len')));
      const level = control.readInt32LE(off(CMSG, 'cmsg_level'));
      const type = control.readInt32LE(off(CMSG, 'cmsg_type'));
      if (level === SOL_SOCKET && type === SCM_RIGHTS)
        for (let p = hdr; p + 4 <= len; p += 4) fds.push(control.readInt32LE(p));
    }
  }
  return { ...r, fds };
}

/** Checked recvmsg returning the fds received. */
export function recvFds(sock: number, maxFds = 4): number[] {
  const r = __recvFds(sock, maxFds);
  check('recvmsg(SCM_RIGHTS)', r);
  return r.fds;
}
