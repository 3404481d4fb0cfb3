/**
 * The exporter's side of one workload, measured in a worker process: libkvm
 * calls per scrape, collection time (Exporter.scrape, as the HTTP layer
 * calls it), exposition time (renderFamilies), end-to-end HTTP scrapes with
 * the longest event-loop stall, and the peak RSS all of that reached.
 */
import { enabledCollectors } from '../src/cli/flags.js';
import type { Config } from '../src/config/types.js';
import { Exporter } from '../src/exporter/exporter.js';
import { seriesOf, type MetricFamily } from '../src/exposition/family.js';
import { renderFamilies } from '../src/exposition/render.js';
import { SelfMetrics } from '../src/exposition/self-metrics.js';
import { silentLogger } from '../src/log.js';
import { SimControl } from '../sim/control.js';
import { REVISION, VERSION } from '../src/version.js';
import { probeHttp } from './http-probe.js';
import { assertScrapeSucceeded, countCalls, observe, seriesCount } from './observe.js';
import { repeatTimed, type Effort } from './plan.js';
import type { ProductMeasurement } from './schema.js';
import { median, summarize, type Timing } from './stats.js';

export function exporterFor(config: Config, selfMetrics?: SelfMetrics): Exporter {
  return new Exporter({
    config,
    enabled: enabledCollectors({ collectors: new Map(), disableDefaults: false }, config.collectors),
    logger: silentLogger(),
    ...(selfMetrics && { selfMetrics: () => selfMetrics.families() }),
  });
}

/** Milliseconds per collector, from the scrape's own kvm_scrape_collector_duration_seconds. */
function collectorMs(families: readonly MetricFamily[]): Map<string, number> {
  const family = families.find((f) => f.name === 'kvm_scrape_collector_duration_seconds');
  return new Map((family ? seriesOf(family) : []).map((s) => [s.labels[0]!, s.value * 1000]));
}

async function timeScrapes(exporter: Exporter, effort: Effort, collect?: string[]): Promise<{ timing: Timing; perCollector: Map<string, number[]> }> {
  const perCollector = new Map<string, number[]>();
  const samples = await repeatTimed(effort.collection, async () => {
    const started = performance.now();
    const families = await exporter.scrape(collect ? { collect } : {});
    const ms = performance.now() - started;
    for (const [name, value] of collectorMs(families)) perCollector.set(name, [...(perCollector.get(name) ?? []), value]);
    return ms;
  });
  return { timing: summarize(samples), perCollector };
}

async function timeRender(families: readonly MetricFamily[], effort: Effort): Promise<{ timing: Timing; bytes: number }> {
  // Untimed first render: the scrapes before it never rendered, so its code is not compiled yet.
  let bytes = Buffer.byteLength(renderFamilies(families, 'text-0.0.4'));
  const samples = await repeatTimed(effort.exposition, () => {
    const started = performance.now();
    bytes = Buffer.byteLength(renderFamilies(families, 'text-0.0.4'));
    return performance.now() - started;
  });
  return { timing: summarize(samples), bytes };
}

export interface ProductRun {
  readonly measurement: ProductMeasurement;
  /** The families of one scrape, for the prom-client baseline. */
  readonly families: MetricFamily[];
}

export async function measureProduct(config: Config, effort: Effort): Promise<ProductRun> {
  const sim = new SimControl(config.kvm.library);
  const exporter = exporterFor(config);
  try {
    const families = await exporter.scrape({});
    assertScrapeSucceeded(families, exporter, config.file);
    // The warm-up's families are dropped at once: 30 scrapes of 130k series kept alive would be the peak RSS.
    await repeatTimed(effort.warmup, async () => {
      await exporter.scrape({});
    });
    const calls = {
      scrape: await countCalls(sim, () => exporter.scrape({})),
      countersOnly: await countCalls(sim, () => exporter.scrape({ collect: ['counters'] })),
      processesOnly: await countCalls(sim, () => exporter.scrape({ collect: ['processes'] })),
    };
    const full = await timeScrapes(exporter, effort);
    const countersOnly = await timeScrapes(exporter, effort, ['counters']);
    const processesOnly = await timeScrapes(exporter, effort, ['processes']);
    const exposition = await timeRender(families, effort);
    const http = await measureHttp(config, effort);
    return {
      families,
      measurement: {
        series: seriesCount(families),
        families: families.length,
        calls,
        collection: {
          scrape: full.timing,
          countersOnly: countersOnly.timing,
          countersCollector: summarize(countersOnly.perCollector.get('counters') ?? []),
          processesOnly: processesOnly.timing,
          collectorMedianMs: Object.fromEntries([...full.perCollector].map(([name, ms]) => [name, median(ms)])),
        },
        exposition,
        http,
        peakRssMb: process.resourceUsage().maxRSS / 1024,
        observed: observe(families),
      },
    };
  } finally {
    await exporter.close();
  }
}

/** The HTTP scrapes go to an exporter set up as `serve` sets it up, self-metrics included. */
async function measureHttp(config: Config, effort: Effort): Promise<ProductMeasurement['http']> {
  const served = exporterFor(config, new SelfMetrics({ version: VERSION, revision: REVISION }));
  try {
    return await probeHttp(served, effort);
  } finally {
    await served.close();
  }
}
