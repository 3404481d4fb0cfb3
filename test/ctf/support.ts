/**
 * Test support for the CTF reader: the real FreeBSD fixtures (read in place
 * from the shared folder beside the repository), ELF files that wrap a CTF
 * section (objcopy on an object compiled here, or the simulator's ELF
 * writer when the fixture's own .symtab/.strtab must come along), and the
 * built CLI's `layout` command.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHT_PROGBITS, SHT_STRTAB, SHT_SYMTAB, writeElf64 } from '../../sim/image/elf-writer.js';
import { CLI, ROOT } from '../support/sim.js';
import { findExecutable } from '../support/tools.js';

export const FIXTURES = join(ROOT, '..', 'shared', 'fixtures', 'freebsd-ctf');
export const LAYOUT_MODULES = ['bridgestp', 'cpufreq', 'if_re', 'if_em', 'linux', 'hv_netvsc'] as const;
export const ALL_MODULES = [...LAYOUT_MODULES, 'carp', 'aac', 'pf'] as const;

export function fixture(module: string, ext: 'ctf' | 'symtab' | 'strtab'): Buffer {
  return readFileSync(join(FIXTURES, `${module}.${ext}`));
}

export function fixtureLayouts(module: string): FixtureLayouts {
  return JSON.parse(readFileSync(join(FIXTURES, `${module}.layouts.json`), 'utf8')) as FixtureLayouts;
}

export interface ManifestEntry {
  ctf_decoded?: { type_count: number; types_by_kind: Record<string, number>; object_slots: number };
}

export function manifest(): Record<string, ManifestEntry> {
  return JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as Record<string, ManifestEntry>;
}

export interface FixtureMember {
  name: string;
  offset: number;
  bit_offset: number | null;
  bit_size: number | null;
  type: string;
  dwarf_type?: string;
  anon_layout?: { size: number; members: FixtureMember[] };
}
export interface FixtureAggregate {
  size: number;
  members: FixtureMember[];
}
export interface FixtureLayouts {
  structs: Record<string, FixtureAggregate>;
  unions: Record<string, FixtureAggregate>;
  typedef_layouts: Record<string, FixtureAggregate & { kind: string }>;
  variables: Record<string, { type: string; size: number }>;
  dropped: Record<string, Record<string, string>>;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'kvm_exporter-ctf-'));
}

/** An ET_REL object compiled here with cc, with `section` added as .SUNW_ctf by objcopy. */
export function objcopyWithCtf(dir: string, name: string, section: Buffer): string {
  const source = join(dir, 'empty.c');
  const object = join(dir, 'empty.o');
  writeFileSync(source, 'int kvm_exporter_ctf_test_anchor;\n');
  execFileSync(findExecutable('cc', 'apt-get install gcc'), ['-c', source, '-o', object]);
  const ctf = join(dir, `${name}.ctf`);
  writeFileSync(ctf, section);
  const out = join(dir, `${name}.o`);
  execFileSync(findExecutable('objcopy', 'apt-get install binutils'), ['--add-section', `.SUNW_ctf=${ctf}`, '--set-section-flags', '.SUNW_ctf=readonly', object, out]);
  return out;
}

/** An ELF64 file carrying a CTF section with a given .symtab/.strtab pair, as a module has them. */
export function elfWithSymtab(dir: string, name: string, ctf: Buffer, symtab: Buffer, strtab: Buffer): string {
  const file = join(dir, `${name}.ko`);
  writeFileSync(
    file,
    writeElf64([
      { name: '.SUNW_ctf', type: SHT_PROGBITS, data: ctf, addralign: 4 },
      { name: '.symtab', type: SHT_SYMTAB, data: symtab, link: 3, entsize: 24, addralign: 8 },
      { name: '.strtab', type: SHT_STRTAB, data: strtab, addralign: 1 },
    ]),
  );
  return file;
}

export interface LayoutRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runLayout(execfile: string, names: readonly string[], format: 'json' | 'text' = 'json'): LayoutRun {
  const result = spawnSync(process.execPath, [CLI, 'layout', `--kvm.execfile=${execfile}`, `--format=${format}`, ...names], { encoding: 'utf8', timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
  if (result.error) throw result.error;
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}
