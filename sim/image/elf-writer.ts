/**
 * Minimal little-endian ELF64 files for the simulated kernel's execfile and
 * for tests: a header, the given sections (with their names in .shstrtab)
 * and the section header table. No program headers: libkvm's execfile is
 * only opened and read for symbols and CTF, never mapped.
 * Structures from FreeBSD sys/sys/elf64.h and elf_common.h.
 */

export const ET_REL = 1;
export const ET_EXEC = 2;
export const EM_X86_64 = 62;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_NOTE = 7;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const SHN_ABS = 0xfff1;
const NT_GNU_BUILD_ID = 3;

export interface SectionSpec {
  readonly name: string;
  readonly type: number;
  readonly data: Buffer;
  /** Index (in the written file: 1 + position in the list) of the linked section. */
  readonly link?: number;
  readonly info?: number;
  readonly entsize?: number;
  readonly addralign?: number;
  /** sh_flags (SHF_WRITE 1, SHF_ALLOC 2). */
  readonly flags?: number;
  /** sh_addr: where an allocated section is in the kernel's address space. */
  readonly addr?: bigint;
}

export interface SymbolSpec {
  readonly name: string;
  readonly type: number;
  readonly bind?: number;
  /** Section index; 0 is SHN_UNDEF. */
  readonly shndx: number;
  readonly value?: bigint;
  readonly size?: number;
}

/** An ELF64 file with a null section, the given sections in order, then .shstrtab. */
export function writeElf64(sections: readonly SectionSpec[], type = ET_EXEC): Buffer {
  const names = stringTable(['.shstrtab', ...sections.map((s) => s.name)]);
  const all: SectionSpec[] = [...sections, { name: '.shstrtab', type: SHT_STRTAB, data: names.table }];
  const header = Buffer.alloc(64);
  const offsets: number[] = [];
  let at = header.length;
  for (const s of all) {
    at = align(at, s.addralign ?? 8);
    offsets.push(at);
    at += s.data.length;
  }
  const shoff = align(at, 8);
  const file = Buffer.alloc(shoff + 64 * (all.length + 1));
  header.write('\x7fELF', 0, 'latin1');
  header.writeUInt8(2, 4); // ELFCLASS64
  header.writeUInt8(1, 5); // ELFDATA2LSB
  header.writeUInt8(1, 6); // EV_CURRENT
  header.writeUInt8(9, 7); // ELFOSABI_FREEBSD
  header.writeUInt16LE(type, 16);
  header.writeUInt16LE(EM_X86_64, 18);
  header.writeUInt32LE(1, 20);
  header.writeBigUInt64LE(BigInt(shoff), 40);
  header.writeUInt16LE(64, 52); // e_ehsize
  header.writeUInt16LE(64, 58); // e_shentsize
  header.writeUInt16LE(all.length + 1, 60);
  header.writeUInt16LE(all.length, 62); // .shstrtab is last
  header.copy(file, 0);
  all.forEach((s, i) => {
    s.data.copy(file, offsets[i]!);
    const h = shoff + 64 * (i + 1);
    file.writeUInt32LE(names.offsets.get(s.name)!, h);
    file.writeUInt32LE(s.type, h + 4);
    file.writeBigUInt64LE(BigInt(s.flags ?? 0), h + 8);
    file.writeBigUInt64LE(s.addr ?? 0n, h + 16);
    file.writeBigUInt64LE(BigInt(offsets[i]!), h + 24);
    file.writeBigUInt64LE(BigInt(s.data.length), h + 32);
    file.writeUInt32LE(s.link ?? 0, h + 40);
    file.writeUInt32LE(s.info ?? 0, h + 44);
    file.writeBigUInt64LE(BigInt(s.addralign ?? 8), h + 48);
    file.writeBigUInt64LE(BigInt(s.entsize ?? 0), h + 56);
  });
  return file;
}

/** `.symtab` (Elf64_Sym entries after the null symbol) and its `.strtab`. */
export function encodeSymbols(symbols: readonly SymbolSpec[]): { readonly symtab: Buffer; readonly strtab: Buffer } {
  const strings = stringTable(symbols.map((s) => s.name));
  const symtab = Buffer.alloc(24 * (symbols.length + 1));
  symbols.forEach((s, i) => {
    const at = 24 * (i + 1);
    symtab.writeUInt32LE(s.name ? strings.offsets.get(s.name)! : 0, at);
    symtab.writeUInt8(((s.bind ?? STB_GLOBAL) << 4) | s.type, at + 4);
    symtab.writeUInt16LE(s.shndx, at + 6);
    symtab.writeBigUInt64LE(s.value ?? 0n, at + 8);
    symtab.writeBigUInt64LE(BigInt(s.size ?? 0), at + 16);
  });
  return { symtab, strtab: strings.table };
}

/** A `.note.gnu.build-id` section's contents for this id (hex). */
export function buildIdNote(hex: string): Buffer {
  const id = Buffer.from(hex, 'hex');
  const note = Buffer.alloc(16 + align(id.length, 4));
  note.writeUInt32LE(4, 0);
  note.writeUInt32LE(id.length, 4);
  note.writeUInt32LE(NT_GNU_BUILD_ID, 8);
  note.write('GNU\0', 12, 'latin1');
  id.copy(note, 16);
  return note;
}

/** A NUL-separated string table starting with "", each distinct string once. */
export function stringTable(strings: readonly string[]): { readonly table: Buffer; readonly offsets: ReadonlyMap<string, number> } {
  const offsets = new Map<string, number>([['', 0]]);
  const parts: Buffer[] = [Buffer.from([0])];
  let size = 1;
  for (const s of strings) {
    if (offsets.has(s)) continue;
    offsets.set(s, size);
    const bytes = Buffer.from(`${s}\0`, 'latin1');
    parts.push(bytes);
    size += bytes.length;
  }
  return { table: Buffer.concat(parts), offsets };
}

function align(n: number, to: number): number {
  return Math.ceil(n / Math.max(1, to)) * Math.max(1, to);
}
