/**
 * The RSS soak: thousands of HTTP scrapes of one workload through an
 * exporter set up as `serve` sets it up, with the process's RSS sampled as
 * they run. Flat means the median RSS of the last tenth of the samples is
 * within 5% of the median just after the warm-up tenth: a leak of even a
 * few hundred bytes per scrape would show over 10,000 scrapes.
 */
import { Agent } from 'node:http';

import type { Config } from '../src/config/types.js';
import { SelfMetrics } from '../src/exposition/self-metrics.js';
import { REVISION, VERSION } from '../src/version.js';
import { scrapeOnce, serveMetrics } from './http-probe.js';
import { exporterFor } from './measure.js';
import type { SoakResult } from './schema.js';
import { median } from './stats.js';

const MB = 1024 * 1024;
/** About 100 samples whatever the number of scrapes. */
const SAMPLES = 100;

export async function soak(config: Config, workload: string, scrapes: number): Promise<SoakResult> {
  const exporter = exporterFor(config, new SelfMetrics({ version: VERSION, revision: REVISION }));
  const server = await serveMetrics(exporter);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const url = `${server.urls[0]}/metrics`;
  const sampleEvery = Math.max(1, Math.floor(scrapes / SAMPLES));
  const rss: number[] = [];
  const heap: number[] = [];
  const started = performance.now();
  try {
    for (let i = 1; i <= scrapes; i++) {
      await scrapeOnce(url, agent, i % 2 === 0 ? 'gzip' : 'identity');
      if (i % sampleEvery === 0) {
        collectGarbage();
        const usage = process.memoryUsage();
        rss.push(usage.rss / MB);
        heap.push(usage.heapUsed / MB);
      }
    }
  } finally {
    agent.destroy();
    await server.close();
    await exporter.close();
  }
  return summarizeSoak(workload, scrapes, (performance.now() - started) / 1000, sampleEvery, rss, heap);
}

/** A full GC before each sample when the worker runs with --expose-gc, so the samples compare live memory, not garbage not yet collected. */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Baseline: the samples of the second tenth; final: the last tenth. */
export function summarizeSoak(
  workload: string,
  scrapes: number,
  seconds: number,
  sampleEvery: number,
  rssMb: readonly number[],
  heapMb: readonly number[],
): SoakResult {
  const tenth = Math.max(1, Math.floor(rssMb.length / 10));
  const window = (values: readonly number[], from: number) => median(values.slice(from, from + tenth));
  const baselineRssMb = window(rssMb, Math.min(tenth, rssMb.length - tenth));
  const finalRssMb = window(rssMb, rssMb.length - tenth);
  return {
    workload,
    scrapes,
    seconds,
    sampleEvery,
    rssMb: rssMb.map((v) => Math.round(v * 10) / 10),
    baselineRssMb,
    finalRssMb,
    peakRssMb: Math.max(...rssMb),
    growth: finalRssMb / baselineRssMb - 1,
    heapUsedMb: { baseline: window(heapMb, Math.min(tenth, heapMb.length - tenth)), final: window(heapMb, heapMb.length - tenth) },
  };
}
