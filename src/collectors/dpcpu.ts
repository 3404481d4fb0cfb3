/**
 * DPCPU variables from the config (`DPCPU_DEFINE(int, pcputicks)`), one
 * series per present CPU. Each CPU's copy is found as libkvm documents it:
 * kvm_dpcpu_setcpu, then a fresh kvm_nlist (the `pcpu_entry_` symbol is
 * translated with the selected CPU's dpcpu_off), then kvm_read.
 */
import type { DpcpuEntry } from '../config/types.js';
import type { MetricSink, Series } from '../exposition/family.js';
import { readDpcpu, type KvmSession } from '../kvm/index.js';
import { FailureList, describeSource, entryKey, type Collector, type CollectorFactory, type EntryReport, type Scrape } from './collector.js';
import { ctypeWidth, decodeCType } from './ctype.js';
import { metricName } from '../config/names.js';

interface DpcpuVariable {
  readonly entry: DpcpuEntry;
  readonly key: string;
  readonly name: string;
  readonly help: string;
}

export const dpcpuCollector: CollectorFactory = {
  name: 'dpcpu',
  defaultEnabled: true,
  description: 'DPCPU variables from the config, per CPU (kvm_dpcpu_setcpu)',
  create({ session, config }) {
    const variables: DpcpuVariable[] = [];
    const entries: EntryReport[] = [];
    for (const entry of config.dpcpu) {
      const source = `DPCPU ${describeSource(entry.symbol, entry.field, entry.offset)}`;
      const name = metricName(entry.name, entry.type);
      const key = entryKey(entry.origin, config);
      try {
        readDpcpu(session, entry.symbol, entry.offset, ctypeWidth(entry.ctype), [0]);
        const lead = entry.help ? `${entry.help}. ` : '';
        variables.push({ entry, key, name, help: `${lead}${source} (${entry.ctype}), per CPU` });
        entries.push({ key, source, metrics: [name] });
      } catch (error) {
        entries.push({ key, source, metrics: [], problem: (error as Error).message });
      }
    }
    return new DpcpuCollector(session, variables, entries);
  },
};

class DpcpuCollector implements Collector {
  constructor(
    private readonly session: KvmSession,
    private readonly variables: readonly DpcpuVariable[],
    readonly entries: readonly EntryReport[],
  ) {}

  update(sink: MetricSink, scrape: Scrape): void {
    const failures = new FailureList();
    const cpus = scrape.topology.present;
    for (const { entry, key, name, help } of this.variables) {
      scrape.checkDeadline();
      try {
        const width = ctypeWidth(entry.ctype);
        const rows = readDpcpu(this.session, entry.symbol, entry.offset, width, cpus);
        const series: Series[] = cpus.map((cpu, i) => ({
          labels: [String(cpu)],
          value: decodeCType(rows, i * width, entry.ctype) * entry.scale,
        }));
        sink.add({ name, help, type: entry.type, labelNames: ['cpu'], series });
      } catch (error) {
        failures.add(key, error);
      }
    }
    failures.throwIfAny();
  }
}
