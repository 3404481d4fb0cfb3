/**
 * The reader on containers built at test time, v2 and v3, compressed or
 * not: every kind, long sizes and long members, bit-fields, anonymous
 * members, qualifier chains, forwards, parent/child, names in the ELF
 * string table, and the object section's symbol rules.
 */
import { describe, expect, it } from 'vitest';
import { CTF_INT_BOOL, CTF_INT_CHAR, CTF_INT_SIGNED, CtfWriter } from '../../sim/image/ctf-writer.js';
import { encodeSymbols, SHN_ABS, STT_FUNC, STT_OBJECT } from '../../sim/image/elf-writer.js';
import { Bytes } from '../../src/ctf/bytes.js';
import { CtfContainer, type ContainerOptions } from '../../src/ctf/container.js';
import { typeText } from '../../src/ctf/declarator.js';
import { parseSymbols } from '../../src/ctf/elf.js';
import { aggregateLayout } from '../../src/ctf/layout.js';
import { findAggregates, memberAt, variableTypes } from '../../src/ctf/query.js';
import { resolveType, sizeOf } from '../../src/ctf/resolve.js';
import { CtfError } from '../../src/errors.js';

function open(section: Buffer, options: ContainerOptions = {}): CtfContainer {
  return new CtfContainer('test.ko', new Bytes(section, 'test.ko', '.SUNW_ctf'), options);
}

/** A container with one of everything, the same in either version. */
function sample(version: 2 | 3) {
  const w = new CtfWriter(version);
  const int = w.integer('int', 4, { flags: CTF_INT_SIGNED });
  const uint = w.integer('unsigned int', 4);
  const char = w.integer('char', 1, { flags: CTF_INT_SIGNED | CTF_INT_CHAR });
  const long = w.integer('long', 8, { flags: CTF_INT_SIGNED });
  const bool = w.integer('_Bool', 1, { flags: CTF_INT_SIGNED | CTF_INT_BOOL });
  const bits3 = w.integer('unsigned int', 4, { bits: 3 });
  const bits40 = w.integer('unsigned long', 8, { bits: 40 });
  const u_int = w.typedef('u_int', uint);
  const vint = w.reference('volatile', u_int);
  const cchar = w.reference('const', char);
  const charp = w.pointer(cchar);
  const cpp = w.reference('const', charp);
  const names = w.array(charp, long, 4);
  const fn = w.func(int, [charp, long], true);
  const fnp = w.pointer(fn);
  const handlers = w.array(w.pointer(w.func(0, [])), long, 4);
  const fwd = w.forward('ifnet', 'union');
  const inner = w.aggregate('union', '', 8, [
    { name: 'as_long', type: long, bitOffset: 0 },
    { name: 'as_bytes', type: w.array(char, long, 8), bitOffset: 0 },
  ]);
  const entry = w.aggregate('struct', 'entry', 16);
  const entryp = w.pointer(entry);
  const le = w.aggregate('struct', '', 16, [
    { name: 'le_next', type: entryp, bitOffset: 0 },
    { name: 'le_prev', type: w.pointer(entryp), bitOffset: 64 },
  ]);
  w.setMembers(entry, [{ name: 'link', type: le, bitOffset: 0 }]);
  const color = w.enumeration('color', [['RED', 0], ['BLUE', -1]]);
  const big = w.aggregate('struct', 'big', 80, [
    { name: 'count', type: vint, bitOffset: 0 },
    { name: 'flag', type: bits3, bitOffset: 32 },
    { name: 'wide', type: bits40, bitOffset: 35 },
    { name: 'name', type: cpp, bitOffset: 128 },
    { name: 'names', type: names, bitOffset: 192 },
    { name: '', type: inner, bitOffset: 448 },
    { name: 'cb', type: fnp, bitOffset: 512 },
    { name: 'ok', type: bool, bitOffset: 576 },
    { name: 'color', type: color, bitOffset: 608 },
  ]);
  const tbig = w.typedef('big_t', big);
  w.object(tbig);
  w.object(0);
  w.object(w.pointer(fwd));
  w.object(handlers);
  return { w, ids: { int, u_int, vint, charp, cpp, fnp, big, entry, color, tbig, fwd, handlers } };
}

/** Symbols whose object slots the sample fills: skipped ones interleaved as init_symtab skips them. */
const SYMBOLS = encodeSymbols([
  { name: 'the_big', type: STT_OBJECT, shndx: 3, size: 80 },
  { name: 'some_function', type: STT_FUNC, shndx: 1 },
  { name: 'undefined_var', type: STT_OBJECT, shndx: 0 },
  { name: 'absolute_zero', type: STT_OBJECT, shndx: SHN_ABS, value: 0n },
  { name: '_START_', type: STT_OBJECT, shndx: 3 },
  { name: 'untyped', type: STT_OBJECT, shndx: 3 },
  { name: 'ifp', type: STT_OBJECT, shndx: 3, size: 8 },
  { name: '', type: STT_OBJECT, shndx: 3 },
  { name: 'handlers', type: STT_OBJECT, shndx: 3, size: 32 },
]);

function symtab() {
  const strtab = new Bytes(SYMBOLS.strtab, 'test.ko', '.strtab');
  return { symbols: parseSymbols(new Bytes(SYMBOLS.symtab, 'test.ko', '.symtab'), strtab, true), strtab };
}

describe.each([
  [2, true],
  [2, false],
  [3, true],
  [3, false],
] as const)('CTF v%i, compressed %s', (version, compress) => {
  const { w, ids } = sample(version);
  const ctf = open(w.build({ compress, label: 'test' }), { symtab: symtab() });

  it('reads the header and counts the types', () => {
    expect(ctf.header.version).toBe(version);
    expect(ctf.header.flags & 1).toBe(compress ? 1 : 0);
    expect(ctf.typeCount).toBe(29);
  });

  it('prints declarators the way C writes them', () => {
    expect(typeText(ctf, ids.vint)).toBe('volatile u_int');
    expect(typeText(ctf, ids.cpp)).toBe('const char *const');
    expect(typeText(ctf, ids.fnp)).toBe('int (*)(const char *, long, ...)');
    expect(typeText(ctf, ids.handlers)).toBe('void (*[4])(void)');
    expect(typeText(ctf, ids.fnp, 'cb')).toBe('int (*cb)(const char *, long, ...)');
  });

  it('lays out members: bit-fields by absolute bit offset, anonymous members nested, sizes through typedefs', () => {
    const layout = aggregateLayout(ctf, resolveType(ctf, ids.tbig) as never);
    expect(layout.size).toBe(80);
    const byName = Object.fromEntries(layout.members.map((m) => [m.name, m]));
    expect(byName.count).toMatchObject({ offset: 0, bit_offset: null, size: 4, type: 'volatile u_int' });
    expect(byName.flag).toMatchObject({ offset: 4, bit_offset: 32, bit_size: 3, type: 'unsigned int' });
    expect(byName.wide).toMatchObject({ offset: 4, bit_offset: 35, bit_size: 40, type: 'unsigned long' });
    expect(byName.names).toMatchObject({ offset: 24, size: 32, type: 'const char *[4]' });
    expect(byName['']!.anon_layout?.members.map((m) => m.name)).toEqual(['as_long', 'as_bytes']);
    expect(byName.ok).toMatchObject({ offset: 72, bit_offset: null, size: 1, type: '_Bool' });
    expect(byName.color).toMatchObject({ offset: 76, size: 4, type: 'enum color' });
  });

  it('follows dotted paths through named and anonymous members', () => {
    const [entry] = findAggregates(ctf, 'entry');
    expect(memberAt(ctf, entry!.type, 'link.le_prev')).toMatchObject({ offset: 8, size: 8, typeText: 'struct entry **' });
    const [big] = findAggregates(ctf, 'big_t');
    expect(big!.typedef).toBe('big_t');
    expect(memberAt(ctf, big!.type, 'as_long')).toMatchObject({ offset: 56, typeText: 'long' });
    expect(memberAt(ctf, big!.type, 'link.le_next')).toBe('struct big has no member "link"');
    expect(memberAt(ctf, entry!.type, 'link.le_next.x')).toBe('link.le_next is struct entry *, not a struct or union');
  });

  it('maps the object section to the symbols init_symtab keeps, in symtab order', () => {
    expect(variableTypes(ctf, 'the_big')).toEqual([{ name: 'the_big', typeId: ids.tbig, size: 80, typeText: 'big_t' }]);
    expect(variableTypes(ctf, 'untyped')).toEqual([]);
    expect(variableTypes(ctf, 'undefined_var')).toEqual([]);
    const forward = version === 2 ? 'struct ifnet *' : 'union ifnet *';
    expect(variableTypes(ctf, 'ifp').map((v) => v.typeText)).toEqual([forward]);
    expect(variableTypes(ctf, 'handlers').map((v) => [v.typeText, v.size])).toEqual([['void (*[4])(void)', 32]]);
  });
});

describe('long records', () => {
  it.each([2, 3] as const)('v%i: a struct at the long-member threshold uses 64-bit member offsets; a huge size uses the long size', (version) => {
    const w = new CtfWriter(version);
    const char = w.integer('char', 1, { flags: CTF_INT_SIGNED | CTF_INT_CHAR });
    const threshold = version === 2 ? 8192 : 1 << 29;
    const big = w.aggregate('struct', 'big', threshold, [
      { name: 'first', type: char, bitOffset: 0 },
      { name: 'last', type: char, bitOffset: (threshold - 1) * 8 },
    ]);
    const huge = w.aggregate('struct', 'huge', 2 ** 33, [{ name: 'tail', type: char, bitOffset: 2 ** 33 * 8 - 8 }]);
    const ctf = open(w.build());
    expect(memberAt(ctf, ctf.type(big) as never, 'last')).toMatchObject({ offset: threshold - 1 });
    expect(sizeOf(ctf, huge)).toBe(2 ** 33);
    expect(memberAt(ctf, ctf.type(huge) as never, 'tail')).toMatchObject({ offset: 2 ** 33 - 1 });
  });
});

describe('parent and child containers', () => {
  const parent = new CtfWriter(3);
  const long = parent.integer('long', 8, { flags: CTF_INT_SIGNED });
  const child = new CtfWriter(3, true);
  const s = child.aggregate('struct', 'softc', 16, [{ name: 'sc_count', type: long, bitOffset: 64 }]);
  const section = child.build({ parentName: 'kernel' });

  it('refuses a child container without its parent, naming the parent', () => {
    expect(() => open(section)).toThrow(/child of "kernel": give its parent container/);
  });

  it('reads a child with its parent: ids without the child bit are the parent types', () => {
    const ctf = open(section, { parent: open(parent.build()) });
    expect(memberAt(ctf, ctf.type(s) as never, 'sc_count')).toMatchObject({ offset: 8, typeText: 'long' });
    expect(findAggregates(ctf, 'softc')).toHaveLength(1);
  });
});

describe('names in the ELF string table (bit 31 of a name reference)', () => {
  it('reads them from .strtab and refuses them without one', () => {
    const w = new CtfWriter(2, false);
    const id = w.integer('int', 4, { flags: CTF_INT_SIGNED });
    const section = w.build({ compress: false });
    // Point the type's name at offset 1 of the ELF string table: "the_big".
    const typeoff = 36 + section.readUInt32LE(24);
    section.writeUInt32LE(0x80000001, typeoff);
    expect(typeText(open(section, { symtab: symtab() }), id)).toBe('the_big');
    expect(() => typeText(open(section), id)).toThrow(CtfError);
  });
});
