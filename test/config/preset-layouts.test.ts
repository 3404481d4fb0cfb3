/**
 * The presets' struct layouts and VNET_PCPUSTAT arrays, held to what can be
 * checked without FreeBSD's headers in the repository: every layout names
 * the release tree and __FreeBSD_version it was checked against, and the
 * preset's header comment names the same trees; offsets are in declaration
 * order and inside the struct, and no read (an entry's, or a vnet/jail walk's)
 * runs into the next field; each array has one element per slot of its
 * struct. Two oracles back the numbers: the real FreeBSD CTF of linux.ko
 * (10.2-RELEASE, read with `kvm_exporter layout`) for the struct vnet and
 * struct prison fields unchanged since, and the simulated kernel's layouts
 * where it models the same release (vmmeter and pcpu of 13.x, prison and
 * tcpstat of main before 1500030, the other arrays of every release).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Pcpu, PCPU_SIZE, Vnet } from '../../sim/image/format.js';
import { IPSTAT_FIELDS, UDPSTAT_FIELDS, VMMETER_COUNTERS, VMMETER_SIZE, VMMETER_UINTS, VMMETER_UINTS_OFFSET } from '../../sim/image/kernel-layout.js';
import { ICMPSTAT_FIELDS, IP6STAT_FIELDS, Prison, TCPSTAT_FIELDS } from '../../sim/image/vnet-stats.js';
import { elfWithSymtab, fixture, runLayout, tempDir } from '../ctf/support.js';

const PRESETS_DIR = fileURLToPath(new URL('../../config/presets/', import.meta.url));
const RELEASES = ['13', '14', '15'] as const;
type Release = (typeof RELEASES)[number];

interface PresetLayout {
  size: number;
  checked: string;
  fields: Record<string, number>;
}
interface PresetEntry {
  name: string;
  field?: string;
  ctype?: string;
  count?: number;
  symbol?: string;
  array?: string[];
}
interface PresetFile {
  text: string;
  layouts: Record<string, PresetLayout>;
  counters: PresetEntry[];
  variables: PresetEntry[];
  pcpu: PresetEntry[];
}

function preset(release: Release): PresetFile {
  const text = readFileSync(`${PRESETS_DIR}freebsd-${release}-amd64.yml`, 'utf8');
  const doc = parse(text) as Omit<PresetFile, 'text'>;
  return { text, layouts: doc.layouts, counters: doc.counters ?? [], variables: doc.variables ?? [], pcpu: doc.pcpu ?? [] };
}

/** The comment lines before the first key: what the preset says it was checked against. */
function headerComment(text: string): string {
  const lines = text.split('\n');
  return lines.slice(0, lines.findIndex((line) => !line.startsWith('#'))).join('\n');
}

/** __FreeBSD_version numbers of 13.x to 16.x (sys/sys/param.h: major, two-digit minor, three digits). */
const FREEBSD_VERSION = /\b1[3-6]\d{5}\b/g;

const CTYPE_BYTES: Record<string, number> = { int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8, long: 8, ulong: 8, pointer: 8 };

/**
 * What the vnet and jail walks read at each field (src/kvm/vnet.ts): the
 * le_next/tqe_next pointer, u_int vnet_magic_n, uintptr_t vnet_data_base,
 * int pr_id, unsigned pr_flags, struct vnet *pr_vnet and
 * char pr_name[MAXHOSTNAMELEN 256].
 */
const WALK_READS: Record<string, Record<string, number>> = {
  vnet: { vnet_le: 8, vnet_magic_n: 4, vnet_data_base: 8 },
  prison: { pr_list: 8, pr_id: 4, pr_flags: 4, pr_vnet: 8, pr_name: 256 },
};

/** Every `field:` read of the preset's entries as [layout, field, bytes]. */
function entryReads(file: PresetFile): [string, string, number][] {
  const reads: [string, string, number][] = [];
  const add = (entry: PresetEntry, bytes: number) => {
    const [layout, field] = entry.field!.split('.') as [string, string];
    reads.push([layout, field, bytes]);
  };
  for (const entry of file.counters.filter((e) => e.field)) add(entry, 8);
  for (const entry of [...file.variables, ...file.pcpu].filter((e) => e.field)) add(entry, CTYPE_BYTES[entry.ctype!]! * (entry.count ?? 1));
  return reads;
}

/** The byte at which the field after `field` starts, or the struct's size. */
function nextFieldStart(layout: PresetLayout, field: string): number {
  const at = layout.fields[field]!;
  return Math.min(layout.size, ...Object.values(layout.fields).filter((offset) => offset > at));
}

/** A simulated struct's field names as the preset names its array elements: prefix dropped, `x[i]` as `x_i`, the `_total` field as `packets`. */
function elementNames(fields: readonly string[], prefix: RegExp): string[] {
  return fields
    .filter((f) => !f.startsWith('_pad'))
    .map((f) => f.replace(prefix, '').replace(/\[(\d+)\]$/, '_$1').replace(/^total$/, 'packets'));
}

function array(file: PresetFile, name: string): string[] {
  return file.counters.find((entry) => entry.name === name)!.array!;
}

describe.each(RELEASES)('freebsd-%s-amd64 layouts', (release) => {
  const file = preset(release);

  it('names the header and the __FreeBSD_version each layout was checked against, and the header comment names them too', () => {
    const header = headerComment(file.text);
    expect(header).toMatch(/What was checked/);
    for (const [name, layout] of Object.entries(file.layouts)) {
      expect(layout.checked, name).toMatch(/\b[a-z0-9_/]+\.h\b/);
      const versions = layout.checked.match(FREEBSD_VERSION) ?? [];
      expect(versions.length, `${name}: ${layout.checked}`).toBeGreaterThan(0);
      for (const version of versions) expect(header, `${name} cites ${version}`).toContain(version);
    }
  });

  it('lists each layout in declaration order, every field inside the struct', () => {
    for (const [name, layout] of Object.entries(file.layouts)) {
      const offsets = Object.values(layout.fields);
      expect(offsets, name).toEqual([...offsets].sort((a, b) => a - b));
      expect(new Set(offsets).size, name).toBe(offsets.length);
      expect(Math.max(...offsets), name).toBeLessThan(layout.size);
    }
  });

  it('reads no entry and no walk field into the next field or past the struct', () => {
    const walkReads = Object.entries(WALK_READS).flatMap(([layout, fields]) => Object.entries(fields).map(([field, bytes]) => [layout, field, bytes] as [string, string, number]));
    const reads = [...entryReads(file), ...walkReads];
    expect(reads.length).toBeGreaterThan(40);
    for (const [layout, field, bytes] of reads) {
      const l = file.layouts[layout]!;
      expect(l.fields[field], `${layout}.${field}`).toBeDefined();
      expect(l.fields[field]! + bytes, `${layout}.${field} (${bytes} bytes)`).toBeLessThanOrEqual(nextFieldStart(l, field));
    }
  });

  it('keeps vm_cnt counter handles 8 bytes apart and the u_int fields after the last', () => {
    const fields = Object.entries(file.layouts.vmmeter!.fields);
    const handles = fields.filter(([, offset]) => offset < file.layouts.vmmeter!.fields.v_page_size!);
    expect(handles.map(([, offset]) => offset)).toEqual(handles.map((_, i) => 8 * i));
    const uints = fields.slice(handles.length);
    expect(uints.map(([, offset]) => offset)).toEqual(uints.map((_, i) => 8 * handles.length + 4 * i));
  });

  it('has one array element per counter slot of each VNET_PCPUSTAT struct, _pad left out', () => {
    // ICMP_MAXTYPE 40 (netinet/ip_icmp.h); IP6S_HDRCNT 256, IP6S_M2MMAX 32, IP6S_SCOPECNT 16, IP6S_RULESMAX 16 (netinet6/ip6_var.h).
    const icmp = 3 + 41 + 5 + 41 + 4;
    const ip6 = 24 + 256 + 1 + 32 + 5 + 1 + 5 * 16 + 16;
    // struct tcpstat: 113 slots, 7 _pad in 13.x; 123, 2 _pad in main before 1500030; 125, 1 _pad in main at 1500036.
    const tcp = { '13': 113 - 7, '14': 123 - 2, '15': 125 - 1 }[release];
    expect(['udp', 'ip', 'tcp', 'icmp', 'ip6'].map((name) => array(file, name).length)).toEqual([14, 29, tcp, icmp, ip6]);
    for (const name of ['udp', 'ip', 'tcp', 'icmp', 'ip6']) expect(new Set(array(file, name)).size, name).toBe(array(file, name).length);
  });
});

describe('the presets agree with the simulated kernel where it models the same release', () => {
  const presets = Object.fromEntries(RELEASES.map((r) => [r, preset(r)])) as Record<Release, PresetFile>;

  it('struct vmmeter of 13.x, which 14.x keeps (13.5 and main at 1500030 agree on the 36 counters)', () => {
    const simulated = {
      ...Object.fromEntries(VMMETER_COUNTERS.map((field, i) => [field, 8 * i])),
      ...Object.fromEntries(VMMETER_UINTS.map(([field], i) => [field, VMMETER_UINTS_OFFSET + 4 * i])),
    };
    for (const release of ['13', '14'] as const) expect(presets[release].layouts.vmmeter, release).toMatchObject({ size: VMMETER_SIZE, fields: simulated });
  });

  it('struct pcpu and struct vnet of every release', () => {
    const pcpu = { pc_curthread: Pcpu.curthread, pc_idlethread: Pcpu.idlethread, pc_switchtime: Pcpu.switchtime, pc_cpuid: Pcpu.cpuid, pc_cp_time: Pcpu.cpTime, pc_dynamic: Pcpu.dynamic, pc_early_dummy_counter: Pcpu.earlyDummyCounter };
    for (const release of RELEASES) {
      expect(presets[release].layouts.pcpu, release).toMatchObject({ size: PCPU_SIZE, fields: pcpu });
      expect(presets[release].layouts.vnet, release).toMatchObject({ size: Vnet.size, fields: { vnet_le: 0, vnet_magic_n: Vnet.magicN, vnet_data_base: Vnet.dataBase } });
    }
  });

  it('struct prison with pr_proclist, as the 14 and 15 presets have it', () => {
    const fields = { pr_list: Prison.next, pr_id: Prison.id, pr_flags: Prison.flags, pr_vnet: Prison.vnet, pr_name: Prison.name };
    for (const release of ['14', '15'] as const) expect(presets[release].layouts.prison, release).toEqual(expect.objectContaining({ size: Prison.size, fields }));
  });

  it('udpstat, ipstat, icmpstat and ip6stat of every release, element by element', () => {
    for (const release of RELEASES) {
      const file = presets[release];
      expect(array(file, 'udp'), release).toEqual(elementNames(UDPSTAT_FIELDS, /^udpp?s_/));
      expect(array(file, 'ip'), release).toEqual(elementNames(IPSTAT_FIELDS, /^ips_/));
      expect(array(file, 'icmp'), release).toEqual(elementNames(ICMPSTAT_FIELDS, /^icps_/));
      expect(array(file, 'ip6'), release).toEqual(elementNames(IP6STAT_FIELDS, /^ip6s_/));
    }
  });

  it('tcpstat of main before 1500030 in the 14 preset, and the 15 preset the same with the three counters added since', () => {
    const simulated = elementNames(TCPSTAT_FIELDS, /^tcps_/);
    expect(array(presets['14'], 'tcp')).toEqual(simulated);
    const withAdded = [...simulated];
    withAdded.splice(withAdded.indexOf('sack_rexmits') + 1, 0, 'sack_rexmits_tso');
    withAdded.splice(withAdded.indexOf('sc_recvcookie') + 1, 0, 'sc_spurcookie', 'sc_failcookie');
    expect(array(presets['15'], 'tcp')).toEqual(withAdded);
  });
});

describe('the presets agree with the real FreeBSD 10.2 CTF of linux.ko on the fields unchanged since', () => {
  interface CtfMember { name: string; offset: number }
  interface CtfStruct { name: string; size: number; members: CtfMember[] }
  const elf = elfWithSymtab(tempDir(), 'linux', fixture('linux', 'ctf'), fixture('linux', 'symtab'), fixture('linux', 'strtab'));
  const run = runLayout(elf, ['struct vnet', 'struct prison']);
  const reports = JSON.parse(run.stdout) as CtfStruct[];
  const ctf = (name: string) => reports.find((r) => r.name === name)!;
  const offset = (struct: CtfStruct, member: string) => struct.members.find((m) => m.name === member)!.offset;

  it('reads both structs from the fixture', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(reports.map((r) => [r.name, r.size]).sort()).toEqual([['prison', 2176], ['vnet', 48]]);
  });

  it.each(RELEASES)('struct vnet in the %s preset: vnet_le, vnet_magic_n and vnet_data_base', (release) => {
    // 10.2 has no vnet_state and no __aligned(CACHE_LINE_SIZE); padding keeps vnet_data_base at 40.
    const vnet = ctf('vnet');
    expect(preset(release).layouts.vnet!.fields).toEqual({ vnet_le: offset(vnet, 'vnet_le'), vnet_magic_n: offset(vnet, 'vnet_magic_n'), vnet_data_base: offset(vnet, 'vnet_data_base') });
  });

  it.each(RELEASES)('struct prison in the %s preset: every field, pr_vnet moved by the 8-byte pr_proclist where it exists', (release) => {
    // 13.x has 10.2's layout for these fields. main at 1500030 inserts LIST_HEAD(, proc) pr_proclist after
    // pr_children and replaces four address fields (24 bytes) with pr_addrs[2] (16), so pr_name stays put.
    const prison = ctf('prison');
    const proclist = release === '13' ? 0 : 8;
    const layout = preset(release).layouts.prison!;
    expect(layout.size).toBe(prison.size);
    expect(layout.fields).toEqual({
      pr_list: offset(prison, 'pr_list'),
      pr_id: offset(prison, 'pr_id'),
      pr_flags: offset(prison, 'pr_flags'),
      pr_vnet: offset(prison, 'pr_vnet') + proclist,
      pr_name: offset(prison, 'pr_name'),
    });
  });
});
