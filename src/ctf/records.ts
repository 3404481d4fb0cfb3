/**
 * The widths of CTF's records, by version: v2 (16-bit type ids and info word)
 * and v3 (32-bit). One table, so the type walk, member decoding and object
 * section read the same facts. From FreeBSD sys/sys/ctf.h (ctf_stype_v2/v3,
 * ctf_type_v2/v3, ctf_array_v2/v3, ctf_member_v2/v3, ctf_lmember_v2/v3,
 * CTF_V2_INFO_KIND / CTF_V3_INFO_KIND, CTF_V2_LSIZE_SENT / CTF_V3_LSIZE_SENT,
 * CTF_V2_LSTRUCT_THRESH / CTF_V3_LSTRUCT_THRESH, CTF_V2_TYPE_ISCHILD).
 */
import type { CtfVersion } from './header.js';

export enum Kind {
  Unknown = 0,
  Integer = 1,
  Float = 2,
  Pointer = 3,
  Array = 4,
  Function = 5,
  Struct = 6,
  Union = 7,
  Enum = 8,
  Forward = 9,
  Typedef = 10,
  Volatile = 11,
  Const = 12,
  Restrict = 13,
}

export const KIND_NAMES = ['unknown', 'integer', 'float', 'pointer', 'array', 'function', 'struct', 'union', 'enum', 'forward', 'typedef', 'volatile', 'const', 'restrict'] as const;

export interface RecordFormat {
  /** Bytes of a type id wherever one is stored (members, arrays, object slots, function args). */
  readonly idSize: 2 | 4;
  readonly kindShift: number;
  readonly kindMask: number;
  readonly rootBit: number;
  readonly vlenMask: number;
  /** The size-or-type value that says "the real size follows as hi, lo". */
  readonly lsizeSentinel: number;
  /** A type id with this bit set belongs to the child container. */
  readonly childBit: number;
  /** Struct/union size from which every member uses the long (64-bit offset) record. */
  readonly lmemberThreshold: number;
  readonly memberSize: number;
  readonly lmemberSize: number;
  readonly arraySize: number;
}

export const FORMATS: Readonly<Record<CtfVersion, RecordFormat>> = {
  2: {
    idSize: 2,
    kindShift: 11,
    kindMask: 0x1f,
    rootBit: 0x400,
    vlenMask: 0x3ff,
    lsizeSentinel: 0xffff,
    childBit: 0x8000,
    lmemberThreshold: 8192,
    memberSize: 8,
    lmemberSize: 16,
    arraySize: 8,
  },
  3: {
    idSize: 4,
    kindShift: 26,
    kindMask: 0x3f,
    rootBit: 0x2000000,
    vlenMask: 0xffffff,
    lsizeSentinel: 0xffffffff,
    childBit: 0x80000000,
    lmemberThreshold: 1 << 29,
    memberSize: 12,
    lmemberSize: 16,
    arraySize: 12,
  },
};

/** The fixed head of a type record, decoded: its kind, vlen, size-or-type and where its variable data starts. */
export interface RecordHead {
  readonly nameRef: number;
  readonly kind: Kind;
  readonly isRoot: boolean;
  readonly vlen: number;
  /** For sized kinds (integer, struct, ...) the byte size; for references the target type id. */
  readonly sizeOrType: number;
  readonly dataOffset: number;
}

/** Bytes of a record's variable data after its head (ctf_open.c: init_types, by kind). */
export function variableDataSize(format: RecordFormat, head: RecordHead): number {
  switch (head.kind) {
    case Kind.Integer:
    case Kind.Float:
      return 4;
    case Kind.Array:
      return format.arraySize;
    case Kind.Function:
      // v2 pads the argument list to an even count of u16; v3 does not pad.
      return format.idSize === 2 ? 2 * (head.vlen + (head.vlen & 1)) : 4 * head.vlen;
    case Kind.Struct:
    case Kind.Union:
      return head.vlen * (head.sizeOrType >= format.lmemberThreshold ? format.lmemberSize : format.memberSize);
    case Kind.Enum:
      return 8 * head.vlen;
    default:
      return 0;
  }
}
