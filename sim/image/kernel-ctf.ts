/**
 * The simulated kernel's execfile: an ELF file with a `.SUNW_ctf` section
 * describing the structs the simulator lays out (struct vmmeter, struct
 * pcpu, udpstat, ipstat, struct vnet, struct prison, ...) and the variables of its symbol
 * table, a `.symtab` mapping those variables to their CTF types, and an
 * NT_GNU_BUILD_ID note, as a GENERIC kernel built WITH_CTF has. Offsets are
 * the simulator's own (kernel-layout.ts, format.ts), written from FreeBSD's
 * headers: sys/sys/vmmeter.h, sys/sys/pcpu.h, sys/netinet/udp_var.h,
 * sys/netinet/ip_var.h, sys/net/vnet.h, sys/sys/jail.h, sys/sys/_counter.h.
 */
import { writeFileSync } from 'node:fs';
import { CTF_INT_CHAR, CTF_INT_SIGNED, CtfWriter, type MemberSpec } from './ctf-writer.js';
import { SHN_ABS, SHT_NOTE, SHT_PROGBITS, SHT_STRTAB, SHT_SYMTAB, STB_GLOBAL, STT_OBJECT, buildIdNote, encodeSymbols, writeElf64, type SymbolSpec } from './elf-writer.js';
import { CPUSTATES, PCPU_SIZE, Pcpu, Vnet } from './format.js';
import { IPSTAT_FIELDS, SFSTAT_FIELDS, UDPSTAT_FIELDS, VMMETER_COUNTERS, VMMETER_SIZE, VMMETER_UINTS, VMMETER_UINTS_OFFSET } from './kernel-layout.js';
import type { KernelManifest } from './manifest.js';
import { PRISON_NAME_SIZE, Prison } from './vnet-stats.js';
import { versionBytes } from './freebsd-kernel.js';

/** The build id the simulated kernel's file carries. */
export const SIM_BUILD_ID = '6b766d5f6578706f727465722d73696d2d6b65726e';

interface Types {
  readonly int: number;
  readonly u_int: number;
  readonly long: number;
  readonly char: number;
  readonly uint64_t: number;
  readonly uintptr_t: number;
  readonly counter: number;
}

/** CTF v3 (FreeBSD 14+) for the simulator's structs, and one object slot per variable of `variables`, in order. */
export function simKernelCtf(variables: readonly string[]): Buffer {
  const w = new CtfWriter(3);
  const t = baseTypes(w);
  const structs = {
    vmmeter: vmmeter(w, t),
    pcpu: pcpu(w, t),
    udpstat: u64Struct(w, 'udpstat', UDPSTAT_FIELDS, t),
    ipstat: u64Struct(w, 'ipstat', IPSTAT_FIELDS, t),
    vnet: vnet(w, t),
  };
  const prisonId = prison(w, t, structs.vnet);
  const variableTypes: Record<string, number> = {
    vm_cnt: structs.vmmeter,
    hz: t.int,
    stathz: t.int,
    ticks: t.int,
    nprocs: t.int,
    mp_ncpus: t.int,
    mp_maxcpus: t.int,
    mp_maxid: t.u_int,
    sfstat: w.array(t.counter, t.long, SFSTAT_FIELDS.length),
    pqstate_commit_retries: t.counter,
    object_collapses: t.counter,
    vnet0: w.pointer(structs.vnet),
    prison0: prisonId,
  };
  for (const name of variables) w.object(variableTypes[name] ?? 0);
  return w.build({ label: 'kvm_exporter simulated FreeBSD 14 amd64' });
}

function baseTypes(w: CtfWriter): Types {
  const int = w.integer('int', 4, { flags: CTF_INT_SIGNED });
  const uint = w.integer('unsigned int', 4);
  const long = w.integer('long', 8, { flags: CTF_INT_SIGNED });
  const ulong = w.integer('unsigned long', 8);
  const char = w.integer('char', 1, { flags: CTF_INT_SIGNED | CTF_INT_CHAR });
  const uint64_t = w.typedef('uint64_t', ulong);
  // sys/sys/_counter.h: typedef uint64_t *counter_u64_t;
  const counter = w.typedef('counter_u64_t', w.pointer(uint64_t));
  return { int, u_int: w.typedef('u_int', uint), long, char, uint64_t, uintptr_t: w.typedef('uintptr_t', ulong), counter };
}

function vmmeter(w: CtfWriter, t: Types): number {
  const members: MemberSpec[] = [
    ...VMMETER_COUNTERS.map((name, i) => ({ name, type: t.counter, bitOffset: 64 * i })),
    ...VMMETER_UINTS.map(([name], i) => ({ name, type: t.u_int, bitOffset: 8 * (VMMETER_UINTS_OFFSET + 4 * i) })),
  ];
  return w.aggregate('struct', 'vmmeter', VMMETER_SIZE, members);
}

function pcpu(w: CtfWriter, t: Types): number {
  const thread = w.pointer(w.forward('thread'));
  const id = w.aggregate('struct', 'pcpu', PCPU_SIZE);
  w.setMembers(id, [
    { name: 'pc_curthread', type: thread, bitOffset: 0 },
    { name: 'pc_idlethread', type: thread, bitOffset: 64 },
    { name: 'pc_switchtime', type: t.uint64_t, bitOffset: 8 * Pcpu.switchtime },
    { name: 'pc_switchticks', type: t.int, bitOffset: 8 * 56 },
    { name: 'pc_cpuid', type: t.u_int, bitOffset: 8 * Pcpu.cpuid },
    { name: 'pc_cp_time', type: w.array(t.long, t.long, CPUSTATES), bitOffset: 8 * Pcpu.cpTime },
    { name: 'pc_dynamic', type: t.uintptr_t, bitOffset: 8 * Pcpu.dynamic },
    { name: 'pc_prvspace', type: w.pointer(id), bitOffset: 8 * Pcpu.prvspace },
  ]);
  return id;
}

function u64Struct(w: CtfWriter, name: string, fields: readonly string[], t: Types): number {
  return w.aggregate('struct', name, 8 * fields.length, fields.map((field, i) => ({ name: field, type: t.uint64_t, bitOffset: 64 * i })));
}

/** struct vnet (sys/net/vnet.h): LIST_ENTRY(vnet) vnet_le first, an unnamed struct of two pointers. */
function vnet(w: CtfWriter, t: Types): number {
  const id = w.aggregate('struct', 'vnet', Vnet.size);
  const self = w.pointer(id);
  const entry = w.aggregate('struct', '', 16, [
    { name: 'le_next', type: self, bitOffset: 0 },
    { name: 'le_prev', type: w.pointer(self), bitOffset: 64 },
  ]);
  w.setMembers(id, [
    { name: 'vnet_le', type: entry, bitOffset: 0 },
    { name: 'vnet_magic_n', type: t.u_int, bitOffset: 8 * Vnet.magicN },
    { name: 'vnet_ifcnt', type: t.u_int, bitOffset: 8 * 20 },
    { name: 'vnet_sockcnt', type: t.u_int, bitOffset: 8 * 24 },
    { name: 'vnet_state', type: t.u_int, bitOffset: 8 * 28 },
    { name: 'vnet_data_mem', type: w.pointer(0), bitOffset: 8 * 32 },
    { name: 'vnet_data_base', type: t.uintptr_t, bitOffset: 8 * Vnet.dataBase },
  ]);
  return id;
}

/**
 * struct prison (sys/sys/jail.h, _WANT_PRISON) with the members the
 * simulator writes, at its offsets (vnet-stats.ts: pr_vnet after
 * pr_proclist, as main has it): TAILQ_ENTRY(prison) pr_list first, an
 * unnamed struct of tqe_next and tqe_prev.
 */
function prison(w: CtfWriter, t: Types, vnetId: number): number {
  const id = w.aggregate('struct', 'prison', Prison.size);
  const self = w.pointer(id);
  const entry = w.aggregate('struct', '', 16, [
    { name: 'tqe_next', type: self, bitOffset: 8 * Prison.next },
    { name: 'tqe_prev', type: w.pointer(self), bitOffset: 8 * Prison.prev },
  ]);
  w.setMembers(id, [
    { name: 'pr_list', type: entry, bitOffset: 0 },
    { name: 'pr_id', type: t.int, bitOffset: 8 * Prison.id },
    { name: 'pr_flags', type: t.u_int, bitOffset: 8 * Prison.flags },
    { name: 'pr_vnet', type: w.pointer(vnetId), bitOffset: 8 * Prison.vnet },
    { name: 'pr_name', type: w.array(t.char, t.long, PRISON_NAME_SIZE), bitOffset: 8 * Prison.name },
  ]);
  return id;
}

/** SHF_WRITE | SHF_ALLOC: an initialised data section. */
const SHF_DATA = 0x3;
/** The written file's section index of `.data`: 1 + its place in the list below. */
const DATA_SECTION = 5;

export interface SimKernelFileOptions {
  /**
   * The `version` string in the file's `.data` (default: the image's, from
   * the manifest). Another one makes a kernel that did not write the dump.
   */
  readonly version?: string;
}

/**
 * Writes the execfile for a simulated kernel: its data symbols (from the
 * manifest) typed by CTF, and `version` with its bytes in `.data` at its
 * kernel address, as a real kernel file holds its initialised data.
 */
export function writeSimKernelFile(path: string, manifest: KernelManifest, options: SimKernelFileOptions = {}): void {
  const names = Object.keys(manifest.symbols).filter((name) => !name.startsWith('pcpu_entry_') && !name.startsWith('vnet_entry_'));
  const version = manifest.symbols.version;
  const symbols: SymbolSpec[] = names.map((name) => ({
    name,
    type: STT_OBJECT,
    bind: STB_GLOBAL,
    // Absolute symbols at their kernel addresses: the file is never loaded, only read for types (and version's bytes).
    shndx: name === 'version' ? DATA_SECTION : SHN_ABS,
    value: BigInt(manifest.symbols[name]!.address),
    size: manifest.symbols[name]!.size,
  }));
  const { symtab, strtab } = encodeSymbols(symbols);
  const data = version === undefined ? Buffer.alloc(0) : versionBytes(options.version ?? manifest.version);
  writeFileSync(
    path,
    writeElf64([
      { name: '.note.gnu.build-id', type: SHT_NOTE, data: buildIdNote(SIM_BUILD_ID), addralign: 4 },
      { name: '.SUNW_ctf', type: SHT_PROGBITS, data: simKernelCtf(names), addralign: 4 },
      { name: '.symtab', type: SHT_SYMTAB, data: symtab, link: 4, entsize: 24, addralign: 8 },
      { name: '.strtab', type: SHT_STRTAB, data: strtab, addralign: 1 },
      { name: '.data', type: SHT_PROGBITS, data, flags: SHF_DATA, addr: BigInt(version?.address ?? 0), addralign: 8 },
    ]),
  );
}
