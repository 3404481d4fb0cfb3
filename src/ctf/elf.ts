/**
 * Just enough ELF to find a kernel's or module's CTF: the section headers and
 * their names, a section's bytes, the symbol table with its string table, and
 * the NT_GNU_BUILD_ID note. Sections are read from the file on demand, so a
 * 100 MB kernel costs only the sections asked for. Little-endian only: CTF is
 * in the producer's byte order and FreeBSD's readers accept only native order
 * (sys/cddl/contrib/opensolaris/common/ctf/ctf_open.c checks the magic as is).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Bytes } from './bytes.js';

export const SHT_SYMTAB = 2;
export const SHT_NOTE = 7;
const SHN_UNDEF = 0;
const SHN_ABS = 0xfff1;
const SHN_XINDEX = 0xffff;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
const NT_GNU_BUILD_ID = 3;
/** No section the reader needs is anywhere near this; a larger claim is a corrupt header. */
const MAX_SECTION_BYTES = 1 << 30;

export interface ElfSection {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  /** sh_addr: where an allocated section lies in the kernel's address space (0 otherwise). */
  readonly addr: bigint;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly entsize: number;
}

export interface ElfSymbol {
  readonly index: number;
  readonly name: string;
  readonly nameOffset: number;
  readonly type: number;
  readonly shndx: number;
  readonly value: bigint;
  readonly size: number;
}

export { SHN_ABS, SHN_UNDEF };

/** Reads byte ranges of the file: positional reads on an open descriptor. */
interface RangeReader {
  readonly size: number;
  read(offset: number, length: number): Buffer;
}

function fileReader(path: string): RangeReader & { close(): void } {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  return {
    size,
    read(offset, length) {
      const buf = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, buf, done, length - done, offset + done);
        if (n === 0) break;
        done += n;
      }
      return buf.subarray(0, done);
    },
    close: () => closeSync(fd),
  };
}

export class ElfFile {
  private constructor(
    readonly file: string,
    private readonly reader: RangeReader,
    readonly is64: boolean,
    readonly sections: readonly ElfSection[],
    private readonly closeReader: () => void,
  ) {}

  /** Opens and parses the headers; the caller must `close()`. */
  static open(path: string): ElfFile {
    const reader = fileReader(path);
    try {
      return ElfFile.parse(path, reader, () => reader.close());
    } catch (error) {
      reader.close();
      throw error;
    }
  }

  /** Parses an ELF image already in memory. */
  static fromBuffer(name: string, image: Buffer): ElfFile {
    const reader: RangeReader = { size: image.length, read: (offset, length) => image.subarray(offset, offset + length) };
    return ElfFile.parse(name, reader, () => undefined);
  }

  private static parse(file: string, reader: RangeReader, close: () => void): ElfFile {
    const ident = new Bytes(reader.read(0, 64), file, 'ELF header');
    if (ident.length < 16 || ident.buf.readUInt32BE(0) !== 0x7f454c46) ident.fail('not an ELF file (no \\x7fELF magic)');
    const elfClass = ident.u8(4, 'EI_CLASS');
    if (elfClass !== 1 && elfClass !== 2) ident.fail(`unknown EI_CLASS ${elfClass}`);
    if (ident.u8(5, 'EI_DATA') !== 1) ident.fail('big-endian ELF: only little-endian files are supported');
    const is64 = elfClass === 2;
    const shoff = is64 ? ident.u64(40, 'e_shoff') : ident.u32(32, 'e_shoff');
    const shentsize = ident.u16(is64 ? 58 : 46, 'e_shentsize');
    let shnum = ident.u16(is64 ? 60 : 48, 'e_shnum');
    let shstrndx = ident.u16(is64 ? 62 : 50, 'e_shstrndx');
    if (shoff === 0) ident.fail('the file has no section headers');
    if (shentsize !== (is64 ? 64 : 40)) ident.fail(`unexpected e_shentsize ${shentsize}`);
    const read = (offset: number, length: number, part: string) => readRange(file, reader, offset, length, part);
    // ELF extended numbering: counts too large for 16 bits live in section 0.
    const first = read(shoff, shentsize, 'section header 0');
    if (shnum === 0) shnum = is64 ? first.u64(32, 'section 0 sh_size') : first.u32(20, 'section 0 sh_size');
    if (shstrndx === SHN_XINDEX) shstrndx = first.u32(is64 ? 40 : 24, 'section 0 sh_link');
    const table = read(shoff, shnum * shentsize, `${shnum} section headers`);
    const raw = Array.from({ length: shnum }, (_, index) => sectionHeader(table, index * shentsize, index, is64));
    if (shstrndx >= shnum) table.fail(`e_shstrndx ${shstrndx} is not a section (${shnum} sections)`);
    const names = read(raw[shstrndx]!.offset, raw[shstrndx]!.size, 'section name table');
    const sections = raw.map((s) => ({ ...s, name: s.nameOffset === 0 ? '' : names.cstring(s.nameOffset, `name of section ${s.index}`) }));
    return new ElfFile(file, reader, is64, sections, close);
  }

  close(): void {
    this.closeReader();
  }

  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** The bytes of a section, read now. */
  contents(section: ElfSection): Bytes {
    return readRange(this.file, this.reader, section.offset, section.size, `section ${section.name || section.index}`);
  }

  /** `.symtab` with its linked string table, or undefined when the file is stripped of it. */
  symbols(): { readonly symbols: readonly ElfSymbol[]; readonly strtab: Bytes } | undefined {
    const symtab = this.sections.find((s) => s.type === SHT_SYMTAB);
    if (!symtab) return undefined;
    const strSection = this.sections[symtab.link];
    if (!strSection) return new Bytes(Buffer.alloc(0), this.file, '.symtab').fail(`sh_link ${symtab.link} is not a section`);
    const strtab = this.contents(strSection);
    return { symbols: parseSymbols(this.contents(symtab), strtab, this.is64), strtab };
  }

  /** The NT_GNU_BUILD_ID note as lowercase hex, or undefined when the file has none. */
  buildId(): string | undefined {
    for (const section of this.sections.filter((s) => s.type === SHT_NOTE)) {
      const id = gnuBuildId(this.contents(section));
      if (id !== undefined) return id;
    }
    return undefined;
  }
}

function readRange(file: string, reader: RangeReader, offset: number, length: number, part: string): Bytes {
  const whole = new Bytes(Buffer.alloc(0), file, part);
  if (length > MAX_SECTION_BYTES) whole.fail(`claims ${length} bytes, more than the ${MAX_SECTION_BYTES} allowed`);
  if (offset + length > reader.size) whole.fail(`offset ${offset} + ${length} bytes runs past the end of the file (${reader.size} bytes)`);
  return new Bytes(reader.read(offset, length), file, part);
}

function sectionHeader(table: Bytes, at: number, index: number, is64: boolean): Omit<ElfSection, 'name'> & { nameOffset: number } {
  const part = `section header ${index}`;
  return is64
    ? {
        index,
        nameOffset: table.u32(at, part),
        type: table.u32(at + 4, part),
        addr: table.buf.readBigUInt64LE(at + 16),
        offset: table.u64(at + 24, part),
        size: table.u64(at + 32, part),
        link: table.u32(at + 40, part),
        entsize: table.u64(at + 56, part),
      }
    : {
        index,
        nameOffset: table.u32(at, part),
        type: table.u32(at + 4, part),
        addr: BigInt(table.u32(at + 12, part)),
        offset: table.u32(at + 16, part),
        size: table.u32(at + 20, part),
        link: table.u32(at + 24, part),
        entsize: table.u32(at + 36, part),
      };
}

/** Elf64_Sym (24 bytes) or Elf32_Sym (16 bytes), in table order. */
export function parseSymbols(table: Bytes, strtab: Bytes, is64: boolean): ElfSymbol[] {
  const size = is64 ? 24 : 16;
  if (table.length % size !== 0) table.fail(`size ${table.length} is not a multiple of the ${size}-byte symbol entry`);
  return Array.from({ length: table.length / size }, (_, index) => {
    const at = index * size;
    const part = `symbol ${index}`;
    const nameOffset = table.u32(at, part);
    const info = table.u8(at + (is64 ? 4 : 12), part);
    return {
      index,
      nameOffset,
      // An st_name past the string table reads as "" (ctf_open.c: init_symtab uses _CTF_NULLSTR).
      name: nameOffset < strtab.length ? strtab.cstring(nameOffset, `name of symbol ${index}`) : '',
      type: info & 0xf,
      shndx: table.u16(at + (is64 ? 6 : 14), part),
      value: is64 ? table.buf.readBigUInt64LE(at + 8) : BigInt(table.u32(at + 4, part)),
      size: is64 ? table.u64(at + 16, part) : table.u32(at + 8, part),
    };
  });
}

function gnuBuildId(notes: Bytes): string | undefined {
  let at = 0;
  while (at + 12 <= notes.length) {
    const namesz = notes.u32(at, 'note namesz');
    const descsz = notes.u32(at + 4, 'note descsz');
    const type = notes.u32(at + 8, 'note type');
    const nameAt = at + 12;
    const descAt = nameAt + align4(namesz);
    notes.need(descAt, descsz, 'note descriptor');
    const name = notes.buf.toString('latin1', nameAt, nameAt + Math.max(0, namesz - 1));
    if (type === NT_GNU_BUILD_ID && name === 'GNU') return notes.buf.toString('hex', descAt, descAt + descsz);
    at = descAt + align4(descsz);
  }
  return undefined;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
