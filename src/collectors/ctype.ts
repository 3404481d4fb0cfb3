/**
 * How the bytes of a kernel variable of a given C type (widths in
 * config/ctypes.ts) become a metric value. 64-bit values above 2^53
 * are rounded to the nearest float64, as every Prometheus sample is.
 */
import { CTYPE_BYTES } from '../config/ctypes.js';
import type { CType } from '../config/types.js';

export function ctypeWidth(ctype: CType): number {
  return CTYPE_BYTES[ctype];
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
