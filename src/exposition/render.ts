/**
 * Renders MetricFamily[] as Prometheus text 0.0.4 or OpenMetrics 1.0.0.
 *
 * Mirrors the two formats as Prometheus' own parsers read them
 * (prometheus/docs `exposition_formats.md`, the OpenMetrics 1.0 ABNF):
 * - text 0.0.4: `# HELP` escapes backslash and newline; `# TYPE` is
 *   counter/gauge/untyped/histogram/summary; a counter's samples carry the
 *   family name (which ends in `_total`).
 * - OpenMetrics 1.0.0: `# HELP` also escapes the double quote; a counter
 *   family is named without `_total` and its samples add it back; untyped is
 *   `unknown`; the exposition ends with `# EOF`.
 * Label values escape backslash, double quote and newline in both. Values
 * print NaN/+Inf/-Inf, and integers as exact decimals (never `1e+21`).
 *
 * Speed is the point of this module (prom-client's `registry.metrics()` is
 * several times slower per series and stalls the event loop for the whole
 * render; bench/README.md has the numbers). It renders straight from a
 * family's columns (family.ts): every per-family string (metadata, the
 * sample name) is built once, each label column's `{cpu="3"} ` fragments
 * are built and escaped once per column and label name, whatever number
 * of families share the column, and each series is then three
 * concatenations and its value. Output comes in chunks of a bounded number
 * of series so a caller can write each chunk and give the event loop a turn.
 */
import { setImmediate as nextLoopTurn } from 'node:timers/promises';
import type { LabelColumn, MetricFamily, MetricType } from './family.js';

export type ExpositionFormat = 'text-0.0.4' | 'openmetrics-1.0.0';

export interface ChunkOptions {
  /** Series per chunk; each chunk is a few milliseconds of work at the default. */
  readonly seriesPerChunk?: number;
}

/**
 * A chunk is a few milliseconds of rendering at most. Larger chunks are
 * slower per series, not just longer: their bigger ropes survive more
 * scavenges (bench/README.md has the numbers).
 */
export const DEFAULT_SERIES_PER_CHUNK = 1024;

/** The whole exposition as one string (for `once`, tests and small outputs). */
export function renderFamilies(families: readonly MetricFamily[], format: ExpositionFormat): string {
  // Joining bounded chunks keeps each chunk's rope of small strings short-lived
  // (young-generation garbage); one rope of the whole page would survive into
  // old space and cost more in GC than the rendering itself.
  return Array.from(renderChunks(families, format)).join('');
}

/**
 * The exposition in chunks of at most `seriesPerChunk` series (plus metadata
 * lines), synchronously. Concatenating every chunk gives `renderFamilies`.
 */
export function* renderChunks(
  families: readonly MetricFamily[],
  format: ExpositionFormat,
  options: ChunkOptions = {},
): Generator<string, void, undefined> {
  const limit = Math.max(1, options.seriesPerChunk ?? DEFAULT_SERIES_PER_CHUNK);
  const openMetrics = format === 'openmetrics-1.0.0';
  let out = '';
  let count = 0;
  for (const family of families) {
    const plan = planFamily(family, openMetrics);
    out += plan.metadata;
    const { values } = family;
    for (let row = 0; row < values.length; row++) {
      out += plan.line(row, values[row]!);
      if (++count >= limit) {
        yield flatten(out);
        out = '';
        count = 0;
      }
    }
  }
  if (openMetrics) out += '# EOF\n';
  if (out !== '') yield flatten(out);
}

const ANY_START = /^/;

/**
 * Makes V8 turn a chunk's rope of small concatenated strings into one flat
 * string now (a regexp needs a flat subject), while the rope's pieces are
 * still young garbage. A caller that keeps chunks, as `renderFamilies` does,
 * would otherwise keep several string objects per series alive into old
 * space, which is several times slower on large pages.
 */
function flatten(chunk: string): string {
  ANY_START.test(chunk);
  return chunk;
}

/**
 * The same chunks, with a turn of the event loop (`setImmediate`) after each,
 * so an HTTP server keeps answering health checks while a 100k-series
 * exposition is rendered and written.
 *
 * Why the main thread renders in slices rather than the kernel thread
 * rendering whole pages: with columnar families the main thread's share of a
 * 130k-series scrape is receiving about 4,000 family objects (the values'
 * buffers are moved, the cpu column arrives once) and then about 1 ms of
 * rendering per chunk between turns of the loop. The remaining pauses, 20 to
 * 80 ms on a loaded 2-core VM against 300 to 1,200 ms with one object per
 * series, are young-generation collections of the chunks' strings, not
 * rendering work. Rendering in the kernel thread would move those too, but
 * it would tie each in-flight collection to one format and one filter
 * (identical scrapes share a collection whatever their Accept header), and
 * that thread is the one reading the kernel for the next scrape.
 */
export async function* renderIncrementally(
  families: readonly MetricFamily[],
  format: ExpositionFormat,
  options: ChunkOptions = {},
): AsyncGenerator<string, void, undefined> {
  for (const chunk of renderChunks(families, format, options)) {
    yield chunk;
    await nextLoopTurn();
  }
}

/** What is computed once per family so that each series is a few concatenations. */
interface FamilyPlan {
  readonly metadata: string;
  readonly line: (row: number, value: number) => string;
}

function planFamily(family: MetricFamily, openMetrics: boolean): FamilyPlan {
  const metadataName = openMetrics && family.type === 'counter' ? stripTotal(family.name) : family.name;
  const sampleName = openMetrics && family.type === 'counter' ? `${metadataName}_total` : family.name;
  const help = family.help === '' ? '' : `# HELP ${metadataName} ${escapeHelp(family.help, openMetrics)}\n`;
  const metadata = `${help}# TYPE ${metadataName} ${typeKeyword(family.type, openMetrics)}\n`;
  if (family.extras !== undefined) return { metadata, line: extrasLine(sampleName, family) };
  if (family.labelNames.length === 0) {
    const prefix = `${sampleName} `;
    return { metadata, line: (_row, value) => prefix + formatValue(value) + '\n' };
  }
  const labelSets = labelSetFragments(family);
  return { metadata, line: (row, value) => sampleName + labelSets(row) + formatValue(value) + '\n' };
}

function stripTotal(name: string): string {
  return name.endsWith('_total') ? name.slice(0, -'_total'.length) : name;
}

function typeKeyword(type: MetricType, openMetrics: boolean): string {
  return type === 'untyped' && openMetrics ? 'unknown' : type;
}

/**
 * Each row's `{a="x",b="y"} `. A single column's fragments come whole from
 * the column's cache; with several, the cached `a="x"` pairs are joined.
 */
function labelSetFragments(family: MetricFamily): (row: number) => string {
  const { labelNames, labelColumns } = family;
  if (labelNames.length === 1) {
    const whole = cachedFragments(labelColumns[0]!, labelNames[0]!, true);
    return (row) => whole[row]!;
  }
  const pairs = labelNames.map((name, i) => cachedFragments(labelColumns[i]!, name, false));
  return (row) => {
    let set = '{' + pairs[0]![row]!;
    for (let i = 1; i < pairs.length; i++) set += ',' + pairs[i]![row]!;
    return set + '} ';
  };
}

/**
 * Rendered label pairs per column and label name: `cpu="3"`, or with
 * `whole` the complete `{cpu="3"} `. Keyed by the column's identity, so a
 * column shared by thousands of families (a scrape's CPUs) is escaped once;
 * the cache goes with the column.
 */
const FRAGMENTS = new WeakMap<LabelColumn, Map<string, readonly string[]>>();

function cachedFragments(column: LabelColumn, name: string, whole: boolean): readonly string[] {
  let byName = FRAGMENTS.get(column);
  if (byName === undefined) FRAGMENTS.set(column, (byName = new Map()));
  const key = whole ? `{${name}` : name;
  let fragments = byName.get(key);
  if (fragments === undefined) {
    const open = whole ? `{${name}="` : `${name}="`;
    const close = whole ? '"} ' : '"';
    fragments = column.map((value) => flatten(open + escapeLabelValue(value) + close));
    byName.set(key, fragments);
  }
  return fragments;
}

/** Histogram and summary samples: their own name and trailing `le`/`quantile` labels. */
function extrasLine(familySampleName: string, family: MetricFamily): (row: number, value: number) => string {
  const { labelNames, labelColumns, extras } = family;
  return (row, value) => {
    const extra = extras![row] ?? {};
    const pairs: string[] = [];
    for (let i = 0; i < labelNames.length; i++) pairs.push(`${labelNames[i]}="${escapeLabelValue(labelColumns[i]![row] ?? '')}"`);
    for (const [name, text] of extra.extraLabels ?? []) pairs.push(`${name}="${escapeLabelValue(text)}"`);
    const name = extra.sampleName ?? familySampleName;
    const labels = pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
    return `${name}${labels} ${formatValue(value)}\n`;
  };
}

const LABEL_VALUE_SPECIALS = /[\\"\n]/;

export function escapeLabelValue(value: string): string {
  if (!LABEL_VALUE_SPECIALS.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Text 0.0.4 escapes backslash and newline in HELP; OpenMetrics' escaped-string also the quote. */
export function escapeHelp(help: string, openMetrics: boolean): string {
  const escaped = help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return openMetrics ? escaped.replace(/"/g, '\\"') : escaped;
}

/**
 * A sample value as both formats spell it. Integers beyond 2^53 print the
 * exact decimal of the float64 (BigInt), not JavaScript's `1.8446744073709552e+19`.
 */
export function formatValue(value: number): string {
  if (Number.isInteger(value)) return Number.isSafeInteger(value) ? '' + value : BigInt(value).toString();
  if (value !== value) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return '' + value;
}
