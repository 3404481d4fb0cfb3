/**
 * GNU CTF (gcc -gctf, binutils libctf) translated into FreeBSD CTF v3, so
 * that a compiler nobody here wrote produces the type records the reader is
 * tested on. GNU's v3 type records were the model for FreeBSD's v3 and are
 * the same (binutils include/ctf.h against FreeBSD sys/sys/ctf.h: the u32
 * name/info/size head, the 0xffffffff long-size sentinel, the info word's
 * kind 31-26 / isroot 25 / vlen 23-0, ctf_array, ctf_enum, integer
 * encodings, kinds 0-13, 32-bit ids). What differs is translated here:
 *
 * | GNU (magic 0xdff2, version 4)                          | FreeBSD v3 (0xcff1, version 3)          |
 * | 52-byte header: + cuname, objtidxoff, funcidxoff, varoff | 36-byte header                         |
 * | ctf_member: name, offset, type                          | name, type, offset                      |
 * | ctf_lmember: name, offsethi, type, offsetlo             | name, type, offsethi, offsetlo          |
 * | FUNCTION args padded to an even count                   | not padded                              |
 * | CTF_K_SLICE (14) over an integer for a bit-field        | a narrowed INTEGER copy (ctfconvert)    |
 * | object section ordered by the object index (names)      | by .symtab order, init_symtab's rules   |
 *
 * Record for record, so type ids stay the same.
 */
import { inflateSync } from 'node:zlib';

const GNU_MAGIC = 0xdff2;
const GNU_CTF_VERSION_3 = 4;
const K_INTEGER = 1;
const K_FUNCTION = 5;
const K_STRUCT = 6;
const K_UNION = 7;
const K_SLICE = 14;
const LSTRUCT_THRESH = 1 << 29;

interface GnuRecord {
  readonly at: number;
  readonly name: number;
  readonly kind: number;
  readonly info: number;
  readonly size: number;
  readonly long: boolean;
  readonly data: Buffer;
}

export interface ElfDataSymbol {
  readonly name: string;
  /** Passes init_symtab's tests for a data-object slot. */
  readonly hasSlot: boolean;
}

export interface GnuHeader {
  readonly version: number;
  readonly flags: number;
  readonly objtoff: number;
  readonly funcoff: number;
  readonly objtidxoff: number;
  readonly funcidxoff: number;
  readonly typeoff: number;
  readonly stroff: number;
  readonly strlen: number;
}

export function gnuHeader(section: Buffer): GnuHeader {
  if (section.readUInt16LE(0) !== GNU_MAGIC || section[2] !== GNU_CTF_VERSION_3) throw new Error('not GNU CTF_VERSION_3');
  const u = (at: number) => section.readUInt32LE(at);
  return { version: section[2]!, flags: section[3]!, objtoff: u(20), funcoff: u(24), objtidxoff: u(28), funcidxoff: u(32), typeoff: u(40), stroff: u(44), strlen: u(48) };
}

/** FreeBSD CTF v3 (uncompressed) with the same types, and object slots in the order of `symbols`. */
export function gnuToFreeBsd(section: Buffer, symbols: readonly ElfDataSymbol[]): Buffer {
  const h = gnuHeader(section);
  const body = h.flags & 1 ? inflateSync(section.subarray(52)) : section.subarray(52, 52 + h.stroff + h.strlen);
  const records = walk(body, h.typeoff, h.stroff);
  const types = Buffer.concat(records.map((r) => translate(r, records)));
  const objects = objectSlots(body, h, symbols);
  const strings = body.subarray(h.stroff, h.stroff + h.strlen);
  const header = Buffer.alloc(36);
  header.writeUInt16LE(0xcff1, 0);
  header.writeUInt8(3, 2);
  header.writeUInt8(0, 3);
  const typeoff = objects.length;
  [0, 0, 0, 0, objects.length, typeoff, typeoff + types.length, strings.length].forEach((v, i) => header.writeUInt32LE(v, 4 + 4 * i));
  return Buffer.concat([header, objects, types, strings]);
}

function walk(body: Buffer, typeoff: number, stroff: number): GnuRecord[] {
  const records: GnuRecord[] = [];
  let at = typeoff;
  while (at < stroff) {
    const info = body.readUInt32LE(at + 4);
    let size = body.readUInt32LE(at + 8);
    let head = 12;
    const long = size === 0xffffffff;
    if (long) {
      size = body.readUInt32LE(at + 12) * 2 ** 32 + body.readUInt32LE(at + 16);
      head = 20;
    }
    const kind = info >>> 26;
    const vlen = info & 0xffffff;
    const dataSize = gnuDataSize(kind, vlen, size);
    records.push({ at, name: body.readUInt32LE(at), kind, info, size, long, data: body.subarray(at + head, at + head + dataSize) });
    at += head + dataSize;
  }
  if (at !== stroff) throw new Error(`GNU type records end at ${at}, not at stroff ${stroff}`);
  return records;
}

/** binutils libctf ctf-open.c: init_static_types / get_vbytes_v2, by kind. */
function gnuDataSize(kind: number, vlen: number, size: number): number {
  switch (kind) {
    case 1: case 2: return 4; // INTEGER, FLOAT
    case 4: return 12; // ARRAY
    case K_FUNCTION: return 4 * (vlen + (vlen & 1));
    case K_STRUCT: case K_UNION: return vlen * (size >= LSTRUCT_THRESH ? 16 : 12);
    case 8: return 8 * vlen; // ENUM
    case K_SLICE: return 8;
    default: return 0;
  }
}

function head(r: GnuRecord, name: number, info: number, size: number): Buffer {
  const b = Buffer.alloc(r.long ? 20 : 12);
  b.writeUInt32LE(name, 0);
  b.writeUInt32LE(info >>> 0, 4);
  if (r.long) {
    b.writeUInt32LE(0xffffffff, 8);
    b.writeUInt32LE(Math.floor(size / 2 ** 32), 12);
    b.writeUInt32LE(size % 2 ** 32, 16);
  } else {
    b.writeUInt32LE(size, 8);
  }
  return b;
}

function translate(r: GnuRecord, records: readonly GnuRecord[]): Buffer {
  switch (r.kind) {
    case K_SLICE: return sliceToInteger(r, records);
    case K_FUNCTION: return Buffer.concat([head(r, r.name, r.info, r.size), r.data.subarray(0, 4 * (r.info & 0xffffff))]);
    case K_STRUCT:
    case K_UNION: return Buffer.concat([head(r, r.name, r.info, r.size), reorderMembers(r)]);
    default: return Buffer.concat([head(r, r.name, r.info, r.size), r.data]);
  }
}

/** GNU name, offset, type (lmember: name, offsethi, type, offsetlo) to FreeBSD name, type, offset(hi, lo). */
function reorderMembers(r: GnuRecord): Buffer {
  const long = r.size >= LSTRUCT_THRESH;
  const stride = long ? 16 : 12;
  const out = Buffer.alloc(r.data.length);
  for (let at = 0; at < r.data.length; at += stride) {
    out.writeUInt32LE(r.data.readUInt32LE(at), at); // name
    if (long) {
      out.writeUInt32LE(r.data.readUInt32LE(at + 8), at + 4); // type
      out.writeUInt32LE(r.data.readUInt32LE(at + 4), at + 8); // offsethi
      out.writeUInt32LE(r.data.readUInt32LE(at + 12), at + 12); // offsetlo
    } else {
      out.writeUInt32LE(r.data.readUInt32LE(at + 8), at + 4); // type
      out.writeUInt32LE(r.data.readUInt32LE(at + 4), at + 8); // offset
    }
  }
  return out;
}

/**
 * A slice (u32 base type, u16 bit offset, u16 bits) becomes what ctfconvert
 * writes for a bit-field: an INTEGER named like the base integer, of the
 * base's byte size, with `bits` set to the width (dwarf.c: die_sou_resolve).
 */
function sliceToInteger(r: GnuRecord, records: readonly GnuRecord[]): Buffer {
  const base = records[r.data.readUInt32LE(0) - 1]!;
  if (base.kind !== K_INTEGER) throw new Error(`a slice over kind ${base.kind}: only integer bit-fields are translated`);
  const baseEncoding = base.data.readUInt32LE(0);
  const encoding = ((baseEncoding >>> 24) << 24) | (r.data.readUInt16LE(4) << 16) | r.data.readUInt16LE(6);
  const data = Buffer.alloc(4);
  data.writeUInt32LE(encoding >>> 0);
  return Buffer.concat([head(r, base.name, K_INTEGER << 26, base.size), data]);
}

/** The object section in symtab order: GNU's is in the order of its object index (name refs). */
function objectSlots(body: Buffer, h: GnuHeader, symbols: readonly ElfDataSymbol[]): Buffer {
  const count = (h.funcoff - h.objtoff) / 4;
  if (h.funcidxoff - h.objtidxoff !== 4 * count) throw new Error('GNU CTF without an object index is not translated');
  const typeByName = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const nameRef = body.readUInt32LE(h.objtidxoff + 4 * i);
    const name = body.toString('latin1', h.stroff + nameRef, body.indexOf(0, h.stroff + nameRef));
    typeByName.set(name, body.readUInt32LE(h.objtoff + 4 * i));
  }
  const slots = symbols.filter((s) => s.hasSlot).map((s) => typeByName.get(s.name) ?? 0);
  const out = Buffer.alloc(4 * slots.length);
  slots.forEach((t, i) => out.writeUInt32LE(t, 4 * i));
  return out;
}
