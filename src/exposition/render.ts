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
 * render; bench/README.md has the numbers): every
 * per-family string (metadata, `name{label="` prefixes) is built once, each
 * series is plain string concatenation, label values are escaped only when a
 * regex test says they need it, and output comes in chunks of a bounded number
 * of series so a caller can write each chunk and give the event loop a turn.
 */
import { setImmediate as nextLoopTurn } from 'node:timers/promises';
import type { MetricFamily, MetricType, Series } from './family.js';

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
    for (const series of family.series) {
      out += plan.line(series);
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
  readonly line: (series: Series) => string;
}

function planFamily(family: MetricFamily, openMetrics: boolean): FamilyPlan {
  const metadataName = openMetrics && family.type === 'counter' ? stripTotal(family.name) : family.name;
  const sampleName = openMetrics && family.type === 'counter' ? `${metadataName}_total` : family.name;
  const help = family.help === '' ? '' : `# HELP ${metadataName} ${escapeHelp(family.help, openMetrics)}\n`;
  const metadata = `${help}# TYPE ${metadataName} ${typeKeyword(family.type, openMetrics)}\n`;
  const simple = simpleLine(sampleName, family.labelNames);
  const general = (series: Series): string => generalLine(sampleName, family.labelNames, series);
  return {
    metadata,
    line: (series) => (series.sampleName === undefined && series.extraLabels === undefined ? simple(series) : general(series)),
  };
}

function stripTotal(name: string): string {
  return name.endsWith('_total') ? name.slice(0, -'_total'.length) : name;
}

function typeKeyword(type: MetricType, openMetrics: boolean): string {
  return type === 'untyped' && openMetrics ? 'unknown' : type;
}

/**
 * The hot path: a series with only the family's own labels. The prefixes
 * `name{a="`, `",b="` and the closing `"} ` are built here, once.
 */
function simpleLine(sampleName: string, labelNames: readonly string[]): (series: Series) => string {
  if (labelNames.length === 0) {
    const prefix = `${sampleName} `;
    return (series) => prefix + formatValue(series.value) + '\n';
  }
  const first = `${sampleName}{${labelNames[0]}="`;
  const between = labelNames.slice(1).map((name) => `",${name}="`);
  if (between.length === 0) {
    return (series) => first + escapeLabelValue(series.labels[0] ?? '') + '"} ' + formatValue(series.value) + '\n';
  }
  return (series) => {
    const labels = series.labels;
    let line = first + escapeLabelValue(labels[0] ?? '');
    for (let i = 0; i < between.length; i++) line += between[i]! + escapeLabelValue(labels[i + 1] ?? '');
    return line + '"} ' + formatValue(series.value) + '\n';
  };
}

/** Histogram and summary samples: their own name and trailing `le`/`quantile` labels. */
function generalLine(familySampleName: string, labelNames: readonly string[], series: Series): string {
  const pairs: string[] = [];
  for (let i = 0; i < labelNames.length; i++) pairs.push(`${labelNames[i]}="${escapeLabelValue(series.labels[i] ?? '')}"`);
  for (const [name, value] of series.extraLabels ?? []) pairs.push(`${name}="${escapeLabelValue(value)}"`);
  const name = series.sampleName ?? familySampleName;
  const labels = pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
  return `${name}${labels} ${formatValue(series.value)}\n`;
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
