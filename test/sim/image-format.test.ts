/**
 * The writer's images have the layout sim/README.md documents: header,
 * symbol, string and segment tables, page-aligned segment data, the process
 * area and the control file, and the FreeBSD kernel conventions (pcpu,
 * counter(9) slabs, DPCPU, VNET) at the documented places. Parsed back
 * with the README's offsets, independently of the writer's own constants.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CounterSlabs, ImageBuilder } from '../../sim/image/builder.js';
import { buildFreeBsdKernel } from '../../sim/image/freebsd-kernel.js';
import { IPSTAT_FIELDS, UDPSTAT_FIELDS, VMMETER_COUNTERS } from '../../sim/image/kernel-layout.js';
import { type KernelManifest, plantedCounterValue, plantedCpTime, plantedPcputicks, readManifest } from '../../sim/image/manifest.js';
import { generateProcesses } from '../../sim/image/process-table.js';
import { type ParsedImage, kva, makeTempDir, memI32, memU32, memU64, offsetOf, parseImage, sym } from './helpers.js';

const SPARSE = [0, 2, 5];
let tmp: ReturnType<typeof makeTempDir>;
let img: ParsedImage;
let manifest: KernelManifest;
let path: string;

beforeAll(() => {
  tmp = makeTempDir('format');
  path = `${tmp.dir}/sparse.img`;
  buildFreeBsdKernel(path, { cpus: SPARSE, mpMaxcpus: 64, live: false, extraCounters: { count: 600, layout: 'clustered' } });
  img = parseImage(path);
  manifest = readManifest(path);
});
afterAll(() => tmp.cleanup());

describe('image file layout', () => {
  it('has the version 1 header', () => {
    expect(img.magic).toBe('KVMSIM01');
    expect(img.version).toBe(1);
    expect(img.headerSize).toBe(4096);
    expect(img.flags & 1).toBe(0);
    expect(img.kinfoSize).toBe(1088);
    expect(img.reserved).toBe(0);
    expect(img.bytes.subarray(96, 4096).every((b) => b === 0)).toBe(true);
  });

  it('places the tables after the header and inside the file', () => {
    expect(img.symtabOff).toBe(4096n);
    expect(img.strtabOff).toBe(img.symtabOff + BigInt(24 * img.symbols.size));
    expect(img.segtabOff).toBe(img.strtabOff + img.strtabSize);
    expect(img.segtabOff + BigInt(32 * img.segments.length)).toBeLessThanOrEqual(BigInt(img.bytes.length));
  });

  it('names symbols without the a.out underscore and pads entries with zeros', () => {
    for (const name of ['vm_cnt', '__pcpu', 'pcpu_entry_pcputicks', 'vnet_entry_udpstat', '__start_set_pcpu', '__stop_set_vnet']) {
      expect(img.symbols.has(name), name).toBe(true);
    }
    expect(img.symbols.has('_vm_cnt')).toBe(false);
    for (const s of img.symbols.values()) expect(s.padding).toEqual([0, 0, 0]);
  });

  it('stores ELF-derived n_types for crash dumps', () => {
    const nType = (n: string): number | undefined => img.symbols.get(n)?.nType;
    expect(nType('vm_cnt')).toBe(0x06 | 0x01); // N_DATA|N_EXT: initialised global
    expect(nType('mp_ncpus')).toBe(0x08 | 0x01); // N_BSS|N_EXT
    expect(nType('pqstate_commit_retries')).toBe(0x06); // static: no N_EXT
    expect(nType('object_collapses')).toBe(0x06);
  });

  it('page-aligns segment data, keeps segments disjoint and inside the file', () => {
    const sorted = [...img.segments].sort((a, b) => (a.kva < b.kva ? -1 : 1));
    for (const s of img.segments) {
      expect(s.fileOff % 4096n).toBe(0n);
      expect(s.zero).toBe(0n);
      expect(s.fileOff + s.size).toBeLessThanOrEqual(img.procsOff);
      expect(s.fileOff).toBeGreaterThanOrEqual(img.segtabOff);
    }
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1] as (typeof sorted)[number];
      expect(prev.kva + prev.size).toBeLessThanOrEqual((sorted[i] as (typeof sorted)[number]).kva);
    }
  });

  it('ends with the process area of proc_capacity records, then the argument area with one index entry per record', () => {
    const argsOff = img.bytes.readBigUInt64LE(80);
    const argsSize = img.bytes.readBigUInt64LE(88);
    expect(argsOff).toBe(img.procsOff + BigInt(img.procCapacity * 1088));
    expect(argsSize).toBeGreaterThan(BigInt(img.procCapacity * 8));
    expect(BigInt(img.bytes.length)).toBe(argsOff + argsSize);
    expect(img.procsOff % 4096n).toBe(0n);
  });

  it('writes a fresh control file with its magic and nothing armed', () => {
    const ctl = readFileSync(`${path}.ctl`);
    expect(ctl.length).toBe(4096);
    expect(ctl.toString('latin1', 0, 8)).toBe('KVMSCTL1');
    expect(ctl.subarray(8).every((b) => b === 0)).toBe(true);
  });

  it('sets the LIVE flag only for running kernels', () => {
    const live = `${tmp.dir}/live.img`;
    buildFreeBsdKernel(live, { cpus: [0] });
    expect(parseImage(live).flags & 1).toBe(1);
  });
});

describe('FreeBSD 13+ amd64 per-CPU conventions', () => {
  it('exports MAXCPU, the present CPU count and the highest id', () => {
    expect(memI32(img, sym(img, 'mp_maxcpus'))).toBe(64);
    expect(memI32(img, sym(img, 'mp_ncpus'))).toBe(3);
    expect(memU32(img, sym(img, 'mp_maxid'))).toBe(5);
  });

  it('points cpuid_to_pcpu at __pcpu + 4096*i for present CPUs and NULL otherwise', () => {
    const pcpu = memU64(img, sym(img, '__pcpu'));
    for (let cpu = 0; cpu < 64; cpu++) {
      const entry = memU64(img, sym(img, 'cpuid_to_pcpu') + BigInt(8 * cpu));
      expect(entry, `cpu ${cpu}`).toBe(SPARSE.includes(cpu) ? pcpu + BigInt(4096 * cpu) : 0n);
    }
  });

  it('fills struct pcpu: pc_cpuid at 60, pc_cp_time at 80, pc_dynamic at 160, pc_prvspace at 384', () => {
    const pcpu = memU64(img, sym(img, '__pcpu'));
    for (const cpu of SPARSE) {
      const pc = pcpu + BigInt(4096 * cpu);
      expect(memU32(img, pc + 60n)).toBe(cpu);
      expect(memU64(img, pc + 384n)).toBe(pc);
      expect(memU64(img, pc + 160n)).toBe(memU64(img, sym(img, 'dpcpu_off') + BigInt(8 * cpu)));
      for (let mode = 0; mode < 5; mode++) expect(memU64(img, pc + 80n + BigInt(8 * mode))).toBe(plantedCpTime(cpu, mode));
    }
  });

  it('keeps DPCPU copies at dpcpu_off[i] + &pcpu_entry_x, with 0 offsets for absent CPUs', () => {
    const start = sym(img, '__start_set_pcpu');
    const entry = sym(img, 'pcpu_entry_pcputicks');
    expect(entry >= start && entry < sym(img, '__stop_set_pcpu')).toBe(true);
    expect(memI32(img, entry)).toBe(0); // the template
    for (let cpu = 0; cpu <= 5; cpu++) {
      const off = memU64(img, sym(img, 'dpcpu_off') + BigInt(8 * cpu));
      if (!SPARSE.includes(cpu)) {
        expect(off, `cpu ${cpu}`).toBe(0n);
        continue;
      }
      expect(memI32(img, BigInt.asUintN(64, off + entry))).toBe(plantedPcputicks(cpu));
    }
  });

  it('resolves VNET arrays through vnet0: magic at +16, vnet_data_base at +40', () => {
    const vnet = memU64(img, sym(img, 'vnet0'));
    expect(memU32(img, vnet + 16n)).toBe(0x5e4a6f28);
    const base = memU64(img, vnet + 40n);
    const udp = sym(img, 'vnet_entry_udpstat');
    expect(udp >= sym(img, '__start_set_vnet') && udp < sym(img, '__stop_set_vnet')).toBe(true);
    expect(img.symbols.get('vnet_entry_udpstat')?.size).toBe(BigInt(8 * UDPSTAT_FIELDS.length));
    expect(img.symbols.get('vnet_entry_ipstat')?.size).toBe(BigInt(8 * IPSTAT_FIELDS.length));
    expect(memU64(img, udp)).toBe(0n); // the template holds no handles
    const first = manifest.counters.find((c) => c.name === 'udpstat.udps_ipackets');
    expect(memU64(img, BigInt.asUintN(64, base + udp))).toBe(BigInt(first?.handle ?? -1));
  });
});

describe('counter(9) handles', () => {
  it('lays vm_cnt out as 36 handles then 9 u_int (sizeof 328)', () => {
    const vm = sym(img, 'vm_cnt');
    expect(img.symbols.get('vm_cnt')?.size).toBe(328n);
    VMMETER_COUNTERS.forEach((field, i) => {
      const c = manifest.counters.find((x) => x.name === `vm_cnt.${field}`);
      expect(memU64(img, vm + BigInt(8 * i)), field).toBe(BigInt(c?.handle ?? -1));
      expect(BigInt(c?.holder ?? -1)).toBe(vm + BigInt(8 * i));
    });
    expect(memU32(img, vm + 288n)).toBe(4096); // v_page_size
  });

  it('places counter slabs below the kernel image, so handles are 2^63 or more as unsigned numbers', () => {
    const pcpu = memU64(img, sym(img, '__pcpu'));
    for (const c of manifest.counters) expect(BigInt(c.handle) >= 1n << 63n, c.name).toBe(true);
    expect(img.segments.filter((s) => s.kva < pcpu).length).toBeGreaterThan(0);
  });

  it("keeps CPU i's copy at __pcpu + handle + 4096*i, zero for absent CPUs", () => {
    const pcpu = memU64(img, sym(img, '__pcpu'));
    for (const c of manifest.counters.slice(0, 100)) {
      for (let cpu = 0; cpu <= 5; cpu++) {
        const v = memU64(img, kva(pcpu + BigInt(c.handle) + BigInt(4096 * cpu)));
        expect(v, `${c.name} cpu ${cpu}`).toBe(SPARSE.includes(cpu) ? plantedCounterValue(c.index, cpu) : 0n);
      }
    }
  });

  it('maps each pcpu-8 slab as one segment of 4096*(mp_maxid+1) bytes at __pcpu + H', () => {
    const pcpu = memU64(img, sym(img, '__pcpu'));
    const slabs = new Set(manifest.counters.map((c) => BigInt(c.handle) & ~4095n));
    expect(slabs.size).toBe(manifest.counterSlabs);
    for (const h of slabs) {
      const seg = img.segments.find((s) => s.kva === kva(pcpu + h));
      expect(seg?.size).toBe(BigInt(4096 * 6));
    }
  });

  it('clusters handles: consecutive slots, 512 to a slab', () => {
    const extra = manifest.counters.filter((c) => c.name.startsWith('extra.')).map((c) => BigInt(c.handle));
    expect(extra).toHaveLength(600);
    const pages = new Set(extra.map((h) => h & ~4095n));
    expect(pages.size).toBeLessThanOrEqual(3); // 600 handles after 92 standard ones
    for (let i = 1; i < 400; i++) {
      const step = (extra[i] as bigint) - (extra[i - 1] as bigint);
      expect(step === 8n || (extra[i] as bigint) % 4096n === 0n).toBe(true);
    }
    expect(memU64(img, sym(img, 'kvmsim_extra_counters') + 8n * 599n)).toBe(extra[599]);
  });

  it('scatters handles over many slabs so neighbours never share a page', () => {
    const p = `${tmp.dir}/scattered.img`;
    const m = buildFreeBsdKernel(p, { cpus: [0, 1], extraCounters: { count: 200, layout: 'scattered', slabs: 50 } });
    const extra = m.counters.filter((c) => c.name.startsWith('extra.')).map((c) => BigInt(c.handle) & ~4095n);
    expect(new Set(extra).size).toBe(50);
    for (let i = 1; i < extra.length; i++) expect(extra[i]).not.toBe(extra[i - 1]);
    // One clustered slab for the standard counters, 50 scattered, and one more for the host's
    // tcpstat, icmpstat and ip6stat (622 handles, continuing the clustered slab).
    expect(m.counterSlabs).toBe(52);
  });

  it('leaves an unmapped page between slabs', () => {
    const pcpu = memU64(img, sym(img, '__pcpu'));
    const first = manifest.counters[0];
    const slabEnd = pcpu + (BigInt(first?.handle ?? 0) & ~4095n) + BigInt(4096 * 6);
    expect(() => offsetOf(img, slabEnd)).toThrow(/no segment/);
  });
});

describe('kernel variables and the process table', () => {
  it('sets hz 1000, stathz 127 and averunnable in FSCALE 2048 fixed point', () => {
    expect(memI32(img, sym(img, 'hz'))).toBe(1000);
    expect(memI32(img, sym(img, 'stathz'))).toBe(127);
    const la = sym(img, 'averunnable');
    expect(memU64(img, la + 16n)).toBe(2048n);
    expect(memU32(img, la)).toBe(Math.round(0.42 * 2048));
  });

  it('stores nprocs and nprocs_records for the table it wrote', () => {
    const procs = generateProcesses({ cpus: SPARSE.length });
    const records = procs.reduce((n, p) => n + p.threads.length, 0);
    expect(memI32(img, sym(img, 'nprocs'))).toBe(procs.length);
    expect(memU32(img, sym(img, 'nprocs_records'))).toBe(records);
    const first = Number(img.procsOff);
    expect(img.bytes.readInt32LE(first)).toBe(1088);
    expect(img.bytes.readInt32LE(first + 72)).toBe(procs[0]?.pid);
  });

  it('records every symbol of the image in the manifest', () => {
    for (const [name, s] of img.symbols) {
      expect(manifest.symbols[name], name).toEqual({ address: `0x${s.value.toString(16)}`, size: Number(s.size), nType: s.nType });
    }
  });
});

describe('builder refusals', () => {
  it.each([
    ['no CPUs', { cpus: [] }, /at least one CPU/],
    ['a repeated CPU id', { cpus: [0, 0] }, /repeat/],
    ['a CPU id past MAXCPU', { cpus: [0, 300] }, /CPU id 300 is outside 0..255/],
  ])('refuses %s', (_what, spec, message) => {
    expect(() => buildFreeBsdKernel(`${tmp.dir}/bad.img`, spec)).toThrow(message);
  });

  it('refuses overlapping segments and duplicate symbols', () => {
    const b = new ImageBuilder({ live: true, procCapacity: 1 });
    b.addSegment('a', 0x1000n, 8192);
    expect(() => b.addSegment('b', 0x2000n, 4096)).toThrow(/"b" at 0x2000 overlaps "a" at 0x1000/);
    b.addSymbol('x', 0x1000n, 4, 7);
    expect(() => b.addSymbol('x', 0x1008n, 4, 7)).toThrow(/symbol x is defined twice/);
    expect(() => b.writeU64(0x2ffcn, 1n)).toThrow(/0x2ffc \(\+8 bytes\) is not inside one segment/);
  });

  it('refuses a process table larger than the process area', () => {
    const b = new ImageBuilder({ live: true, procCapacity: 2 });
    expect(() => b.setProcessRecords(Buffer.alloc(3 * 1088))).toThrow(/3 kinfo_proc records do not fit the process area of 2/);
  });

  it('hands out slab handles from the given first offset', () => {
    const b = new ImageBuilder({ live: true, procCapacity: 0 });
    const slabs = new CounterSlabs(b, { pcpuBase: 0x100000n, cpuSlots: 2, firstOffset: 0x10000n });
    expect(slabs.allocate(3, 'clustered')).toEqual([0x10000n, 0x10008n, 0x10010n]);
    expect(slabs.slabs).toBe(1);
    expect(b.view(0x110000n + 8191n, 1)).toHaveLength(1);
  });
});
