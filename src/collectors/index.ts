/**
 * The registry of collectors: one explicit list, in the order they run and
 * appear in the output. Flags (`--collector.<name>`), the config's
 * `collectors:` keys and `collect[]` filters are all derived from it.
 */
import type { CollectorName } from '../config/types.js';
import { countersCollector } from './counters/collector.js';
import { cpusCollector } from './cpus.js';
import { dpcpuCollector } from './dpcpu.js';
import type { CollectorFactory } from './framework/collector.js';
import { loadavgCollector } from './loadavg.js';
import { pcpuCollector } from './pcpu.js';
import { processesCollector } from './processes.js';
import { swapCollector } from './swap.js';
import { variablesCollector } from './variables.js';
import { vnetCollector } from './vnet/collector.js';

export const COLLECTORS: readonly CollectorFactory[] = [
  cpusCollector,
  countersCollector,
  variablesCollector,
  vnetCollector,
  dpcpuCollector,
  pcpuCollector,
  processesCollector,
  loadavgCollector,
  swapCollector,
];

export function findCollector(name: string): CollectorFactory | undefined {
  return COLLECTORS.find((c) => c.name === name);
}

export const COLLECTOR_NAMES: readonly CollectorName[] = COLLECTORS.map((c) => c.name);

export type { Collector, CollectorContext, CollectorFactory, EntryReport, ScrapeContext } from './framework/collector.js';
export { EntryErrors } from '../errors.js';
