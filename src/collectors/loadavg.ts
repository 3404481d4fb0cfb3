/** Load averages over 1, 5 and 15 minutes (kvm_getloadavg). */
import { LOADAVG_METRICS } from '../exposition/builtin-metrics.js';
import { addSingle, type MetricSink } from '../exposition/family.js';
import { getLoadavg, type KvmSession } from '../kvm/index.js';
import type { Collector, CollectorFactory } from './framework/collector.js';

export const loadavgCollector: CollectorFactory = {
  name: 'loadavg',
  defaultEnabled: true,
  description: 'load averages (kvm_getloadavg)',
  create({ session }) {
    return new LoadavgCollector(session);
  },
};

class LoadavgCollector implements Collector {
  readonly entries = [];
  readonly leftOut = [];

  constructor(private readonly session: KvmSession) {}

  update(sink: MetricSink): void {
    const loads = getLoadavg(this.session);
    LOADAVG_METRICS.forEach((head, i) => addSingle(sink, head, loads[i]!));
  }
}
