/**
 * counter(9) handles from the config: per-CPU series from kvm_read_zpcpu and
 * the summed series.
 *
 * A counter(9) is one 8-byte handle; on amd64 CPU i's copy lives at
 * `__pcpu + handle + 4096*i` (sys/amd64/include/pcpu.h, counter.h). UMA hands
 * out pcpu-8 items from page-sized slabs, so handles allocated together sit
 * side by side: all handles in one 4 KB page are read with a single
 * kvm_read_zpcpu per CPU (a "span") instead of one call per counter per CPU.
 *
 * The sum of a per-CPU counter is the sum of the same snapshot, so the two
 * series always agree. A counter without per-CPU series uses
 * kvm_counter_u64_fetch while CPU ids are dense (libkvm sums ids
 * 0..mp_ncpus-1, which is wrong for sparse ids) and is otherwise summed from
 * spans over the present CPUs.
 */
import type { CounterEntry, MetricKind } from '../config/types.js';
import type { MetricFamily, MetricSink, Series } from '../exposition/family.js';
import { counterU64Fetch, readZpcpu, readZpcpuSpan, type KvmSession } from '../kvm/index.js';
import { FailureList, describeSource as describeField, entryKey, type Collector, type CollectorFactory, type EntryReport, type Scrape } from './collector.js';
import { metricName } from '../config/names.js';

/** The per-CPU copies of handles in one page share a kvm_read_zpcpu call. */
const SPAN_PAGE = 4096n;
const TWO_32 = 2 ** 32;
const TWO_64 = 2 ** 64;
/** Label lists shared by every family and series of every scrape; frozen, so sharing is safe. */
const NO_LABELS: readonly string[] = Object.freeze([]);
const CPU_LABEL: readonly string[] = Object.freeze(['cpu']);

interface Counter {
  readonly key: string;
  readonly source: string;
  readonly handle: bigint;
  readonly perCpu: boolean;
  /** Gauges and untyped counters may be decremented: their copies are int64. */
  readonly signed: boolean;
  readonly sum: FamilyHead;
  readonly percpu?: FamilyHead;
}

interface FamilyHead {
  readonly name: string;
  readonly help: string;
  readonly type: MetricKind;
}

/** Handles of one page, read as one span per CPU. */
interface Span {
  readonly first: bigint;
  readonly length: number;
  readonly members: readonly { readonly counter: Counter; readonly offset: number }[];
}

export const countersCollector: CollectorFactory = {
  name: 'counters',
  defaultEnabled: true,
  description: 'counter(9) handles from the config: per-CPU (kvm_read_zpcpu) and summed',
  create({ session, config }) {
    const entries: EntryReport[] = [];
    const counters: Counter[] = [];
    for (const entry of config.counters) {
      const resolved = resolveEntry(session, entry, entryKey(entry.origin, config));
      entries.push(...resolved.reports);
      counters.push(...resolved.counters);
    }
    return new CountersCollector(session, counters, entries);
  },
};

class CountersCollector implements Collector {
  /** Spans over the per-CPU counters: what is read when CPU ids are dense. */
  private readonly perCpuSpans: readonly Span[];
  /** Spans over every counter: what is read when CPU ids are sparse. */
  private readonly allSpans: readonly Span[];
  private readonly fetched: readonly Counter[];
  /** The rows of the span being decoded, reused from span to span and scrape to scrape. */
  private rows = Buffer.alloc(0);

  constructor(
    private readonly session: KvmSession,
    counters: readonly Counter[],
    readonly entries: readonly EntryReport[],
  ) {
    this.perCpuSpans = planSpans(counters.filter((c) => c.perCpu));
    this.allSpans = planSpans(counters);
    this.fetched = counters.filter((c) => !c.perCpu);
  }

  update(sink: MetricSink, scrape: Scrape): void {
    const failures = new FailureList();
    const { dense, present, ncpus } = scrape.topology;
    // One label array per CPU, shared by every per-CPU series of this scrape.
    const cpuLabels = present.map((cpu) => [String(cpu)]);
    for (const span of dense ? this.perCpuSpans : this.allSpans) {
      scrape.checkDeadline();
      this.emitSpan(sink, span, present, cpuLabels, failures);
    }
    if (dense) {
      for (const counter of this.fetched) {
        scrape.checkDeadline();
        this.emitFetched(sink, counter, ncpus, failures);
      }
    }
    failures.throwIfAny();
  }

  private emitSpan(
    sink: MetricSink,
    span: Span,
    cpus: readonly number[],
    cpuLabels: readonly (readonly string[])[],
    failures: FailureList,
  ): void {
    let rows: Buffer;
    try {
      rows = readZpcpuSpan(this.session, span.first, span.length, cpus, this.rowBuffer(span.length * cpus.length));
    } catch (error) {
      for (const { counter } of span.members) failures.add(counter.key, error);
      return;
    }
    const words = int32Words(rows);
    for (const member of span.members) this.emitMember(sink, member, words, span.length >> 2, cpus, cpuLabels, failures);
  }

  /** A buffer of at least `size` bytes, grown (never shrunk) as spans and CPU counts need. */
  private rowBuffer(size: number): Buffer {
    if (this.rows.length < size) this.rows = Buffer.allocUnsafeSlow(size);
    return this.rows;
  }

  /**
   * One counter's sum and per-CPU series from the span's rows, in one pass
   * that makes one object per series: at 100k series, allocations are what
   * a scrape spends its time on (and what the garbage collector then copies).
   */
  private emitMember(
    sink: MetricSink,
    { counter, offset }: Span['members'][number],
    words: Int32Array,
    rowWords: number,
    cpus: readonly number[],
    cpuLabels: readonly (readonly string[])[],
    failures: FailureList,
  ): void {
    const series: Series[] | undefined = counter.percpu ? new Array<Series>(cpus.length) : undefined;
    let sum = 0;
    let negative = -1;
    for (let i = 0, at = offset >> 2; i < cpus.length; i++, at += rowWords) {
      const value = copyAt(words, at);
      sum += value;
      if (value < 0 && negative < 0) negative = i;
      if (series) series[i] = { labels: cpuLabels[i]!, value };
    }
    sink.add(family(counter.sum, NO_LABELS, [{ labels: NO_LABELS, value: total(sum, counter.signed) }]));
    if (!counter.percpu || !series) return;
    if (negative >= 0 && !counter.signed) {
      failures.add(counter.key, decrementedCounter(counter, cpus[negative]!));
      return;
    }
    sink.add(family(counter.percpu, CPU_LABEL, series));
  }

  private emitFetched(sink: MetricSink, counter: Counter, ncpus: number, failures: FailureList): void {
    try {
      const raw = counterU64Fetch(this.session, counter.handle, ncpus);
      const value = counter.signed ? Number(BigInt.asIntN(64, raw)) : Number(raw);
      sink.add(family(counter.sum, NO_LABELS, [{ labels: NO_LABELS, value }]));
    } catch (error) {
      failures.add(counter.key, error);
    }
  }
}

/**
 * The rows as 32-bit words in the host's byte order, which is the kernel's
 * (libkvm only reads native kernels). Offsets are multiples of 8, so a row
 * buffer from Node's pool (8-byte aligned) is viewed in place.
 */
function int32Words(rows: Buffer): Int32Array {
  const aligned = rows.byteOffset % 4 === 0 ? rows : Buffer.from(rows);
  return new Int32Array(aligned.buffer, aligned.byteOffset, aligned.length >> 2);
}

/**
 * The copy at word `at` as int64 in float64 (exact within 2^53), low word
 * first (amd64 and arm64 are little-endian). Read signed for every type: a
 * decremented copy (-5, stored as 2^64 - 5) keeps its small magnitude, so
 * the sum stays exact; an unsigned counter's copy is negative here only when
 * it is at or above 2^63.
 */
function copyAt(words: Int32Array, at: number): number {
  return words[at + 1]! * TWO_32 + (words[at]! >>> 0);
}

/** counter_u64_fetch's sum of the int64 copies: modulo 2^64 for unsigned counters. */
function total(sum: number, signed: boolean): number {
  if (signed) return sum;
  const wrapped = sum % TWO_64;
  return wrapped < 0 ? wrapped + TWO_64 : wrapped;
}

function decrementedCounter(counter: Counter, cpu: number): Error {
  return new Error(
    `CPU ${cpu}'s copy of ${counter.source} is above 2^63, i.e. negative: this counter(9) is decremented, ` +
      'so its per-CPU copies are not monotonic; declare it `type: gauge` to export them',
  );
}

function family(head: FamilyHead, labelNames: readonly string[], series: Series[]): MetricFamily {
  return { name: head.name, help: head.help, type: head.type, labelNames, series };
}

/** Groups counters by the page their handle is in; each group is one span. */
function planSpans(counters: readonly Counter[]): Span[] {
  const pages = new Map<bigint, Counter[]>();
  for (const counter of counters) {
    const page = counter.handle / SPAN_PAGE;
    const list = pages.get(page);
    if (list) list.push(counter);
    else pages.set(page, [counter]);
  }
  return [...pages.values()].map((members) => {
    const handles = members.map((c) => c.handle);
    const first = handles.reduce((a, b) => (b < a ? b : a));
    const last = handles.reduce((a, b) => (b > a ? b : a));
    return {
      first,
      length: Number(last - first) + 8,
      members: members.map((counter) => ({ counter, offset: Number(counter.handle - first) })),
    };
  });
}

interface Resolved {
  readonly counters: Counter[];
  readonly reports: EntryReport[];
}

/** Reads an entry's handle(s) from the kernel and checks each can be read. */
function resolveEntry(session: KvmSession, entry: CounterEntry, key: string): Resolved {
  try {
    const located = locateHandles(session, entry);
    const counters = located.map(({ element, handle, source }) => {
      const stem = element === undefined ? entry.name : `${entry.name}_${element}`;
      probeHandle(session, handle, source);
      return makeCounter(entry, element === undefined ? key : `${key} ${element}`, stem, source, handle);
    });
    return {
      counters,
      reports: counters.map((c) => ({
        key: c.key,
        source: c.source,
        address: c.handle,
        metrics: c.percpu ? [c.sum.name, c.percpu.name] : [c.sum.name],
      })),
    };
  } catch (error) {
    const problem = (error as Error).message;
    return { counters: [], reports: [{ key, source: describeSource(entry), metrics: [], problem }] };
  }
}

interface LocatedHandle {
  readonly element?: string;
  readonly handle: bigint;
  readonly source: string;
}

function locateHandles(session: KvmSession, entry: CounterEntry): LocatedHandle[] {
  const source = entry.source;
  switch (source.kind) {
    case 'address':
      return [{ handle: source.handle, source: describeSource(entry) }];
    case 'symbol': {
      const at = session.lookup(source.symbol).address + BigInt(source.offset);
      return [{ handle: session.readU64(at), source: describeSource(entry) }];
    }
    case 'array': {
      const at = session.lookup(source.symbol).address + BigInt(source.offset);
      const raw = Buffer.alloc(source.elements.length * 8);
      session.read(at, raw);
      return source.elements.map((element, i) => ({
        element,
        handle: raw.readBigUInt64LE(i * 8),
        source: `${source.symbol}[${i}] (${element})`,
      }));
    }
  }
}

/** A handle that is not 8-byte aligned or cannot be read on CPU 0 is not a counter(9). */
function probeHandle(session: KvmSession, handle: bigint, source: string): void {
  const hex = `0x${handle.toString(16)}`;
  if (handle % 8n !== 0n) {
    throw new Error(`handle ${hex} read from ${source} is not 8-byte aligned: not a counter(9) handle (wrong symbol, offset or layout?)`);
  }
  try {
    readZpcpu(session, handle, 0, Buffer.alloc(8));
  } catch (error) {
    throw new Error(`handle ${hex} from ${source} cannot be read: ${(error as Error).message} (wrong symbol, offset or layout?)`);
  }
}

function makeCounter(entry: CounterEntry, key: string, stem: string, source: string, handle: bigint): Counter {
  const lead = entry.help ? `${entry.help}. ` : '';
  const signed = entry.type !== 'counter';
  const sum = { name: metricName(stem, entry.type), help: `${lead}counter(9) ${source}, sum over CPUs`, type: entry.type };
  const percpu = entry.perCpu
    ? { name: metricName(`${stem}_percpu`, entry.type), help: `${lead}counter(9) ${source}, per CPU`, type: entry.type }
    : undefined;
  return { key, source, handle, perCpu: entry.perCpu, signed, sum, ...(percpu && { percpu }) };
}

function describeSource(entry: CounterEntry): string {
  const source = entry.source;
  switch (source.kind) {
    case 'address':
      return `handle 0x${source.handle.toString(16)}`;
    case 'symbol':
      return describeField(source.symbol, source.field, source.offset);
    case 'array':
      return describeField(source.symbol, undefined, source.offset);
  }
}
