/**
 * `check`'s cross-check of the counters collector: every counter's span sum
 * (what a scrape publishes, spans.ts) against libkvm's own
 * kvm_counter_u64_fetch, once. A disagreement means the span reading rests
 * on something untrue of this kernel, such as a per-CPU slab whose pages are
 * not one run (sys/vm/uma_core.c, pcpu_page_alloc) or a page size other
 * than 4096, and every published sum would be wrong.
 *
 * The counters move while they are read, so the fetch is taken between two
 * span reads: an unsigned counter(9) only grows, so a fetch between the two
 * sums agrees; a gauge may move either way, so it agrees only while the two
 * span sums are equal, and is otherwise reported as moving, not compared.
 */
import { COUNTER_HANDLE_BYTES } from '../../abi.js';
import { counterU64Fetch, readZpcpuCopies, type CpuTopology, type KvmSession } from '../../kvm/index.js';
import type { CrossCheck } from '../framework/collector.js';
import type { Counter } from './handles.js';
import { WORDS_PER_CPU, copyAt, int32Words, total } from './spans.js';

/** Each counter's verdict, by counter (the collector puts it in the counter's entry report). */
export function crossCheckCounters(session: KvmSession, counters: readonly Counter[], topology: CpuTopology): Map<Counter, CrossCheck> {
  const verdicts = new Map<Counter, CrossCheck>();
  for (const counter of counters) verdicts.set(counter, crossCheckOne(session, counter, topology));
  return verdicts;
}

function crossCheckOne(session: KvmSession, counter: Counter, topology: CpuTopology): CrossCheck {
  if (!topology.dense) {
    const ids = topology.present.join(',');
    return { ok: true, text: `not compared: CPU ids ${ids} are sparse, and kvm_counter_u64_fetch sums ids 0..${topology.ncpus - 1}` };
  }
  try {
    const before = spanSum(session, counter, topology.present);
    const fetched = asCopy(counterU64Fetch(session, counter.handle, topology.ncpus), counter.signed);
    const after = spanSum(session, counter, topology.present);
    return verdict(before, fetched, after, counter.signed);
  } catch (error) {
    return { ok: false, text: `could not be compared: ${(error as Error).message}` };
  }
}

/** The verdict on a span sum, then libkvm's fetch, then a span sum again, of one counter. */
export function verdict(before: number, fetched: number, after: number, signed: boolean): CrossCheck {
  const sums = `span sum ${before}, kvm_counter_u64_fetch ${fetched}, span sum ${after}`;
  if (before === after && fetched === before) return { ok: true, text: `agrees with kvm_counter_u64_fetch (${fetched})` };
  if (!signed && before <= fetched && fetched <= after) return { ok: true, text: `agrees with kvm_counter_u64_fetch while moving (${sums})` };
  if (signed && before !== after) return { ok: true, text: `not compared: the gauge moved while read (${sums})` };
  return {
    ok: false,
    text:
      `disagrees with kvm_counter_u64_fetch (${sums}): reading every CPU's copy of a page in one kvm_read_zpcpu ` +
      'does not hold on this kernel, so the published sums are wrong',
  };
}

/** The sum a scrape would publish: every present CPU's copy from one read of the run, summed as the collector sums it. */
function spanSum(session: KvmSession, counter: Counter, cpus: readonly number[]): number {
  const words = int32Words(readZpcpuCopies(session, counter.handle, COUNTER_HANDLE_BYTES, cpus));
  let sum = 0;
  for (const cpu of cpus) sum += copyAt(words, cpu * WORDS_PER_CPU);
  return total(sum, counter.signed);
}

/** libkvm's uint64_t as the collector publishes it: int64 for gauges. */
function asCopy(raw: bigint, signed: boolean): number {
  return signed ? Number(BigInt.asIntN(64, raw)) : Number(raw);
}
