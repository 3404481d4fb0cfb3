/**
 * One CTF container: the header, the (inflated) body, the index of where each
 * type record starts, and lazily decoded types. Opening costs one walk over
 * the record heads; a type, its members, the name index and the symbol map
 * are decoded only when first asked for. A child container (cth_parname set)
 * needs its parent: ids without the child bit are the parent's (FreeBSD
 * ctf_lookup.c: ctf_lookup_by_id, CTF_TYPE_ISPARENT).
 */
import { Bytes } from './bytes.js';
import { decodeRecord, indexRecords, type RecordIndex } from './decode.js';
import type { ElfSymbol } from './elf.js';
import { parseHeader, readBody, type CtfHeader } from './header.js';
import { decodeMembers } from './members.js';
import { FORMATS, Kind, type RecordFormat } from './records.js';
import { mapObjects, type TypedSymbol } from './symbols.js';
import type { CtfAggregate, CtfMember, CtfType } from './types.js';

export interface ContainerOptions {
  /** The ELF symbol table and its string table, for the object section and external names. */
  readonly symtab?: { readonly symbols: readonly ElfSymbol[]; readonly strtab: Bytes };
  /** The parent container, required when the header names one. */
  readonly parent?: CtfContainer;
  /** Bytes of a pointer: 8 on LP64 (amd64), 4 on ILP32. */
  readonly pointerSize?: number;
}

/** Kinds a name is looked up under; integer names share a space with typedefs in C but not in CTF's hashes. */
type NameSpace = 'struct' | 'union' | 'enum' | 'typedef' | 'integer' | 'float' | 'forward';

export class CtfContainer {
  readonly header: CtfHeader;
  readonly format: RecordFormat;
  readonly pointerSize: number;
  private readonly body: Bytes;
  private readonly records: RecordIndex;
  private readonly decoded = new Map<number, CtfType>();
  private readonly memberCache = new Map<number, readonly CtfMember[]>();
  private names?: Map<string, number[]>;
  private objects?: Map<string, TypedSymbol[]>;

  constructor(
    readonly file: string,
    section: Bytes,
    private readonly options: ContainerOptions = {},
  ) {
    this.header = parseHeader(section);
    this.format = FORMATS[this.header.version];
    this.body = readBody(section, this.header);
    this.pointerSize = options.pointerSize ?? 8;
    if (this.header.parname !== 0 && !options.parent) {
      section.fail(`this CTF container is a child of ${JSON.stringify(this.string(this.header.parname))}: give its parent container to read it`);
    }
    this.records = indexRecords(this.body, this.header.version, this.header.typeoff, this.header.stroff);
  }

  /** Number of types in this container (ids 1..typeCount, with the child bit for a child). */
  get typeCount(): number {
    return this.records.offsets.length - 1;
  }

  get parentName(): string | undefined {
    return this.header.parname === 0 ? undefined : this.string(this.header.parname);
  }

  /** A name reference: bit 31 selects the ELF string table (1) or the CTF one (0). */
  string(ref: number): string {
    const offset = ref & 0x7fffffff;
    if (ref >>> 31 === 0) {
      if (offset >= this.header.strlen) this.body.fail(`name reference ${offset} is past the string table (${this.header.strlen} bytes)`);
      return this.body.cstring(this.header.stroff + offset, 'CTF string');
    }
    const strtab = this.options.symtab?.strtab;
    if (!strtab) this.body.fail(`name reference 0x${ref.toString(16)} is in the ELF string table, which this file does not have`);
    return strtab.cstring(offset, 'ELF string');
  }

  /** The type with this id, decoded on first use. Id 0 and ids past the end are errors. */
  type(id: number): CtfType {
    const { container, index } = this.owner(id);
    if (container !== this) return container.type(id);
    let type = this.decoded.get(index);
    if (!type) {
      type = decodeRecord(this.body, this.format, this.records.offsets[index]!, id, (ref) => this.string(ref));
      this.decoded.set(index, type);
    }
    return type;
  }

  /** The container that holds `id`, and the record index there. */
  private owner(id: number): { container: CtfContainer; index: number } {
    const child = (id & this.format.childBit) !== 0;
    const parent = this.options.parent;
    if (parent && !child) return { container: parent, index: id };
    const index = parent ? id - this.format.childBit : id;
    if (id === 0) this.body.fail('type id 0 ("no type") used where a type is needed');
    if ((child && !parent) || index < 1 || index > this.typeCount) {
      this.body.fail(`type id ${id} is out of range (${this.typeCount} types${parent ? ' in the child' : ''})`);
    }
    return { container: this, index };
  }

  members(type: CtfAggregate): readonly CtfMember[] {
    const { container } = this.owner(type.id);
    if (container !== this) return container.members(type);
    let members = this.memberCache.get(type.id);
    if (!members) {
      members = decodeMembers(this.body, this.format, type, (ref) => this.string(ref));
      this.memberCache.set(type.id, members);
    }
    return members;
  }

  /** Ids of the types with this name in this name space, in id order (several when modules define one name twice). */
  lookup(space: NameSpace, name: string): number[] {
    const own = (this.names ??= this.indexNames()).get(`${space} ${name}`) ?? [];
    return [...(this.options.parent?.lookup(space, name) ?? []), ...own];
  }

  private indexNames(): Map<string, number[]> {
    const names = new Map<string, number[]>();
    const child = this.options.parent ? this.format.childBit : 0;
    const { kinds, nameRefs } = this.records;
    for (let index = 1; index <= this.typeCount; index++) {
      const space = nameSpace(kinds[index]!);
      if (!space || nameRefs[index] === 0) continue;
      const key = `${space} ${this.string(nameRefs[index]!)}`;
      const ids = names.get(key) ?? [];
      ids.push(index + child);
      names.set(key, ids);
    }
    return names;
  }

  /** The typed data symbols with this name (the object section mapped to .symtab). */
  variables(name: string): readonly TypedSymbol[] {
    if (!this.options.symtab) return [];
    this.objects ??= mapObjects(this.body, this.header, this.format, this.options.symtab.symbols);
    return this.objects.get(name) ?? [];
  }

  /** Every typed data symbol's name, in symtab order. */
  variableNames(): string[] {
    if (!this.options.symtab) return [];
    this.objects ??= mapObjects(this.body, this.header, this.format, this.options.symtab.symbols);
    return [...this.objects.keys()];
  }

  /** Names an error against this container's file. */
  fail(problem: string): never {
    return this.body.fail(problem);
  }
}

function nameSpace(kind: Kind): NameSpace | undefined {
  switch (kind) {
    case Kind.Struct: return 'struct';
    case Kind.Union: return 'union';
    case Kind.Enum: return 'enum';
    case Kind.Typedef: return 'typedef';
    case Kind.Integer: return 'integer';
    case Kind.Float: return 'float';
    case Kind.Forward: return 'forward';
    default: return undefined;
  }
}
