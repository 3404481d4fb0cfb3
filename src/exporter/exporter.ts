/**
 * One scrape from request to outcome: pick the collectors, have the kernel
 * thread collect them, remember each collector's outcome (logging only
 * changes of state), and add the exporter's own metrics and the
 * per-collector success and duration families.
 *
 * Every libkvm call runs on the kernel thread (kernel-thread.ts), so this
 * thread, which serves HTTP, health and signals, never waits for the kernel.
 * Scrapes and reloads are serialised in one queue (a libkvm handle is not
 * thread-safe, and a reload never lands inside a scrape). A scrape that asks
 * for the same collectors as one in flight (or queued) joins it, and its
 * deadline becomes the later of the two: no client's deadline shortens
 * another's scrape, and a client with a short deadline gets its answer by
 * its own deadline.
 */
import { COLLECTORS } from '../collectors/index.js';
import type { CollectorName, Config } from '../config/types.js';
import { UnknownCollectorError } from '../errors.js';
import { SCRAPE_METRICS } from '../exposition/builtin-metrics.js';
import { familyOf, type MetricFamily } from '../exposition/family.js';
import type { Logger } from '../log.js';
import { notStartedOutcome, type Collection, type CollectorOutcome } from './collection.js';
import type { Backoff } from './kernel-connection.js';
import { KernelThread, kernelDown } from './kernel-thread.js';
import type { CollectorStatus, ExporterStatus, ScrapeRequest, ScrapeSource } from './scrape-source.js';

export interface ExporterOptions {
  readonly config: Config;
  /** Collectors to run, after config and flags are combined. */
  readonly enabled: ReadonlySet<CollectorName>;
  readonly logger: Logger;
  /** The exporter's own metrics (process, build info), added to every scrape. */
  readonly selfMetrics?: () => Promise<readonly MetricFamily[]>;
  readonly backoff?: Backoff;
  /** How long a kernel read may make no progress before its thread is abandoned (kernel-thread.ts, STUCK_AFTER_MS). */
  readonly stuckAfterMs?: number;
  /** `check`: collectors cross-check their reads against libkvm's own when built (EntryReport.crossCheck). */
  readonly crossCheck?: boolean;
}

/** A scrape's families as served, and the collection they came from (for `once` and `check`). */
export interface ScrapeResult {
  readonly families: MetricFamily[];
  readonly collection: Collection;
}

/** How long after its deadline a scrape answers without the kernel thread: time to render and send. */
const LATE_ANSWER_MS = 100;
/** How long close() waits for queued scrapes and the kernel thread, together. */
const CLOSE_WAIT_MS = 5_000;
/** How long the kernel thread has to close the handle and end: milliseconds, unless a read hangs. */
const KERNEL_CLOSE_MS = 1_000;

/** A collection queued or running, which identical scrapes join. */
interface InFlight {
  /** Epoch ms (Infinity: none), shared with the kernel thread: a later request joining raises it. */
  readonly deadline: Float64Array;
  readonly collected: Promise<Collection>;
}

export class Exporter implements ScrapeSource {
  private readonly kernel: KernelThread;
  private config: Config;
  private enabled: ReadonlySet<CollectorName>;
  private readonly outcomes = new Map<CollectorName, CollectorOutcome>();
  /** The tail of the queue of kernel work: each waits for the one before. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly inflight = new Map<string, InFlight>();
  /** The last recorded scrape had collectors cut off by its deadline. */
  private missingDeadlines = false;
  /** Set while the last scrape was answered without the kernel thread, which was still reading. */
  private late: string | undefined;

  constructor(private readonly options: ExporterOptions) {
    this.config = options.config;
    this.enabled = options.enabled;
    const { config, enabled, logger, backoff, stuckAfterMs, crossCheck } = options;
    this.kernel = new KernelThread({
      config,
      enabled,
      logger,
      ...(backoff && { backoff }),
      ...(stuckAfterMs !== undefined && { stuckAfterMs }),
      ...(crossCheck && { crossCheck }),
    });
  }

  /** Resolves once the kernel has been opened (or failed to open) the first time: drop privileges after this. */
  opened(): Promise<void> {
    return this.kernel.opened();
  }

  /** A kernel thread is blocked in a read: the process must end with exitNow. */
  get holdsStuckThread(): boolean {
    return this.kernel.holdsStuckThread;
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
    const own = request.deadline ?? Infinity;
    const shared = this.inflight.get(key);
    // Joining may only lengthen the collection's deadline, never shorten this request's.
    if (shared) shared.deadline[0] = Math.max(shared.deadline[0]!, own);
    const flight = shared ?? this.enqueue(key, names, own);
    const answered = own === Infinity ? flight.collected : this.byDeadline(flight, names, own);
    return answered.then((collection) => this.answer(collection));
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
    const state = this.kernel.kernelState;
    const error = this.late ?? state.error;
    return {
      configFile: this.config.file,
      kernelUp: error === undefined,
      ...(error !== undefined && { kernelError: error }),
      collectors,
      leftOut: state.leftOut,
    };
  }

  /**
   * Swaps in a new config (SIGHUP) after queued scrapes: the kernel is
   * reopened and collectors rebuilt. Returns why it was refused (its libkvm
   * cannot be loaded; the running config is kept), or undefined.
   */
  async reload(config: Config, enabled: ReadonlySet<CollectorName>): Promise<string | undefined> {
    const swap = this.queue.then(async () => {
      const refused = await this.kernel.reload(config, enabled);
      if (refused !== undefined) return refused;
      this.config = config;
      this.enabled = enabled;
      this.outcomes.clear();
      return undefined;
    });
    this.queue = swap.catch(() => undefined);
    return swap;
  }

  /**
   * Closes the kernel handle once queued scrapes are done, all within about
   * `waitMs`: the queue gets what the kernel thread does not need to close
   * the handle (KERNEL_CLOSE_MS, or a third of a shorter wait), and the
   * kernel thread what the queue left.
   */
  async close(waitMs = CLOSE_WAIT_MS): Promise<void> {
    const until = Date.now() + waitMs;
    const closeMs = Math.min(KERNEL_CLOSE_MS, waitMs / 3);
    await Promise.race([this.queue, delay(waitMs - closeMs)]);
    await this.kernel.close(Math.max(closeMs, until - Date.now()));
  }

  /**
   * Queues a collection. The queue waits for the kernel thread's answer; the
   * scrape itself answers by its deadline even if the kernel thread has not.
   */
  /** Queues a collection, recorded once when the kernel thread answers. */
  private enqueue(key: string, names: readonly CollectorName[], own: number): InFlight {
    const deadline = new Float64Array(new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT));
    deadline[0] = own;
    const collected = this.queue.then(() => this.collectOnKernel(names, deadline)).then((collection) => {
      this.record(collection.outcomes);
      return collection;
    });
    const flight = { deadline, collected };
    this.inflight.set(key, flight);
    this.queue = collected.catch(() => undefined).finally(() => this.inflight.get(key) === flight && this.inflight.delete(key));
    return flight;
  }

  /** A scrape whose deadline passed while it was queued does not bother the kernel. */
  private async collectOnKernel(names: readonly CollectorName[], deadline: Float64Array): Promise<Collection> {
    if (Date.now() >= deadline[0]!) return deadlinePassed(names);
    const collection = await this.kernel.collect(names, deadline);
    this.late = undefined;
    return collection;
  }

  /**
   * The collection, or, shortly after this request's deadline, an answer
   * without it: the collectors cut off if a later request lengthened the
   * collection's deadline, kvm_up 0 if the kernel thread is simply late.
   */
  private byDeadline({ deadline, collected }: InFlight, names: readonly CollectorName[], own: number): Promise<Collection> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (deadline[0]! > own) {
          resolve(deadlinePassed(names));
          return;
        }
        this.late = 'the kernel did not answer by the scrape deadline: a kernel read is taking longer than the scrape allows';
        resolve(kernelDown(names, this.late));
      }, Math.max(0, own + LATE_ANSWER_MS - Date.now()));
      collected.then(
        (answer) => {
          clearTimeout(timer);
          resolve(answer);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  private async answer(collection: Collection): Promise<ScrapeResult> {
    const self = (await this.options.selfMetrics?.()) ?? [];
    return { families: [...collection.families, ...scrapeFamilies(collection), ...self], collection };
  }


  private select({ collect, exclude }: ScrapeRequest): CollectorName[] {
    const enabled = COLLECTORS.map((c) => c.name).filter((name) => this.enabled.has(name));
    for (const name of [...(collect ?? []), ...(exclude ?? [])]) {
      if (!COLLECTORS.some((c) => c.name === name)) throw new UnknownCollectorError(name, 'unknown', enabled);
      if (!this.enabled.has(name as CollectorName)) throw new UnknownCollectorError(name, 'disabled', enabled);
    }
    return enabled.filter((name) => (!collect?.length || collect.includes(name)) && !exclude?.includes(name));
  }

  /** Remembers each outcome and logs only when a collector's state changes. */
  /**
   * A collector cut off by the scrape's deadline says nothing about the
   * collector: a client asking for a tiny timeout must not flip every
   * collector's state (and the log) at each request. Deadline misses are one
   * state of their own, logged once when scrapes start missing it and once
   * when they stop.
   */
  private record(outcomes: readonly CollectorOutcome[]): void {
    const cutOff = outcomes.filter((o) => o.cutOffByDeadline).map((o) => o.name);
    if (cutOff.length > 0 && !this.missingDeadlines) {
      this.options.logger.warn('scrape deadline passed before every collector finished', { collectors: cutOff.join(',') });
    } else if (cutOff.length === 0 && this.missingDeadlines) {
      this.options.logger.info('scrapes finish within their deadline again');
    }
    this.missingDeadlines = cutOff.length > 0;
    for (const outcome of outcomes.filter((o) => !o.cutOffByDeadline)) {
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
    familyOf(SCRAPE_METRICS.duration, perCollector((o) => o.seconds)),
    familyOf(SCRAPE_METRICS.success, perCollector((o) => (o.success ? 1 : 0))),
    familyOf(SCRAPE_METRICS.up, [{ labels: [], value: kernel.up ? 1 : 0 }]),
  ];
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref());
}

function deadlinePassed(names: readonly CollectorName[]): Collection {
  return {
    kernel: { up: false, error: 'the scrape deadline passed before the kernel could be read' },
    families: [],
    outcomes: names.map(notStartedOutcome),
  };
}
