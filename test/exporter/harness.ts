/**
 * Drives the real exporter against simulated kernels for the collector and
 * exporter tests: a config written for a test kernel, an Exporter (or one
 * collector built by its factory on a real KvmSession), scrapes rendered
 * with the product's renderer and read back with the strict parser in
 * test/support/parse.ts, and the expected values computed from the image
 * itself (KernelImage and the manifest), never from the exporter.
 *
 * libkvm's per-CPU cache is process-wide (lib/libkvm/kvm_pcpu.c), so every
 * open here first forgets it: a test file may build kernels of different
 * shapes one after another. The cache test opts out to show the limitation.
 */
import { enabledCollectors } from '../../src/cli/flags.js';
import { COLLECTORS, type Collector } from '../../src/collectors/index.js';
import { EntryErrors } from '../../src/errors.js';
import { loadConfig } from '../../src/config/load.js';
import type { CollectorName, Config, CounterEntry } from '../../src/config/types.js';
import { Exporter, type ExporterOptions } from '../../src/exporter/exporter.js';
import { FamilyList, type MetricFamily } from '../../src/exposition/family.js';
import { renderFamilies, type ExpositionFormat } from '../../src/exposition/render.js';
import { KvmSession, readTopology, type CpuTopology } from '../../src/kvm/index.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { SimControl } from '../../sim/control.js';
import type { KernelImage } from '../../sim/image/image.js';
import { symbolAddress, type KernelManifest } from '../../sim/image/manifest.js';
import { parseExposition, type ParsedScrape } from '../support/parse.js';
import { SIM_LIBRARY, type TestKernel } from '../support/sim.js';

let control: SimControl | undefined;

/** The simulator's instrumentation (call counts, the per-CPU cache), loaded once per test process. */
export function simControl(): SimControl {
  control ??= new SimControl(SIM_LIBRARY);
  return control;
}

/** Forgets libkvm's process-wide per-CPU cache, before opening a kernel of another shape. */
export function forgetPcpuCache(): void {
  simControl().resetPcpuCache();
}

export const ALL_COLLECTORS: readonly CollectorName[] = ['counters', 'variables', 'vnet', 'dpcpu', 'pcpu', 'processes', 'cpus', 'loadavg', 'swap'];

/** Writes `body` (YAML after the kvm section) for this kernel and loads it as the exporter would. */
export function kernelConfig(kernel: TestKernel, body = '', name?: string): Config {
  return loadConfig(kernel.writeConfig(body, name));
}

export interface ExporterUnderTest {
  readonly exporter: Exporter;
  readonly config: Config;
  /** One scrape, rendered as text 0.0.4 and parsed back. */
  scrape(request?: Parameters<Exporter['scrape']>[0]): Promise<ParsedScrape>;
  close(): Promise<void>;
}

export interface OpenOptions extends Partial<Omit<ExporterOptions, 'config' | 'enabled'>> {
  /** Collectors to run; by default what the config's `collectors:` and the registry defaults say. */
  readonly enabled?: Iterable<CollectorName>;
  /** Keep libkvm's per-CPU cache from earlier kernels (only the cache test wants this). */
  readonly keepPcpuCache?: boolean;
}

/** Opens an exporter and waits until its kernel thread has opened the kernel (so a fault armed next meets a scrape, not the open). */
export async function openExporter(kernel: TestKernel, body = '', options: OpenOptions = {}): Promise<ExporterUnderTest> {
  if (options.keepPcpuCache !== true) forgetPcpuCache();
  const config = kernelConfig(kernel, body);
  const { enabled, keepPcpuCache: _keep, ...rest } = options;
  const chosen = new Set(enabled ?? enabledCollectors({ collectors: new Map(), disableDefaults: false }, config.collectors));
  const exporter = new Exporter({ logger: silentLogger(), ...rest, config, enabled: chosen });
  await exporter.opened();
  return {
    exporter,
    config,
    scrape: async (request = {}) => parseFamilies(await exporter.scrape(request)),
    close: () => exporter.close(),
  };
}

/** Opens an exporter, scrapes once, closes it. */
export async function scrapeKernel(kernel: TestKernel, body = '', options: OpenOptions = {}): Promise<ParsedScrape> {
  const run = await openExporter(kernel, body, options);
  try {
    return await run.scrape();
  } finally {
    await run.close();
  }
}

export function parseFamilies(families: readonly MetricFamily[], format: ExpositionFormat = 'text-0.0.4'): ParsedScrape {
  return parseExposition(renderFamilies(families, format), format === 'text-0.0.4' ? 'text' : 'openmetrics');
}

export interface CollectorRun {
  readonly families: readonly MetricFamily[];
  readonly parsed: ParsedScrape;
  readonly collector: Collector;
  readonly topology: CpuTopology;
  /** What `update` threw: EntryErrors for entry failures, anything else for the collector. */
  readonly error: Error | undefined;
  readonly failures: ReadonlyMap<string, string>;
}

/**
 * Builds one collector with its factory on a real session and runs one
 * update. `between` runs after the factory and before the update (with the
 * topology already read), e.g. to reset call counts or arm a fault.
 */
export function runCollector(
  kernel: TestKernel,
  name: CollectorName,
  body = '',
  between: (session: KvmSession) => void = () => undefined,
  logger?: Logger,
): CollectorRun {
  forgetPcpuCache();
  const config = kernelConfig(kernel, body);
  const session = KvmSession.open(config.kvm);
  try {
    const factory = COLLECTORS.find((c) => c.name === name)!;
    const collector = factory.create({ session, config, ...(logger && { logger }) });
    const topology = readTopology(session);
    between(session);
    const sink = new FamilyList();
    let error: Error | undefined;
    try {
      collector.update(sink, { topology, cpuLabels: topology.present.map(String), checkDeadline: () => undefined });
    } catch (thrown) {
      error = thrown as Error;
    }
    const failures = new Map(error instanceof EntryErrors ? error.failures.map((f) => [f.key, f.error.message]) : []);
    return { families: sink.families, parsed: parseFamilies(sink.families), collector, topology, error, failures };
  } finally {
    session.close();
  }
}

/** The CPU ids whose cpuid_to_pcpu entry is set in the image, read straight from it. */
export function presentCpus(image: KernelImage, manifest: KernelManifest): number[] {
  const ids = Array.from({ length: manifest.mpMaxcpus }, (_, cpu) => cpu);
  return ids.filter((cpu) => image.cpuPresent(cpu));
}

/** CPU `cpu`'s copy of counter `handle`, as a float64 sample value. */
export function copyOf(image: KernelImage, handle: bigint, cpu: number, signed = false): number {
  const raw = image.readCounter(handle, cpu);
  return Number(signed ? BigInt.asIntN(64, raw) : raw);
}

/** Sum of the copies on `cpus`: modulo 2^64 for a counter, signed for a gauge, as counter_u64_fetch. */
export function sumOf(image: KernelImage, handle: bigint, cpus: readonly number[], signed = false): number {
  let sum = 0n;
  for (const cpu of cpus) sum += signed ? BigInt.asIntN(64, image.readCounter(handle, cpu)) : image.readCounter(handle, cpu);
  return Number(signed ? sum : BigInt.asUintN(64, sum));
}

export interface ExpectedCounter {
  /** Config key (`counters[3]`, or `counters[4] ipackets` for an array element). */
  readonly key: string;
  readonly sum: string;
  readonly percpu: string | undefined;
  readonly handle: bigint;
  readonly signed: boolean;
}

/**
 * What each counter entry of a loaded config should export, worked out from
 * the manifest: the handle stored where the entry points (a VNET symbol is
 * found in vnet0's data area, as libkvm translates it) and the metric names
 * the project's naming rules give.
 */
export function expectedCounters(config: Config, manifest: KernelManifest): ExpectedCounter[] {
  // vnet: true entries are the vnet collector's, labelled by jail (test/collectors/vnet.test.ts).
  return config.counters.filter((entry) => !entry.vnet).flatMap((entry) => {
    const suffix = entry.type === 'counter' ? '_total' : '';
    const stems = entry.source.kind === 'array' ? entry.source.elements.map((e) => `${entry.name}_${e}`) : [entry.name];
    return stems.map((stem, i) => ({
      key: entry.source.kind === 'array' ? `${entry.origin.key} ${entry.source.elements[i]}` : entry.origin.key,
      sum: `kvm_${stem}${suffix}`,
      percpu: entry.perCpu ? `kvm_${stem}_percpu${suffix}` : undefined,
      handle: handleOf(entry, i, manifest),
      signed: entry.type !== 'counter',
    }));
  });
}

function handleOf(entry: CounterEntry, element: number, manifest: KernelManifest): bigint {
  const source = entry.source;
  if (source.kind === 'address') return source.handle;
  const holder = holderAddress(manifest, source.symbol) + BigInt(source.offset + 8 * element);
  const counter = manifest.counters.find((c) => BigInt(c.holder) === holder);
  if (counter === undefined) throw new Error(`no counter handle is stored at 0x${holder.toString(16)} (${source.symbol})`);
  return BigInt(counter.handle);
}

function holderAddress(manifest: KernelManifest, symbol: string): bigint {
  if (manifest.symbols[symbol] !== undefined) return symbolAddress(manifest, symbol);
  const vnet = symbolAddress(manifest, `vnet_entry_${symbol}`);
  return BigInt.asUintN(64, BigInt(manifest.vnet.dataBase) + vnet);
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
