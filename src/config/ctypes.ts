/**
 * The C types a config entry may read and their sizes on FreeBSD amd64 (LP64:
 * `long`, `u_long` and pointers are 8 bytes). The config loader uses the
 * widths to check that a read stays inside its struct; collectors use them to
 * size their reads. Mirrors the amd64 column of style(9)'s type table and
 * `sys/amd64/include/_types.h`.
 */
import type { CType } from './types.js';

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

/** A counter(9) handle (`counter_u64_t`) is one pointer-sized word. */
export const COUNTER_HANDLE_BYTES = 8;

/** `sizeof(struct pcpu)` on amd64 (`_Static_assert` in `sys/amd64/include/pcpu_aux.h`). */
export const PCPU_STRUCT_BYTES = 4096;
