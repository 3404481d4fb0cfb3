/**
 * The final metric names a config entry produces, computed exactly as the
 * collectors name their families, and the check that no two entries (nor an
 * entry and the exporter's own metrics) produce the same name. Mirrors the
 * naming rules of Prometheus' writing_exporters.md: `kvm_` prefix, `_total`
 * on counters only, and OpenMetrics' rule that a counter family is named
 * without `_total` (so gauge `kvm_x` and counter `kvm_x_total` clash).
 */
import type { ConfigError } from '../errors.js';
import type { ConfigSource, KeyPath } from './source.js';
import { formatKeyPath } from './source.js';
import type { CounterEntry, MetricKind } from './types.js';

export const METRIC_PREFIX = 'kvm_';

/** Families the exporter emits on its own; no config entry may take these names. */
export const EXPORTER_METRICS: readonly string[] = [
  'kvm_up', 'kvm_cpus', 'kvm_cpus_max', 'kvm_load1', 'kvm_load5', 'kvm_load15',
  'kvm_processes', 'kvm_threads', 'kvm_processes_by_jail', 'kvm_processes_by_user',
  'kvm_processes_by_command', 'kvm_processes_hidden', 'kvm_swap_total_bytes', 'kvm_swap_used_bytes',
  'kvm_scrape_collector_success',
  'kvm_scrape_collector_duration_seconds', 'kvm_exporter_build_info',
  'kvm_exporter_config_last_reload_successful',
];

function suffix(type: MetricKind): string {
  return type === 'counter' ? '_total' : '';
}

/** `kvm_<stem>` plus `_total` for counters. */
export function metricName(stem: string, type: MetricKind): string {
  return `${METRIC_PREFIX}${stem}${suffix(type)}`;
}

/** The metric a variable, dpcpu or pcpu entry exports. */
export function plainMetricName(entry: { readonly name: string; readonly type: MetricKind }): string {
  return metricName(entry.name, entry.type);
}

/** Stems of a counter entry: one, or one per array element. */
function counterStems(entry: Pick<CounterEntry, 'name' | 'source'>): string[] {
  if (entry.source.kind !== 'array') return [entry.name];
  return entry.source.elements.map((element) => `${entry.name}_${element}`);
}

/** The summed metric of each stem: `kvm_<name>[_<element>]_total`. */
export function counterSumNames(entry: Pick<CounterEntry, 'name' | 'source' | 'type'>): string[] {
  return counterStems(entry).map((stem) => metricName(stem, entry.type));
}

/** With `per_cpu`: `kvm_<name>[_<element>]_percpu_total{cpu}`. */
export function counterPerCpuNames(entry: Pick<CounterEntry, 'name' | 'source' | 'type'>): string[] {
  return counterStems(entry).map((stem) => metricName(`${stem}_percpu`, entry.type));
}

/** Every metric name a counter entry exports. */
export function counterMetricNames(entry: Pick<CounterEntry, 'name' | 'source' | 'type' | 'perCpu'>): string[] {
  return entry.perCpu ? [...counterSumNames(entry), ...counterPerCpuNames(entry)] : counterSumNames(entry);
}

/** OpenMetrics names a counter family without its `_total`. */
export function familyName(metric: string, type: MetricKind): string {
  return type === 'counter' ? metric.replace(/_total$/, '') : metric;
}

interface Claim {
  readonly metric: string;
  readonly where: string;
}

/** The names taken so far in one config load; reports the second taker of a name. */
export class NameClaims {
  private readonly claims = new Map<string, Claim>();

  constructor(private readonly errors: ConfigError[]) {
    for (const metric of EXPORTER_METRICS) this.claims.set(metric, { metric, where: 'the exporter itself' });
  }

  /** Claims `metrics` (of one `type`) for the entry at `path`; false if any clashed. */
  claim(metrics: readonly string[], type: MetricKind, source: ConfigSource, path: KeyPath): boolean {
    const where = `${formatKeyPath(path)} (${source.describe(path)})`;
    let clean = true;
    for (const metric of metrics) {
      const names = [...new Set([metric, familyName(metric, type)])];
      // One report per metric: its family name usually clashes with the same entry too.
      const clash = names.find((name) => this.claims.has(name));
      if (clash !== undefined) {
        this.report(clash, metric, source, path);
        clean = false;
        continue;
      }
      for (const name of names) this.claims.set(name, { metric, where });
    }
    return clean;
  }

  private report(name: string, metric: string, source: ConfigSource, path: KeyPath): void {
    const earlier = this.claims.get(name)!;
    const problem =
      earlier.metric === metric
        ? `metric ${metric} is also exported by ${earlier.where}`
        : `metric ${metric} clashes with ${earlier.metric} from ${earlier.where} (both use the family name ${name})`;
    this.errors.push(source.error([...path, 'name'], problem));
  }
}
