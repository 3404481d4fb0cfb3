/**
 * Plain kernel variables from the config (`hz`, `nprocs`, a field of a
 * global struct), read with kvm_read at every scrape.
 */
import type { VariableEntry } from '../config/types.js';
import type { MetricSink } from '../exposition/family.js';
import type { KvmSession } from '../kvm/index.js';
import { FailureList, describeSource, entryKey, type Collector, type CollectorFactory, type EntryReport, type Scrape } from './collector.js';
import { ctypeWidth, decodeCType } from './ctype.js';
import { metricName } from '../config/names.js';

interface Variable {
  readonly entry: VariableEntry;
  readonly key: string;
  readonly address: bigint;
  readonly name: string;
  readonly help: string;
}

export const variablesCollector: CollectorFactory = {
  name: 'variables',
  defaultEnabled: true,
  description: 'plain kernel variables from the config (kvm_read)',
  create({ session, config }) {
    const variables: Variable[] = [];
    const entries: EntryReport[] = [];
    for (const entry of config.variables) {
      const source = describeSource(entry.symbol, entry.field, entry.offset);
      const name = metricName(entry.name, entry.type);
      const key = entryKey(entry.origin, config);
      try {
        const address = session.lookup(entry.symbol).address + BigInt(entry.offset);
        session.read(address, Buffer.alloc(ctypeWidth(entry.ctype)));
        const lead = entry.help ? `${entry.help}. ` : '';
        variables.push({ entry, key, address, name, help: `${lead}Kernel variable ${source} (${entry.ctype})` });
        entries.push({ key, source, address, metrics: [name] });
      } catch (error) {
        entries.push({ key, source, metrics: [], problem: (error as Error).message });
      }
    }
    return new VariablesCollector(session, variables, entries);
  },
};

class VariablesCollector implements Collector {
  private readonly buf = Buffer.alloc(8);

  constructor(
    private readonly session: KvmSession,
    private readonly variables: readonly Variable[],
    readonly entries: readonly EntryReport[],
  ) {}

  update(sink: MetricSink, scrape: Scrape): void {
    const failures = new FailureList();
    for (const { entry, key, address, name, help } of this.variables) {
      scrape.checkDeadline();
      try {
        this.session.read(address, this.buf, ctypeWidth(entry.ctype));
        const value = decodeCType(this.buf, 0, entry.ctype) * entry.scale;
        sink.add({ name, help, type: entry.type, labelNames: [], series: [{ labels: [], value }] });
      } catch (error) {
        failures.add(key, error);
      }
    }
    failures.throwIfAny();
  }
}
