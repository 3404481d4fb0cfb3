/**
 * Reading a scrape's families back into the few numbers the baselines
 * compute too (the sum of every extra counter, the process and thread
 * counts by state), and the simulator's call counts into CallCounts, so the
 * harness can check that every strategy it times computes the same thing.
 */
import type { ScrapeSource } from '../src/exporter/scrape-source.js';
import { seriesOf, type MetricFamily } from '../src/exposition/family.js';
export { seriesCount } from '../src/exposition/family.js';
import { PROC_STATES } from '../src/kvm/index.js';
import type { SimCallCounts, SimControl } from '../sim/control.js';
import { EXTRA_COUNTERS_NAME } from './kernels.js';
import type { CallCounts, Observed } from './schema.js';

const STATES = [...PROC_STATES, 'unknown'] as const;
const SUM_FAMILY = new RegExp(`^kvm_${EXTRA_COUNTERS_NAME}_c\\d+_total$`);
const TWO_64 = 1n << 64n;

export function callCounts(counts: SimCallCounts): CallCounts {
  const byFunction = Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
  const kvm = Object.entries(byFunction)
    .filter(([name]) => name.startsWith('kvm_'))
    .reduce((sum, [, n]) => sum + n, 0);
  return { kvm, pread: byFunction.pread ?? 0, byFunction };
}

/** The calls `work` makes into the simulated libkvm. */
export async function countCalls(sim: SimControl, work: () => unknown): Promise<CallCounts> {
  sim.resetCallCounts();
  await work();
  return callCounts(sim.callCounts());
}

export function counterChecksum(families: readonly MetricFamily[]): string {
  let sum = 0n;
  for (const family of families) {
    if (SUM_FAMILY.test(family.name)) sum += BigInt(family.values[0] ?? 0);
  }
  return (sum % TWO_64).toString();
}

function stateCounts(families: readonly MetricFamily[], name: string): number[] {
  const family = families.find((f) => f.name === name);
  const series = family === undefined ? [] : seriesOf(family);
  return STATES.map((state) => series.find((s) => s.labels[0] === state)?.value ?? 0);
}

export function observe(families: readonly MetricFamily[]): Observed {
  return {
    counterChecksum: counterChecksum(families),
    processStates: stateCounts(families, 'kvm_processes'),
    threadStates: stateCounts(families, 'kvm_threads'),
  };
}

/** Throws, naming each failed collector and its error, unless every collector of the scrape succeeded. */
export function assertScrapeSucceeded(families: readonly MetricFamily[], source: ScrapeSource, where: string): void {
  const success = families.find((f) => f.name === 'kvm_scrape_collector_success');
  if (success === undefined) throw new Error(`${where}: the scrape has no kvm_scrape_collector_success`);
  const failed = seriesOf(success).filter((s) => s.value !== 1).map((s) => s.labels[0]);
  if (failed.length === 0) return;
  const errors = source
    .status()
    .collectors.filter((c) => failed.includes(c.name))
    .map((c) => `${c.name}: ${c.lastError ?? 'failed'}`);
  throw new Error(`${where}: ${errors.join('; ')} (the benchmark would time a failure)`);
}
