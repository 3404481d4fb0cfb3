/**
 * Swap space per device and in total from kvm_getswapinfo(3), as
 * node_exporter reports it on FreeBSD: bytes are libkvm's pages times the
 * kernel's page size, and device="total" is libkvm's own summary entry.
 */
import { SWAP_METRICS } from '../exposition/builtin-metrics.js';
import { headOf, type MetricSink } from '../exposition/family.js';
import { getSwapInfo, type KvmSession, type SwapSpace } from '../kvm/index.js';
import type { Collector, CollectorFactory, EntryReport } from './framework/collector.js';

/**
 * PAGE_SIZE on amd64 (sys/amd64/include/param.h), the unit of ksw_used and
 * ksw_total; the exporter refuses other architectures (kvm/session.ts).
 */
const PAGE_SIZE = 4096;
/** The label of libkvm's summary entry. */
const TOTAL = 'total';

export const swapCollector: CollectorFactory = {
  name: 'swap',
  defaultEnabled: true,
  description: 'swap space per device and in total (kvm_getswapinfo)',
  create({ session }) {
    return new SwapCollector(session, session.isLive() ? undefined : unavailableOnDump(session));
  },
};

/**
 * On a crash dump libkvm walks swtailq and needs the kernel variable
 * dmmax, which FreeBSD 13+ no longer has (vm.dmmax reads nsw_cluster_max,
 * sys/vm/swap_pager.c; lib/libkvm/kvm_getswapinfo.c kvm_getswapinfo_kvm
 * fails with "unable to find dmmax"), so no 13+ dump has swap figures. As
 * node_exporter leaves out what a platform cannot give, the collector then
 * publishes nothing and says why in `check`, without failing `once` on
 * every dump; an older dump that has dmmax is read as usual.
 */
function unavailableOnDump(session: KvmSession): EntryReport | undefined {
  try {
    getSwapInfo(session);
    return undefined;
  } catch (err) {
    const reason = `not available on this crash dump: ${(err as Error).message} (libkvm reads a dump's swap through _swtailq and _dmmax, and FreeBSD 13+ has no dmmax); no swap series are published`;
    return { key: 'swap', source: 'kvm_getswapinfo', metrics: [], unavailable: reason };
  }
}

class SwapCollector implements Collector {
  readonly entries: readonly EntryReport[];
  readonly leftOut: readonly string[] = [];

  constructor(
    private readonly session: KvmSession,
    private readonly unavailable: EntryReport | undefined,
  ) {
    this.entries = unavailable === undefined ? [] : [unavailable];
  }

  update(sink: MetricSink): void {
    if (this.unavailable !== undefined) return;
    const info = getSwapInfo(this.session);
    const rows: [string, SwapSpace][] = [...info.devices.map((d): [string, SwapSpace] => [d.device, d]), [TOTAL, info.total]];
    const devices = [rows.map(([device]) => device)];
    const bytes = (pick: (s: SwapSpace) => number): Float64Array => {
      const values = sink.values(rows.length);
      rows.forEach(([, s], i) => (values[i] = pick(s) * PAGE_SIZE));
      return values;
    };
    sink.add(headOf(SWAP_METRICS.total, devices, bytes((s) => s.totalPages)));
    sink.add(headOf(SWAP_METRICS.used, devices, bytes((s) => s.usedPages)));
  }
}
