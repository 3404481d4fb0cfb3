/**
 * The data-object section mapped to the ELF symbol table: slot i holds the
 * type of the i-th symbol that passes the tests of init_symtab in FreeBSD's
 * cddl/contrib/opensolaris/common/ctf/ctf_open.c, in symtab order:
 * st_name != 0, st_shndx != SHN_UNDEF, name not "_START_" or "_END_",
 * STT_OBJECT, not (SHN_ABS and st_value 0), and slots left before funcoff.
 * Slot 0 means "no type" (function-local statics, compiler temporaries).
 */
import type { Bytes } from './bytes.js';
import { SHN_ABS, SHN_UNDEF, STT_OBJECT, type ElfSymbol } from './elf.js';
import type { CtfHeader } from './header.js';
import type { RecordFormat } from './records.js';

export interface TypedSymbol {
  readonly symbol: ElfSymbol;
  readonly type: number;
}

/** Every data symbol with a CTF type other than 0, grouped by name (static variables may share one). */
export function mapObjects(body: Bytes, header: CtfHeader, format: RecordFormat, symbols: readonly ElfSymbol[]): Map<string, TypedSymbol[]> {
  const byName = new Map<string, TypedSymbol[]>();
  let at = header.objtoff;
  for (const symbol of symbols) {
    if (!hasObjectSlot(symbol) || at + format.idSize > header.funcoff) continue;
    const type = format.idSize === 4 ? body.u32(at, 'object section') : body.u16(at, 'object section');
    at += format.idSize;
    if (type === 0) continue;
    const list = byName.get(symbol.name) ?? [];
    list.push({ symbol, type });
    byName.set(symbol.name, list);
  }
  return byName;
}

function hasObjectSlot(symbol: ElfSymbol): boolean {
  if (symbol.nameOffset === 0 || symbol.shndx === SHN_UNDEF || symbol.name === '_START_' || symbol.name === '_END_') return false;
  return symbol.type === STT_OBJECT && !(symbol.shndx === SHN_ABS && symbol.value === 0n);
}
