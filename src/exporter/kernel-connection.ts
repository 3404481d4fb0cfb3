/**
 * The kernel handle and the collectors built on it, kept together because a
 * collector's resolved symbols and handles are only valid for the handle
 * that resolved them. When the handle breaks (open fails, the topology can
 * no longer be read) it is closed and reopened with exponential backoff, and
 * the collectors are rebuilt on the new one. The delay keeps growing while
 * reopened handles break again before reading a topology, and goes back to
 * the initial delay once one reads it.
 *
 * Logging follows changes of state, not attempts: a failure is logged at
 * error level when it first happens or its text changes, retries that fail
 * the same way at debug level, and the recovery once at info level.
 */
import type { Collector } from '../collectors/index.js';
import type { CollectorName, Config } from '../config/types.js';
import { buildCollector, buildCollectors, leftOutBy, leftOutOf, type BuildOptions, type ScrapeSetup } from './collection.js';
import { KvmSession, refreshPcpuCache, readTopology, type CpuTopology, type OpenOptions } from '../kvm/index.js';
import type { Logger } from '../log.js';

export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 1_000, maxMs: 60_000 };

export type SessionOpener = (options: OpenOptions) => KvmSession;

export interface ConnectionOptions {
  readonly opener?: SessionOpener;
  readonly backoff?: Backoff;
  readonly now?: () => number;
  /** `check`: collectors cross-check their reads against libkvm's own at every build (CollectorContext.crossCheck). */
  readonly crossCheck?: boolean;
}

interface Open {
  readonly state: 'open';
  readonly session: KvmSession;
  readonly collectors: ReadonlyMap<CollectorName, Collector>;
  readonly leftOut: readonly string[];
  /** The backoff delay if this handle breaks: the initial one once it has read a topology. */
  readonly delayMs: number;
  /** The present CPU ids of the last topology read, to notice a CPU leaving or coming back. */
  readonly present?: readonly number[];
  /** When the collectors with left-out entries are next rebuilt, and the delay after that. */
  readonly retryEntries: { readonly at: number; readonly delayMs: number };
}

interface Broken {
  readonly state: 'broken';
  readonly error: string;
  readonly retryAt: number;
  readonly delayMs: number;
}

type Topology = { readonly ok: true; readonly topology: CpuTopology } | { readonly ok: false; readonly error: string };

export class KernelConnection {
  private current: Open | Broken;
  /** The failure last logged at error level; undefined while the kernel is readable. */
  private reported: string | undefined;
  /** The left-out entries last logged, so a reopen does not repeat them. */
  private reportedLeftOut = '';

  private readonly opener: SessionOpener;
  private readonly backoff: Backoff;
  private readonly now: () => number;
  private readonly build: BuildOptions;

  constructor(
    private readonly config: Config,
    private readonly enabled: ReadonlySet<CollectorName>,
    private readonly logger: Logger,
    options: ConnectionOptions = {},
  ) {
    this.opener = options.opener ?? KvmSession.open;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.now = options.now ?? Date.now;
    this.build = { crossCheck: options.crossCheck ?? false };
    this.current = this.open(this.backoff.initialMs);
  }

  get error(): string | undefined {
    return this.current.state === 'broken' ? this.current.error : undefined;
  }

  get leftOut(): readonly string[] {
    return this.current.state === 'open' ? this.current.leftOut : [];
  }

  /**
   * What a scrape needs: the collectors of a readable handle and the CPU
   * topology read now. Reopens a broken handle when the backoff allows; a
   * failed topology read marks the handle broken.
   */
  prepareScrape(): ScrapeSetup {
    if (this.current.state === 'broken' && this.now() >= this.current.retryAt) {
      this.current = this.open(Math.min(this.current.delayMs * 2, this.backoff.maxMs));
    }
    const topology = this.readTopology();
    if (!topology.ok || this.current.state !== 'open') return { ok: false, error: topology.ok ? (this.error ?? '') : topology.error };
    if (this.current.leftOut.length > 0 && this.now() >= this.current.retryEntries.at) this.retryLeftOut(this.current);
    return { ok: true, topology: topology.topology, collectors: this.current.collectors };
  }

  /**
   * Rebuilds the collectors that left entries out or could not be built: a
   * read that failed while they were built (a transient fault during a
   * reopen) may succeed now. Retried with the same backoff as the handle,
   * so an entry that stays unresolvable (a symbol this kernel lacks) costs
   * one rebuild per maximum delay; the log changes only when the left-out entries do.
   */
  private retryLeftOut(open: Open): void {
    const collectors = new Map(open.collectors);
    for (const [name, collector] of open.collectors) {
      if (leftOutBy(name, collector).length > 0) collectors.set(name, buildCollector(name, open.session, this.config, this.logger, this.build));
    }
    const leftOut = leftOutOf(collectors);
    this.reportLeftOut(leftOut);
    const delayMs = Math.min(open.retryEntries.delayMs * 2, this.backoff.maxMs);
    this.current = { ...open, collectors, leftOut, retryEntries: { at: this.now() + open.retryEntries.delayMs, delayMs } };
  }

  private readTopology(): Topology {
    if (this.current.state !== 'open') return { ok: false, error: this.current.error };
    const open = this.current;
    let topology: CpuTopology;
    try {
      topology = readTopology(open.session);
    } catch (error) {
      // The bare libkvm failure, as a reopen that meets the same fault reports it: one state, one text.
      const message = (error as Error).message;
      this.report('kernel handle broken; closing it and reopening with backoff', message, open.delayMs);
      open.session.close();
      this.current = this.broken(message, open.delayMs);
      return { ok: false, error: message };
    }
    if (open.present !== undefined && !sameCpus(open.present, topology.present)) return this.reopenForCpus(open, topology);
    this.current = { ...open, delayMs: this.backoff.initialMs, present: topology.present };
    if (this.reported !== undefined) {
      this.logger.info('kernel readable again', { corefile: this.config.kvm.corefile, was: this.reported });
      this.reported = undefined;
    }
    return { ok: true, topology };
  }

  /**
   * A CPU left or came back. libkvm caches the CPU table process-wide and the
   * DPCPU offsets per handle, and reads neither again, so the handle is
   * reopened (which refreshes both) and the collectors are rebuilt on it.
   */
  private reopenForCpus(open: Open, topology: CpuTopology): Topology {
    this.logger.info('CPUs changed; reopening the kernel handle', { was: open.present!.join(','), now: topology.present.join(',') });
    open.session.close();
    this.current = this.open(this.backoff.initialMs);
    if (this.current.state !== 'open') return { ok: false, error: this.current.error };
    this.current = { ...this.current, present: topology.present };
    return this.readTopology();
  }

  close(): void {
    if (this.current.state !== 'open') return;
    this.current.session.close();
    this.logger.info('kernel handle closed', { corefile: this.config.kvm.corefile });
  }

  private open(nextDelayMs: number): Open | Broken {
    const { library, execfile, corefile } = this.config.kvm;
    let session: KvmSession;
    try {
      session = this.opener({ library, execfile, corefile });
    } catch (error) {
      const message = (error as Error).message;
      this.report('cannot open the kernel', message, nextDelayMs);
      return this.broken(message, nextDelayMs);
    }
    try {
      refreshPcpuCache(session);
    } catch (error) {
      session.close();
      const message = (error as Error).message;
      this.report('cannot read the kernel through libkvm', message, nextDelayMs);
      return this.broken(message, nextDelayMs);
    }
    const { collectors, leftOut } = buildCollectors(session, this.config, this.enabled, this.logger, this.build);
    this.reportLeftOut(leftOut);
    const opened = { corefile, execfile: execfile ?? 'running kernel', collectors: [...collectors.keys()].join(',') };
    // While a failure stands, a reopen is one more attempt; readTopology logs the recovery.
    if (this.reported === undefined) this.logger.info('kernel opened', opened);
    else this.logger.debug('kernel reopened', opened);
    const retryEntries = { at: this.now() + this.backoff.initialMs, delayMs: this.backoff.initialMs * 2 };
    return { state: 'open', session, collectors, leftOut, delayMs: nextDelayMs, retryEntries };
  }

  /**
   * Logs a broken kernel once per change of state: at error level when it
   * breaks or its reason changes (a retry can meet the same fault through
   * another libkvm call, or a new one), at debug level for each retry that
   * meets the same reason.
   */
  private report(msg: string, error: string, retryInMs: number): void {
    if (error === this.reported) {
      this.logger.debug(`${msg} (unchanged)`, { err: error, retry_in_ms: retryInMs });
      return;
    }
    this.logger.error(msg, { err: error, retry_in_ms: retryInMs });
    this.reported = error;
  }

  private reportLeftOut(leftOut: readonly string[]): void {
    const key = leftOut.join('\n');
    if (key === this.reportedLeftOut) return;
    const before = this.reportedLeftOut === '' ? [] : this.reportedLeftOut.split('\n');
    for (const problem of leftOut.filter((p) => !before.includes(p))) this.logger.warn('config entry left out', { problem });
    for (const problem of before.filter((p) => !leftOut.includes(p))) this.logger.info('config entry resolved', { was: problem });
    this.reportedLeftOut = key;
  }

  private broken(error: string, delayMs: number): Broken {
    return { state: 'broken', error, retryAt: this.now() + delayMs, delayMs };
  }
}

function sameCpus(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((cpu, i) => cpu === b[i]);
}
