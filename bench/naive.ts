/**
 * The naive strategy the counters collector is measured against: for every
 * counter, one kvm_read_zpcpu per present CPU for the per-CPU series and one
 * kvm_counter_u64_fetch for the sum, through the same binding (src/kvm) the
 * exporter uses. It builds the same families as the collector, so its output
 * can be checked against the exporter's and its time compared fairly.
 */
import type { Config } from '../src/config/types.js';
import { familyOf, type MetricFamily, type Series } from '../src/exposition/family.js';
import { KvmSession, counterU64Fetch, readTopology, readZpcpu } from '../src/kvm/index.js';
import { EXTRA_COUNTERS_NAME, openExtraCounters } from './kernels.js';

const TWO_32 = 2 ** 32;

export class NaiveCounters {
  private readonly copy = Buffer.alloc(8);

  private constructor(
    private readonly session: KvmSession,
    private readonly handles: readonly bigint[],
  ) {}

  /** Opens its own handle on the workload's kernel and reads the extra counters' handles. */
  static open(config: Config, count: number): NaiveCounters {
    const { session, handles } = openExtraCounters(config, count);
    return new NaiveCounters(session, handles);
  }

  /** One scrape: the topology, then every counter copy by itself. */
  scrape(): MetricFamily[] {
    const { present, ncpus } = readTopology(this.session);
    const families: MetricFamily[] = [];
    this.handles.forEach((handle, i) => {
      const stem = `kvm_${EXTRA_COUNTERS_NAME}_c${i}`;
      const perCpu: Series[] = present.map((cpu) => ({ labels: [String(cpu)], value: this.readCopy(handle, cpu) }));
      const sum = Number(counterU64Fetch(this.session, handle, ncpus));
      families.push(familyOf({ name: `${stem}_total`, help: 'sum over CPUs', type: 'counter', labelNames: [] }, [{ labels: [], value: sum }]));
      families.push(familyOf({ name: `${stem}_percpu_total`, help: 'per CPU', type: 'counter', labelNames: ['cpu'] }, perCpu));
    });
    return families;
  }

  close(): void {
    this.session.close();
  }

  private readCopy(handle: bigint, cpu: number): number {
    readZpcpu(this.session, handle, cpu, this.copy);
    return this.copy.readUInt32LE(4) * TWO_32 + this.copy.readUInt32LE(0);
  }
}
