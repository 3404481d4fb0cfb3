/**
 * CPU counts: MAXCPU (kvm_getmaxcpu), mp_ncpus (kvm_getncpus) and how many
 * CPU ids have a struct pcpu, all from the topology read at scrape start.
 */
import { CPUS_METRICS } from '../exposition/builtin-metrics.js';
import { addSingle, type MetricSink } from '../exposition/family.js';
import type { Collector, CollectorFactory, ScrapeContext } from './framework/collector.js';

export const cpusCollector: CollectorFactory = {
  name: 'cpus',
  defaultEnabled: true,
  description: 'CPU counts: MAXCPU, mp_ncpus and present CPU ids (kvm_getmaxcpu, kvm_getncpus)',
  create() {
    return new CpusCollector();
  },
};

class CpusCollector implements Collector {
  readonly entries = [];
  readonly leftOut = [];

  update(sink: MetricSink, { topology }: ScrapeContext): void {
    addSingle(sink, CPUS_METRICS.max, topology.maxCpus);
    addSingle(sink, CPUS_METRICS.ncpus, topology.ncpus);
    addSingle(sink, CPUS_METRICS.present, topology.present.length);
  }
}
