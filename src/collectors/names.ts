/**
 * How config entries become metric names, in one place: the collectors emit
 * these names and the config loader uses them to refuse duplicates.
 *
 * Prometheus naming: one `kvm_` prefix, `_total` only on counters, and the
 * per-CPU breakdown under a name of its own (`_percpu_total`) so that `sum()`
 * over the summed series never double counts.
 */
import type { MetricKind } from '../config/types.js';

export const METRIC_PREFIX = 'kvm_';

/** `kvm_<stem>` plus `_total` for counters. */
export function metricName(stem: string, type: MetricKind): string {
  return `${METRIC_PREFIX}${stem}${type === 'counter' ? '_total' : ''}`;
}

/** The per-CPU family of a counter(9) entry: `kvm_<stem>_percpu[_total]`. */
export function perCpuMetricName(stem: string, type: MetricKind): string {
  return metricName(`${stem}_percpu`, type);
}

/** The stem of one element of a handle array: `udp` + `ipackets` = `udp_ipackets`. */
export function elementStem(stem: string, element: string): string {
  return `${stem}_${element}`;
}
