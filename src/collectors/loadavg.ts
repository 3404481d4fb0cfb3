/** Load averages over 1, 5 and 15 minutes (kvm_getloadavg). */
import type { MetricSink } from '../exposition/family.js';
import { getLoadavg, type KvmSession } from '../kvm/index.js';
import type { Collector, CollectorFactory } from './framework/collector.js';

const WINDOWS = [1, 5, 15] as const;

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
    WINDOWS.forEach((minutes, i) =>
      sink.add({
        name: `kvm_load${minutes}`,
        help: `${minutes}-minute load average (kvm_getloadavg)`,
        type: 'gauge',
        labelNames: [],
        series: [{ labels: [], value: loads[i]! }],
      }),
    );
  }
}
