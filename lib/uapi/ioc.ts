// Hand-written: the ioctl number encoding of <asm-generic/ioctl.h> as used on x86_64
// (nr 8 bits, type 8 bits, size 14 bits, dir 2 bits). All results are unsigned 32-bit numbers.

/** Width in bits of the command-number field. */
export const _IOC_NRBITS = 8;
/** Width in bits of the type (magic) field. */
export const _IOC_TYPEBITS = 8;
/** Width in bits of the argument-size field (x86_64). */
export const _IOC_SIZEBITS = 14;
/** Width in bits of the direction field (x86_64). */
export const _IOC_DIRBITS = 2;

/** Bit position of the command-number field. */
export const _IOC_NRSHIFT = 0;
/** Bit position of the type field. */
export const _IOC_TYPESHIFT = _IOC_NRSHIFT + _IOC_NRBITS;
/** Bit position of the size field. */
export const _IOC_SIZESHIFT = _IOC_TYPESHIFT + _IOC_TYPEBITS;
/** Bit position of the direction field. */
export const _IOC_DIRSHIFT = _IOC_SIZESHIFT + _IOC_SIZEBITS;

/** Direction: no data transferred. */
export const _IOC_NONE = 0;
/** Direction: userspace writes the argument, the kernel reads it. */
export const _IOC_WRITE = 1;
/** Direction: the kernel writes the argument back to userspace. */
export const _IOC_READ = 2;

const NR_MASK = (1 << _IOC_NRBITS) - 1;
const TYPE_MASK = (1 << _IOC_TYPEBITS) - 1;
const SIZE_MASK = (1 << _IOC_SIZEBITS) - 1;
const DIR_MASK = (1 << _IOC_DIRBITS) - 1;

function field(what: string, v: number, mask: number): number {
  if (!Number.isInteger(v) || v < 0 || v > mask)
    throw new RangeError(`_IOC: ${what} ${v} does not fit in ${mask.toString(2).length} bits`);
  return v;
}

/** Builds an ioctl number from direction, type (magic), number and argument size; throws RangeError if a field overflows. */
export function _IOC(dir: number, type: number, nr: number, size: number): number {
  return (
    ((field('dir', dir, DIR_MASK) << _IOC_DIRSHIFT) |
      (field('type', type, TYPE_MASK) << _IOC_TYPESHIFT) |
      (field('nr', nr, NR_MASK) << _IOC_NRSHIFT) |
      (field('size', size, SIZE_MASK) << _IOC_SIZESHIFT)) >>>
    0
  );
}

/** An ioctl without argument data, like the kernel's _IO(type, nr). */
export function _IO(type: number, nr: number): number {
  return _IOC(_IOC_NONE, type, nr, 0);
}

/** An ioctl whose argument the kernel writes (userspace reads), like _IOR(type, nr, sizeof(T)). */
export function _IOR(type: number, nr: number, size: number): number {
  return _IOC(_IOC_READ, type, nr, size);
}

/** An ioctl whose argument the kernel reads (userspace writes), like _IOW(type, nr, sizeof(T)). */
export function _IOW(type: number, nr: number, size: number): number {
  return _IOC(_IOC_WRITE, type, nr, size);
}

/** An ioctl whose argument goes both ways, like _IOWR(type, nr, sizeof(T)). */
export function _IOWR(type: number, nr: number, size: number): number {
  return _IOC(_IOC_READ | _IOC_WRITE, type, nr, size);
}

/** Direction bits of an ioctl number (_IOC_NONE, _IOC_WRITE, _IOC_READ or both). */
export function iocDir(cmd: number): number {
  return (cmd >>> _IOC_DIRSHIFT) & DIR_MASK;
}

/** Type (magic) byte of an ioctl number, e.g. 0xAE for KVM. */
export function iocType(cmd: number): number {
  return (cmd >>> _IOC_TYPESHIFT) & TYPE_MASK;
}

/** Command number byte of an ioctl number. */
export function iocNr(cmd: number): number {
  return (cmd >>> _IOC_NRSHIFT) & NR_MASK;
}

/** Argument size encoded in an ioctl number (what the kernel copies in or out). */
export function iocSize(cmd: number): number {
  return (cmd >>> _IOC_SIZESHIFT) & SIZE_MASK;
}
