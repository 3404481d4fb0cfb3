/**
 * prom-client's plain rendering of the same series, the baseline for
 * src/exposition/render.ts: a Registry holding one Counter or Gauge per
 * family with every series set to the scrape's value, rendered with
 * `registry.metrics()` in text 0.0.4 and in OpenMetrics (a second registry
 * of that content type), each timed in rounds interleaved with our renderer
 * of the same format so both see the same machine and heap.
 */
import { Counter, Gauge, Registry, type RegistryContentType } from 'prom-client';

import { seriesOf, type MetricFamily } from '../src/exposition/family.js';
import { renderFamilies, type ExpositionFormat } from '../src/exposition/render.js';
import { repeatTimed, type Repeat } from './plan.js';
import type { FormatComparison, PromClientMeasurement } from './schema.js';
import { summarize } from './stats.js';

/** A Registry with the families' series; untyped families become gauges (prom-client has no untyped). */
export function registryOf(families: readonly MetricFamily[], contentType: RegistryContentType = Registry.PROMETHEUS_CONTENT_TYPE): Registry<RegistryContentType> {
  const registry = new Registry<RegistryContentType>();
  registry.setContentType(contentType);
  for (const family of families) {
    const options = { name: family.name, help: family.help, labelNames: [...family.labelNames], registers: [registry] };
    const metric = family.type === 'counter' ? new Counter(options) : new Gauge(options);
    for (const series of seriesOf(family)) {
      const labels = Object.fromEntries(family.labelNames.map((name, i) => [name, series.labels[i] ?? '']));
      if (metric instanceof Counter) metric.inc(labels, series.value);
      else metric.set(labels, series.value);
    }
  }
  return registry;
}

async function compareFormat(families: readonly MetricFamily[], repeat: Repeat, format: ExpositionFormat, contentType: RegistryContentType): Promise<FormatComparison> {
  const registry = registryOf(families, contentType);
  // One untimed round each, so neither is timed before the JIT has seen it.
  await registry.metrics();
  renderFamilies(families, format);
  const theirs: number[] = [];
  const ours: number[] = [];
  let identical = false;
  await repeatTimed(repeat, async (round) => {
    let started = performance.now();
    const text = await registry.metrics();
    theirs.push(performance.now() - started);
    started = performance.now();
    const mine = renderFamilies(families, format);
    ours.push(performance.now() - started);
    if (round === 0) identical = text === mine;
  });
  return { timing: summarize(theirs), oursTiming: summarize(ours), identical };
}

/** Text first, then OpenMetrics; one registry at a time, so the two never hold the series together. */
export async function comparePromClient(families: readonly MetricFamily[], repeat: Repeat): Promise<PromClientMeasurement> {
  const text = await compareFormat(families, repeat, 'text-0.0.4', Registry.PROMETHEUS_CONTENT_TYPE);
  const openMetrics = await compareFormat(families, repeat, 'openmetrics-1.0.0', Registry.OPENMETRICS_CONTENT_TYPE);
  return { text, openMetrics };
}
