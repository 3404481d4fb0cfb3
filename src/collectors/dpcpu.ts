/**
 * DPCPU variables from the config (`DPCPU_DEFINE(int, pcputicks)`), one
 * series per present CPU. Each variable's template (`pcpu_entry_<name>`) and
 * the kernel's `dpcpu_off[]` are resolved once per handle (DpcpuOffsets), so
 * a scrape reads each CPU's copy with one kvm_read and looks up no symbol.
 */
import { CTYPE_BYTES, decodeCType } from '../abi.js';
import type { DpcpuEntry } from '../config/types.js';
import { headOf, type MetricSink } from '../exposition/family.js';
import { DpcpuOffsets } from '../kvm/index.js';
import { FailureList, type CollectorFactory, type ScrapeContext } from './framework/collector.js';
import { EntryCollector, resolveEntries, type ResolvedEntries } from './framework/config-entries.js';

interface DpcpuVariable {
  readonly entry: DpcpuEntry;
  readonly key: string;
  /** The variable's address in the set_pcpu template. */
  readonly template: bigint;
}

/** The boot CPU: always 0 on FreeBSD, so its copy proves an entry readable at setup. */
const BOOT_CPU = [0];

export const dpcpuCollector: CollectorFactory = {
  name: 'dpcpu',
  defaultEnabled: true,
  description: 'DPCPU variables from the config, per CPU (dpcpu_off[] + the pcpu_entry_ template)',
  create({ session, config }) {
    let offsets: DpcpuOffsets | undefined;
    const resolved = resolveEntries(config, config.dpcpu, (entry, key) => {
      offsets ??= DpcpuOffsets.resolve(session);
      const template = offsets.template(entry.symbol);
      offsets.read(template, entry.offset, CTYPE_BYTES[entry.ctype], BOOT_CPU);
      return [{ item: { entry, key, template }, report: { key, source: entry.sourceText, address: template, metrics: [entry.family.name] } }];
    });
    return new DpcpuCollector(offsets, resolved);
  },
};

class DpcpuCollector extends EntryCollector<DpcpuVariable> {
  constructor(
    private readonly offsets: DpcpuOffsets | undefined,
    resolved: ResolvedEntries<DpcpuVariable>,
  ) {
    super(resolved);
  }

  update(sink: MetricSink, scrape: ScrapeContext): void {
    const failures = new FailureList();
    const cpus = scrape.topology.present;
    for (const { entry, key, template } of this.items) {
      scrape.checkDeadline();
      try {
        const width = CTYPE_BYTES[entry.ctype];
        const rows = this.offsets!.read(template, entry.offset, width, cpus);
        const values = sink.values(cpus.length);
        for (let i = 0; i < cpus.length; i++) values[i] = decodeCType(rows, i * width, entry.ctype) * entry.scale;
        sink.add(headOf(entry.family, [scrape.cpuLabels], values));
      } catch (error) {
        failures.add(key, error);
      }
    }
    failures.throwIfAny();
  }
}
