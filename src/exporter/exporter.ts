/**
 * One scrape from start to end: pick the collectors, read the topology, run
 * each collector with its own success and duration (node_exporter's
 * `execute()`), honour the deadline, and add the exporter's own metrics.
 *
 * Scrapes are serialised on the kernel handle (libkvm handles are not
 * thread-safe and DPCPU reads change the handle's selected CPU), and
 * overlapping scrapes of the same collectors share one collection.
 * The event loop is yielded between collectors so health checks and the
 * landing page stay answerable during a long scrape.
 */
import { COLLECTORS, type Collector, type Scrape } from '../collectors/index.js';
import type { CollectorName, Config } from '../config/types.js';
import { DeadlineError, UnknownCollectorError } from '../errors.js';
import { SCRAPE_METRICS } from '../exposition/builtin-metrics.js';
import { FamilyList, type MetricFamily } from '../exposition/family.js';
import type { CpuTopology } from '../kvm/index.js';
import type { Logger } from '../log.js';
import { Kernel, type Backoff, type SessionOpener } from './kernel.js';
import type { CollectorStatus, ExporterStatus, ScrapeRequest, ScrapeSource } from './types.js';

export interface ExporterOptions {
  readonly config: Config;
  /** Collectors to run, after config and flags are combined. */
  readonly enabled: ReadonlySet<CollectorName>;
  readonly logger: Logger;
  /** The exporter's own metrics (process, build info), added to every scrape. */
  readonly selfMetrics?: () => Promise<readonly MetricFamily[]>;
  readonly opener?: SessionOpener;
  readonly backoff?: Backoff;
}

interface Outcome {
  readonly success: boolean;
  readonly seconds: number;
  readonly error?: string;
}

export class Exporter implements ScrapeSource {
  private kernel: Kernel;
  private config: Config;
  private enabled: ReadonlySet<CollectorName>;
  private readonly outcomes = new Map<CollectorName, Outcome>();
  /** The tail of the queue of scrapes: each waits for the one before. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly inflight = new Map<string, Promise<MetricFamily[]>>();

  constructor(private readonly options: ExporterOptions) {
    this.config = options.config;
    this.enabled = options.enabled;
    this.kernel = this.openKernel();
  }

  scrape(request: ScrapeRequest): Promise<MetricFamily[]> {
    let names: CollectorName[];
    try {
      names = this.select(request);
    } catch (error) {
      return Promise.reject(error);
    }
    const key = names.join(',');
    const shared = this.inflight.get(key);
    if (shared) return shared;
    const run = this.queue.then(() => this.collect(names, request.deadline));
    const settled = run.finally(() => this.inflight.delete(key));
    this.inflight.set(key, settled);
    this.queue = settled.catch(() => undefined);
    return settled;
  }

  status(): ExporterStatus {
    const collectors: CollectorStatus[] = COLLECTORS.map(({ name }) => {
      const outcome = this.outcomes.get(name);
      return {
        name,
        enabled: this.enabled.has(name),
        ...(outcome && { lastSuccess: outcome.success }),
        ...(outcome?.error !== undefined && { lastError: outcome.error }),
      };
    });
    const error = this.kernel.error;
    return {
      configFile: this.config.file,
      kernelUp: error === undefined,
      ...(error !== undefined && { kernelError: error }),
      collectors,
      leftOut: this.kernel.leftOut,
    };
  }

  /** Swaps in a new config (SIGHUP): the kernel is reopened and collectors rebuilt, after queued scrapes. */
  async reload(config: Config, enabled: ReadonlySet<CollectorName>): Promise<void> {
    const swap = this.queue.then(() => {
      this.kernel.close();
      this.config = config;
      this.enabled = enabled;
      this.outcomes.clear();
      this.kernel = this.openKernel();
    });
    this.queue = swap.catch(() => undefined);
    await swap;
  }

  /** Closes the kernel handle once queued scrapes are done. */
  async close(): Promise<void> {
    await this.queue;
    this.kernel.close();
  }

  private openKernel(): Kernel {
    const { logger, opener, backoff } = this.options;
    return new Kernel(this.config, this.enabled, logger, opener, backoff);
  }

  private select({ collect, exclude }: ScrapeRequest): CollectorName[] {
    const enabled = COLLECTORS.map((c) => c.name).filter((name) => this.enabled.has(name));
    for (const name of [...(collect ?? []), ...(exclude ?? [])]) {
      if (!COLLECTORS.some((c) => c.name === name)) throw new UnknownCollectorError(name, 'unknown', enabled);
      if (!this.enabled.has(name as CollectorName)) throw new UnknownCollectorError(name, 'disabled', enabled);
    }
    return enabled.filter((name) => (!collect?.length || collect.includes(name)) && !exclude?.includes(name));
  }

  private async collect(names: readonly CollectorName[], deadline: number | undefined): Promise<MetricFamily[]> {
    const sink = new FamilyList();
    const kernel = this.kernel.snapshot();
    const outcomes = new Map<CollectorName, Outcome>();
    for (const name of names) {
      const collector = kernel.ok ? kernel.collectors.get(name) : undefined;
      if (!kernel.ok || collector === undefined) {
        // The kernel's own error is logged and shown once (kvm_up, status); each collector only points to it.
        outcomes.set(name, { success: false, seconds: 0, error: kernel.ok ? 'collector not built' : 'kernel not readable (see kvm_up and the kernel error)' });
      } else {
        outcomes.set(name, runCollector(name, collector, sink, kernel.topology, deadline));
        await yieldToEventLoop();
      }
    }
    this.record(outcomes);
    const self = (await this.options.selfMetrics?.()) ?? [];
    return [...sink.families, ...scrapeFamilies(outcomes, kernel.ok), ...self];
  }

  /** Remembers each outcome and logs only when a collector's state changes. */
  private record(outcomes: ReadonlyMap<CollectorName, Outcome>): void {
    for (const [name, outcome] of outcomes) {
      const before = this.outcomes.get(name);
      this.outcomes.set(name, outcome);
      if (before?.error === outcome.error) continue;
      const log = this.options.logger.child({ collector: name });
      if (outcome.success) log.info('collector recovered', { duration_seconds: outcome.seconds });
      else log.error('collector failed', { err: outcome.error, duration_seconds: outcome.seconds });
    }
  }
}

function runCollector(
  name: CollectorName,
  collector: Collector | Error,
  sink: FamilyList,
  topology: CpuTopology,
  deadline?: number,
): Outcome {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  if (collector instanceof Error) return { success: false, seconds: 0, error: collector.message };
  const scrape: Scrape = {
    topology,
    checkDeadline: () => {
      if (deadline !== undefined && Date.now() >= deadline) throw new DeadlineError(name);
    },
  };
  const leftOut = leftOutEntries(collector);
  try {
    scrape.checkDeadline();
    collector.update(sink, scrape);
    return leftOut === undefined ? { success: true, seconds: seconds() } : { success: false, seconds: seconds(), error: leftOut };
  } catch (error) {
    return { success: false, seconds: seconds(), error: [describe(error), leftOut].filter(Boolean).join('; ') };
  }
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

function scrapeFamilies(outcomes: ReadonlyMap<CollectorName, Outcome>, kernelUp: boolean): MetricFamily[] {
  const perCollector = (pick: (o: Outcome) => number) =>
    [...outcomes].map(([name, outcome]) => ({ labels: [name], value: pick(outcome) }));
  return [
    { ...SCRAPE_METRICS.duration, series: perCollector((o) => o.seconds) },
    { ...SCRAPE_METRICS.success, series: perCollector((o) => (o.success ? 1 : 0)) },
    { ...SCRAPE_METRICS.up, series: [{ labels: [], value: kernelUp ? 1 : 0 }] },
  ];
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
