/**
 * The names a config entry is known by, decided once when the config is
 * loaded: its metric families (name, HELP, labels) and the text naming its
 * kernel source, which the collectors then read instead of rebuilding; and
 * the check that no two entries, nor an entry and a family the exporter
 * emits on its own (exposition/builtin-metrics.ts), produce one name.
 *
 * Follows the naming rules of Prometheus' writing_exporters.md: `kvm_`
 * prefix, `_total` on counters only, and OpenMetrics' rule that a counter
 * family is named without `_total` (so gauge `kvm_x` and counter
 * `kvm_x_total` clash).
 */
import type { ConfigError } from '../errors.js';
import { BUILTIN_METRICS } from '../exposition/builtin-metrics.js';
import type { MetricType } from '../exposition/family.js';
import type { YamlFile, KeyPath } from './yaml-file.js';
import { formatKeyPath } from './yaml-file.js';
import type {
  CounterEntry, CounterHandleNames, CounterSource, EntryFamily, MetricKind, PcpuEntry, ScalarEntry,
} from './types.js';

export const METRIC_PREFIX = 'kvm_';

const CPU_LABEL: readonly string[] = Object.freeze(['cpu']);
const NO_LABELS: readonly string[] = Object.freeze([]);
/** A `vnet: true` entry's series are per network stack (collectors/vnet). */
const STACK_LABELS: readonly string[] = Object.freeze(['jid', 'jail']);
const STACK_CPU_LABELS: readonly string[] = Object.freeze(['jid', 'jail', 'cpu']);
const IN_EACH_STACK = " in each jail's network stack";

/** `kvm_<stem>` plus `_total` for counters. */
export function metricName(stem: string, type: MetricKind): string {
  return `${METRIC_PREFIX}${stem}${type === 'counter' ? '_total' : ''}`;
}

/** The entry's own `help:` as the first sentence of each of its families' HELP. */
function helpLead(help: string): string {
  return help ? `${help}. ` : '';
}

/**
 * Names a kernel source as the kernel spells it: `vm_cnt.v_swtch` for a
 * layout field (the config's `vmmeter.v_swtch` reference), `hz+8` for a raw
 * offset, `hz` at offset 0.
 */
export function describeSource(symbol: string, field: string | undefined, offset: number): string {
  if (field !== undefined) return `${symbol}.${field.slice(field.indexOf('.') + 1)}`;
  return offset === 0 ? symbol : `${symbol}+${offset}`;
}

/** An entry as normalised, before its names are decided here. */
export type Unnamed<E> = Omit<E, 'sourceText' | 'family' | 'handles'>;

/** A counters entry's source and, per handle (one, or one per array element), its families. */
export function counterNames(entry: Unnamed<CounterEntry>): Pick<CounterEntry, 'sourceText' | 'handles'> {
  const { source, type } = entry;
  const lead = helpLead(entry.help);
  const sourceText = describeCounterSource(source);
  const stems = source.kind === 'array' ? source.elements.map((element) => `${entry.name}_${element}`) : [entry.name];
  const handles = stems.map((stem, i): CounterHandleNames => {
    const element = source.kind === 'array' ? source.elements[i] : undefined;
    const text = source.kind === 'array' ? `${source.symbol}[${i}] (${element})` : sourceText;
    const where = entry.vnet ? `${text}${IN_EACH_STACK}` : text;
    const sum = { name: metricName(stem, type), help: `${lead}counter(9) ${where}, sum over CPUs`, type, labelNames: entry.vnet ? STACK_LABELS : NO_LABELS };
    const percpu = {
      name: metricName(`${stem}_percpu`, type),
      help: `${lead}counter(9) ${where}, per CPU`,
      type,
      labelNames: entry.vnet ? STACK_CPU_LABELS : CPU_LABEL,
    };
    return { ...(element === undefined ? {} : { element }), sourceText: text, sum, ...(entry.perCpu ? { percpu } : {}) };
  });
  return { sourceText, handles };
}

function describeCounterSource(source: CounterSource): string {
  switch (source.kind) {
    case 'address':
      return `handle 0x${source.handle.toString(16)}`;
    case 'symbol':
      return describeSource(source.symbol, source.field, source.offset);
    case 'array':
      return describeSource(source.symbol, undefined, source.offset);
  }
}

/** A variables entry: one unlabelled family, or with `vnet` one series per network stack. */
export function variableNames(entry: Unnamed<ScalarEntry>, vnet = false): Pick<ScalarEntry, 'sourceText' | 'family'> {
  const sourceText = describeSource(entry.symbol, entry.field, entry.offset);
  if (vnet) {
    const help = `${helpLead(entry.help)}VNET variable ${sourceText} (${entry.ctype})${IN_EACH_STACK}`;
    return { sourceText, family: entryFamily(entry, help, STACK_LABELS) };
  }
  const help = `${helpLead(entry.help)}Kernel variable ${sourceText} (${entry.ctype})`;
  return { sourceText, family: entryFamily(entry, help, NO_LABELS) };
}

/** A dpcpu entry: one family with a series per CPU. */
export function dpcpuNames(entry: Unnamed<ScalarEntry>): Pick<ScalarEntry, 'sourceText' | 'family'> {
  const sourceText = `DPCPU ${describeSource(entry.symbol, entry.field, entry.offset)}`;
  const help = `${helpLead(entry.help)}${sourceText} (${entry.ctype}), per CPU`;
  return { sourceText, family: entryFamily(entry, help, CPU_LABEL) };
}

/** A pcpu entry: one family with a series per CPU, and per element when it has several. */
export function pcpuNames(entry: Unnamed<PcpuEntry>): Pick<PcpuEntry, 'sourceText' | 'family'> {
  const sourceText = describeSource('struct pcpu', entry.field, entry.offset);
  const per = entry.divideBy ? `, divided by ${entry.divideBy}` : '';
  const help = `${helpLead(entry.help)}${sourceText} (${entry.ctype}${per}), per CPU`;
  const labelNames = entry.count > 1 ? ['cpu', entry.elementLabel?.name ?? 'index'] : CPU_LABEL;
  return { sourceText, family: entryFamily(entry, help, labelNames) };
}

function entryFamily(entry: { name: string; type: MetricKind }, help: string, labelNames: readonly string[]): EntryFamily {
  return { name: metricName(entry.name, entry.type), help, type: entry.type, labelNames };
}

/** Every family an entry produces. */
export function entryFamilies(entry: CounterEntry | ScalarEntry | PcpuEntry): EntryFamily[] {
  if ('handles' in entry) return entry.handles.flatMap((h) => (h.percpu ? [h.sum, h.percpu] : [h.sum]));
  return [entry.family];
}

/** OpenMetrics names a counter family without its `_total`. */
export function familyName(metric: string, type: MetricType): string {
  return type === 'counter' ? metric.replace(/_total$/, '') : metric;
}

interface Claim {
  readonly metric: string;
  readonly where: string;
}

/** The names taken so far in one config load; reports the second taker of a name. */
export class NameClaims {
  private readonly claims = new Map<string, Claim>();

  constructor(private readonly errors: ConfigError[]) {
    for (const { emitter, families } of BUILTIN_METRICS) {
      for (const { name, type } of families) {
        const claim = { metric: name, where: `${emitter} (built in)` };
        for (const taken of new Set([name, familyName(name, type)])) this.claims.set(taken, claim);
      }
    }
  }

  /** Claims the families of the entry at `path`; false if any clashed. */
  claim(families: readonly EntryFamily[], source: YamlFile, path: KeyPath): boolean {
    const where = `${formatKeyPath(path)} (${source.describe(path)})`;
    let clean = true;
    for (const { name: metric, type } of families) {
      const names = [...new Set([metric, familyName(metric, type)])];
      // One report per metric: its family name usually clashes with the same entry too.
      const clash = names.find((name) => this.claims.has(name));
      if (clash !== undefined) {
        this.report(clash, metric, source, path);
        clean = false;
        continue;
      }
      for (const name of names) this.claims.set(name, { metric, where });
    }
    return clean;
  }

  private report(name: string, metric: string, source: YamlFile, path: KeyPath): void {
    const earlier = this.claims.get(name)!;
    const problem =
      earlier.metric === metric
        ? `metric ${metric} is also exported by ${earlier.where}`
        : `metric ${metric} clashes with ${earlier.metric} from ${earlier.where} (both use the family name ${name})`;
    this.errors.push(source.error([...path, 'name'], problem));
  }
}
