/**
 * `kvm_exporter check`: everything that can go wrong before serving, found
 * at once. Runs one scrape through the same path as `serve` and `once`
 * (open the kernel, build every enabled collector, collect) and prints one
 * line per config entry (its source, address, the CPUs read and a sample
 * value) or the reason it failed, each counter's cross-check against
 * kvm_counter_u64_fetch, then where the kernel's types came from
 * and where each field offset came from.
 */
import type { EntryReport } from '../collectors/index.js';
import type { CollectorName, Config, OffsetOrigin } from '../config/types.js';
import type { Collection, CollectorOutcome } from '../exporter/collection.js';
import { Exporter } from '../exporter/exporter.js';
import { seriesCount, seriesOf, type MetricFamily } from '../exposition/family.js';
import type { CpuTopology } from '../kvm/index.js';
import { silentLogger } from '../log.js';
import { describeTypes } from './run-config.js';

export interface CheckResult {
  readonly lines: readonly string[];
  readonly ok: boolean;
  /** A kernel read never returned: the process must end at once (cli/exit.ts). */
  readonly holdsStuckThread: boolean;
}

export async function runCheck(config: Config, enabled: ReadonlySet<CollectorName>): Promise<CheckResult> {
  const lines = [`config ${config.file}: valid`];
  // Everything the log would say is printed below, entry by entry.
  // Cross-checks compare the counters' span sums with kvm_counter_u64_fetch once (collectors/counters/cross-check.ts).
  const exporter = new Exporter({ config, enabled, logger: silentLogger(), crossCheck: true });
  let result: Omit<CheckResult, 'holdsStuckThread'>;
  try {
    result = checkLines(config, (await exporter.collect({})).collection);
  } finally {
    await exporter.close();
  }
  return { lines: [...lines, ...result.lines], ok: result.ok, holdsStuckThread: exporter.holdsStuckThread };
}

function checkLines(config: Config, collection: Collection): Omit<CheckResult, 'holdsStuckThread'> {
  if (!collection.kernel.up) return { lines: [`FAIL kernel: ${collection.kernel.error}`], ok: false };
  const { topology } = collection.kernel;
  const families = new Map(collection.families.map((f) => [f.name, f]));
  const results = collection.outcomes.map((outcome) => collectorLines(outcome, families, topology));
  const types = [`ok   types: ${describeTypes(config)}`, ...offsetLines(config)];
  return {
    lines: [`ok   kernel ${config.kvm.corefile}: ${describeTopology(topology)}`, ...results.flat(), ...types],
    ok: collection.outcomes.every((o) => o.success && o.entries.every((e) => e.crossCheck?.ok !== false)),
  };
}

function collectorLines(outcome: CollectorOutcome, families: ReadonlyMap<string, MetricFamily>, topology: CpuTopology): string[] {
  const failed = new Map(outcome.failedEntries.map((f) => [f.key, f.error]));
  const own = outcome.families.map((name) => families.get(name)!);
  // The collector's own failure: what it says beyond its entries' failures and left-out entries.
  const collectorError = outcome.error !== undefined && failed.size === 0 && outcome.entries.every((e) => !e.problem) ? outcome.error : undefined;
  const head = collectorError
    ? `FAIL collector ${outcome.name}: ${collectorError}`
    : `ok   collector ${outcome.name}: ${own.length} families${summary(own)}`;
  const entryLines = outcome.entries.flatMap((entry) => [entryLine(entry, families, failed, topology), ...crossCheckLine(entry)]);
  const unmatched = [...failed].filter(([key]) => !outcome.entries.some((e) => e.key === key));
  return [head, ...entryLines, ...unmatched.map(([key, err]) => `FAIL   ${key}: ${err}`)];
}

function entryLine(
  entry: EntryReport,
  families: ReadonlyMap<string, MetricFamily>,
  failed: ReadonlyMap<string, string>,
  topology: CpuTopology,
): string {
  const where = entry.address === undefined ? '' : ` at 0x${entry.address.toString(16)}`;
  if (entry.problem) return `FAIL   ${entry.key} ${entry.source}: ${entry.problem}`;
  if (entry.unavailable) return `ok     ${entry.key} ${entry.source}: ${entry.unavailable}`;
  const error = failed.get(entry.key);
  if (error) return `FAIL   ${entry.key} ${entry.source}${where}: ${error}`;
  const samples = entry.metrics.map((metric) => sampleText(metric, families.get(metric)));
  return `ok     ${entry.key} ${entry.source}${where} cpus=${topology.present.length}: ${samples.join(', ')}`;
}

/** The entry's cross-check against libkvm's own reading, when its collector made one. */
function crossCheckLine({ key, crossCheck }: EntryReport): string[] {
  if (crossCheck === undefined) return [];
  return [`${crossCheck.ok ? 'ok  ' : 'FAIL'}     ${key} cross-check: ${crossCheck.text}`];
}

function sampleText(metric: string, family: MetricFamily | undefined): string {
  const series = family === undefined ? [] : seriesOf(family);
  if (!family || series.length === 0) return `${metric} (no sample)`;
  const first = series[0]!;
  const labels = first.labels.length ? `{${family.labelNames.map((n, i) => `${n}="${first.labels[i]}"`).join(',')}}` : '';
  const more = series.length > 1 ? ` (+${series.length - 1} series)` : '';
  return `${family.type} ${metric}${labels}=${first.value}${more}`;
}

function summary(families: readonly MetricFamily[]): string {
  return `, ${seriesCount(families)} series`;
}

/**
 * Where every `field:` offset and every vnet/jail walk offset came from
 * (config layout, CTF of which file, preset layout), and a WARN for each
 * preset offset CTF contradicts.
 */
function offsetLines(config: Config): string[] {
  type Placed = { key: string; field?: string; offset?: number; offsetOrigin?: OffsetOrigin };
  const placed: Placed[] = [
    ...config.counters.map((e) => ({ key: e.origin.key, ...(e.source.kind === 'address' ? {} : e.source) })),
    ...[...config.variables, ...config.dpcpu, ...config.pcpu].map((e) => ({ ...e, key: e.origin.key })),
  ];
  // The walks of vnet_head and allprison read these (config/vnets.ts).
  const walk = (config.vnets.offsets ?? []).map((o) => ({ key: 'vnets', field: o.field, offset: o.offset, offsetOrigin: o.origin }));
  return [...placed, ...walk].flatMap(({ key, field, offset, offsetOrigin }) => {
    if (field === undefined || offsetOrigin === undefined) return [];
    const line = `     ${key} ${field}: offset ${offset} from ${offsetOrigin.from}`;
    return offsetOrigin.conflict ? [line, `WARN   ${key} ${field}: ${offsetOrigin.conflict}`] : [line];
  });
}

function describeTopology(t: CpuTopology): string {
  const ids = t.dense ? `0-${t.ncpus - 1}` : t.present.join(',');
  return `mp_maxcpus ${t.maxCpus}, mp_ncpus ${t.ncpus}, present CPU ids ${ids}${t.dense ? '' : ' (sparse)'}`;
}
