/**
 * Writes CTF containers (`.SUNW_ctf`) in FreeBSD's format, version 2 or 3,
 * so that the simulated kernel carries type information for its structs as
 * a GENERIC kernel built WITH_CTF does, and tests can build containers of
 * any shape. Record layouts from FreeBSD sys/sys/ctf.h (ctf_header_t,
 * ctf_stype/ctf_type, ctf_array, ctf_member/ctf_lmember, ctf_enum), written
 * here independently of the exporter's reader.
 */
import { deflateSync } from 'node:zlib';

export type CtfWriterVersion = 2 | 3;

export const CTF_INT_SIGNED = 0x1;
export const CTF_INT_CHAR = 0x2;
export const CTF_INT_BOOL = 0x4;

const K = { integer: 1, float: 2, pointer: 3, array: 4, function: 5, struct: 6, union: 7, enum: 8, forward: 9, typedef: 10, volatile: 11, const: 12, restrict: 13 } as const;

export interface MemberSpec {
  readonly name: string;
  readonly type: number;
  /** From the start of the struct, in bits (a bit-field's absolute position). */
  readonly bitOffset: number;
}

interface TypeRecord {
  kind: number;
  name: string;
  sizeOrType: number;
  vlen: number;
  /** Writes the record's variable data given the string table. */
  data: (ref: (s: string) => number) => Buffer;
}

export interface BuildOptions {
  readonly compress?: boolean;
  /** A parent container's name: makes this a child container. */
  readonly parentName?: string;
  readonly label?: string;
}

export class CtfWriter {
  private readonly records: TypeRecord[] = [];
  private readonly objectSlots: number[] = [];
  /** Type ids of a child container carry this bit. */
  private readonly idBase: number;

  constructor(
    readonly version: CtfWriterVersion = 3,
    child = false,
  ) {
    this.idBase = child ? (version === 2 ? 0x8000 : 0x80000000) : 0;
  }

  private get idSize(): number {
    return this.version === 2 ? 2 : 4;
  }

  private add(record: TypeRecord): number {
    this.records.push(record);
    return this.idBase + this.records.length;
  }

  integer(name: string, size: number, encoding: { flags?: number; bits?: number; offset?: number } = {}): number {
    const word = ((encoding.flags ?? 0) << 24) | ((encoding.offset ?? 0) << 16) | (encoding.bits ?? size * 8);
    return this.add({ kind: K.integer, name, sizeOrType: size, vlen: 0, data: () => u32(word >>> 0) });
  }

  float(name: string, size: number): number {
    return this.add({ kind: K.float, name, sizeOrType: size, vlen: 0, data: () => u32((1 << 24) | (size * 8)) });
  }

  reference(kind: 'pointer' | 'typedef' | 'const' | 'volatile' | 'restrict', target: number, name = ''): number {
    return this.add({ kind: K[kind], name, sizeOrType: target, vlen: 0, data: () => Buffer.alloc(0) });
  }

  pointer(target: number): number {
    return this.reference('pointer', target);
  }

  typedef(name: string, target: number): number {
    return this.reference('typedef', target, name);
  }

  array(element: number, index: number, count: number, size = 0): number {
    return this.add({ kind: K.array, name: '', sizeOrType: size, vlen: 0, data: () => Buffer.concat([this.id(element), this.id(index), u32(count)]) });
  }

  func(returns: number, args: readonly number[], varargs = false): number {
    const list = varargs ? [...args, 0] : [...args];
    // v2 pads the list to an even number of u16 ids; v3 writes them as they are.
    const padded = this.version === 2 && list.length % 2 === 1 ? [...list, 0] : list;
    return this.add({ kind: K.function, name: '', sizeOrType: returns, vlen: list.length, data: () => Buffer.concat(padded.map((a) => this.id(a))) });
  }

  /** A struct or union; members may be given later with `setMembers` (for self-references). */
  aggregate(kind: 'struct' | 'union', name: string, size: number, members: readonly MemberSpec[] = []): number {
    const record: TypeRecord = { kind: K[kind], name, sizeOrType: size, vlen: members.length, data: (ref) => this.members(size, members, ref) };
    return this.add(record);
  }

  setMembers(id: number, members: readonly MemberSpec[]): void {
    const record = this.records[id - this.idBase - 1]!;
    record.vlen = members.length;
    record.data = (ref) => this.members(record.sizeOrType, members, ref);
  }

  enumeration(name: string, values: readonly (readonly [string, number])[], size = 4): number {
    return this.add({ kind: K.enum, name, sizeOrType: size, vlen: values.length, data: (ref) => Buffer.concat(values.map(([n, v]) => Buffer.concat([u32(ref(n)), s32(v)]))) });
  }

  forward(name: string, tag: 'struct' | 'union' | 'enum' = 'struct'): number {
    return this.add({ kind: K.forward, name, sizeOrType: this.version === 2 ? 0 : K[tag], vlen: 0, data: () => Buffer.alloc(0) });
  }

  /** The next data-object slot (in the order of the symbols that get one). */
  object(type: number): void {
    this.objectSlots.push(type);
  }

  build(options: BuildOptions = {}): Buffer {
    const strings = new StringPool();
    const ref = (s: string) => strings.ref(s);
    const labels = options.label ? Buffer.concat([u32(ref(options.label)), u32(this.records.length)]) : Buffer.alloc(0);
    const objects = Buffer.concat(this.objectSlots.map((t) => this.id(t)));
    const types = Buffer.concat(this.records.map((r) => Buffer.concat([this.head(r, ref), r.data(ref)])));
    const objtoff = labels.length;
    const funcoff = objtoff + objects.length;
    const typeoff = align4(funcoff);
    const stroff = typeoff + types.length;
    const parent = options.parentName ? ref(options.parentName) : 0;
    const table = strings.table();
    const body = Buffer.concat([labels, objects, Buffer.alloc(typeoff - funcoff), types, table]);
    const header = Buffer.alloc(36);
    header.writeUInt16LE(0xcff1, 0);
    header.writeUInt8(this.version, 2);
    header.writeUInt8(options.compress === false ? 0 : 1, 3);
    header.writeUInt32LE(parent, 8);
    [0, objtoff, funcoff, typeoff, stroff, table.length].forEach((v, i) => header.writeUInt32LE(v, 12 + 4 * i));
    return Buffer.concat([header, options.compress === false ? body : deflateSync(body)]);
  }

  private head(r: TypeRecord, ref: (s: string) => number): Buffer {
    const v2 = this.version === 2;
    const info = v2 ? (r.kind << 11) | (1 << 10) | r.vlen : ((r.kind << 26) | (1 << 25) | r.vlen) >>> 0;
    const sentinel = v2 ? 0xffff : 0xffffffff;
    const sized = r.kind === K.integer || r.kind === K.float || r.kind === K.struct || r.kind === K.union || r.kind === K.enum || r.kind === K.array;
    const long = sized && r.sizeOrType >= sentinel;
    const head = v2 ? Buffer.concat([u32(ref(r.name)), u16(info), u16(long ? sentinel : r.sizeOrType)]) : Buffer.concat([u32(ref(r.name)), u32(info), u32(long ? sentinel : r.sizeOrType)]);
    return long ? Buffer.concat([head, u32(Math.floor(r.sizeOrType / 2 ** 32)), u32(r.sizeOrType % 2 ** 32)]) : head;
  }

  private members(size: number, members: readonly MemberSpec[], ref: (s: string) => number): Buffer {
    const long = size >= (this.version === 2 ? 8192 : 1 << 29);
    return Buffer.concat(
      members.map((m) => {
        if (long) {
          const typeField = this.version === 2 ? Buffer.concat([u16(m.type), u16(0)]) : u32(m.type);
          return Buffer.concat([u32(ref(m.name)), typeField, u32(Math.floor(m.bitOffset / 2 ** 32)), u32(m.bitOffset % 2 ** 32)]);
        }
        return this.version === 2 ? Buffer.concat([u32(ref(m.name)), u16(m.type), u16(m.bitOffset)]) : Buffer.concat([u32(ref(m.name)), u32(m.type), u32(m.bitOffset)]);
      }),
    );
  }

  private id(type: number): Buffer {
    return this.idSize === 2 ? u16(type) : u32(type);
  }
}

/** The string table, each distinct string once, offset 0 the empty string. */
class StringPool {
  private readonly offsets = new Map<string, number>([['', 0]]);
  private readonly parts: Buffer[] = [Buffer.from([0])];
  private size = 1;

  ref(s: string): number {
    let offset = this.offsets.get(s);
    if (offset === undefined) {
      offset = this.size;
      const bytes = Buffer.from(`${s}\0`, 'latin1');
      this.offsets.set(s, offset);
      this.parts.push(bytes);
      this.size += bytes.length;
    }
    return offset;
  }

  table(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

function s32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
