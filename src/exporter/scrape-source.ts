/**
 * What the HTTP layer sees of the exporter: a source of scrapes and a status
 * for the landing page. The HTTP layer never touches the kernel handle.
 */
import type { MetricFamily } from '../exposition/family.js';

export interface ScrapeRequest {
  /** Only these collectors (`collect[]`); every enabled one when absent. */
  readonly collect?: readonly string[];
  /** Leave these collectors out (`exclude[]`). */
  readonly exclude?: readonly string[];
  /** Epoch milliseconds by which collection must stop and answer with what it has. */
  readonly deadline?: number;
}

export interface CollectorStatus {
  readonly name: string;
  readonly enabled: boolean;
  /** Outcome of the last scrape that ran it; undefined before the first. */
  readonly lastSuccess?: boolean;
  readonly lastError?: string;
}

export interface ExporterStatus {
  readonly configFile: string;
  readonly kernelUp: boolean;
  readonly kernelError?: string;
  readonly collectors: readonly CollectorStatus[];
  /** Config entries left out when resolved against the kernel, as `key (source): problem`. */
  readonly leftOut: readonly string[];
}

export interface ScrapeSource {
  /**
   * Collects one scrape. Rejects with `UnknownCollectorError` when `collect`
   * or `exclude` names a collector that does not exist or is disabled; never
   * rejects because a collector failed (that is reported in the families).
   */
  scrape(request: ScrapeRequest): Promise<MetricFamily[]>;
  status(): ExporterStatus;
}
