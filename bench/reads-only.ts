/**
 * The exporter's counter reads without the rest of a scrape: the topology
 * and one readZpcpuRun (every CPU at once) per page of handles into one
 * reused buffer, as
 * src/collectors/counters/ plans and reads them, through the same binding,
 * but no families are built. It splits
 * the collection time into what reading kernel memory through koffi costs
 * and what building the series costs, so the gap to the C floor can be
 * attributed.
 */
import { planSpans, type Span } from '../src/collectors/counters/spans.js';
import type { Config } from '../src/config/types.js';
import { KvmSession, ZPCPU_STRIDE, readTopology, readZpcpuRun } from '../src/kvm/index.js';
import { openExtraCounters } from './kernels.js';

export class CounterReads {
  /** Reused as the counters collector reuses its row buffer. */
  private rows = Buffer.alloc(0);

  private constructor(
    private readonly session: KvmSession,
    private readonly spans: readonly Span<{ handle: bigint }>[],
  ) {}

  static open(config: Config, count: number): CounterReads {
    const { session, handles } = openExtraCounters(config, count);
    return new CounterReads(session, planSpans(handles.map((handle) => ({ handle }))));
  }

  /** One scrape's reads; returns the bytes read, so nothing is optimised away. */
  read(): number {
    const { present } = readTopology(this.session);
    const lastCpu = present[present.length - 1] ?? 0;
    let bytes = 0;
    for (const span of this.spans) {
      const size = ZPCPU_STRIDE * lastCpu + span.length;
      if (this.rows.length < size) this.rows = Buffer.allocUnsafeSlow(size);
      bytes += readZpcpuRun(this.session, span.first, span.length, lastCpu, this.rows).length;
    }
    return bytes;
  }

  close(): void {
    this.session.close();
  }
}
