/**
 * Is the execfile the kernel that wrote the dump? libkvm takes every symbol
 * of a crash dump from the execfile (lib/libkvm/kvm.c), so another kernel's
 * file makes every address, and so every value, silently wrong. The
 * kernel's `version` string (sys/conf/newvers.sh writes it into vers.c as
 * an initialised char array; kern.version, sys/kern/kern_mib.c) names the
 * build: the dump's copy, read through libkvm at the execfile's address of
 * `version`, must equal the bytes the execfile itself initialises it with.
 */
import { cString } from '../abi.js';
import { ElfFile, type ElfSymbol } from '../ctf/elf.js';

/** sh_type of a section with no bytes in the file (.bss). */
const SHT_NOBITS = 8;

/**
 * Why the dump cannot be read with this execfile, or undefined when both
 * hold the same `version`. `readDump(size)` reads sizeof(version) bytes of
 * the dump's `version`.
 */
export function foreignExecfile(execfile: string, readDump: (size: number) => Buffer): string | undefined {
  let file: { readonly text: string; readonly size: number };
  try {
    file = execfileVersion(execfile);
  } catch (error) {
    return `cannot check that ${execfile} is the kernel that wrote this dump: ${(error as Error).message}`;
  }
  const dump = cString(readDump(file.size));
  if (dump === file.text) return undefined;
  return (
    `${execfile} is not the kernel that wrote this dump: the dump's version is ${JSON.stringify(dump)} and the execfile's is ` +
    `${JSON.stringify(file.text)}; a dump's symbols come from the execfile, so every value would be wrong (give kvm.execfile the matching kernel)`
  );
}

/** The `version` string the execfile initialises, and sizeof(version). */
function execfileVersion(execfile: string): { readonly text: string; readonly size: number } {
  const elf = ElfFile.open(execfile);
  try {
    const symbol = elf.symbols()?.symbols.find((s) => s.name === 'version');
    if (symbol === undefined) throw new Error('it has no symbol version');
    return { text: cString(initialBytes(elf, symbol)), size: symbol.size };
  } finally {
    elf.close();
  }
}

/** The bytes the file holds for a data symbol: its section's contents at the symbol's address. */
function initialBytes(elf: ElfFile, symbol: ElfSymbol): Buffer {
  const section = elf.sections[symbol.shndx];
  if (section === undefined || section.type === SHT_NOBITS) throw new Error(`its version is not in an initialised section (section ${symbol.shndx})`);
  const at = symbol.value - section.addr;
  if (at < 0n || at + BigInt(symbol.size) > BigInt(section.size)) {
    throw new Error(`its version at 0x${symbol.value.toString(16)} lies outside its section ${section.name}`);
  }
  return elf.contents(section).buf.subarray(Number(at), Number(at) + symbol.size);
}
