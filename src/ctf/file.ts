/**
 * CTF from an ELF file on disk (a kernel or a .ko): the `.SUNW_ctf` section
 * with the file's `.symtab`/`.strtab`, read into a CtfContainer. Modules are
 * complete containers of their own on FreeBSD; a uniquified child names its
 * parent in cth_parname and is read only with that parent given.
 */
import { Bytes } from './bytes.js';
import { CtfContainer } from './container.js';
import { ElfFile } from './elf.js';

export const CTF_SECTION = '.SUNW_ctf';

export interface CtfFile {
  readonly file: string;
  readonly ctf: CtfContainer;
  /** The file's NT_GNU_BUILD_ID, to match it against the running kernel's kern.build_id. */
  readonly buildId: string | undefined;
}

/** Reads the CTF of an ELF file; undefined when the file has no `.SUNW_ctf` section (a kernel built without WITH_CTF). */
export function readCtfFile(path: string, parent?: CtfContainer): CtfFile | undefined {
  const elf = ElfFile.open(path);
  try {
    const section = elf.section(CTF_SECTION);
    if (!section) return undefined;
    const ctf = new CtfContainer(path, new Bytes(elf.contents(section).buf, path, CTF_SECTION), {
      symtab: elf.symbols(),
      pointerSize: elf.is64 ? 8 : 4,
      ...(parent ? { parent } : {}),
    });
    return { file: path, ctf, buildId: elf.buildId() };
  } finally {
    elf.close();
  }
}
