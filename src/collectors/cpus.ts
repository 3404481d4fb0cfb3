/**
 * CPU counts: MAXCPU (kvm_getmaxcpu), mp_ncpus (kvm_getncpus) and how many
 * CPU ids have a struct pcpu, all from the topology read at scrape start.
 */
import type { MetricSink } from '../exposition/family.js';
import type { Collector, CollectorFactory, Scrape } from './framework/collector.js';

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

  update(sink: MetricSink, { topology }: Scrape): void {
    const gauge = (name: string, help: string, value: number) =>
      sink.add({ name, help, type: 'gauge', labelNames: [], series: [{ labels: [], value }] });
    gauge('kvm_cpus_max', 'Highest number of CPUs the kernel supports, mp_maxcpus (kvm_getmaxcpu)', topology.maxCpus);
    gauge('kvm_cpus', 'Number of CPUs, mp_ncpus (kvm_getncpus)', topology.ncpus);
    gauge('kvm_cpus_present', 'CPU ids with a struct pcpu (non-NULL cpuid_to_pcpu entries)', topology.present.length);
  }
}
