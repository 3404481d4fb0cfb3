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
 * render; bench/README.md has the numbers). It writes bytes, not strings:
 * every per-family piece (metadata, the sample name) is encoded once, each
 * label column's `{cpu="3"} ` fragments are encoded and escaped once per
 * column and label name, whatever number of families share the column, and
 * each series is then two or three byte copies and its value's digits,
 * written straight into the chunk's buffer. No string is made per series,
 * so a 130k-series page leaves no garbage for the collector but its chunks'
 * buffers, which is what keeps the event loop's pauses short while a big
 * page is served (the strings of a rendered page once cost more in young
 * collections than the rendering itself). Output comes in chunks of a
 * bounded number of series so a caller can write each chunk and give the
 * event loop a turn.
 */
import { isAscii } from 'node:buffer';
import { setImmediate as nextLoopTurn } from 'node:timers/promises';
import type { LabelColumn, MetricFamily, MetricType } from './family.js';

export type ExpositionFormat = 'text-0.0.4' | 'openmetrics-1.0.0';

export interface ChunkOptions {
  /** Series per chunk; each chunk is well under a millisecond of work at the default. */
  readonly seriesPerChunk?: number;
  /** The first chunk's buffer, when the caller knows better than the default (a chunk grows as it needs). */
  readonly firstChunkBytes?: number;
}

export const DEFAULT_SERIES_PER_CHUNK = 1024;

/** The whole exposition as one string (for tests and small outputs). */
export function renderFamilies(families: readonly MetricFamily[], format: ExpositionFormat): string {
  const bytes = renderBytes(families, format);
  // ASCII (almost every page) reads the same as Latin-1, which V8 turns into a string several times faster than UTF-8.
  return bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
}

/** The whole exposition as UTF-8 bytes (for `once`): one chunk, in a buffer sized for it up front. */
export function renderBytes(families: readonly MetricFamily[], format: ExpositionFormat): Buffer {
  const chunks = Array.from(renderChunks(families, format, { seriesPerChunk: Infinity, firstChunkBytes: estimatedBytes(families) }));
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** A little more than most pages take: a line of name, labels and value per series, metadata per family. */
function estimatedBytes(families: readonly MetricFamily[]): number {
  let bytes = 16;
  for (const family of families) bytes += 3 * family.name.length + family.help.length + 32 + family.values.length * (family.name.length + 32);
  return bytes;
}

/**
 * The exposition in chunks of at most `seriesPerChunk` series (plus metadata
 * lines), synchronously, as UTF-8. Concatenating every chunk gives
 * `renderBytes`.
 */
export function* renderChunks(
  families: readonly MetricFamily[],
  format: ExpositionFormat,
  options: ChunkOptions = {},
): Generator<Buffer, void, undefined> {
  const limit = Math.max(1, options.seriesPerChunk ?? DEFAULT_SERIES_PER_CHUNK);
  const openMetrics = format === 'openmetrics-1.0.0';
  const out = new ChunkWriter(options.firstChunkBytes);
  let count = 0;
  for (const family of families) {
    const plan = planFamily(family, openMetrics);
    out.bytes(plan.metadata);
    const { values } = family;
    const { prefix, labelSets, line } = plan;
    for (let row = 0; row < values.length; row++) {
      // Almost every series has no label or one (a cpu): one monomorphic call, no closure.
      if (line === undefined) out.series(prefix, labelSets?.[row], values[row]!);
      else line(out, row, values[row]!);
      if (++count >= limit) {
        yield out.take();
        count = 0;
      }
    }
  }
  if (openMetrics) out.bytes(EOF);
  if (out.length > 0) yield out.take();
}

const EOF = Buffer.from('# EOF\n');
const NO_BYTES = Buffer.alloc(0);

/**
 * The same chunks, with a turn of the event loop (`setImmediate`) after each,
 * so an HTTP server keeps answering health checks while a 100k-series
 * exposition is rendered and written.
 *
 * Why the main thread renders in slices rather than the kernel thread
 * rendering whole pages: with columnar families the main thread's share of a
 * 130k-series scrape is receiving about 4,000 family objects (the values'
 * buffers are moved, the cpu column arrives once) and then well under a
 * millisecond of rendering per chunk between turns of the loop. Rendering in
 * the kernel thread would tie each in-flight collection to one format and one
 * filter (identical scrapes share a collection whatever their Accept
 * header), and that thread is the one reading the kernel for the next scrape.
 */
export async function* renderIncrementally(
  families: readonly MetricFamily[],
  format: ExpositionFormat,
  options: ChunkOptions = {},
): AsyncGenerator<Buffer, void, undefined> {
  for (const chunk of renderChunks(families, format, options)) {
    yield chunk;
    await nextLoopTurn();
  }
}

/** The longest a value's text can be: `-1.7976931348623157e+308`, and room to spare. */
const MAX_VALUE_BYTES = 32;
const FIRST_CHUNK_BYTES = 64 * 1024;
/** A chunk that grew large (a huge label set) does not make every later one as large. */
const MAX_NEXT_CHUNK_BYTES = 1024 * 1024;
const NEWLINE = 0x0a;
const DIGIT_ZERO = 0x30;
const MINUS = 0x2d;
/** "00" to "99": the digits of n % 100 at 2 * (n % 100). */
const DIGIT_PAIRS = Buffer.from(Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join(''), 'latin1');
/** 10^i, for counting an integer's digits (2^53 has 16). */
const POWERS_OF_TEN = Array.from({ length: 17 }, (_, i) => 10 ** i);

/**
 * One chunk's bytes, in a buffer that grows by doubling and is handed over
 * whole by take(). The next chunk's buffer, sized by the last, is allocated
 * by its first write: the last chunk of a page leaves none behind.
 */
class ChunkWriter {
  private buf = NO_BYTES;
  private at = 0;
  /** The size of the buffer the next first write allocates. */
  private nextBytes: number;

  constructor(firstBytes = FIRST_CHUNK_BYTES) {
    this.nextBytes = Math.max(64, firstBytes);
  }

  get length(): number {
    return this.at;
  }

  take(): Buffer {
    const chunk = this.buf.subarray(0, this.at);
    this.nextBytes = Math.min(Math.max(FIRST_CHUNK_BYTES, this.buf.length), MAX_NEXT_CHUNK_BYTES);
    this.buf = NO_BYTES;
    this.at = 0;
    return chunk;
  }

  bytes(piece: Uint8Array): void {
    this.room(piece.length);
    this.at = copyInto(this.buf, piece, this.at);
  }

  /** One series: its name, its label set (when it has labels), its value and the line's end. */
  series(name: Uint8Array, labelSet: Uint8Array | undefined, value: number): void {
    this.room(name.length + (labelSet === undefined ? 0 : labelSet.length) + MAX_VALUE_BYTES + 1);
    this.at = copyInto(this.buf, name, this.at);
    if (labelSet !== undefined) this.at = copyInto(this.buf, labelSet, this.at);
    this.value(value);
    this.buf[this.at++] = NEWLINE;
  }

  byte(code: number): void {
    this.room(1);
    this.buf[this.at++] = code;
  }

  /** A sample value as both formats spell it (formatValue), then the line's end. */
  valueLine(value: number): void {
    this.room(MAX_VALUE_BYTES + 1);
    this.value(value);
    this.buf[this.at++] = NEWLINE;
  }

  /** The value's text, with room for it already made. */
  private value(value: number): void {
    if (Number.isSafeInteger(value)) this.integer(value);
    else this.at += this.buf.write(formatValue(value), this.at, 'latin1');
  }

  /** A text of any characters (the rare histogram line). */
  text(piece: string): void {
    this.room(Buffer.byteLength(piece));
    this.at += this.buf.write(piece, this.at, 'utf8');
  }

  /**
   * The decimal digits of a safe integer, written two at a time from where
   * the number ends. Exact: below 2^53, n / 100 is below 2^47, where a
   * double is within 2^-7 of the true quotient, closer than the 0.01 that
   * separates it from the next integer, so Math.floor gives the true quotient.
   */
  private integer(value: number): void {
    const buf = this.buf;
    let n = value;
    if (n < 0) {
      buf[this.at++] = MINUS;
      n = -n;
    }
    let digits = 1;
    while (digits < 16 && n >= POWERS_OF_TEN[digits]!) digits++;
    let at = this.at + digits;
    this.at = at;
    while (n >= 100) {
      const quotient = Math.floor(n / 100);
      const pair = (n - quotient * 100) * 2;
      buf[--at] = DIGIT_PAIRS[pair + 1]!;
      buf[--at] = DIGIT_PAIRS[pair]!;
      n = quotient;
    }
    if (n >= 10) {
      buf[--at] = DIGIT_PAIRS[n * 2 + 1]!;
      buf[--at] = DIGIT_PAIRS[n * 2]!;
    } else {
      buf[--at] = DIGIT_ZERO + n;
    }
  }

  private room(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.nextBytes, this.at + bytes));
    this.buf.copy(grown, 0, 0, this.at);
    this.buf = grown;
  }
}

/**
 * Copies `piece` into `buf` at `at` and returns where it ends. A loop for
 * the short pieces of a series line (a label set, a sample name), where
 * TypedArray.set's call costs more than the bytes.
 */
function copyInto(buf: Buffer, piece: Uint8Array, at: number): number {
  const length = piece.length;
  if (length > 64) {
    buf.set(piece, at);
    return at + length;
  }
  for (let i = 0; i < length; i++) buf[at + i] = piece[i]!;
  return at + length;
}

/**
 * What is encoded once per family so that each series is a few byte copies:
 * the sample name (with its space when it has no labels) and, with one
 * label, each row's whole label set; any other family writes its lines with
 * `line`.
 */
interface FamilyPlan {
  readonly metadata: Buffer;
  readonly prefix: Buffer;
  readonly labelSets?: readonly Buffer[];
  readonly line?: (out: ChunkWriter, row: number, value: number) => void;
}

function planFamily(family: MetricFamily, openMetrics: boolean): FamilyPlan {
  const metadataName = openMetrics && family.type === 'counter' ? stripTotal(family.name) : family.name;
  const sampleName = openMetrics && family.type === 'counter' ? `${metadataName}_total` : family.name;
  const help = family.help === '' ? '' : `# HELP ${metadataName} ${escapeHelp(family.help, openMetrics)}\n`;
  const metadata = Buffer.from(`${help}# TYPE ${metadataName} ${typeKeyword(family.type, openMetrics)}\n`);
  if (family.extras !== undefined) return { metadata, prefix: NO_BYTES, line: extrasLine(sampleName, family) };
  if (family.labelNames.length === 0) return { metadata, prefix: Buffer.from(`${sampleName} `) };
  const name = Buffer.from(sampleName);
  if (family.labelNames.length === 1) {
    return { metadata, prefix: name, labelSets: cachedFragments(family.labelColumns[0]!, family.labelNames[0]!, true) };
  }
  const labelSet = labelSetWriter(family);
  return {
    metadata,
    prefix: name,
    line: (out, row, value) => {
      out.bytes(name);
      labelSet(out, row);
      out.valueLine(value);
    },
  };
}

function stripTotal(name: string): string {
  return name.endsWith('_total') ? name.slice(0, -'_total'.length) : name;
}

function typeKeyword(type: MetricType, openMetrics: boolean): string {
  return type === 'untyped' && openMetrics ? 'unknown' : type;
}

const OPEN_BRACE = 0x7b;
const COMMA = 0x2c;
const CLOSE_SET = Buffer.from('} ');

/**
 * Writes each row's `{a="x",b="y"} ` from the cached `a="x"` pairs of
 * several columns (a single column's fragments are cached whole).
 */
function labelSetWriter(family: MetricFamily): (out: ChunkWriter, row: number) => void {
  const { labelNames, labelColumns } = family;
  const pairs = labelNames.map((name, i) => cachedFragments(labelColumns[i]!, name, false));
  return (out, row) => {
    out.byte(OPEN_BRACE);
    out.bytes(pairs[0]![row]!);
    for (let i = 1; i < pairs.length; i++) {
      out.byte(COMMA);
      out.bytes(pairs[i]![row]!);
    }
    out.bytes(CLOSE_SET);
  };
}

/**
 * Encoded label pairs per column and label name: `cpu="3"`, or with
 * `whole` the complete `{cpu="3"} `. Keyed by the column's identity, so a
 * column shared by thousands of families (a scrape's CPUs) is escaped and
 * encoded once; the cache goes with the column.
 */
const FRAGMENTS = new WeakMap<LabelColumn, Map<string, readonly Buffer[]>>();

function cachedFragments(column: LabelColumn, name: string, whole: boolean): readonly Buffer[] {
  let byName = FRAGMENTS.get(column);
  if (byName === undefined) FRAGMENTS.set(column, (byName = new Map()));
  const key = whole ? `{${name}` : name;
  let fragments = byName.get(key);
  if (fragments === undefined) {
    const open = whole ? `{${name}="` : `${name}="`;
    const close = whole ? '"} ' : '"';
    fragments = encodeAll(column.map((value) => open + escapeLabelValue(value) + close));
    byName.set(key, fragments);
  }
  return fragments;
}

/** The texts as UTF-8 views of one buffer: one allocation for a column, not one per value. */
function encodeAll(texts: readonly string[]): Buffer[] {
  const whole = Buffer.from(texts.join(''));
  const views: Buffer[] = [];
  let at = 0;
  for (const text of texts) {
    const length = Buffer.byteLength(text);
    views.push(whole.subarray(at, at + length));
    at += length;
  }
  return views;
}

/** Histogram and summary samples: their own name and trailing `le`/`quantile` labels. */
function extrasLine(familySampleName: string, family: MetricFamily): (out: ChunkWriter, row: number, value: number) => void {
  const { labelNames, labelColumns, extras } = family;
  return (out, row, value) => {
    const extra = extras![row] ?? {};
    const pairs: string[] = [];
    for (let i = 0; i < labelNames.length; i++) pairs.push(`${labelNames[i]}="${escapeLabelValue(labelColumns[i]![row] ?? '')}"`);
    for (const [name, text] of extra.extraLabels ?? []) pairs.push(`${name}="${escapeLabelValue(text)}"`);
    const name = extra.sampleName ?? familySampleName;
    const labels = pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
    out.text(`${name}${labels} `);
    out.valueLine(value);
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
