/**
 * From collectors to outcome, the one path `serve`, `once` and `check` take:
 * build the enabled collectors on a kernel handle (a factory that throws
 * becomes a broken collector, reported at every scrape), then run the ones a
 * scrape asked for, each with its own success, duration and failed entries
 * (node_exporter's `execute()`), honouring the deadline.
 */
import { COLLECTORS, type Collector, type EntryReport, type ScrapeContext } from '../collectors/index.js';
import type { CollectorName, Config } from '../config/types.js';
import { DeadlineError, EntryErrors } from '../errors.js';
import { FamilyList, type MetricFamily, type MetricSink } from '../exposition/family.js';
import type { CpuTopology, KvmSession } from '../kvm/index.js';
import type { Logger } from '../log.js';

/** A collector whose factory threw: it serves nothing and fails every scrape with the factory's reason. */
export class BrokenCollector implements Collector {
  readonly entries: readonly EntryReport[] = [];
  readonly leftOut: readonly string[] = [];
  constructor(readonly reason: string) {}

  update(_sink: MetricSink, _scrape: ScrapeContext): void {
    throw new Error(this.reason);
  }
}

export interface BuiltCollectors {
  readonly collectors: ReadonlyMap<CollectorName, Collector>;
  /** Entries left out and collectors not built, one line each, for the log and the landing page. */
  readonly leftOut: readonly string[];
}

/** How collectors are built beyond config and handle: `check` asks for cross-checks (CollectorContext.crossCheck). */
export interface BuildOptions {
  readonly crossCheck: boolean;
}

/** Builds every enabled collector in registry order on `session`, each logging through its own child logger. */
export function buildCollectors(
  session: KvmSession,
  config: Config,
  enabled: ReadonlySet<CollectorName>,
  logger: Logger,
  options: BuildOptions = { crossCheck: false },
): BuiltCollectors {
  const collectors = new Map<CollectorName, Collector>();
  for (const factory of COLLECTORS) {
    if (enabled.has(factory.name)) collectors.set(factory.name, buildCollector(factory.name, session, config, logger, options));
  }
  return { collectors, leftOut: leftOutOf(collectors) };
}

export function buildCollector(
  name: CollectorName,
  session: KvmSession,
  config: Config,
  logger: Logger,
  { crossCheck }: BuildOptions = { crossCheck: false },
): Collector {
  try {
    const factory = COLLECTORS.find((c) => c.name === name)!;
    return factory.create({ session, config, logger: logger.child({ collector: name }), crossCheck });
  } catch (error) {
    return new BrokenCollector((error as Error).message);
  }
}

export function leftOutOf(collectors: ReadonlyMap<CollectorName, Collector>): string[] {
  return [...collectors].flatMap(([name, collector]) => leftOutBy(name, collector));
}

/** What a collector does not read of what it was configured to: all of it (not built), or the entries it left out. */
export function leftOutBy(name: CollectorName, collector: Collector): readonly string[] {
  return collector instanceof BrokenCollector ? [`collector ${name}: ${collector.reason}`] : collector.leftOut;
}

/** One collector's result in one scrape. */
export interface CollectorOutcome {
  readonly name: CollectorName;
  /** It read everything it was configured to read. */
  readonly success: boolean;
  readonly seconds: number;
  /** Why it did not succeed: its own failure, its failed entries, its left-out entries. */
  readonly error?: string;
  /** The entries whose read failed in this scrape. */
  readonly failedEntries: readonly { readonly key: string; readonly error: string }[];
  /** The entries it serves, as resolved against the kernel (with the reason for a left-out one). */
  readonly entries: readonly EntryReport[];
  /** The families it emitted in this scrape. */
  readonly families: readonly string[];
  /**
   * It failed only because the scrape's deadline passed: a fact about the
   * scrape's budget, not about the collector.
   */
  readonly cutOffByDeadline?: true;
}

/** What a scrape starts from: the collectors of a readable handle and the topology read now, or why there is none. */
export type ScrapeSetup =
  | { readonly ok: true; readonly topology: CpuTopology; readonly collectors: ReadonlyMap<CollectorName, Collector> }
  | { readonly ok: false; readonly error: string };

/** The kernel side of one scrape: the collectors' families and outcomes, and whether the kernel was readable. */
export interface Collection {
  readonly kernel: { readonly up: true; readonly topology: CpuTopology } | { readonly up: false; readonly error: string };
  readonly families: readonly MetricFamily[];
  readonly outcomes: readonly CollectorOutcome[];
}

/** The kernel's own error is logged and shown once (kvm_up, status); each collector only points to it. */
export const KERNEL_NOT_READABLE = 'kernel not readable (see kvm_up and the kernel error)';

export interface CollectHooks {
  /** Awaited between collectors. */
  readonly between: () => Promise<void>;
  /** Called at every deadline check (each entry, span or collector): the collection is moving. */
  readonly checkpoint?: () => void;
}

/** Runs the collectors `names` on `setup`, each with its own outcome, until `deadline()` (epoch ms; it may move later). */
export async function collect(
  setup: ScrapeSetup,
  names: readonly CollectorName[],
  deadline: () => number,
  hooks: CollectHooks,
): Promise<Collection> {
  if (!setup.ok) return { kernel: { up: false, error: setup.error }, families: [], outcomes: names.map((name) => failedOutcome(name, KERNEL_NOT_READABLE)) };
  const sink = new FamilyList();
  const outcomes: CollectorOutcome[] = [];
  const cpuLabels = setup.topology.present.map(String);
  for (const name of names) {
    const collector = setup.collectors.get(name);
    const run = { topology: setup.topology, cpuLabels };
    outcomes.push(collector === undefined ? failedOutcome(name, 'collector not built') : runCollector(name, collector, sink, run, deadline, hooks.checkpoint));
    await hooks.between();
  }
  return { kernel: { up: true, topology: setup.topology }, families: sink.families, outcomes };
}

/** An outcome for a collector that did not run at all. */
export function failedOutcome(name: CollectorName, error: string): CollectorOutcome {
  return { name, success: false, seconds: 0, error, failedEntries: [], entries: [], families: [] };
}

/** The outcome of a collector that never started because the scrape's deadline had passed. */
export function notStartedOutcome(name: CollectorName): CollectorOutcome {
  return { ...failedOutcome(name, 'scrape deadline passed before the collector started'), cutOffByDeadline: true };
}

function runCollector(
  name: CollectorName,
  collector: Collector,
  sink: FamilyList,
  run: Omit<ScrapeContext, 'checkDeadline'>,
  deadline: () => number,
  checkpoint: () => void = () => undefined,
): CollectorOutcome {
  const started = performance.now();
  const before = sink.families.length;
  const scrape: ScrapeContext = {
    ...run,
    checkDeadline: () => {
      checkpoint();
      if (Date.now() >= deadline()) throw new DeadlineError(name);
    },
  };
  let failure: unknown;
  try {
    scrape.checkDeadline();
    collector.update(sink, scrape);
  } catch (error) {
    failure = error;
  }
  const leftOut = leftOutEntries(collector);
  const error = [failure === undefined ? undefined : describe(failure), leftOut].filter(Boolean).join('; ');
  return {
    name,
    success: error === '',
    seconds: collector instanceof BrokenCollector ? 0 : (performance.now() - started) / 1000,
    ...(error !== '' && { error }),
    failedEntries: failure instanceof EntryErrors ? failure.failures.map((f) => ({ key: f.key, error: f.error.message })) : [],
    entries: collector.entries,
    families: sink.families.slice(before).map((f) => f.name),
    ...(failure instanceof DeadlineError && leftOut === undefined && { cutOffByDeadline: true as const }),
  };
}

/**
 * Config entries the collector could not resolve against this kernel (a
 * missing symbol, an unreadable handle): they were left out, so the
 * collector did not read everything it was configured to read.
 */
function leftOutEntries(collector: Collector): string | undefined {
  const { leftOut } = collector;
  return leftOut.length === 0 ? undefined : `config entries left out: ${leftOut.join('; ')}`;
}

function describe(error: unknown): string {
  if (error instanceof DeadlineError) return 'scrape deadline passed before the collector finished';
  return error instanceof Error ? error.message : String(error);
}
