/**
 * What the four config-driven collectors (counters, variables, dpcpu, pcpu)
 * share at setup: resolving each config entry against the kernel, keeping
 * what resolves and recording what does not as left out, with its reason,
 * so one bad entry never fails the others.
 */
import { basename } from 'node:path';
import type { Config, Origin } from '../../config/types.js';
import type { MetricSink } from '../../exposition/family.js';
import type { Collector, EntryReport, ScrapeContext } from './collector.js';

/** One readable piece of an entry (an array entry has one per element) and how it is reported. */
export interface Resolved<T> {
  readonly item: T;
  readonly report: EntryReport;
}

/** A collector's config entries after setup: what it reads, every entry's report, and those left out. */
export interface ResolvedEntries<T> {
  readonly items: readonly T[];
  readonly entries: readonly EntryReport[];
  readonly leftOut: readonly string[];
}

/**
 * Resolves every entry with `resolve`, which throws when the entry cannot be
 * read on this kernel (a missing symbol, an unreadable handle); such an entry
 * is reported with the thrown reason.
 */
export function resolveEntries<E extends { readonly origin: Origin; readonly sourceText: string }, T>(
  config: Config,
  list: readonly E[],
  resolve: (entry: E, key: string) => readonly Resolved<T>[],
): ResolvedEntries<T> {
  const items: T[] = [];
  const entries: EntryReport[] = [];
  for (const entry of list) {
    const key = entryKey(entry.origin, config);
    try {
      for (const resolved of resolve(entry, key)) {
        items.push(resolved.item);
        entries.push(resolved.report);
      }
    } catch (error) {
      entries.push({ key, source: entry.sourceText, metrics: [], problem: (error as Error).message });
    }
  }
  return { items, entries, leftOut: leftOutOf(entries) };
}

/** The entries left out, each as `key (source): problem`. */
export function leftOutOf(entries: readonly EntryReport[]): string[] {
  return entries.filter((e) => e.problem !== undefined).map((e) => `${e.key} (${e.source}): ${e.problem}`);
}

/** A collector of config entries: it reads the items its entries resolved to. */
export abstract class EntryCollector<T> implements Collector {
  readonly entries: readonly EntryReport[];
  readonly leftOut: readonly string[];
  protected readonly items: readonly T[];

  constructor(resolved: ResolvedEntries<T>) {
    this.items = resolved.items;
    this.entries = resolved.entries;
    this.leftOut = resolved.leftOut;
  }

  abstract update(sink: MetricSink, scrape: ScrapeContext): void;
}

/**
 * How an entry is named in logs, `check` and the landing page: its key
 * (`counters[3]`), and for an entry that came from a preset rather than the
 * config file itself, the preset file and line first
 * (`freebsd-14-amd64.yml:97 counters[0]`), so the two cannot be confused.
 */
export function entryKey(origin: Origin, config: Config): string {
  if (origin.file === config.file) return origin.key;
  const line = origin.line === undefined ? '' : `:${origin.line}`;
  return `${basename(origin.file)}${line} ${origin.key}`;
}
