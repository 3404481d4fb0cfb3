/**
 * The kernel handle and the collectors built on it, kept together because a
 * collector's resolved symbols and handles are only valid for the handle
 * that resolved them. When the handle breaks (open fails, the topology can
 * no longer be read) it is closed and reopened with exponential backoff, and
 * the collectors are rebuilt on the new one.
 */
import { COLLECTORS, type Collector, type EntryReport } from '../collectors/index.js';
import type { CollectorName, Config } from '../config/types.js';
import { KvmSession, readTopology, type CpuTopology, type OpenOptions } from '../kvm/index.js';
import type { Logger } from '../log.js';

export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 1_000, maxMs: 60_000 };

export type SessionOpener = (options: OpenOptions) => KvmSession;

interface Open {
  readonly state: 'open';
  readonly session: KvmSession;
  /** A collector whose factory threw is kept as its error, reported at every scrape. */
  readonly collectors: ReadonlyMap<CollectorName, Collector | Error>;
  readonly problems: readonly string[];
}

interface Broken {
  readonly state: 'broken';
  readonly error: string;
  readonly retryAt: number;
  readonly delayMs: number;
}

export type Topology = { readonly ok: true; readonly topology: CpuTopology } | { readonly ok: false; readonly error: string };

export class Kernel {
  private current: Open | Broken;

  constructor(
    private readonly config: Config,
    private readonly enabled: ReadonlySet<CollectorName>,
    private readonly logger: Logger,
    private readonly opener: SessionOpener = KvmSession.open,
    private readonly backoff: Backoff = DEFAULT_BACKOFF,
    private readonly now: () => number = Date.now,
  ) {
    this.current = this.open(backoff.initialMs);
  }

  get error(): string | undefined {
    return this.current.state === 'broken' ? this.current.error : undefined;
  }

  get problems(): readonly string[] {
    return this.current.state === 'open' ? this.current.problems : [];
  }

  /** The collectors of the open handle, reopening first if the backoff allows. */
  collectors(): ReadonlyMap<CollectorName, Collector | Error> | undefined {
    if (this.current.state === 'broken' && this.now() >= this.current.retryAt) {
      this.current = this.open(Math.min(this.current.delayMs * 2, this.backoff.maxMs));
    }
    return this.current.state === 'open' ? this.current.collectors : undefined;
  }

  /** Reads the CPU topology; a failure marks the handle broken. */
  readTopology(): Topology {
    if (this.current.state !== 'open') return { ok: false, error: this.current.error };
    try {
      return { ok: true, topology: readTopology(this.current.session) };
    } catch (error) {
      const message = `kernel unreadable: ${(error as Error).message}`;
      this.logger.error('kernel handle broken; closing it and reopening with backoff', { err: message });
      this.current.session.close();
      this.current = this.broken(message, this.backoff.initialMs);
      return { ok: false, error: message };
    }
  }

  close(): void {
    if (this.current.state === 'open') this.current.session.close();
  }

  private open(nextDelayMs: number): Open | Broken {
    const { library, execfile, corefile } = this.config.kvm;
    let session: KvmSession;
    try {
      session = this.opener({ library, execfile, corefile });
    } catch (error) {
      const message = (error as Error).message;
      this.logger.error('cannot open the kernel', { err: message, retry_in_ms: nextDelayMs });
      return this.broken(message, nextDelayMs);
    }
    const collectors = new Map<CollectorName, Collector | Error>();
    const problems: string[] = [];
    for (const factory of COLLECTORS) {
      if (!this.enabled.has(factory.name)) continue;
      try {
        const collector = factory.create({ session, config: this.config });
        collectors.set(factory.name, collector);
        problems.push(...collector.entries.filter(hasProblem).map((e) => `${e.key} (${e.source}): ${e.problem}`));
      } catch (error) {
        collectors.set(factory.name, error as Error);
        problems.push(`collector ${factory.name}: ${(error as Error).message}`);
      }
    }
    for (const problem of problems) this.logger.warn('config entry left out', { problem });
    this.logger.info('kernel opened', { corefile, execfile: execfile ?? 'running kernel', collectors: [...collectors.keys()].join(',') });
    return { state: 'open', session, collectors, problems };
  }

  private broken(error: string, delayMs: number): Broken {
    return { state: 'broken', error, retryAt: this.now() + delayMs, delayMs };
  }
}

function hasProblem(entry: EntryReport): boolean {
  return entry.problem !== undefined;
}
