/**
 * The metric model every collector produces and every renderer consumes:
 * columns, not one object per series.
 *
 * A family is its head (name, HELP, type, label names), one label column per
 * label name and a Float64Array of values, row i being one series. A scrape
 * of 256 CPUs x 2000 counters is then 4000 small family objects over a few
 * large typed arrays instead of half a million series objects: nothing per
 * series for the garbage collector to trace, values that cross to the main
 * thread by moving their buffers (exporter/family-wire.ts), and label
 * columns that are shared by identity (one `cpu` column for every per-CPU
 * family of a scrape), so structured clone sends each once and the renderer
 * escapes and formats each once (render.ts).
 *
 * Collectors build fresh families on each scrape (Prometheus' "const metrics"
 * rule for exporters): no state is kept between scrapes, so a series whose
 * source vanished simply stops being emitted.
 */

export type MetricType = 'counter' | 'gauge' | 'untyped' | 'histogram' | 'summary';

/** One series as an object: for small families built by hand, tests, and readers of a few series. */
export interface Series extends SampleExtra {
  /** Label values, in the order of the family's `labelNames`. */
  readonly labels: readonly string[];
  readonly value: number;
}

/** What a histogram or summary sample has beyond the family's own labels. */
export interface SampleExtra {
  /**
   * Full sample name when it differs from the family name: only histogram and
   * summary samples (`_bucket`, `_sum`, `_count`) use it.
   */
  readonly sampleName?: string;
  /** Extra label pairs after the family's labels, e.g. `le` or `quantile`. */
  readonly extraLabels?: readonly (readonly [string, string])[];
}

/** A family as declared, before any series: what is decided once, not per scrape. */
export interface FamilyHead {
  /** Full metric name; a counter's name ends in `_total`. */
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly labelNames: readonly string[];
}

/**
 * One label's value for each row. A column is never changed once it is in a
 * family, so families may share it (and the renderer caches by identity).
 */
export type LabelColumn = readonly string[];

export interface MetricFamily extends FamilyHead {
  /** One column per label name, each at least as long as `values`. */
  readonly labelColumns: readonly LabelColumn[];
  /** One value per series (row). */
  readonly values: Float64Array;
  /** Histogram and summary samples only: each row's sample name and extra labels. */
  readonly extras?: readonly SampleExtra[];
}

/** Where a collector puts what it read during one scrape. */
export interface MetricSink {
  /**
   * A zeroed value column of `rows` for a family the collector is about to
   * add; taken from the scrape's shared buffers, so that many families cost
   * few allocations and cross the thread boundary as few buffers.
   */
  values(rows: number): Float64Array;
  add(family: MetricFamily): void;
}

const FIRST_CHUNK_VALUES = 1024;
const MAX_CHUNK_VALUES = 64 * 1024;

/**
 * A sink that keeps families in the order they were added, their value
 * columns carved out of a few growing chunks (1k values, doubling to 64k:
 * a small scrape allocates little, a 512k-series one about eight 512 KB buffers).
 */
export class FamilyList implements MetricSink {
  readonly families: MetricFamily[] = [];
  private chunk = new Float64Array(0);
  private used = 0;
  private nextChunk = FIRST_CHUNK_VALUES;

  values(rows: number): Float64Array {
    if (this.used + rows > this.chunk.length) {
      this.chunk = new Float64Array(Math.max(rows, this.nextChunk));
      this.nextChunk = Math.min(this.nextChunk * 2, MAX_CHUNK_VALUES);
      this.used = 0;
    }
    const column = this.chunk.subarray(this.used, this.used + rows);
    this.used += rows;
    return column;
  }

  add(family: MetricFamily): void {
    this.families.push(family);
  }
}

export const NO_COLUMNS: readonly LabelColumn[] = Object.freeze([]);

/** Adds a family of one unlabelled series. */
export function addSingle(sink: MetricSink, head: FamilyHead, value: number): void {
  const values = sink.values(1);
  values[0] = value;
  sink.add(headOf(head, NO_COLUMNS, values));
}

/** Adds a family from series given one by one (families of a few series). */
export function addSeries(sink: MetricSink, head: FamilyHead, series: readonly Series[]): void {
  sink.add(familyOf(head, series, sink.values(series.length)));
}

/** A family from series given one by one (small families, prom-client's, tests). */
export function familyOf(head: FamilyHead, series: readonly Series[], values: Float64Array = new Float64Array(series.length)): MetricFamily {
  const labelColumns = head.labelNames.map((_, column) => series.map((s) => s.labels[column] ?? ''));
  series.forEach((s, row) => (values[row] = s.value));
  const hasExtras = series.some((s) => s.sampleName !== undefined || s.extraLabels !== undefined);
  const extras = hasExtras ? series.map(({ sampleName, extraLabels }) => ({ ...(sampleName !== undefined && { sampleName }), ...(extraLabels && { extraLabels }) })) : undefined;
  return { ...headOf(head, labelColumns, values), ...(extras && { extras }) };
}

/**
 * The family of `head` with these columns. Only the head's own fields are
 * copied: an entry's family head may carry more (config), which must not
 * cross to the main thread with every scrape.
 */
export function headOf(head: FamilyHead, labelColumns: readonly LabelColumn[], values: Float64Array): MetricFamily {
  return { name: head.name, help: head.help, type: head.type, labelNames: head.labelNames, labelColumns, values };
}

/** The family's series as objects, for readers of a few series (`check`, tests); never on a scrape's path. */
export function seriesOf(family: MetricFamily): Series[] {
  return Array.from(family.values, (value, row) => ({
    labels: family.labelColumns.map((column) => column[row]!),
    value,
    ...family.extras?.[row],
  }));
}

export function seriesCount(families: readonly MetricFamily[]): number {
  return families.reduce((sum, f) => sum + f.values.length, 0);
}
