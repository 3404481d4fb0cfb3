/**
 * prom-client's plain rendering of the same series, the baseline for
 * src/exposition/render.ts: a Registry holding one Counter or Gauge per
 * family with every series set to the scrape's value, rendered with
 * `registry.metrics()` (text 0.0.4), timed in rounds interleaved with our
 * renderer so both see the same machine and heap.
 */
import { Counter, Gauge, Registry } from 'prom-client';

import type { MetricFamily } from '../src/exposition/family.js';
import { renderFamilies } from '../src/exposition/render.js';
import { repeatTimed, type Repeat } from './plan.js';
import type { PromClientMeasurement } from './schema.js';
import { summarize } from './stats.js';

/** A Registry with the families' series; untyped families become gauges (prom-client has no untyped). */
export function registryOf(families: readonly MetricFamily[]): Registry {
  const registry = new Registry();
  for (const family of families) {
    const options = { name: family.name, help: family.help, labelNames: [...family.labelNames], registers: [registry] };
    const metric = family.type === 'counter' ? new Counter(options) : new Gauge(options);
    for (const series of family.series) {
      const labels = Object.fromEntries(family.labelNames.map((name, i) => [name, series.labels[i] ?? '']));
      if (metric instanceof Counter) metric.inc(labels, series.value);
      else metric.set(labels, series.value);
    }
  }
  return registry;
}

export async function comparePromClient(families: readonly MetricFamily[], repeat: Repeat): Promise<PromClientMeasurement> {
  const registry = registryOf(families);
  // One untimed round each, so neither is timed before the JIT has seen it.
  await registry.metrics();
  renderFamilies(families, 'text-0.0.4');
  const theirs: number[] = [];
  const ours: number[] = [];
  let identical = false;
  await repeatTimed(repeat, async (round) => {
    let started = performance.now();
    const text = await registry.metrics();
    theirs.push(performance.now() - started);
    started = performance.now();
    const mine = renderFamilies(families, 'text-0.0.4');
    ours.push(performance.now() - started);
    if (round === 0) identical = text === mine;
  });
  return { timing: summarize(theirs), oursTiming: summarize(ours), identical };
}
