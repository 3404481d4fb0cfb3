/**
 * The exporter's counter reads without the rest of a scrape: the topology
 * and one readZpcpuSpan per page of handles into one reused buffer, as
 * src/collectors/counters/ plans and reads them, through the same binding,
 * but no families are built. It splits
 * the collection time into what reading kernel memory through koffi costs
 * and what building the series costs, so the gap to the C floor can be
 * attributed.
 */
import type { Config } from '../src/config/types.js';
import { KvmSession, readTopology, readZpcpuSpan } from '../src/kvm/index.js';
import { openExtraCounters } from './kernels.js';

const PAGE = 4096n;

interface PageSpan {
  readonly first: bigint;
  readonly length: number;
}

/** Handles grouped by 4 KB page, each group read from its lowest to its highest handle. */
export function pageSpans(handles: readonly bigint[]): PageSpan[] {
  const pages = new Map<bigint, { first: bigint; last: bigint }>();
  for (const handle of handles) {
    const page = pages.get(handle / PAGE);
    if (page === undefined) pages.set(handle / PAGE, { first: handle, last: handle });
    else {
      if (handle < page.first) page.first = handle;
      if (handle > page.last) page.last = handle;
    }
  }
  return [...pages.values()].map(({ first, last }) => ({ first, length: Number(last - first) + 8 }));
}

export class CounterReads {
  /** Reused as the counters collector reuses its row buffer. */
  private rows = Buffer.alloc(0);

  private constructor(
    private readonly session: KvmSession,
    private readonly spans: readonly PageSpan[],
  ) {}

  static open(config: Config, count: number): CounterReads {
    const { session, handles } = openExtraCounters(config, count);
    return new CounterReads(session, pageSpans(handles));
  }

  /** One scrape's reads; returns the bytes read, so nothing is optimised away. */
  read(): number {
    const { present } = readTopology(this.session);
    let bytes = 0;
    for (const span of this.spans) {
      const size = span.length * present.length;
      if (this.rows.length < size) this.rows = Buffer.allocUnsafeSlow(size);
      bytes += readZpcpuSpan(this.session, span.first, span.length, present, this.rows).length;
    }
    return bytes;
  }

  close(): void {
    this.session.close();
  }
}
