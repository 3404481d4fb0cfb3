import { Gauge, Histogram, Registry, Summary } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { PROCESS_METRICS, SELF_METRICS } from '../../src/exposition/builtin-metrics.js';
import { seriesOf, type MetricFamily } from '../../src/exposition/family.js';
import { renderFamilies } from '../../src/exposition/render.js';
import { SelfMetrics, toFamily } from '../../src/exposition/self-metrics.js';

function find(families: MetricFamily[], name: string): MetricFamily {
  const family = families.find((f) => f.name === name);
  if (!family) throw new Error(`no family ${name} among ${families.map((f) => f.name).join(', ')}`);
  return family;
}

describe('SelfMetrics', () => {
  it('reports build info with version, revision and the running Node.js', async () => {
    const families = await new SelfMetrics({ version: '1.2.3', revision: 'deadbeef' }, { defaultMetrics: false }).families();
    const info = find(families, 'kvm_exporter_build_info');
    expect(info.type).toBe('gauge');
    expect(info.labelNames).toEqual(['version', 'revision', 'nodejs']);
    expect(seriesOf(info)).toEqual([{ labels: ['1.2.3', 'deadbeef', process.version], value: 1 }]);
  });

  it('starts as successfully loaded at the given time and records reload outcomes', async () => {
    const self = new SelfMetrics({ version: 'v', revision: 'r' }, { defaultMetrics: false, configLoadedAt: new Date(1_700_000_000_000) });
    const value = async (name: string) => find(await self.families(), name).values[0]!;
    expect(await value('kvm_exporter_config_last_reload_successful')).toBe(1);
    expect(await value('kvm_exporter_config_last_reload_success_timestamp_seconds')).toBe(1_700_000_000);

    self.recordConfigReload(false, new Date(1_700_000_100_000));
    expect(await value('kvm_exporter_config_last_reload_successful')).toBe(0);
    // A failed reload leaves the time of the last success.
    expect(await value('kvm_exporter_config_last_reload_success_timestamp_seconds')).toBe(1_700_000_000);

    self.recordConfigReload(true, new Date(1_700_000_200_500));
    expect(await value('kvm_exporter_config_last_reload_successful')).toBe(1);
    expect(await value('kvm_exporter_config_last_reload_success_timestamp_seconds')).toBe(1_700_000_200.5);
  });

  it('includes process_* and nodejs_* only when default metrics are on', async () => {
    const withDefaults = await new SelfMetrics({ version: 'v', revision: 'r' }).families();
    const names = withDefaults.map((f) => f.name);
    expect(names).toContain('process_cpu_seconds_total');
    expect(names).toContain('process_resident_memory_bytes');
    expect(names).toContain('nodejs_heap_size_used_bytes');
    expect(find(withDefaults, 'process_cpu_seconds_total').type).toBe('counter');
    const without = await new SelfMetrics({ version: 'v', revision: 'r' }, { defaultMetrics: false }).families();
    expect(without.map((f) => f.name).sort()).toEqual([
      'kvm_exporter_build_info',
      'kvm_exporter_config_last_reload_success_timestamp_seconds',
      'kvm_exporter_config_last_reload_successful',
    ]);
  });

  it('serves both formats from one registry: OpenMetrics does not rename the counters for later text renders', async () => {
    const self = new SelfMetrics({ version: 'v', revision: 'r' });
    const openMetrics = renderFamilies(await self.families(), 'openmetrics-1.0.0');
    expect(openMetrics).toContain('# TYPE process_cpu_seconds counter\n');
    expect(openMetrics).toMatch(/\nprocess_cpu_seconds_total [0-9.e-]+\n/);
    const text = renderFamilies(await self.families(), 'text-0.0.4');
    expect(text).toContain('# TYPE process_cpu_seconds_total counter\n');
    expect(text).toMatch(/\nprocess_cpu_seconds_total [0-9.e-]+\n/);
  });

  it('emits exactly the families builtin-metrics.ts declares (this is Linux: every process metric exists)', async () => {
    const self = new SelfMetrics({ version: 'v', revision: 'r' });
    new Gauge({ name: 'kvm_undeclared', help: 'not declared', registers: [self.registry] }).set(1);
    const families = await self.families();
    const declared = [...Object.values(SELF_METRICS), ...PROCESS_METRICS];
    expect(families.map((f) => f.name).sort()).toEqual(declared.map((f) => f.name).sort());
    for (const { name, type } of declared) expect(find(families, name).type).toBe(type);
  });

  it('converts histograms and summaries into sample names and le/quantile extra labels', async () => {
    const registry = new Registry();
    const histogram = new Histogram({ name: 'kvm_test_seconds', help: 'h', labelNames: ['kind'], buckets: [0.5, 2], registers: [registry] });
    histogram.observe({ kind: 'minor' }, 1);
    const summary = new Summary({ name: 'kvm_test_size', help: 's', percentiles: [0.5], registers: [registry] });
    summary.observe(4);
    const text = renderFamilies((await registry.getMetricsAsJSON()).map((metric) => toFamily(metric as never)), 'text-0.0.4');
    expect(text).toContain(
      [
        '# HELP kvm_test_seconds h',
        '# TYPE kvm_test_seconds histogram',
        'kvm_test_seconds_bucket{kind="minor",le="0.5"} 0',
        'kvm_test_seconds_bucket{kind="minor",le="2"} 1',
        'kvm_test_seconds_bucket{kind="minor",le="+Inf"} 1',
        'kvm_test_seconds_sum{kind="minor"} 1',
        'kvm_test_seconds_count{kind="minor"} 1',
        '',
      ].join('\n'),
    );
    expect(text).toContain(
      ['# HELP kvm_test_size s', '# TYPE kvm_test_size summary', 'kvm_test_size{quantile="0.5"} 4', 'kvm_test_size_sum 4', 'kvm_test_size_count 1', ''].join('\n'),
    );
  });
});
