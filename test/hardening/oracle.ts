/**
 * What the simulated kernel holds, worked out from the image itself
 * (KernelImage reads and the manifest), never from the exporter: every
 * series a scrape may publish for a loaded config, with its value. The
 * hardening tests compare each published kernel sample with it, so a failed
 * read that leaked out as 0 (or as a partial sum) is caught wherever it
 * shows up, and list which expected series are absent.
 *
 * Mirrors the exporter's naming rules (config/README.md): counters
 * `kvm_<name>[_<element>]_total` and `..._percpu_total{cpu}`, variables
 * `kvm_<name>`, DPCPU and struct pcpu entries per present CPU, process and
 * thread counts by state, CPU counts and load averages.
 */
import type { CType, Config, CounterEntry, MetricKind } from '../../src/config/types.js';
import type { KernelImage } from '../../sim/image/image.js';
import { JailTable } from '../../sim/image/jails.js';
import type { KinfoProcess } from '../../sim/image/kinfo.js';
import { symbolAddress, type KernelManifest } from '../../sim/image/manifest.js';
import type { ParsedScrape, Sample } from '../support/parse.js';

/** A series as `name{label="value",...}` with labels sorted, the key of every map here. */
export function seriesKey(name: string, labels: Readonly<Record<string, string>> = {}): string {
  const pairs = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]}"`);
  return `${name}{${pairs.join(',')}}`;
}

/** Families the exporter adds about itself; they hold no kernel data. */
const OWN_FAMILIES = /^(kvm_up|kvm_scrape_collector_\w+|kvm_exporter_\w+|process_\w+|nodejs_\w+)$/;

export function isKernelSample(sample: Sample): boolean {
  return !OWN_FAMILIES.test(sample.name);
}

export interface TruthOptions {
  /** libkvm's kvm_getncpus: mp_ncpus as libkvm first read it in this process (it never refreshes it). */
  readonly libkvmNcpus?: number;
}

/** Every series the config can produce on this kernel now, with the value the image holds. */
export function imageTruth(image: KernelImage, manifest: KernelManifest, config: Config, options: TruthOptions = {}): Map<string, number> {
  const truth = new Map<string, number>();
  const present = presentCpus(image, manifest);
  const add = (name: string, labels: Record<string, string>, value: number) => truth.set(seriesKey(name, labels), value);
  add('kvm_cpus_max', {}, image.readI32(symbolAddress(manifest, 'mp_maxcpus')));
  add('kvm_cpus', {}, options.libkvmNcpus ?? image.readI32(symbolAddress(manifest, 'mp_ncpus')));
  add('kvm_cpus_present', {}, present.length);
  for (const entry of config.counters) counterTruth(image, manifest, entry, present, add);
  for (const v of config.variables) {
    if (manifest.symbols[v.symbol] === undefined) continue;
    add(metric(v.name, v.type), {}, readCType(image, symbolAddress(manifest, v.symbol) + BigInt(v.offset), v.ctype) * v.scale);
  }
  for (const d of config.dpcpu) {
    if (manifest.symbols[`pcpu_entry_${d.symbol}`] === undefined) continue;
    const inSet = symbolAddress(manifest, `pcpu_entry_${d.symbol}`) - BigInt(manifest.dpcpu.start) + BigInt(d.offset);
    for (const cpu of present) {
      add(metric(d.name, d.type), { cpu: String(cpu) }, readCType(image, BigInt(manifest.dpcpu.areas[cpu]!) + inSet, d.ctype) * d.scale);
    }
  }
  for (const p of config.pcpu) {
    const divisor = p.divideBy === undefined ? 1 : image.readI32(symbolAddress(manifest, p.divideBy));
    for (const cpu of present) {
      for (let i = 0; i < p.count; i++) {
        const width = CTYPE_WIDTH[p.ctype];
        const value = (readCType(image, image.pcpuAddress(cpu) + BigInt(p.offset + i * width), p.ctype) * p.scale) / divisor;
        const labels: Record<string, string> = { cpu: String(cpu) };
        if (p.count > 1) labels[p.elementLabel?.name ?? 'index'] = p.elementLabel?.values[i] ?? String(i);
        add(metric(p.name, p.type), labels, value);
      }
    }
  }
  const all = image.readProcesses();
  const procs = all.filter((p) => p.threads[0]!.stat !== SIDL);
  processTruth(procs, add);
  // nprocs counts the embryonic processes kvm_getprocs leaves out.
  add('kvm_processes_hidden', {}, all.length - procs.length);
  swapTruth(image, add);
  breakdownTruth(config, procs, add, jailNamesOf(image, manifest));
  const averunnable = symbolAddress(manifest, 'averunnable');
  const fscale = Number(image.readU64(averunnable + 16n));
  [1, 5, 15].forEach((minutes, i) => add(`kvm_load${minutes}`, {}, image.readU32(averunnable + BigInt(4 * i)) / fscale));
  return truth;
}

/** CPU ids with a struct pcpu in cpuid_to_pcpu, read from the image. */
export function presentCpus(image: KernelImage, manifest: KernelManifest): number[] {
  return Array.from({ length: manifest.mpMaxid + 1 }, (_, cpu) => cpu).filter((cpu) => image.cpuPresent(cpu));
}

type Add = (name: string, labels: Record<string, string>, value: number) => void;

function metric(stem: string, type: MetricKind): string {
  return `kvm_${stem}${type === 'counter' ? '_total' : ''}`;
}

/**
 * The network stacks a vnet: true entry is read in, as the image's own lists hold them:
 * the host's (jid "0", "host") and each jail's own, by jid; a kernel without VIMAGE has the host's only.
 */
function stacksOf(image: KernelImage, manifest: KernelManifest): { labels: Record<string, string>; dataBase: bigint }[] {
  if (manifest.jails === undefined) return [{ labels: { jid: '0', jail: 'host' }, dataBase: 0n }];
  const vnets = new JailTable(image, manifest).vnets();
  return vnets
    .map((v) => ({ labels: { jid: String(v.jail?.jid ?? 0), jail: v.jail?.name ?? 'host' }, dataBase: v.dataBase }))
    .sort((a, b) => Number(a.labels.jid) - Number(b.labels.jid));
}

/** jid -> pr_name as allprison holds it, the host "host", and the cap's bucket "other" (labelled jid="other", jail="other"). */
function jailNamesOf(image: KernelImage, manifest: KernelManifest): Map<string, string> {
  const names = new Map([['0', 'host'], ['other', 'other']]);
  if (manifest.jails !== undefined) for (const j of new JailTable(image, manifest).jails()) names.set(String(j.jid), j.name);
  return names;
}

function counterTruth(image: KernelImage, manifest: KernelManifest, entry: CounterEntry, present: readonly number[], add: Add): void {
  if (!entry.vnet) {
    stackCounterTruth(image, entry, present, add, {}, (element) => handleOf(image, manifest, entry, element));
    return;
  }
  const source = entry.source;
  if (source.kind === 'address') return;
  const raw = manifest.symbols[`vnet_entry_${source.symbol}`] ?? manifest.symbols[source.symbol];
  if (raw === undefined) return;
  for (const stack of stacksOf(image, manifest)) {
    const at = BigInt.asUintN(64, stack.dataBase + BigInt(raw.address) + BigInt(source.offset));
    stackCounterTruth(image, entry, present, add, stack.labels, (element) => image.readU64(at + BigInt(8 * element)));
  }
}

function stackCounterTruth(
  image: KernelImage,
  entry: CounterEntry,
  present: readonly number[],
  add: Add,
  labels: Record<string, string>,
  handleAt: (element: number) => bigint | undefined,
): void {
  const signed = entry.type !== 'counter';
  const stems = entry.source.kind === 'array' ? entry.source.elements.map((e) => `${entry.name}_${e}`) : [entry.name];
  stems.forEach((stem, element) => {
    const handle = handleAt(element);
    if (handle === undefined) return;
    const copies = present.map((cpu) => {
      const raw = image.readCounter(handle, cpu);
      return signed ? BigInt.asIntN(64, raw) : raw;
    });
    const sum = copies.reduce((a, b) => a + b, 0n);
    add(metric(stem, entry.type), labels, Number(signed ? sum : BigInt.asUintN(64, sum)));
    if (!entry.perCpu) return;
    present.forEach((cpu, i) => add(metric(`${stem}_percpu`, entry.type), { ...labels, cpu: String(cpu) }, Number(copies[i]!)));
  });
}

/** The handle stored where the entry points, read from kernel memory; undefined for a symbol the kernel lacks. */
function handleOf(image: KernelImage, manifest: KernelManifest, entry: CounterEntry, element: number): bigint | undefined {
  const source = entry.source;
  if (source.kind === 'address') return source.handle;
  const holder = holderAddress(manifest, source.symbol);
  return holder === undefined ? undefined : image.readU64(holder + BigInt(source.offset + 8 * element));
}

/** A symbol's address; a VNET symbol lives in vnet0's data area, as libkvm translates it. */
function holderAddress(manifest: KernelManifest, symbol: string): bigint | undefined {
  if (manifest.symbols[symbol] !== undefined) return symbolAddress(manifest, symbol);
  if (manifest.symbols[`vnet_entry_${symbol}`] === undefined) return undefined;
  return BigInt.asUintN(64, BigInt(manifest.vnet.dataBase) + symbolAddress(manifest, `vnet_entry_${symbol}`));
}

/** kvm_getswapinfo: usable pages are sw_nblks less dmmax (13+: nsw_cluster_max, 32), in 4096-byte pages. */
function swapTruth(image: KernelImage, add: Add): void {
  const devices = image.readSwap();
  const usable = (blocks: number) => (blocks - 32) * 4096;
  for (const d of devices) {
    add('kvm_swap_total_bytes', { device: d.name }, usable(d.blocks));
    add('kvm_swap_used_bytes', { device: d.name }, d.used * 4096);
  }
  add('kvm_swap_total_bytes', { device: 'total' }, devices.reduce((n, d) => n + usable(d.blocks), 0));
  add('kvm_swap_used_bytes', { device: 'total' }, devices.reduce((n, d) => n + d.used * 4096, 0));
}

const STATES = ['idle', 'running', 'sleeping', 'stopped', 'zombie', 'waiting', 'lock'] as const;
const SIDL = 1;

/** KERN_PROC_PROC gives each process's first record; embryonic (SIDL) processes are already left out. */
function processTruth(procs: readonly KinfoProcess[], add: Add): void {
  const processes = new Array<number>(STATES.length).fill(0);
  const threads = new Array<number>(STATES.length).fill(0);
  for (const p of procs) {
    processes[p.threads[0]!.stat - 1]! += 1;
    for (const t of p.threads) threads[t.stat - 1]! += 1;
  }
  STATES.forEach((state, i) => {
    add('kvm_processes', { state }, processes[i]!);
    add('kvm_threads', { state }, threads[i]!);
  });
}

/** The opt-in breakdowns: past max_series keys, the largest max_series - 1 stay and the rest sum as "(others past max_series)". */
function breakdownTruth(config: Config, procs: readonly KinfoProcess[], add: Add, jailNames: ReadonlyMap<string, string>): void {
  const { byJail, byUser, byCommand } = config.processes;
  const breakdowns = [
    { on: byJail, name: 'kvm_processes_by_jail', label: 'jid', key: (p: KinfoProcess) => String(p.jid) },
    { on: byUser, name: 'kvm_processes_by_user', label: 'uid', key: (p: KinfoProcess) => String(p.uid) },
    { on: byCommand, name: 'kvm_processes_by_command', label: 'command', key: (p: KinfoProcess) => p.comm },
  ];
  for (const { on, name, label, key } of breakdowns) {
    if (!on.enabled) continue;
    const counts = new Map<string, number>();
    for (const p of procs) counts.set(key(p), (counts.get(key(p)) ?? 0) + 1);
    let entries = [...counts];
    if (entries.length > on.maxSeries) {
      entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
      const rest = entries.slice(on.maxSeries - 1).reduce((n, [, c]) => n + c, 0);
      entries = [...entries.slice(0, on.maxSeries - 1), ['(others past max_series)', rest]];
    }
    for (const [value, count] of entries) add(name, { [label]: value, ...(name === 'kvm_processes_by_jail' ? { jail: value === '(others past max_series)' ? value : (jailNames.get(value) ?? '') } : {}) }, count);
  }
}

const CTYPE_WIDTH: Readonly<Record<CType, number>> = {
  int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8, long: 8, ulong: 8, pointer: 8,
};

function readCType(image: KernelImage, address: bigint, ctype: CType): number {
  const b = image.readBytes(address, CTYPE_WIDTH[ctype]);
  switch (ctype) {
    case 'int8': return b.readInt8(0);
    case 'uint8': return b.readUInt8(0);
    case 'int16': return b.readInt16LE(0);
    case 'uint16': return b.readUInt16LE(0);
    case 'int32': return b.readInt32LE(0);
    case 'uint32': return b.readUInt32LE(0);
    case 'int64':
    case 'long': return Number(b.readBigInt64LE(0));
    default: return Number(b.readBigUInt64LE(0));
  }
}

export interface Comparison {
  /** Published kernel samples whose value differs from the image, or that the image cannot produce. */
  readonly wrong: readonly string[];
  /** Expected series that were not published, sorted. */
  readonly absent: readonly string[];
  /** Kernel samples published. */
  readonly published: number;
}

/**
 * Compares every published kernel sample with the image. Values are equal
 * exactly, except for scaled ones (ticks / stathz), which may differ in the
 * last bit of a float64 depending on the order of the operations.
 */
export function compareWithImage(scrape: ParsedScrape, truth: ReadonlyMap<string, number>): Comparison {
  const wrong: string[] = [];
  const seen = new Set<string>();
  let published = 0;
  for (const sample of scrape.samples) {
    if (!isKernelSample(sample)) continue;
    published++;
    const key = seriesKey(sample.name, sample.labels);
    seen.add(key);
    const expected = truth.get(key);
    if (expected === undefined) wrong.push(`${key} ${sample.value} is not in the image`);
    else if (!sameValue(sample.value, expected)) wrong.push(`${key} ${sample.value}, the image holds ${expected}`);
  }
  const absent = [...truth.keys()].filter((key) => !seen.has(key)).sort();
  return { wrong, absent, published };
}

function sameValue(served: number, expected: number): boolean {
  if (Number.isInteger(expected)) return served === expected;
  return Math.abs(served - expected) <= Math.abs(expected) * 1e-12;
}

/** The series keys of `names` in the truth (all labels), for saying which ones a fault may take away. */
export function keysOf(truth: ReadonlyMap<string, number>, names: readonly string[]): string[] {
  return [...truth.keys()].filter((key) => names.includes(key.slice(0, key.indexOf('{')))).sort();
}
