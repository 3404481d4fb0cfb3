/**
 * One benchmark worker process: measures one workload (the exporter, then
 * the naive strategy and prom-client's rendering) or runs the RSS soak, and
 * prints the result as one JSON line after RESULT_MARKER (protocol.ts).
 *
 * Each workload gets its own process so that its peak RSS is its own, and
 * because libkvm's per-CPU cache is process-wide (lib/libkvm/kvm_pcpu.c):
 * kernels of different CPU counts cannot be opened one after another in one
 * process without resetting it.
 */
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/types.js';
import { SimControl } from '../sim/control.js';
import { measureProduct } from './measure.js';
import { NaiveCounters } from './naive.js';
import { callCounts, counterChecksum } from './observe.js';
import { repeatTimed } from './plan.js';
import { comparePromClient } from './prom-client-baseline.js';
import { RESULT_MARKER, type MeasureJob, type WorkerJob } from './protocol.js';
import { CounterReads } from './reads-only.js';
import type { NaiveMeasurement, ReadsOnlyMeasurement, WorkerResult } from './schema.js';
import { soak } from './soak.js';
import { summarize } from './stats.js';

async function measure(job: MeasureJob): Promise<WorkerResult> {
  const config = loadConfig(job.config);
  const { measurement: product, families } = await measureProduct(config, job.effort);
  const naive = await measureNaive(job, config);
  const readsOnly = await measureReadsOnly(job, config);
  const promClient = await comparePromClient(families, job.effort.exposition);
  return { product, naive, readsOnly, promClient };
}

async function measureNaive(job: MeasureJob, config: Config): Promise<NaiveMeasurement> {
  const sim = new SimControl(config.kvm.library);
  const naive = NaiveCounters.open(config, job.counters);
  try {
    let families = naive.scrape();
    sim.resetCallCounts();
    families = naive.scrape();
    const calls = callCounts(sim.callCounts());
    const samples = await repeatTimed(job.effort.naive, () => {
      const started = performance.now();
      families = naive.scrape();
      return performance.now() - started;
    });
    return { calls, collection: summarize(samples), counterChecksum: counterChecksum(families) };
  } finally {
    naive.close();
  }
}

async function measureReadsOnly(job: MeasureJob, config: Config): Promise<ReadsOnlyMeasurement> {
  const sim = new SimControl(config.kvm.library);
  const reads = CounterReads.open(config, job.counters);
  try {
    await repeatTimed(job.effort.warmup, () => reads.read());
    sim.resetCallCounts();
    reads.read();
    const calls = callCounts(sim.callCounts());
    const samples = await repeatTimed(job.effort.collection, () => {
      const started = performance.now();
      reads.read();
      return performance.now() - started;
    });
    return { calls, collection: summarize(samples) };
  } finally {
    reads.close();
  }
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '') as WorkerJob;
  const result = job.kind === 'measure' ? await measure(job) : await soak(loadConfig(job.config), job.workload, job.scrapes);
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench worker: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
