/**
 * The exporter's own metrics: what it is (`kvm_exporter_build_info`), whether
 * its config loaded (`kvm_exporter_config_last_reload_*`, as Prometheus'
 * `prometheus_config_last_reload_*`) and how the Node.js process is doing
 * (prom-client's `collectDefaultMetrics`: `process_*`, `nodejs_*`).
 *
 * They live in a dedicated prom-client Registry and leave it through
 * `getMetricsAsJSON()`, converted to MetricFamily[], so the one renderer in
 * render.ts serves them in both formats. That also sidesteps prom-client's
 * OpenMetrics mode, which renames registered counters in place
 * (`standardizeCounterName`) and so cannot serve both formats from one registry.
 */
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { PROCESS_METRICS, SELF_METRICS } from './builtin-metrics.js';
import { familyOf, type FamilyHead, type MetricFamily, type MetricType, type Series } from './family.js';
import { formatValue } from './render.js';

export interface BuildInfo {
  readonly version: string;
  readonly revision: string;
}

export interface SelfMetricsOptions {
  /** `process_*` and `nodejs_*`; on unless `--web.disable-exporter-metrics` turns them off. */
  readonly defaultMetrics?: boolean;
  /**
   * When the config now in use was loaded. The HTTP server starts only after a
   * successful load, so the reload gauges start at "successful, at this time".
   */
  readonly configLoadedAt?: Date;
}

export class SelfMetrics {
  readonly registry = new Registry();
  private readonly reloadSuccessful: Gauge;
  private readonly reloadSuccessTimestamp: Gauge;

  constructor(info: BuildInfo, options: SelfMetricsOptions = {}) {
    const buildInfo = this.gauge(SELF_METRICS.buildInfo);
    buildInfo.set({ version: info.version, revision: info.revision, nodejs: process.version }, 1);
    this.reloadSuccessful = this.gauge(SELF_METRICS.reloadSuccessful);
    this.reloadSuccessTimestamp = this.gauge(SELF_METRICS.reloadSuccessTimestamp);
    this.recordConfigReload(true, options.configLoadedAt ?? new Date());
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  private gauge({ name, help, labelNames }: FamilyHead): Gauge {
    return new Gauge({ name, help, labelNames: [...labelNames], registers: [this.registry] });
  }

  /** Called after every config load or reload attempt; the timestamp moves only on success. */
  recordConfigReload(successful: boolean, at: Date = new Date()): void {
    this.reloadSuccessful.set(successful ? 1 : 0);
    if (successful) this.reloadSuccessTimestamp.set(at.getTime() / 1000);
  }

  async families(): Promise<MetricFamily[]> {
    const metrics = (await this.registry.getMetricsAsJSON()) as unknown as PromClientMetric[];
    return metrics.filter((metric) => DECLARED.has(metric.name)).map(toFamily);
  }
}

/**
 * The families builtin-metrics.ts declares: only those leave the registry, so
 * a metric a prom-client upgrade adds is not emitted until it is declared
 * (and so checked against config entries and promtool's lint).
 */
const DECLARED = new Set([...Object.values(SELF_METRICS), ...PROCESS_METRICS].map((family) => family.name));

/** The shape `getMetricsAsJSON()` returns (prom-client's typings call it `MetricObjectWithValues`). */
interface PromClientMetric {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly values: readonly PromClientValue[];
}

interface PromClientValue {
  readonly value: number;
  readonly labels: Readonly<Record<string, string | number | undefined>>;
  readonly metricName?: string;
}

/** The label prom-client folds into `labels` that our model keeps apart as an extra label. */
const EXTRA_LABEL: Partial<Record<MetricType, string>> = { histogram: 'le', summary: 'quantile' };

export function toFamily(metric: PromClientMetric): MetricFamily {
  const type = toMetricType(metric.type);
  const extra = EXTRA_LABEL[type];
  const labelNames = labelNamesOf(metric.values, extra);
  return familyOf({ name: metric.name, help: metric.help, type, labelNames }, metric.values.map((value) => toSeries(metric.name, value, labelNames, extra)));
}

function toMetricType(type: string): MetricType {
  return type === 'counter' || type === 'gauge' || type === 'histogram' || type === 'summary' ? type : 'untyped';
}

/** Every label name any sample uses, in first-seen order (prom-client does not declare them). */
function labelNamesOf(values: readonly PromClientValue[], extra: string | undefined): string[] {
  const names = new Set<string>();
  for (const value of values) {
    for (const name of Object.keys(value.labels)) if (name !== extra) names.add(name);
  }
  return [...names];
}

function toSeries(familyName: string, value: PromClientValue, labelNames: readonly string[], extra: string | undefined): Series {
  const extraValue = extra === undefined ? undefined : value.labels[extra];
  return {
    labels: labelNames.map((name) => labelText(value.labels[name])),
    value: value.value,
    ...(value.metricName !== undefined && value.metricName !== familyName ? { sampleName: value.metricName } : {}),
    ...(extra !== undefined && extraValue !== undefined ? { extraLabels: [[extra, labelText(extraValue)] as const] } : {}),
  };
}

/** Numeric label values (`le`, `quantile`, nodejs_version_info's `major`) print as sample values do. */
function labelText(value: string | number | undefined): string {
  if (value === undefined) return '';
  return typeof value === 'number' ? formatValue(value) : value;
}
