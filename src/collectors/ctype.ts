/**
 * C scalar types of kernel variables on LP64 (amd64, arm64): their widths
 * and how to turn their bytes into a metric value. 64-bit values above 2^53
 * are rounded to the nearest float64, as every Prometheus sample is.
 */
import type { CType } from '../config/types.js';

const WIDTH: Readonly<Record<CType, number>> = {
  int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4,
  int64: 8, uint64: 8, long: 8, ulong: 8, pointer: 8,
};

export function ctypeWidth(ctype: CType): number {
  return WIDTH[ctype];
}

/** Decodes a little-endian value of `ctype` at `offset` in `buf`. */
export function decodeCType(buf: Buffer, offset: number, ctype: CType): number {
  switch (ctype) {
    case 'int8': return buf.readInt8(offset);
    case 'uint8': return buf.readUInt8(offset);
    case 'int16': return buf.readInt16LE(offset);
    case 'uint16': return buf.readUInt16LE(offset);
    case 'int32': return buf.readInt32LE(offset);
    case 'uint32': return buf.readUInt32LE(offset);
    case 'int64':
    case 'long': return buf.readInt32LE(offset + 4) * 2 ** 32 + buf.readUInt32LE(offset);
    case 'uint64':
    case 'ulong':
    case 'pointer': return buf.readUInt32LE(offset + 4) * 2 ** 32 + buf.readUInt32LE(offset);
  }
}
