/**
 * Plain kernel variables from the config (`hz`, `nprocs`, a field of a
 * global struct), read with kvm_read at every scrape.
 */
import { CTYPE_BYTES, decodeCType } from '../abi.js';
import type { VariableEntry } from '../config/types.js';
import { addSingle, type MetricSink } from '../exposition/family.js';
import type { KvmSession } from '../kvm/index.js';
import { FailureList, type CollectorFactory, type ScrapeContext } from './framework/collector.js';
import { EntryCollector, resolveEntries, type ResolvedEntries } from './framework/config-entries.js';

interface Variable {
  readonly entry: VariableEntry;
  readonly key: string;
  readonly address: bigint;
}

export const variablesCollector: CollectorFactory = {
  name: 'variables',
  defaultEnabled: true,
  description: 'plain kernel variables from the config (kvm_read)',
  create({ session, config }) {
    // vnet: true entries are the vnet collector's: read in every network stack.
    const resolved = resolveEntries(config, config.variables.filter((entry) => !entry.vnet), (entry, key) => {
      const address = session.lookup(entry.symbol).address + BigInt(entry.offset);
      session.read(address, Buffer.alloc(CTYPE_BYTES[entry.ctype]));
      return [{ item: { entry, key, address }, report: { key, source: entry.sourceText, address, metrics: [entry.family.name] } }];
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

  update(sink: MetricSink, scrape: ScrapeContext): void {
    const failures = new FailureList();
    for (const { entry, key, address } of this.items) {
      scrape.checkDeadline();
      try {
        this.session.read(address, this.buf, CTYPE_BYTES[entry.ctype]);
        const value = decodeCType(this.buf, 0, entry.ctype) * entry.scale;
        addSingle(sink, entry.family, value);
      } catch (error) {
        failures.add(key, error);
      }
    }
    failures.throwIfAny();
  }
}
