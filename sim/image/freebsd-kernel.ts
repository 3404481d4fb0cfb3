/**
 * buildFreeBsdKernel: a simulated FreeBSD 13+ amd64 kernel image with the
 * variables kvm_exporter reads and libkvm's per-CPU machinery needs:
 *
 * - mp_maxcpus, mp_ncpus, mp_maxid, cpuid_to_pcpu[], __pcpu, dpcpu_off[]
 *   (sys/kern/subr_smp.c, subr_pcpu.c), one struct pcpu per CPU id with
 *   pc_cpuid, pc_cp_time, pc_switchtime, pc_dynamic and pc_prvspace;
 * - counter(9) data: vm_cnt (struct vmmeter, 13.0 layout), the VNET arrays
 *   udpstat and ipstat inside set_vnet with vnet0, the global sfstat, and
 *   the static pqstate_commit_retries and object_collapses;
 * - the DPCPU variable pcputicks (kern_clock.c) inside set_pcpu;
 * - hz, stathz, ticks, nprocs, averunnable and the process table.
 *
 * Present CPU ids may be sparse; every id up to mp_maxid has a struct pcpu
 * and a DPCPU area, and absent ones are NULL in cpuid_to_pcpu and 0 in
 * dpcpu_off, as after pcpu_destroy(). The manifest (<image>.json) lists
 * every symbol and counter handle. Long because it is the whole kernel's
 * layout in one place; each region has its own short function.
 */
import { type CounterLayout, CounterSlabs, ImageBuilder } from './builder.js';
import { CPUSTATES, FSCALE, Loadavg, NType, PCPU_SIZE, PAGE_SIZE, Pcpu, VNET_MAGIC_N, Vnet, hex, u64 } from './format.js';
import { type KinfoProcess, argsBytes, encodeArgsArea, encodeProcesses, recordCount } from './kinfo.js';
import {
  CPU_TICK_FREQUENCY,
  HZ,
  IPSTAT_FIELDS,
  KERNEL_VERSION,
  KERNEL_VERSION_SIZE,
  Kva,
  SFSTAT_FIELDS,
  STATHZ,
  NSW_CLUSTER_MAX,
  STATIC_COUNTERS,
  Swdevt,
  UDPSTAT_FIELDS,
  VMMETER_COUNTERS,
  VMMETER_SIZE,
  VMMETER_UINTS,
  VMMETER_UINTS_OFFSET,
} from './kernel-layout.js';
import {
  type KernelManifest,
  type ManifestCounter,
  plantedCounterValue,
  plantedCpTime,
  plantedPcputicks,
  writeManifest,
} from './manifest.js';
import { generateProcesses } from './process-table.js';
import { type JailArea, type JailSpec, VNET_STATS, placeJails } from './jails.js';
import { Prison } from './vnet-stats.js';

export interface ExtraCounters {
  count: number;
  layout: CounterLayout;
  /** For "scattered": how many slabs to spread them over (default 64). */
  slabs?: number;
}

/** A swap device as swapon(8) adds it to swtailq; sizes in pages. */
export interface SwapDevice {
  /** What devname(3) says of its sw_dev, e.g. "ada0p3". */
  name: string;
  /** sw_nblks: the device's size in pages. */
  blocks: number;
  /** sw_used: pages in use. */
  used: number;
}

export interface FreeBsdKernelSpec {
  /** Present CPU ids, sparse allowed (default [0, 1, 2, 3]). */
  cpus?: readonly number[];
  /** MAXCPU (default 256, as amd64 13.x). */
  mpMaxcpus?: number;
  /** Running kernel (default) or crash dump semantics. */
  live?: boolean;
  /** The process table (default: generateProcesses for the CPUs). */
  processes?: readonly KinfoProcess[];
  /** Records the process area holds (default: 4x the table, at least 1024). */
  procCapacity?: number;
  /** Bytes of the argument heap (default: 4x the table's arguments, at least 64 KiB). */
  argsHeapBytes?: number;
  /** N more counters in kvmsim_extra_counters[], for benchmarks. */
  extraCounters?: ExtraCounters;
  /** Load averages (default 0.42, 0.37, 0.30). */
  loadavg?: readonly [number, number, number];
  /** options VIMAGE (default true): set_vnet, vnet0 and vnet_head; false puts the VNET arrays in .bss. */
  vimage?: boolean;
  /** Jails on allprison at boot, in jid order (default none). */
  jails?: readonly JailSpec[];
  /** Jail slots, each with a struct prison, a vnet and its counters (default: jails + 4; VIMAGE only). */
  jailSlots?: number;
  /** Swap devices in swtailq order (default one 8 GiB partition, a little used). */
  swap?: readonly SwapDevice[];
  /** The `version` string in kernel memory (default KERNEL_VERSION); the execfile carries its own (kernel-ctf.ts). */
  version?: string;
}

/** The kernel variables, with their C sizes and whether they are initialised (.data) or not (.bss). */
interface Variable {
  name: string;
  size: number;
  data: boolean;
  /** File-local (static) symbols have no N_EXT. */
  local?: boolean;
}

interface Layout {
  spec: Required<Omit<FreeBsdKernelSpec, 'extraCounters' | 'processes' | 'jails'>> & {
    jails: readonly JailSpec[];
    extraCounters: ExtraCounters | undefined;
    processes: readonly KinfoProcess[];
  };
  maxid: number;
  builder: ImageBuilder;
  counters: ManifestCounter[];
  dpcpuAreas: Map<number, bigint>;
  vnetDataBase: bigint;
}

const SET_PCPU_ENTRIES: ReadonlyArray<readonly [string, number]> = [['pcpu_entry_pcputicks', 4]];
const SET_VNET_ENTRIES: ReadonlyArray<readonly [string, number]> = VNET_STATS.map(([stat, fields]) => [`vnet_entry_${stat}`, fields.length * 8]);

/**
 * The jail and VNET variables: prison0 and allprison (sys/kern/kern_jail.c),
 * proc0, allproc and dumptid, which libkvm's _kvm_vnet_selectpid nlists
 * (lib/libkvm/kvm_vnet.c), and with VIMAGE vnet0 and vnet_head
 * (sys/net/vnet.c); without it the VNET arrays are plain globals.
 */
function jailVariables(vimage: boolean): Variable[] {
  const vars: Variable[] = [
    { name: 'prison0', size: Prison.size, data: true },
    { name: 'proc0', size: 8, data: true },
    { name: 'allprison', size: 16, data: true },
    { name: 'allproc', size: 8, data: false },
    { name: 'dumptid', size: 4, data: false },
  ];
  if (vimage) return [...vars, { name: 'vnet0', size: 8, data: false }, { name: 'vnet_head', size: 8, data: false }];
  return [...vars, ...VNET_STATS.map(([stat, fields]) => ({ name: stat, size: fields.length * 8, data: false }))];
}

function variables(maxcpus: number, extra: number, vimage: boolean): Variable[] {
  return [
    { name: 'mp_maxcpus', size: 4, data: true },
    { name: 'nprocs', size: 4, data: true },
    { name: 'averunnable', size: Loadavg.size, data: true },
    { name: 'vm_cnt', size: VMMETER_SIZE, data: true },
    { name: 'pqstate_commit_retries', size: 8, data: true, local: true },
    { name: 'object_collapses', size: 8, data: true, local: true },
    { name: 'mp_ncpus', size: 4, data: false },
    { name: 'mp_maxid', size: 4, data: false },
    { name: 'hz', size: 4, data: false },
    { name: 'stathz', size: 4, data: false },
    { name: 'ticks', size: 4, data: false },
    { name: 'nprocs_records', size: 4, data: false },
    { name: '__pcpu', size: 8, data: false },
    { name: 'cpuid_to_pcpu', size: 8 * maxcpus, data: false },
    { name: 'dpcpu_off', size: 8 * maxcpus, data: false },
    { name: 'sfstat', size: SFSTAT_FIELDS.length * 8, data: false },
    { name: 'swtailq', size: 16, data: false },
    { name: 'nsw_cluster_max', size: 4, data: false, local: true },
    ...(extra > 0 ? [{ name: 'kvmsim_extra_counters', size: 8 * extra, data: false }] : []),
    ...jailVariables(vimage),
    // Last, so that adding it moved no other variable.
    { name: 'version', size: KERNEL_VERSION_SIZE, data: true },
  ];
}

function nTypeOf(v: Variable): number {
  return (v.data ? NType.DATA : NType.BSS) | (v.local === true ? 0 : NType.EXT);
}

/** Lays .data then .bss out from Kva.data, 8-byte aligned, .bss starting on the next page. */
function placeVariables(b: ImageBuilder, vars: Variable[]): void {
  let at = 0;
  const dataVars = vars.filter((v) => v.data);
  const bssVars = vars.filter((v) => !v.data);
  for (const v of dataVars) {
    b.addSymbol(v.name, Kva.data + BigInt(at), v.size, nTypeOf(v));
    at += Math.ceil(v.size / 8) * 8;
  }
  const dataSize = Math.ceil(at / PAGE_SIZE) * PAGE_SIZE;
  b.addSegment('kernel .data', Kva.data, dataSize);
  at = dataSize;
  for (const v of bssVars) {
    b.addSymbol(v.name, Kva.data + BigInt(at), v.size, nTypeOf(v));
    at += Math.ceil(v.size / 8) * 8;
  }
  b.addSegment('kernel .bss', Kva.data + BigInt(dataSize), at - dataSize);
}

/** A linker set: __start_set_X, the entries, __stop_set_X; returns [start, stop). */
function placeLinkerSet(b: ImageBuilder, set: string, base: bigint, entries: ReadonlyArray<readonly [string, number]>): [bigint, bigint] {
  let at = 0;
  for (const [name, size] of entries) {
    b.addSymbol(name, base + BigInt(at), size, NType.DATA | NType.EXT);
    at += Math.ceil(size / 8) * 8;
  }
  b.addSegment(`linker set ${set}`, base, at);
  b.addSymbol(`__start_${set}`, base, 0, NType.DATA | NType.EXT);
  b.addSymbol(`__stop_${set}`, base + BigInt(at), 0, NType.DATA | NType.EXT);
  return [base, base + BigInt(at)];
}

function addr(b: ImageBuilder, name: string): bigint {
  return b.symbol(name).value;
}

function pcpuAddress(cpu: number): bigint {
  return Kva.pcpu + BigInt(PCPU_SIZE * cpu);
}

/** Every CPU id's struct pcpu and DPCPU area; present ones become visible later. */
function placePerCpu(l: Layout, dpcpuStart: bigint, dpcpuStop: bigint): void {
  const b = l.builder;
  b.addSegment('struct pcpu array', Kva.pcpu, PCPU_SIZE * (l.maxid + 1));
  const template = b.view(dpcpuStart, Number(dpcpuStop - dpcpuStart));
  for (let cpu = 0; cpu <= l.maxid; cpu++) {
    const area = Kva.dpcpuAreas + Kva.dpcpuStride * BigInt(cpu);
    b.addSegment(`DPCPU area of CPU ${cpu}`, area, PAGE_SIZE);
    b.writeBytes(area, template);
    l.dpcpuAreas.set(cpu, area);
    const pc = pcpuAddress(cpu);
    b.writeU32(pc + BigInt(Pcpu.cpuid), cpu);
    b.writeU64(pc + BigInt(Pcpu.dynamic), u64(area - dpcpuStart));
    b.writeU64(pc + BigInt(Pcpu.prvspace), pc);
    writeThreadPointers(b, cpu);
  }
}

/**
 * A running kernel's struct pcpu is never zero where a handle below 4096
 * would land: pc_curthread and pc_idlethread point at struct thread
 * (sys/sys/pcpu.h), and pc_early_dummy_counter holds the early-boot
 * counter(9) updates (sys/amd64/include/counter.h EARLY_COUNTER).
 */
function writeThreadPointers(b: ImageBuilder, cpu: number): void {
  const pc = pcpuAddress(cpu);
  const idle = Kva.threads + Kva.threadStride * BigInt(2 * cpu);
  b.writeU64(pc + BigInt(Pcpu.idlethread), idle);
  b.writeU64(pc + BigInt(Pcpu.curthread), cpu % 2 === 0 ? idle : idle + Kva.threadStride);
  b.writeU64(pc + BigInt(Pcpu.earlyDummyCounter), BigInt(40 + cpu));
}

/** Makes the present CPUs visible and plants their per-CPU values. */
function bringCpusUp(l: Layout, dpcpuStart: bigint): void {
  const b = l.builder;
  for (const cpu of l.spec.cpus) {
    const pc = pcpuAddress(cpu);
    const area = l.dpcpuAreas.get(cpu) as bigint;
    b.writeU64(addr(b, 'cpuid_to_pcpu') + BigInt(8 * cpu), pc);
    b.writeU64(addr(b, 'dpcpu_off') + BigInt(8 * cpu), u64(area - dpcpuStart));
    for (let mode = 0; mode < CPUSTATES; mode++) b.writeU64(pc + BigInt(Pcpu.cpTime + 8 * mode), plantedCpTime(cpu, mode));
    b.writeU64(pc + BigInt(Pcpu.switchtime), BigInt(CPU_TICK_FREQUENCY) * 3600n + BigInt(cpu) * 977n);
    b.writeI32(addr(b, 'pcpu_entry_pcputicks') - dpcpuStart + area, plantedPcputicks(cpu));
  }
}

function placeVnet(l: Layout, start: bigint, stop: bigint): void {
  const b = l.builder;
  b.addSegment('struct vnet of vnet0', Kva.vnet0, Vnet.size);
  b.addSegment('vnet0 data area', Kva.vnet0Data, Number(stop - start));
  l.vnetDataBase = u64(Kva.vnet0Data - start);
  b.writeU32(Kva.vnet0 + BigInt(Vnet.magicN), VNET_MAGIC_N);
  b.writeU64(Kva.vnet0 + BigInt(Vnet.dataBase), l.vnetDataBase);
  b.writeU64(addr(b, 'vnet0'), Kva.vnet0);
  // vnet_alloc() puts vnet0 on vnet_head (le_prev = &vnet_head) and vnet0_init makes it prison0's.
  b.writeU64(addr(b, 'vnet_head'), Kva.vnet0);
  b.writeU64(Kva.vnet0 + 8n, addr(b, 'vnet_head'));
  b.writeU64(addr(b, 'prison0') + BigInt(Prison.vnet), Kva.vnet0);
}

/** prison0 (pr_id 0, pr_name "0"), an empty allprison, and dumptid on a crash dump. */
function writeJailScalars(l: Layout): void {
  const b = l.builder;
  b.writeBytes(addr(b, 'prison0') + BigInt(Prison.name), Buffer.from('0\0'));
  b.writeU64(addr(b, 'allprison') + 8n, addr(b, 'allprison'));
  // The dumping thread's id (sys/kern/kern_shutdown.c); 0 on a running kernel.
  if (!l.spec.live) b.writeI32(addr(b, 'dumptid'), 100_004);
}

/** Where VNET array `stat` of the host's stack is: vnet0's copy, or the global without VIMAGE. */
function hostStatBase(l: Layout, stat: string): bigint {
  const b = l.builder;
  return l.spec.vimage ? u64(l.vnetDataBase + addr(b, `vnet_entry_${stat}`)) : addr(b, stat);
}

/** Allocates handles, stores each at its holder address, and plants values on present CPUs. */
function allocateCounters(l: Layout, slabs: CounterSlabs, names: string[], holders: bigint[], layout: CounterLayout, maxSlabs?: number): void {
  const handles = slabs.allocate(names.length, layout, maxSlabs);
  names.forEach((name, i) => {
    const handle = handles[i] as bigint;
    const holder = holders[i] as bigint;
    const index = l.counters.length;
    l.builder.writeU64(holder, handle);
    for (const cpu of l.spec.cpus) {
      l.builder.writeU64(u64(Kva.pcpu + handle + BigInt(PCPU_SIZE * cpu)), plantedCounterValue(index, cpu));
    }
    l.counters.push({ name, index, handle: hex(handle), holder: hex(holder) });
  });
}

function arrayHolders(base: bigint, n: number): bigint[] {
  return Array.from({ length: n }, (_, i) => base + BigInt(8 * i));
}

function placeCounters(l: Layout): CounterSlabs {
  const b = l.builder;
  const firstOffset = u64(Kva.firstCounterSlabKva - Kva.pcpu);
  const slabs = new CounterSlabs(b, { pcpuBase: Kva.pcpu, cpuSlots: l.maxid + 1, firstOffset });
  const groups: Array<[string, readonly string[], bigint]> = [
    ['vm_cnt', VMMETER_COUNTERS, addr(b, 'vm_cnt')],
    ['udpstat', UDPSTAT_FIELDS, hostStatBase(l, 'udpstat')],
    ['ipstat', IPSTAT_FIELDS, hostStatBase(l, 'ipstat')],
    ['sfstat', SFSTAT_FIELDS, addr(b, 'sfstat')],
  ];
  for (const [struct, fields, base] of groups) {
    allocateCounters(l, slabs, fields.map((f) => `${struct}.${f}`), arrayHolders(base, fields.length), 'clustered');
  }
  allocateCounters(l, slabs, [...STATIC_COUNTERS], STATIC_COUNTERS.map((s) => addr(b, s)), 'clustered');
  const extra = l.spec.extraCounters;
  if (extra !== undefined && extra.count > 0) {
    const names = Array.from({ length: extra.count }, (_, i) => `extra.${i}`);
    allocateCounters(l, slabs, names, arrayHolders(addr(b, 'kvmsim_extra_counters'), extra.count), extra.layout, extra.slabs);
  }
  // The host's other VNET arrays, after the rest so earlier handles keep their places.
  for (const [stat, fields] of VNET_STATS.slice(2)) {
    allocateCounters(l, slabs, fields.map((f) => `${stat}.${f}`), arrayHolders(hostStatBase(l, stat), fields.length), 'clustered');
  }
  return slabs;
}

function writeScalars(l: Layout): void {
  const b = l.builder;
  const s = l.spec;
  b.writeI32(addr(b, 'mp_maxcpus'), s.mpMaxcpus);
  b.writeI32(addr(b, 'mp_ncpus'), s.cpus.length);
  b.writeU32(addr(b, 'mp_maxid'), l.maxid);
  b.writeU64(addr(b, '__pcpu'), Kva.pcpu);
  b.writeI32(addr(b, 'hz'), HZ);
  b.writeI32(addr(b, 'stathz'), STATHZ);
  b.writeI32(addr(b, 'ticks'), 3_600_000);
  const vmcnt = addr(b, 'vm_cnt');
  VMMETER_UINTS.forEach(([, value], i) => b.writeU32(vmcnt + BigInt(VMMETER_UINTS_OFFSET + 4 * i), value));
  const la = addr(b, 'averunnable');
  s.loadavg.forEach((v, i) => b.writeU32(la + BigInt(4 * i), Math.round(v * FSCALE)));
  b.writeU64(la + BigInt(Loadavg.fscale), BigInt(FSCALE));
  b.writeBytes(addr(b, 'version'), versionBytes(s.version));
  b.writeI32(addr(b, 'nprocs'), s.processes.length);
  b.writeU32(addr(b, 'nprocs_records'), recordCount(s.processes));
  b.setProcessRecords(encodeProcesses(s.processes));
  b.setProcessArgs(encodeArgsArea(s.processes, s.procCapacity, s.argsHeapBytes));
}

/** `version`'s initialised bytes: the string, NUL-padded to sizeof(version). */
export function versionBytes(version: string): Buffer {
  const text = Buffer.from(version, 'latin1');
  if (text.length >= KERNEL_VERSION_SIZE) throw new RangeError(`a version string of ${text.length} bytes does not fit char version[${KERNEL_VERSION_SIZE}]`);
  const bytes = Buffer.alloc(KERNEL_VERSION_SIZE);
  text.copy(bytes);
  return bytes;
}

/**
 * swtailq, the TAILQ of struct swdevt that swapon(8) builds
 * (sys/vm/swap_pager.c), and nsw_cluster_max, which vm.dmmax reports.
 */
function placeSwap(l: Layout): void {
  const b = l.builder;
  const devices = l.spec.swap;
  const head = addr(b, 'swtailq');
  b.writeI32(addr(b, 'nsw_cluster_max'), NSW_CLUSTER_MAX);
  if (devices.length > 0) b.addSegment('struct swdevt of the swap devices', Kva.swdevs, Swdevt.slot * devices.length);
  const at = (i: number): bigint => Kva.swdevs + BigInt(Swdevt.slot * i);
  devices.forEach((d, i) => {
    const sw = at(i);
    b.writeI32(sw + BigInt(Swdevt.nblks), d.blocks);
    b.writeI32(sw + BigInt(Swdevt.used), d.used);
    b.writeU64(sw + BigInt(Swdevt.dev), BigInt(0x5a + i));
    b.writeU64(sw + BigInt(Swdevt.listNext), i + 1 < devices.length ? at(i + 1) : 0n);
    b.writeU64(sw + BigInt(Swdevt.listPrev), i === 0 ? head : at(i - 1) + BigInt(Swdevt.listNext));
    b.writeBytes(sw + BigInt(Swdevt.simDevname), Buffer.from(`${d.name}\0`, 'latin1'));
  });
  b.writeU64(head, devices.length > 0 ? at(0) : 0n);
  b.writeU64(head + 8n, devices.length > 0 ? at(devices.length - 1) + BigInt(Swdevt.listNext) : head);
}

function resolveSpec(spec: FreeBsdKernelSpec): Layout['spec'] {
  const cpus = [...(spec.cpus ?? [0, 1, 2, 3])].sort((a, b) => a - b);
  const mpMaxcpus = spec.mpMaxcpus ?? 256;
  if (cpus.length === 0) throw new RangeError('a simulated kernel needs at least one CPU');
  if (new Set(cpus).size !== cpus.length) throw new RangeError(`CPU ids ${cpus.join(',')} repeat an id`);
  const bad = cpus.find((c) => !Number.isInteger(c) || c < 0 || c >= mpMaxcpus);
  if (bad !== undefined) throw new RangeError(`CPU id ${bad} is outside 0..${mpMaxcpus - 1} (mp_maxcpus ${mpMaxcpus})`);
  const processes = spec.processes ?? generateProcesses({ cpus: cpus.length });
  const records = recordCount(processes);
  return {
    cpus,
    mpMaxcpus,
    live: spec.live ?? true,
    processes,
    procCapacity: spec.procCapacity ?? Math.max(1024, 4 * records),
    argsHeapBytes: spec.argsHeapBytes ?? Math.max(64 * 1024, 4 * argsBytes(processes)),
    extraCounters: spec.extraCounters,
    loadavg: spec.loadavg ?? [0.42, 0.37, 0.3],
    vimage: spec.vimage ?? true,
    jails: resolveJails(spec),
    jailSlots: spec.vimage === false ? 0 : (spec.jailSlots ?? (spec.jails?.length ?? 0) + 4),
    swap: spec.swap ?? [{ name: 'ada0p3', blocks: 2_097_152, used: 3_072 }],
    version: spec.version ?? KERNEL_VERSION,
  };
}

function resolveJails(spec: FreeBsdKernelSpec): readonly JailSpec[] {
  const jails = [...(spec.jails ?? [])];
  if (spec.vimage === false && jails.some((j) => j.vnet)) throw new RangeError('a jail with its own vnet needs options VIMAGE');
  if (spec.vimage === false && jails.length > 0) throw new RangeError('jails are simulated on VIMAGE kernels only');
  if (new Set(jails.map((j) => j.jid)).size !== jails.length || jails.some((j) => !Number.isInteger(j.jid) || j.jid <= 0)) {
    throw new RangeError(`jail ids ${jails.map((j) => j.jid).join(',')} must be distinct positive integers`);
  }
  if (jails.length > (spec.jailSlots ?? jails.length)) throw new RangeError(`${jails.length} jails do not fit ${spec.jailSlots} jail slots`);
  return jails.sort((a, b) => a.jid - b.jid);
}

function manifestOf(path: string, l: Layout, counterSlabs: number, dpcpu: [bigint, bigint], vnet: [bigint, bigint] | undefined, jails: JailArea | undefined): KernelManifest {
  const b = l.builder;
  const ids = Array.from({ length: l.maxid + 1 }, (_, i) => i);
  return {
    format: 'kvmsim-manifest-1',
    image: path,
    live: l.spec.live,
    cpus: [...l.spec.cpus],
    mpMaxcpus: l.spec.mpMaxcpus,
    mpMaxid: l.maxid,
    pcpuBase: hex(Kva.pcpu),
    pcpu: Object.fromEntries(ids.map((c) => [String(c), hex(pcpuAddress(c))])),
    dpcpu: {
      start: hex(dpcpu[0]),
      stop: hex(dpcpu[1]),
      areas: Object.fromEntries(ids.map((c) => [String(c), hex(l.dpcpuAreas.get(c) as bigint)])),
    },
    vnet: vnet
      ? { vnet0: hex(Kva.vnet0), dataBase: hex(l.vnetDataBase), start: hex(vnet[0]), stop: hex(vnet[1]) }
      : { vnet0: '0x0', dataBase: '0x0', start: '0x0', stop: '0x0' },
    ...(jails && { jails }),
    symbols: Object.fromEntries(b.allSymbols().map((s) => [s.name, { address: hex(s.value), size: s.size, nType: s.nType }])),
    counters: l.counters,
    counterSlabs,
    processes: l.spec.processes.length,
    threads: recordCount(l.spec.processes),
    procCapacity: l.spec.procCapacity,
    version: l.spec.version,
  };
}

/** Builds the kernel, writes <path>, <path>.ctl and <path>.json, and returns the manifest. */
export function buildFreeBsdKernel(path: string, spec: FreeBsdKernelSpec = {}): KernelManifest {
  const resolved = resolveSpec(spec);
  const maxid = Math.max(...resolved.cpus);
  const builder = new ImageBuilder({ live: resolved.live, procCapacity: resolved.procCapacity, argsHeapBytes: resolved.argsHeapBytes });
  const l: Layout = { spec: resolved, maxid, builder, counters: [], dpcpuAreas: new Map(), vnetDataBase: 0n };
  placeVariables(builder, variables(resolved.mpMaxcpus, resolved.extraCounters?.count ?? 0, resolved.vimage));
  const dpcpu = placeLinkerSet(builder, 'set_pcpu', Kva.setPcpu, SET_PCPU_ENTRIES);
  const vnet = resolved.vimage ? placeLinkerSet(builder, 'set_vnet', Kva.setVnet, SET_VNET_ENTRIES) : undefined;
  if (vnet) placeVnet(l, vnet[0], vnet[1]);
  placePerCpu(l, dpcpu[0], dpcpu[1]);
  bringCpusUp(l, dpcpu[0]);
  const slabs = placeCounters(l);
  writeScalars(l);
  writeJailScalars(l);
  const counterSlabs = slabs.slabs;
  const jails = vnet && placeJails({
    builder, slabs, cpus: resolved.cpus, setVnetStart: vnet[0], setVnetStop: vnet[1],
    slots: resolved.jailSlots, jails: resolved.jails, vnet0: Kva.vnet0, pcpuBase: Kva.pcpu,
  });
  placeSwap(l);
  builder.write(path);
  const manifest = manifestOf(path, l, counterSlabs, dpcpu, vnet, jails);
  writeManifest(path, manifest);
  return manifest;
}
