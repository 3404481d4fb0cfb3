/**
 * Plain kernel variables from the config (`hz`, `nprocs`, a field of a
 * global struct), read with kvm_read at every scrape.
 */
import { CTYPE_BYTES, decodeCType } from '../abi.js';
import { metricName } from '../config/names.js';
import type { VariableEntry } from '../config/types.js';
import type { MetricSink } from '../exposition/family.js';
import type { KvmSession } from '../kvm/index.js';
import { FailureList, type CollectorFactory, type Scrape } from './framework/collector.js';
import { EntryCollector, describeSource, resolveEntries, type ResolvedEntries } from './framework/config-entries.js';

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
    const describe = (entry: VariableEntry) => describeSource(entry.symbol, entry.field, entry.offset);
    // vnet: true entries are the vnet collector's: read in every network stack.
    const resolved = resolveEntries(config, config.variables.filter((entry) => !entry.vnet), describe, (entry, key) => {
      const source = describe(entry);
      const name = metricName(entry.name, entry.type);
      const address = session.lookup(entry.symbol).address + BigInt(entry.offset);
      session.read(address, Buffer.alloc(CTYPE_BYTES[entry.ctype]));
      const lead = entry.help ? `${entry.help}. ` : '';
      const item = { entry, key, address, name, help: `${lead}Kernel variable ${source} (${entry.ctype})` };
      return [{ item, report: { key, source, address, metrics: [name] } }];
    });
    return new VariablesCollector(session, resolved);
  },
};

class VariablesCollector extends EntryCollector<Variable> {
  private readonly buf = Buffer.alloc(8);

  constructor(
    private readonly session: KvmSession,
    resolved: ResolvedEntries<Variable>,
  ) {
    super(resolved);
  }

  update(sink: MetricSink, scrape: Scrape): void {
    const failures = new FailureList();
    for (const { entry, key, address, name, help } of this.items) {
      scrape.checkDeadline();
      try {
        this.session.read(address, this.buf, CTYPE_BYTES[entry.ctype]);
        const value = decodeCType(this.buf, 0, entry.ctype) * entry.scale;
        sink.add({ name, help, type: entry.type, labelNames: [], series: [{ labels: [], value }] });
      } catch (error) {
        failures.add(key, error);
      }
    }
    failures.throwIfAny();
  }
}
