/**
 * The `vnet: true` counters and variables of the config, read in every
 * network stack the kernel has (src/kvm/vnet.ts) and labelled with the jail
 * that owns it: `jid="0", jail="host"` for the host's, the jail's jid and
 * name for a jail with `vnet = new`. Per entry, the host and the first
 * `vnets.max_series - 1` jails by jid get series of their own; the rest are
 * summed as `jid="other", jail="other"` (a real jail's jid is a number, so
 * a jail named "other" never shares the bucket's labels).
 *
 * Each scrape walks the stacks afresh, so jails created or destroyed since
 * the last scrape simply appear or are gone. A stack whose jail went away
 * while its values were read is dropped from the scrape rather than
 * published under a label that may now belong to another jail. A broken
 * list fails the whole collector for that scrape (KVM_VNET_WALK).
 */
import type { Config, CounterEntry, VariableEntry } from '../../config/types.js';
import { decodeCType } from '../../abi.js';
import { addSeries, headOf, type LabelColumn, type MetricSink, type Series } from '../../exposition/family.js';
import {
  HOST_JAIL,
  HOST_JID,
  ZPCPU_STRIDE,
  readZpcpuCopies,
  stackStillValid,
  walkNetworkStacks,
  type KvmSession,
  type NetworkStack,
  type VnetLayouts,
} from '../../kvm/index.js';
import { refusedHandle } from '../counters/handles.js';
import { WORDS_PER_CPU, copyAt, int32Words, planSpans, total } from '../counters/spans.js';
import { FailureList, type CollectorFactory, type EntryReport, type ScrapeContext } from '../framework/collector.js';
import { EntryCollector, resolveEntries, type Resolved } from '../framework/config-entries.js';
import { itemBytes, itemMetrics, resolveVnetCounter, resolveVnetVariable, type VnetCounter, type VnetItem } from './entries.js';

export const OTHER = 'other';
const OTHER_LABELS: readonly string[] = Object.freeze([OTHER, OTHER]);

/** The host's stack on a kernel without VIMAGE: VNET variables are globals, at their own address. */
const GLOBAL_HOST: NetworkStack = { address: 0n, dataBase: 0n, jid: HOST_JID, jail: HOST_JAIL };

/** What one item read in one stack: a value per element, and per CPU when asked. */
interface Reading {
  readonly sums: number[];
  readonly percpu?: number[][];
}

export const vnetCollector: CollectorFactory = {
  name: 'vnet',
  defaultEnabled: true,
  description: "vnet: true counters and variables from the config, read in every jail's network stack (vnet_head, allprison)",
  create({ session, config }) {
    const vimage = session.tryLookup('vnet_head') !== undefined;
    const stacks = setupStacks(session, config, vimage);
    const resolve = <E>(make: (entry: E, key: string) => VnetItem) => (entry: E, key: string): Resolved<VnetItem>[] => {
      const item = make(entry, key);
      return [{ item, report: { key, source: `${item.source} (VNET, in every network stack)`, address: item.offset, metrics: itemMetrics(item) } }];
    };
    const counters = resolveEntries(config, config.counters.filter((e) => e.vnet), resolve((e: CounterEntry, k) => resolveVnetCounter(session, e, k, vimage)));
    const variables = resolveEntries(config, config.variables.filter((e) => e.vnet), resolve((e: VariableEntry, k) => resolveVnetVariable(session, e, k, vimage)));
    const items = [...counters.items, ...variables.items];
    return new VnetCollector(session, config, vimage, {
      items,
      entries: [...counters.entries, ...variables.entries, ...stackReports(items, stacks)],
      leftOut: [...counters.leftOut, ...variables.leftOut],
    });
  },
};

/** The stacks found at setup, for `check`; a broken list shows up at the first scrape instead. */
function setupStacks(session: KvmSession, config: Config, vimage: boolean): readonly NetworkStack[] {
  if (!vimage) return [GLOBAL_HOST];
  if (config.vnets.layouts === undefined) return [];
  try {
    const walk = walkNetworkStacks(session, config.vnets.layouts, config.vnets.max);
    return walk.vimage ? walk.stacks : [GLOBAL_HOST];
  } catch {
    return [];
  }
}

/** One report per item and stack: the jail, its vnet, and where the item's copy is in it. */
function stackReports(items: readonly VnetItem[], stacks: readonly NetworkStack[]): EntryReport[] {
  return items.flatMap((item) =>
    stacks.map((stack) => ({
      key: `${item.key} jid=${stack.jid}`,
      source: `${item.source} of jail ${JSON.stringify(stack.jail)} (vnet 0x${stack.address.toString(16)})`,
      address: BigInt.asUintN(64, stack.dataBase + item.offset),
      metrics: itemMetrics(item),
    })),
  );
}

class VnetCollector extends EntryCollector<VnetItem> {
  private rows = Buffer.alloc(0);
  private readonly scratch = Buffer.alloc(8 * 1024);

  constructor(
    private readonly session: KvmSession,
    private readonly config: Config,
    private readonly vimage: boolean,
    resolved: { items: VnetItem[]; entries: EntryReport[]; leftOut: string[] },
  ) {
    super(resolved);
  }

  update(sink: MetricSink, scrape: ScrapeContext): void {
    scrape.checkDeadline();
    if (this.items.length === 0) return;
    const failures = new FailureList();
    const readings: { stack: NetworkStack; values: (Reading | undefined)[] }[] = [];
    for (const stack of this.stacks(scrape)) {
      const stackFailures: { key: string; error: unknown }[] = [];
      // Checked before each entry of each stack: the first entry's check is the stack's.
      const values = this.items.map((item) => {
        scrape.checkDeadline();
        return this.readItem(item, stack, scrape.topology.present, stackFailures);
      });
      if (stack.prison !== undefined && this.layouts && !stackStillValid(this.session, this.layouts, stack)) continue;
      for (const f of stackFailures) failures.add(`${f.key} jid=${stack.jid}`, f.error);
      readings.push({ stack, values });
    }
    this.emit(sink, readings, scrape.topology.present);
    failures.throwIfAny();
  }

  private get layouts(): VnetLayouts | undefined {
    return this.config.vnets.layouts;
  }

  /** This scrape's stacks; throws KVM_VNET_WALK on a broken list, and DeadlineError between two entries of a list. */
  private stacks(scrape: ScrapeContext): readonly NetworkStack[] {
    if (!this.vimage || this.layouts === undefined) return [GLOBAL_HOST];
    const walk = walkNetworkStacks(this.session, this.layouts, this.config.vnets.max, () => scrape.checkDeadline());
    return walk.vimage ? walk.stacks : [GLOBAL_HOST];
  }

  private readItem(item: VnetItem, stack: NetworkStack, cpus: readonly number[], failures: { key: string; error: unknown }[]): Reading | undefined {
    try {
      const at = BigInt.asUintN(64, stack.dataBase + item.offset);
      const bytes = this.scratch.subarray(0, itemBytes(item));
      this.session.read(at, bytes);
      if (item.kind === 'variable') return { sums: [decodeCType(bytes, 0, item.entry.ctype) * item.entry.scale] };
      return this.readCounters(item, bytes, cpus);
    } catch (error) {
      failures.push({ key: item.key, error });
      return undefined;
    }
  }

  /** Every handle's copies on the present CPUs, a page of handles per kvm_read_zpcpu. */
  private readCounters(item: VnetCounter, handles: Buffer, cpus: readonly number[]): Reading {
    const members = item.families.map((_, i) => ({ handle: handles.readBigUInt64LE(8 * i), index: i }));
    refuseUnallocated(item, members);
    const perCpu = item.families.some((f) => f.percpu);
    const sums = new Array<number>(members.length).fill(0);
    const percpu = perCpu ? members.map(() => new Array<number>(cpus.length).fill(0)) : undefined;
    const lastCpu = cpus[cpus.length - 1];
    for (const span of lastCpu === undefined ? [] : planSpans(members)) {
      const size = ZPCPU_STRIDE * lastCpu! + span.length;
      if (this.rows.length < size) this.rows = Buffer.allocUnsafeSlow(size);
      const words = int32Words(readZpcpuCopies(this.session, span.first, span.length, cpus, this.rows));
      for (const { counter, offset } of span.members) {
        let sum = 0;
        for (let c = 0; c < cpus.length; c++) {
          const value = copyAt(words, (offset >> 2) + cpus[c]! * WORDS_PER_CPU);
          sum += value;
          if (percpu) percpu[counter.index]![c] = value;
        }
        sums[counter.index] = total(sum, item.signed);
      }
    }
    return { sums, ...(percpu && { percpu }) };
  }


  /** One family per element: the first max_series stacks by name, the rest summed as "other". */
  private emit(sink: MetricSink, readings: readonly { stack: NetworkStack; values: (Reading | undefined)[] }[], cpus: readonly number[]): void {
    const max = this.config.vnets.maxSeries;
    this.items.forEach((item, i) => {
      const heads = item.kind === 'variable' ? [{ sum: item.family }] : item.families;
      const signed = item.kind === 'variable' || item.signed;
      heads.forEach((head, element) => {
        const present = readings.filter((r) => r.values[i] !== undefined);
        const named = present.slice(0, max);
        const rest = present.slice(max);
        const series: Series[] = named.map((r) => ({ labels: [r.stack.jid, r.stack.jail], value: r.values[i]!.sums[element]! }));
        if (rest.length > 0) series.push({ labels: OTHER_LABELS, value: total(rest.reduce((s, r) => s + r.values[i]!.sums[element]!, 0), signed) });
        addSeries(sink, head.sum, series);
        if ('percpu' in head && head.percpu) sink.add(headOf(head.percpu, ...percpuColumns(sink, named, rest, i, element, cpus)));
      });
    });
  }
}

/**
 * A stack's handles are allocated for it (VNET_PCPUSTAT_ALLOC from a
 * VNET_SYSINIT, sys/net/vnet.h) after its data area was copied from the
 * set_vnet template, whose handles are 0 (sys/net/vnet.c vnet_alloc):
 * a handle below a page is not (yet) a counter and is never read as one.
 */
function refuseUnallocated(item: VnetCounter, members: readonly { handle: bigint; index: number }[]): void {
  for (const { handle, index } of members) {
    const refused = refusedHandle(handle, `${item.families[index]!.sourceText} in this network stack`);
    if (refused) throw refused;
  }
}

/** The per-CPU family's label columns (jid, jail, cpu) and values: a run of rows per stack, then "other"'s. */
function percpuColumns(
  sink: MetricSink,
  named: readonly { stack: NetworkStack; values: (Reading | undefined)[] }[],
  rest: readonly { values: (Reading | undefined)[] }[],
  item: number,
  element: number,
  cpus: readonly number[],
): [LabelColumn[], Float64Array] {
  const stacks = rest.length > 0 ? named.length + 1 : named.length;
  const values = sink.values(stacks * cpus.length);
  const jids: string[] = [];
  const jails: string[] = [];
  const cpuColumn: string[] = [];
  const addRow = (jid: string, jail: string, c: number, value: number) => {
    values[jids.length] = value;
    jids.push(jid);
    jails.push(jail);
    cpuColumn.push(String(cpus[c]));
  };
  for (const r of named) {
    const row = r.values[item]!.percpu![element]!;
    cpus.forEach((_, c) => addRow(r.stack.jid, r.stack.jail, c, row[c]!));
  }
  if (rest.length > 0) cpus.forEach((_, c) => addRow(OTHER, OTHER, c, rest.reduce((s, r) => s + r.values[item]!.percpu![element]![c]!, 0)));
  return [[jids, jails, cpuColumn], values];
}
