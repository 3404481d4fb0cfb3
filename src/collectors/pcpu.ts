/**
 * Fields of `struct pcpu` from the config (e.g. `pc_cp_time[CPUSTATES]`),
 * per present CPU. One kvm_getpcpu per CPU per scrape serves every entry.
 * A `divide_by` variable (such as `stathz`, to turn statclock ticks into
 * seconds) is read once, when the collector is created: it is fixed at boot.
 */
import { CTYPE_BYTES, PCPU_SIZE, decodeCType } from '../abi.js';
import type { PcpuEntry } from '../config/types.js';
import { headOf, type LabelColumn, type MetricSink } from '../exposition/family.js';
import { getPcpu, type KvmSession } from '../kvm/index.js';
import { FailureList, type CollectorFactory, type ScrapeContext } from './framework/collector.js';
import { EntryCollector, resolveEntries, type ResolvedEntries } from './framework/config-entries.js';

interface PcpuField {
  readonly entry: PcpuEntry;
  /** Every value is divided by this: divide_by's value, or 1. */
  readonly divisor: number;
}

export const pcpuCollector: CollectorFactory = {
  name: 'pcpu',
  defaultEnabled: true,
  description: 'struct pcpu fields from the config, per CPU (kvm_getpcpu)',
  create({ session, config }) {
    const resolved = resolveEntries(config, config.pcpu, (entry, key) => {
      const item = { entry, divisor: divisor(session, entry) };
      return [{ item, report: { key, source: entry.sourceText, address: BigInt(entry.offset), metrics: [entry.family.name] } }];
    });
    return new PcpuCollector(session, resolved);
  },
};

function divisor(session: KvmSession, entry: PcpuEntry): number {
  if (!entry.divideBy) return 1;
  const value = session.readI32(session.lookup(entry.divideBy).address);
  if (value <= 0) throw new Error(`divide_by variable ${entry.divideBy} is ${value}; expected a positive int`);
  return value;
}

class PcpuCollector extends EntryCollector<PcpuField> {
  constructor(
    private readonly session: KvmSession,
    resolved: ResolvedEntries<PcpuField>,
  ) {
    super(resolved);
  }

  update(sink: MetricSink, scrape: ScrapeContext): void {
    if (this.items.length === 0) return;
    const failures = new FailureList();
    const copies = this.readAll(scrape, failures);
    // Every CPU read: the scrape's shared cpu column; otherwise the CPUs that were.
    const cpuColumn = copies.length === scrape.cpuLabels.length ? scrape.cpuLabels : copies.map(({ cpu }) => String(cpu));
    for (const field of this.items) sink.add(fieldFamily(sink, field, copies, cpuColumn));
    failures.throwIfAny();
  }

  /** One struct pcpu copy per present CPU; a CPU whose read fails is left out and reported. */
  private readAll(scrape: ScrapeContext, failures: FailureList): { cpu: number; pcpu: Buffer }[] {
    const copies: { cpu: number; pcpu: Buffer }[] = [];
    for (const cpu of scrape.topology.present) {
      scrape.checkDeadline();
      try {
        const pcpu = getPcpu(this.session, cpu);
        if (pcpu) copies.push({ cpu, pcpu });
        else failures.add(`struct pcpu of CPU ${cpu}`, staleCpuTable(cpu));
      } catch (error) {
        failures.add(`struct pcpu of CPU ${cpu}`, error);
      }
    }
    return copies;
  }
}

/**
 * kvm_getpcpu answers from libkvm's process-wide copy of cpuid_to_pcpu[],
 * taken once (lib/libkvm/kvm_pcpu.c): a CPU that came up after that copy is
 * NULL there although the kernel lists it. Leaving it out silently would
 * pass for a complete scrape.
 */
function staleCpuTable(cpu: number): Error {
  return new Error(
    `kvm_getpcpu(kd, ${cpu}) returned NULL for a CPU the kernel's cpuid_to_pcpu lists: libkvm's process-wide ` +
      'copy of cpuid_to_pcpu (lib/libkvm/kvm_pcpu.c) predates this CPU; restart the exporter to read it',
  );
}

/** One series per CPU, or per CPU and element for an array field (labelled cpu and the element). */
function fieldFamily(sink: MetricSink, field: PcpuField, copies: readonly { pcpu: Buffer }[], cpuColumn: LabelColumn) {
  const { entry, divisor } = field;
  const width = CTYPE_BYTES[entry.ctype];
  const elements = Math.min(entry.count, Math.floor((PCPU_SIZE - entry.offset) / width));
  const values = sink.values(copies.length * elements);
  copies.forEach(({ pcpu }, c) => {
    for (let i = 0; i < elements; i++) {
      // Divided, not multiplied by 1/divisor: ticks / stathz is then the exactly rounded number of seconds.
      values[c * elements + i] = (decodeCType(pcpu, entry.offset + i * width, entry.ctype) * entry.scale) / divisor;
    }
  });
  if (entry.count === 1) return headOf(entry.family, [cpuColumn], values);
  const cpus = Array.from(values, (_, row) => cpuColumn[Math.floor(row / elements)]!);
  const names = Array.from({ length: elements }, (_, i) => entry.elementLabel?.values[i] ?? String(i));
  return headOf(entry.family, [cpus, Array.from(values, (_, row) => names[row % elements]!)], values);
}
