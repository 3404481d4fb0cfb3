/**
 * Decoding one type record of the body into a CtfType, and walking the type
 * section to find where each record starts. Record layouts by version come
 * from records.ts; FreeBSD's ctf_open.c (init_types) and ctf_types.c are the
 * reference for what each kind carries.
 */
import { Bytes, joinU64 } from './bytes.js';
import { FORMATS, KIND_NAMES, Kind, variableDataSize, type RecordFormat, type RecordHead } from './records.js';
import type { CtfType } from './types.js';

/** The fixed head of the record at `at`: name, info word, size-or-type, and the long size when present. */
export function readHead(body: Bytes, format: RecordFormat, at: number): RecordHead {
  const wide = format.idSize === 4;
  const part = `type record at offset ${at}`;
  const nameRef = body.u32(at, part);
  const info = wide ? body.u32(at + 4, part) : body.u16(at + 4, part);
  let sizeOrType = wide ? body.u32(at + 8, part) : body.u16(at + 6, part);
  let dataOffset = at + (wide ? 12 : 8);
  // ctf_get_ctt_size: the sentinel means a 64-bit size follows, for any kind.
  if (sizeOrType === format.lsizeSentinel) {
    sizeOrType = joinU64(body, body.u32(dataOffset, part), body.u32(dataOffset + 4, part), `long size of ${part}`);
    dataOffset += 8;
  }
  const kind = (info >>> format.kindShift) & format.kindMask;
  if (kind > Kind.Restrict) body.fail(`${part} has unknown kind ${kind}`);
  return { nameRef, kind, isRoot: (info & format.rootBit) !== 0, vlen: info & format.vlenMask, sizeOrType, dataOffset };
}

/** Where each record starts, with its kind and name reference: what lookups by name need without decoding. */
export interface RecordIndex {
  /** Indexed by record number, 1 first (id 0 is "no type"). */
  readonly offsets: Uint32Array;
  readonly kinds: Uint8Array;
  readonly nameRefs: Uint32Array;
}

/**
 * One walk over the record heads from typeoff to stroff. The walk must end
 * exactly at stroff, as ctf_open.c (init_types) requires.
 */
export function indexRecords(body: Bytes, version: 2 | 3, typeoff: number, stroff: number): RecordIndex {
  const format = FORMATS[version];
  const smallest = version === 2 ? 8 : 12;
  const capacity = Math.floor((stroff - typeoff) / smallest) + 1;
  const offsets = new Uint32Array(capacity);
  const kinds = new Uint8Array(capacity);
  const nameRefs = new Uint32Array(capacity);
  let count = 0;
  let at = typeoff;
  while (at < stroff) {
    const head = readHead(body, format, at);
    offsets[++count] = at;
    kinds[count] = head.kind;
    nameRefs[count] = head.nameRef;
    at = head.dataOffset + variableDataSize(format, head);
  }
  if (at !== stroff) body.fail(`the type records end at offset ${at}, past cth_stroff ${stroff}`);
  return { offsets: offsets.subarray(0, count + 1), kinds: kinds.subarray(0, count + 1), nameRefs: nameRefs.subarray(0, count + 1) };
}

/** Names are resolved by the caller: `name(ref)` reads the CTF or ELF string table. */
export function decodeRecord(body: Bytes, format: RecordFormat, at: number, id: number, name: (ref: number) => string): CtfType {
  const head = readHead(body, format, at);
  const base = { id, name: name(head.nameRef) };
  const d = head.dataOffset;
  const part = `${KIND_NAMES[head.kind]} type ${id}`;
  const readId = (offset: number) => (format.idSize === 4 ? body.u32(offset, part) : body.u16(offset, part));
  switch (head.kind) {
    case Kind.Integer:
    case Kind.Float: {
      const encoding = body.u32(d, part);
      return { ...base, kind: head.kind === Kind.Integer ? 'integer' : 'float', size: head.sizeOrType, format: encoding >>> 24, bitOffset: (encoding >>> 16) & 0xff, bits: encoding & 0xffff };
    }
    case Kind.Pointer:
    case Kind.Typedef:
    case Kind.Volatile:
    case Kind.Const:
    case Kind.Restrict:
      return { ...base, kind: KIND_NAMES[head.kind] as 'pointer', target: head.sizeOrType };
    case Kind.Array:
      return { ...base, kind: 'array', element: readId(d), index: readId(d + format.idSize), count: body.u32(d + 2 * format.idSize, part) };
    case Kind.Function: {
      const args = Array.from({ length: head.vlen }, (_, i) => readId(d + i * format.idSize));
      const varargs = args.length > 0 && args[args.length - 1] === 0;
      return { ...base, kind: 'function', returns: head.sizeOrType, args: varargs ? args.slice(0, -1) : args, varargs };
    }
    case Kind.Struct:
    case Kind.Union:
      return { ...base, kind: head.kind === Kind.Struct ? 'struct' : 'union', size: head.sizeOrType, memberCount: head.vlen, membersAt: d };
    case Kind.Enum: {
      const values = Array.from({ length: head.vlen }, (_, i) => [name(body.u32(d + 8 * i, part)), body.s32(d + 8 * i + 4, part)] as const);
      return { ...base, kind: 'enum', size: head.sizeOrType, values };
    }
    case Kind.Forward:
      return { ...base, kind: 'forward', tag: head.sizeOrType === Kind.Union ? 'union' : head.sizeOrType === Kind.Enum ? 'enum' : 'struct' };
    default:
      return { ...base, kind: 'unknown' };
  }
}
