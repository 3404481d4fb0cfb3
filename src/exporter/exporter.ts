/**
 * One scrape from request to outcome: pick the collectors, collect them on
 * the kernel connection, remember each collector's outcome (logging only
 * changes of state), and add the exporter's own metrics and the per-collector
 * success and duration families.
 *
 * Scrapes are serialised on the kernel handle (libkvm handles are not
 * thread-safe and DPCPU reads change the handle's selected CPU), and
 * overlapping scrapes of the same collectors share one collection.
 * The event loop is yielded between collectors so health checks and the
 * landing page stay answerable during a long scrape.
 */
import { COLLECTORS } from '../collectors/index.js';
import type { CollectorName, Config } from '../config/types.js';
import { UnknownCollectorError } from '../errors.js';
import type { MetricFamily } from '../exposition/family.js';
import type { Logger } from '../log.js';
import { collect, type Collection, type CollectorOutcome } from './collection.js';
import { KernelConnection, type Backoff, type SessionOpener } from './kernel-connection.js';
import type { CollectorStatus, ExporterStatus, ScrapeRequest, ScrapeSource } from './scrape-source.js';

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

/** A scrape's families as served, and the collection they came from (for `once` and `check`). */
export interface ScrapeResult {
  readonly families: MetricFamily[];
  readonly collection: Collection;
}

export class Exporter implements ScrapeSource {
  private kernel: KernelConnection;
  private config: Config;
  private enabled: ReadonlySet<CollectorName>;
  private readonly outcomes = new Map<CollectorName, CollectorOutcome>();
  /** The tail of the queue of scrapes: each waits for the one before. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly inflight = new Map<string, Promise<ScrapeResult>>();

  constructor(private readonly options: ExporterOptions) {
    this.config = options.config;
    this.enabled = options.enabled;
    this.kernel = this.openKernel();
  }

  async scrape(request: ScrapeRequest): Promise<MetricFamily[]> {
    return (await this.collect(request)).families;
  }

  /** One scrape with the outcome of each collector, for callers that judge it (`once`, `check`). */
  collect(request: ScrapeRequest): Promise<ScrapeResult> {
    let names: CollectorName[];
    try {
      names = this.select(request);
    } catch (error) {
      return Promise.reject(error);
    }
    const key = names.join(',');
    const shared = this.inflight.get(key);
    if (shared) return shared;
    const run = this.queue.then(() => this.run(names, request.deadline));
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
      configProblems: this.kernel.problems,
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

  private openKernel(): KernelConnection {
    const { logger, opener, backoff } = this.options;
    return new KernelConnection(this.config, this.enabled, logger, opener, backoff);
  }

  private select({ collect, exclude }: ScrapeRequest): CollectorName[] {
    const enabled = COLLECTORS.map((c) => c.name).filter((name) => this.enabled.has(name));
    for (const name of [...(collect ?? []), ...(exclude ?? [])]) {
      if (!COLLECTORS.some((c) => c.name === name)) throw new UnknownCollectorError(name, 'unknown', enabled);
      if (!this.enabled.has(name as CollectorName)) throw new UnknownCollectorError(name, 'disabled', enabled);
    }
    return enabled.filter((name) => (!collect?.length || collect.includes(name)) && !exclude?.includes(name));
  }

  private async run(names: readonly CollectorName[], deadline: number | undefined): Promise<ScrapeResult> {
    const collection = await collect(this.kernel.prepareScrape(), names, deadline, yieldToEventLoop);
    this.record(collection.outcomes);
    const self = (await this.options.selfMetrics?.()) ?? [];
    return { families: [...collection.families, ...scrapeFamilies(collection), ...self], collection };
  }

  /** Remembers each outcome and logs only when a collector's state changes. */
  private record(outcomes: readonly CollectorOutcome[]): void {
    for (const outcome of outcomes) {
      const name = outcome.name;
      const before = this.outcomes.get(name);
      this.outcomes.set(name, outcome);
      if (before?.error === outcome.error) continue;
      const log = this.options.logger.child({ collector: name });
      if (outcome.success) log.info('collector recovered', { duration_seconds: outcome.seconds });
      else log.error('collector failed', { err: outcome.error, duration_seconds: outcome.seconds });
    }
  }
}

function scrapeFamilies({ outcomes, kernel }: Collection): MetricFamily[] {
  const perCollector = (pick: (o: CollectorOutcome) => number) => outcomes.map((o) => ({ labels: [o.name], value: pick(o) }));
  return [
    {
      name: 'kvm_scrape_collector_duration_seconds',
      help: 'Time a collector took in this scrape',
      type: 'gauge',
      labelNames: ['collector'],
      series: perCollector((o) => o.seconds),
    },
    {
      name: 'kvm_scrape_collector_success',
      help: 'Whether a collector read everything it was configured to read (1) or something failed (0)',
      type: 'gauge',
      labelNames: ['collector'],
      series: perCollector((o) => (o.success ? 1 : 0)),
    },
    {
      name: 'kvm_up',
      help: 'Whether the kernel handle is open and its CPU topology could be read in this scrape',
      type: 'gauge',
      labelNames: [],
      series: [{ labels: [], value: kernel.up ? 1 : 0 }],
    },
  ];
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
