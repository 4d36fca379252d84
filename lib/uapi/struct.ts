/** Packs and unpacks kernel structs by the generated layouts (field offsets/sizes from C). */
import { STRUCTS } from './index.js';

/** Name of a struct whose layout the uapi generator recorded. */
export type StructName = keyof typeof STRUCTS;

/** A field value: integers (BigInt for u64), or an array of integers for array fields. */
export type FieldValue = bigint | number | readonly (bigint | number)[];

type Layout = { size: number; fields: Record<string, { offset: number; size: number; count?: number }> };

/** The layout of a struct, typed loosely for field lookup by name. */
export function layoutOf(name: StructName): Layout {
  return STRUCTS[name] as unknown as Layout;
}

function writeInt(buf: Buffer, offset: number, size: number, v: bigint | number): void {
  const b = BigInt(v);
  switch (size) {
    case 8:
      buf.writeBigUInt64LE(BigInt.asUintN(64, b), offset);
      break;
    case 4:
      buf.writeUInt32LE(Number(BigInt.asUintN(32, b)), offset);
      break;
    case 2:
      buf.writeUInt16LE(Number(BigInt.asUintN(16, b)), offset);
      break;
    case 1:
      buf.writeUInt8(Number(BigInt.asUintN(8, b)), offset);
      break;
    default:
      throw new Error(`cannot write a ${size}-byte integer`);
  }
}

function readInt(buf: Buffer, offset: number, size: number): bigint {
  switch (size) {
    case 8:
      return buf.readBigUInt64LE(offset);
    case 4:
      return BigInt(buf.readUInt32LE(offset));
    case 2:
      return BigInt(buf.readUInt16LE(offset));
    case 1:
      return BigInt(buf.readUInt8(offset));
    default:
      throw new Error(`cannot read a ${size}-byte integer`);
  }
}

/** Writes one named field (or array field) of a struct into buf. */
export function setField(name: StructName, buf: Buffer, field: string, value: FieldValue, base = 0): void {
  const f = layoutOf(name).fields[field];
  if (!f) throw new Error(`struct ${String(name)} has no field ${field}`);
  if (Array.isArray(value)) {
    const count = f.count ?? 1;
    const elem = f.size / count;
    if (value.length > count) throw new Error(`${String(name)}.${field} holds ${count} elements, got ${value.length}`);
    value.forEach((v, i) => writeInt(buf, base + f.offset + i * elem, elem, v));
  } else {
    writeInt(buf, base + f.offset, f.count ? f.size / f.count : f.size, value as bigint | number);
  }
}

/** Reads one named integer field of a struct from buf (element index for arrays). */
export function getField(name: StructName, buf: Buffer, field: string, index = 0, base = 0): bigint {
  const f = layoutOf(name).fields[field];
  if (!f) throw new Error(`struct ${String(name)} has no field ${field}`);
  const elem = f.count ? f.size / f.count : f.size;
  return readInt(buf, base + f.offset + index * elem, elem);
}

/** A zeroed buffer of the struct's size with the given fields set. */
export function pack(name: StructName, values: Record<string, FieldValue> = {}): Buffer {
  const buf = Buffer.alloc(layoutOf(name).size);
  for (const [k, v] of Object.entries(values)) setField(name, buf, k, v);
  return buf;
}
