/**
 * `kvm_exporter check`: everything that can go wrong before serving, found
 * at once. Opens the kernel, builds every enabled collector, runs one scrape,
 * and prints one line per config entry (its source, address, the CPUs read
 * and a sample value) or the reason it failed.
 */
import { COLLECTORS, EntryErrors, type EntryReport } from '../collectors/index.js';
import type { CollectorName, Config, OffsetOrigin } from '../config/types.js';
import { FamilyList, type MetricFamily } from '../exposition/family.js';
import { KvmSession, readTopology, type CpuTopology } from '../kvm/index.js';
import { describeTypes } from './run-config.js';

export interface CheckResult {
  readonly lines: readonly string[];
  readonly ok: boolean;
}

export function runCheck(config: Config, enabled: ReadonlySet<CollectorName>): CheckResult {
  const lines = [`config ${config.file}: valid`];
  let session: KvmSession;
  try {
    session = KvmSession.open(config.kvm);
  } catch (error) {
    return { lines: [...lines, `FAIL kernel: ${(error as Error).message}`], ok: false };
  }
  try {
    const topology = readTopology(session);
    lines.push(`ok   kernel ${config.kvm.corefile}: ${describeTopology(topology)}`);
    const results = COLLECTORS.filter((c) => enabled.has(c.name)).map((c) => checkCollector(c.name, session, config, topology));
    const types = [`ok   types: ${describeTypes(config)}`, ...offsetLines(config)];
    return { lines: [...lines, ...results.flatMap((r) => r.lines), ...types], ok: results.every((r) => r.ok) };
  } catch (error) {
    return { lines: [...lines, `FAIL kernel ${config.kvm.corefile}: ${(error as Error).message}`], ok: false };
  } finally {
    session.close();
  }
}

function checkCollector(name: CollectorName, session: KvmSession, config: Config, topology: CpuTopology): CheckResult {
  const factory = COLLECTORS.find((c) => c.name === name)!;
  const collector = factory.create({ session, config });
  const sink = new FamilyList();
  const failed = new Map<string, string>();
  let collectorError: string | undefined;
  try {
    collector.update(sink, { topology, checkDeadline: () => undefined });
  } catch (error) {
    if (error instanceof EntryErrors) error.failures.forEach((f) => failed.set(f.key, f.error.message));
    else collectorError = (error as Error).message;
  }
  const families = new Map(sink.families.map((f) => [f.name, f]));
  const entryLines = collector.entries.map((entry) => entryLine(entry, families, failed, topology));
  const ok = collectorError === undefined && failed.size === 0 && collector.entries.every((e) => !e.problem);
  const head = collectorError
    ? `FAIL collector ${name}: ${collectorError}`
    : `ok   collector ${name}: ${sink.families.length} families${summary(sink.families)}`;
  const unmatched = [...failed].filter(([key]) => !collector.entries.some((e) => e.key === key));
  return { lines: [head, ...entryLines, ...unmatched.map(([key, err]) => `FAIL   ${key}: ${err}`)], ok };
}

function entryLine(
  entry: EntryReport,
  families: ReadonlyMap<string, MetricFamily>,
  failed: ReadonlyMap<string, string>,
  topology: CpuTopology,
): string {
  const where = entry.address === undefined ? '' : ` at 0x${entry.address.toString(16)}`;
  if (entry.problem) return `FAIL   ${entry.key} ${entry.source}: ${entry.problem}`;
  const error = failed.get(entry.key);
  if (error) return `FAIL   ${entry.key} ${entry.source}${where}: ${error}`;
  const samples = entry.metrics.map((metric) => sampleText(metric, families.get(metric)));
  return `ok     ${entry.key} ${entry.source}${where} cpus=${topology.present.length}: ${samples.join(', ')}`;
}

function sampleText(metric: string, family: MetricFamily | undefined): string {
  if (!family || family.series.length === 0) return `${metric} (no sample)`;
  const first = family.series[0]!;
  const labels = first.labels.length ? `{${family.labelNames.map((n, i) => `${n}="${first.labels[i]}"`).join(',')}}` : '';
  const more = family.series.length > 1 ? ` (+${family.series.length - 1} series)` : '';
  return `${family.type} ${metric}${labels}=${first.value}${more}`;
}

function summary(families: readonly MetricFamily[]): string {
  const series = families.reduce((n, f) => n + f.series.length, 0);
  return `, ${series} series`;
}

/**
 * Where every `field:` offset came from (config layout, CTF of which file,
 * preset layout), and a WARN for each preset offset CTF contradicts.
 */
function offsetLines(config: Config): string[] {
  type Placed = { key: string; field?: string; offset?: number; offsetOrigin?: OffsetOrigin };
  const placed: Placed[] = [
    ...config.counters.map((e) => ({ key: e.origin.key, ...(e.source.kind === 'address' ? {} : e.source) })),
    ...[...config.variables, ...config.dpcpu, ...config.pcpu].map((e) => ({ ...e, key: e.origin.key })),
  ];
  return placed.flatMap(({ key, field, offset, offsetOrigin }) => {
    if (field === undefined || offsetOrigin === undefined) return [];
    const line = `     ${key} ${field}: offset ${offset} from ${offsetOrigin.from}`;
    return offsetOrigin.conflict ? [line, `WARN   ${key} ${field}: ${offsetOrigin.conflict}`] : [line];
  });
}

function describeTopology(t: CpuTopology): string {
  const ids = t.dense ? `0-${t.ncpus - 1}` : t.present.join(',');
  return `mp_maxcpus ${t.maxCpus}, mp_ncpus ${t.ncpus}, present CPU ids ${ids}${t.dense ? '' : ' (sparse)'}`;
}
