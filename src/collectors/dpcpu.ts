/**
 * DPCPU variables from the config (`DPCPU_DEFINE(int, pcputicks)`), one
 * series per present CPU. Each CPU's copy is found as libkvm documents it:
 * kvm_dpcpu_setcpu, then a fresh kvm_nlist (the `pcpu_entry_` symbol is
 * translated with the selected CPU's dpcpu_off), then kvm_read.
 */
import { CTYPE_BYTES, decodeCType } from '../abi.js';
import type { DpcpuEntry } from '../config/types.js';
import { headOf, type MetricSink } from '../exposition/family.js';
import { readDpcpu, type KvmSession } from '../kvm/index.js';
import { FailureList, type CollectorFactory, type ScrapeContext } from './framework/collector.js';
import { EntryCollector, resolveEntries, type ResolvedEntries } from './framework/config-entries.js';

interface DpcpuVariable {
  readonly entry: DpcpuEntry;
  readonly key: string;
}

export const dpcpuCollector: CollectorFactory = {
  name: 'dpcpu',
  defaultEnabled: true,
  description: 'DPCPU variables from the config, per CPU (kvm_dpcpu_setcpu)',
  create({ session, config }) {
    const resolved = resolveEntries(config, config.dpcpu, (entry, key) => {
      readDpcpu(session, entry.symbol, entry.offset, CTYPE_BYTES[entry.ctype], [0]);
      return [{ item: { entry, key }, report: { key, source: entry.sourceText, metrics: [entry.family.name] } }];
    });
    return new DpcpuCollector(session, resolved);
  },
};

class DpcpuCollector extends EntryCollector<DpcpuVariable> {
  constructor(
    private readonly session: KvmSession,
    resolved: ResolvedEntries<DpcpuVariable>,
  ) {
    super(resolved);
  }

  update(sink: MetricSink, scrape: ScrapeContext): void {
    const failures = new FailureList();
    const cpus = scrape.topology.present;
    for (const { entry, key } of this.items) {
      scrape.checkDeadline();
      try {
        const width = CTYPE_BYTES[entry.ctype];
        const rows = readDpcpu(this.session, entry.symbol, entry.offset, width, cpus);
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
