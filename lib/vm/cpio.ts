/** A minimal writer of the cpio "newc" format, the one the kernel unpacks as an initramfs. */

/** One entry of an archive: a directory, a regular file or a symbolic link. */
export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Buffer; mode?: number }
  | { type: 'symlink'; path: string; target: string };

function header(ino: number, mode: number, nlink: number, size: number, nameSize: number): string {
  const f = (n: number) => n.toString(16).padStart(8, '0');
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  return `070701${f(ino)}${f(mode)}${f(0)}${f(0)}${f(nlink)}${f(0)}${f(size)}${f(0)}${f(0)}${f(0)}${f(0)}${f(nameSize)}${f(0)}`;
}

function pad4(n: number): Buffer {
  return Buffer.alloc((4 - (n % 4)) % 4);
}

/** Serialises entries (parents before children) into one newc archive ending with TRAILER!!!. */
export function cpioArchive(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  const push = (b: Buffer) => {
    parts.push(b);
    offset += b.length;
  };
  const record = (ino: number, mode: number, nlink: number, name: string, data: Buffer) => {
    const nameBuf = Buffer.from(`${name}\0`);
    const head = Buffer.from(header(ino, mode, nlink, data.length, nameBuf.length), 'ascii');
    push(head);
    push(nameBuf);
    push(pad4(offset));
    push(data);
    push(pad4(offset));
  };
  let ino = 1;
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, '');
    if (e.type === 'dir') record(ino++, 0o040000 | (e.mode ?? 0o755), 2, name, Buffer.alloc(0));
    else if (e.type === 'file') record(ino++, 0o100000 | (e.mode ?? 0o644), 1, name, e.data);
    else record(ino++, 0o120000 | 0o777, 1, name, Buffer.from(e.target));
  }
  record(0, 0, 1, 'TRAILER!!!', Buffer.alloc(0));
  return Buffer.concat(parts);
}
