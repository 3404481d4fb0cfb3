/**
 * counter(9) handles from the config: per-CPU series from kvm_read_zpcpu and
 * the summed series, read a page of handles at a time for every CPU in one
 * call (spans.ts). A span whose single read fails but whose copies read one
 * CPU at a time is read that way from then on, and the first is logged once.
 *
 * The sum of a per-CPU counter is the sum of the same snapshot, so the two
 * series always agree. A counter without per-CPU series is summed from the
 * same spans, never with kvm_counter_u64_fetch, because a span always takes
 * fewer reads: kvm_counter_u64_fetch reads each of CPUs 0..mp_ncpus-1 with
 * its own kvm_read (lib/libkvm/kvm_pcpu.c), and a 0 from it (libkvm's answer
 * to a failed read too) costs a second pass of mp_ncpus reads to be believed,
 * while a span is one kvm_read_zpcpu for every CPU whether it holds one
 * handle or five hundred. Measured on 4 dense CPUs, a lone counter: one call
 * and one pread as a span, against one kvm_counter_u64_fetch (4 preads) as a
 * fetch, and 8 preads when it reads 0. It also honours sparse CPU ids, which
 * libkvm's sum over ids 0..mp_ncpus-1 does not. `check` compares every sum
 * with kvm_counter_u64_fetch once (cross-check.ts).
 */
import { addSingle, headOf, type LabelColumn, type MetricSink } from '../../exposition/family.js';
import { ZPCPU_STRIDE, readTopology, readZpcpuCopies, readZpcpuEach, type KvmSession } from '../../kvm/index.js';
import type { Logger } from '../../log.js';
import { FailureList, type CollectorFactory, type ScrapeContext } from '../framework/collector.js';
import { EntryCollector, resolveEntries, type ResolvedEntries } from '../framework/config-entries.js';
import { crossCheckCounters } from './cross-check.js';
import { resolveCounter, type Counter } from './handles.js';
import { WORDS_PER_CPU, copyAt, int32Words, planSpans, total, type Span, type SpanMember } from './spans.js';

export const countersCollector: CollectorFactory = {
  name: 'counters',
  defaultEnabled: true,
  description: 'counter(9) handles from the config: per-CPU (kvm_read_zpcpu) and summed',
  create({ session, config, logger, crossCheck }) {
    // vnet: true entries are the vnet collector's: read in every network stack.
    const entries = config.counters.filter((entry) => !entry.vnet);
    const resolved = resolveEntries(config, entries, (entry, key) => resolveCounter(session, entry, key));
    return new CountersCollector(session, crossCheck ? withCrossChecks(session, resolved) : resolved, logger);
  },
};

/** The entries with each counter's cross-check against kvm_counter_u64_fetch in its report. */
function withCrossChecks(session: KvmSession, resolved: ResolvedEntries<Counter>): ResolvedEntries<Counter> {
  const verdicts = crossCheckCounters(session, resolved.items, readTopology(session));
  const byKey = new Map([...verdicts].map(([counter, verdict]) => [counter.key, verdict]));
  const entries = resolved.entries.map((entry) => {
    const verdict = byKey.get(entry.key);
    return verdict === undefined ? entry : { ...entry, crossCheck: verdict };
  });
  return { ...resolved, entries };
}

/** What decoding the spans of one scrape needs, passed as one. */
interface SpanScrape {
  readonly sink: MetricSink;
  readonly cpus: readonly number[];
  /** The scrape's `cpu` column, shared by every per-CPU family. */
  readonly cpuColumns: readonly LabelColumn[];
  readonly failures: FailureList;
}

class CountersCollector extends EntryCollector<Counter> {
  /** Every counter, per-CPU or summed only, grouped by page. */
  private readonly spans: readonly Span<Counter>[];
  /** The copies of the span being decoded, reused from span to span and scrape to scrape. */
  private rows = Buffer.alloc(0);
  /** Spans whose single read failed: read one CPU at a time for the collector's life. */
  private readonly readPerCpu = new Set<Span<Counter>>();

  constructor(
    private readonly session: KvmSession,
    resolved: ResolvedEntries<Counter>,
    private readonly logger?: Logger,
  ) {
    super(resolved);
    this.spans = planSpans(this.items);
  }

  update(sink: MetricSink, scrape: ScrapeContext): void {
    const failures = new FailureList();
    const run: SpanScrape = { sink, cpus: scrape.topology.present, cpuColumns: [scrape.cpuLabels], failures };
    for (const span of this.spans) {
      scrape.checkDeadline();
      this.emitSpan(run, span);
    }
    failures.throwIfAny();
  }

  private emitSpan(run: SpanScrape, span: Span<Counter>): void {
    let rows: Buffer;
    try {
      rows = this.readSpan(span, run.cpus);
    } catch (error) {
      for (const { counter } of span.members) run.failures.add(counter.key, error);
      return;
    }
    const words = int32Words(rows);
    for (const member of span.members) emitMember(run, member, words);
  }

  /**
   * Every present CPU's copy of the span, CPU c's at c * ZPCPU_STRIDE: one
   * kvm_read_zpcpu for all of them, or one per CPU for a span whose single
   * read failed while its copies could be read one by one (a kernel whose
   * per-CPU slab is not one run of pages). A copy that cannot be read fails
   * both ways, and its error is the CPU's own; such a span keeps trying the
   * single read.
   */
  private readSpan(span: Span<Counter>, cpus: readonly number[]): Buffer {
    const lastCpu = cpus[cpus.length - 1];
    if (lastCpu === undefined) return Buffer.alloc(0);
    const into = this.rowBuffer(ZPCPU_STRIDE * lastCpu + span.length);
    if (this.readPerCpu.has(span)) return readZpcpuEach(this.session, span.first, span.length, cpus, into);
    return readZpcpuCopies(this.session, span.first, span.length, cpus, into, (runError) => {
      if (this.readPerCpu.size === 0) this.logFallback(span, lastCpu, runError);
      this.readPerCpu.add(span);
    });
  }

  /** Info, not a warning: every value is still read, only with more calls. */
  private logFallback(span: Span<Counter>, lastCpu: number, error: unknown): void {
    this.logger?.info('reading counter(9) copies one CPU at a time where one read of every CPU\'s copy of a page fails', {
      handle: `0x${span.first.toString(16)}`,
      cpus: lastCpu + 1,
      err: error instanceof Error ? error.message : String(error),
    });
  }

  /** A buffer of at least `size` bytes, grown (never shrunk) as spans and CPU counts need. */
  private rowBuffer(size: number): Buffer {
    if (this.rows.length < size) this.rows = Buffer.allocUnsafeSlow(size);
    return this.rows;
  }
}

/**
 * One counter's sum and per-CPU series from the span's copies, in one pass
 * that writes each copy straight into the family's value column: no object
 * or string per series (the columns are the scrape's, family.ts).
 */
function emitMember(run: SpanScrape, { counter, offset }: SpanMember<Counter>, words: Int32Array): void {
  const { cpus, sink } = run;
  const values = counter.percpu ? sink.values(cpus.length) : undefined;
  let sum = 0;
  let negative = -1;
  const first = offset >> 2;
  for (let i = 0; i < cpus.length; i++) {
    const value = copyAt(words, first + cpus[i]! * WORDS_PER_CPU);
    sum += value;
    if (value < 0 && negative < 0) negative = i;
    if (values) values[i] = value;
  }
  addSingle(sink, counter.sum, total(sum, counter.signed));
  if (!counter.percpu || !values) return;
  if (negative >= 0 && !counter.signed) {
    run.failures.add(counter.key, decrementedCounter(counter, cpus[negative]!));
    return;
  }
  sink.add(headOf(counter.percpu, run.cpuColumns, values));
}

function decrementedCounter(counter: Counter, cpu: number): Error {
  return new Error(
    `CPU ${cpu}'s copy of ${counter.source} is above 2^63, i.e. negative: this counter(9) is decremented, ` +
      'so its per-CPU copies are not monotonic; declare it `type: gauge` to export them',
  );
}
