/**
 * The metric model every collector produces and every renderer consumes.
 *
 * Collectors build fresh families on each scrape (Prometheus' "const metrics"
 * rule for exporters): no state is kept between scrapes, so a series whose
 * source vanished simply stops being emitted.
 */

export type MetricType = 'counter' | 'gauge' | 'untyped' | 'histogram' | 'summary';

export interface Series {
  /** Label values, in the order of the family's `labelNames`. */
  readonly labels: readonly string[];
  readonly value: number;
  /**
   * Full sample name when it differs from the family name: only histogram and
   * summary samples (`_bucket`, `_sum`, `_count`) use it.
   */
  readonly sampleName?: string;
  /** Extra label pairs after `labels`, e.g. `le` or `quantile`. */
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

export interface MetricFamily extends FamilyHead {
  readonly series: Series[];
}

/** Where a collector puts what it read during one scrape. */
export interface MetricSink {
  add(family: MetricFamily): void;
}

/** A sink that keeps families in the order they were added. */
export class FamilyList implements MetricSink {
  readonly families: MetricFamily[] = [];
  add(family: MetricFamily): void {
    this.families.push(family);
  }
}
