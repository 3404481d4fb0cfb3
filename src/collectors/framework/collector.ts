/**
 * The collector framework's contract, after node_exporter's `collector.go`:
 * a factory that does the expensive, fallible setup once (symbol lookups,
 * reading handles, building family metadata) and a collector whose `update`
 * only reads and emits.
 *
 * A collector reports a bad config entry without failing the others: an
 * entry that cannot be resolved at setup is left out (`leftOut`), read
 * failures during a scrape are collected and thrown together as
 * `EntryErrors` after everything that could be read has been emitted.
 */
import type { CollectorName, Config } from '../../config/types.js';
import { EntryErrors } from '../../errors.js';
import type { LabelColumn, MetricSink } from '../../exposition/family.js';
import type { CpuTopology, KvmSession } from '../../kvm/index.js';
import type { Logger } from '../../log.js';

export interface CollectorContext {
  readonly session: KvmSession;
  readonly config: Config;
  /** For what a collector has to say once, such as a slower way of reading it fell back to (none: say nothing). */
  readonly logger?: Logger;
  /**
   * `check` asks for it: a collector that reads some entries a faster way
   * than libkvm's own call compares the two once, here at setup, and puts
   * each entry's verdict in its report (EntryReport.crossCheck).
   */
  readonly crossCheck?: boolean;
}

/** One entry's cross-check: whether the exporter's reading agrees with libkvm's own, and the numbers. */
export interface CrossCheck {
  readonly ok: boolean;
  readonly text: string;
}

/** What one scrape gives every collector. */
export interface ScrapeContext {
  /** Read at the start of this scrape. */
  readonly topology: CpuTopology;
  /**
   * The present CPU ids as label values, in topology order: the one `cpu`
   * column every per-CPU family of this scrape shares (family.ts).
   */
  readonly cpuLabels: LabelColumn;
  /** Throws DeadlineError once the scrape's deadline has passed. */
  checkDeadline(): void;
}

/** One config entry as resolved against the kernel, for `check` and the landing page. */
export interface EntryReport {
  /** Config path, e.g. `counters[3]`. */
  readonly key: string;
  /** Where the value comes from, in the kernel's own names: `vm_cnt.v_swtch`. */
  readonly source: string;
  /** Kernel address or counter handle, when resolved. */
  readonly address?: bigint;
  /** The metric families the entry produces. */
  readonly metrics: readonly string[];
  /** Why the entry was left out, when it was. */
  readonly problem?: string;
  /**
   * Why the entry reads nothing on this kernel by design (swap on a FreeBSD
   * 13+ crash dump): not a problem, so it neither fails the collector nor
   * counts as left out; `check` prints it as a note.
   */
  readonly unavailable?: string;
  /** Its cross-check, when `check` asked for one (CollectorContext.crossCheck). */
  readonly crossCheck?: CrossCheck;
}

export interface Collector {
  /** Emits this scrape's families; throws after emitting what it could if anything failed. */
  update(sink: MetricSink, scrape: ScrapeContext): void;
  /** The config entries this collector serves (empty for built-in collectors). */
  readonly entries: readonly EntryReport[];
  /** The entries left out at setup, each as `key (source): problem`; fixed for the collector's life. */
  readonly leftOut: readonly string[];
}

export interface CollectorFactory {
  readonly name: CollectorName;
  readonly defaultEnabled: boolean;
  /** One line for `--collector.<name>` help and the landing page. */
  readonly description: string;
  create(context: CollectorContext): Collector;
}

/** Collects per-entry failures during an update and throws them at the end. */
export class FailureList {
  private readonly failures: { key: string; error: Error }[] = [];

  add(key: string, error: unknown): void {
    this.failures.push({ key, error: error instanceof Error ? error : new Error(String(error)) });
  }

  throwIfAny(): void {
    if (this.failures.length > 0) throw new EntryErrors(this.failures);
  }
}
