/**
 * The C ABI of the kernels the exporter reads, FreeBSD amd64 (LP64), in one
 * place: the C types a config entry may name and their widths, the sizes of
 * the kernel objects both the kernel access layer and the config check need
 * (`struct pcpu`, a counter(9) handle, a page), and how little-endian bytes
 * of a C integer become a sample value, and how a C char array becomes text.
 *
 * The simulator keeps its own copies of these numbers (sim/image/format.ts)
 * on purpose: it is an independent oracle written from FreeBSD's headers, so
 * a wrong number here shows up as a test failure instead of agreeing with itself.
 */

/** C types a kernel variable may have (amd64 widths: long and pointer are 8 bytes). */
export type CType =
  | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64'
  | 'long' | 'ulong' | 'pointer';

/**
 * Widths on amd64, as in style(9)'s type table and `sys/amd64/include/_types.h`
 * (LP64: `long`, `u_long` and pointers are 8 bytes).
 */
export const CTYPE_BYTES: Readonly<Record<CType, number>> = {
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
  long: 8,
  ulong: 8,
  pointer: 8,
};

export const CTYPES = Object.keys(CTYPE_BYTES) as readonly CType[];

/** PAGE_SIZE on amd64 (sys/amd64/include/param.h). */
export const PAGE_SIZE = 4096;

/** `sizeof(struct pcpu)` on amd64 (`_Static_assert` in sys/amd64/include/pcpu_aux.h). */
export const PCPU_SIZE = 4096;

/** A counter(9) handle (`counter_u64_t`, sys/sys/_counter.h) is one pointer-sized word. */
export const COUNTER_HANDLE_BYTES = 8;

const TWO_32 = 2 ** 32;

/**
 * A 64-bit integer from its 32-bit halves as a float64 sample value (exact
 * within 2^53, rounded to the nearest float64 above, as every Prometheus
 * sample is): `high` as read signed gives int64, read unsigned gives uint64.
 * Hot paths that read halves in their own way (a DataView, an Int32Array)
 * share this arithmetic.
 */
export function int64FromHalves(high: number, lowUnsigned: number): number {
  return high * TWO_32 + lowUnsigned;
}

/** Decodes a little-endian value of `ctype` at `offset` in `bytes` as a sample value. */
export function decodeCType(bytes: Buffer, offset: number, ctype: CType): number {
  switch (ctype) {
    case 'int8': return bytes.readInt8(offset);
    case 'uint8': return bytes.readUInt8(offset);
    case 'int16': return bytes.readInt16LE(offset);
    case 'uint16': return bytes.readUInt16LE(offset);
    case 'int32': return bytes.readInt32LE(offset);
    case 'uint32': return bytes.readUInt32LE(offset);
    case 'int64':
    case 'long': return int64FromHalves(bytes.readInt32LE(offset + 4), bytes.readUInt32LE(offset));
    case 'uint64':
    case 'ulong':
    case 'pointer': return int64FromHalves(bytes.readUInt32LE(offset + 4), bytes.readUInt32LE(offset));
  }
}

/** The NUL-terminated text in a C char array (latin1: a byte is a character, whatever the encoding). */
export function cString(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.toString('latin1', 0, end === -1 ? buf.length : end);
}
