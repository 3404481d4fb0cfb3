/**
 * How metric families cross from the kernel thread to the main thread: one
 * column of values per family in a Float64Array, whose buffer is moved
 * (transferred), not copied; names, HELP text and label values travel as
 * strings. The shape is already the columnar one (names, label columns, a
 * value column), so a collector that later builds its families as columns
 * can hand them over without building objects first.
 */
import type { MetricFamily, MetricType, Series } from '../exposition/family.js';

export interface WireFamily {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly labelNames: readonly string[];
  /** One column per label name, one row per series. */
  readonly labelColumns: readonly (readonly string[])[];
  readonly values: Float64Array;
  /** Histogram and summary samples only: each series' sample name and extra labels. */
  readonly extras?: readonly Pick<Series, 'sampleName' | 'extraLabels'>[];
}

/** The families as columns, and the buffers to transfer with them. */
export function encodeFamilies(families: readonly MetricFamily[]): { wire: WireFamily[]; transfer: ArrayBuffer[] } {
  const wire = families.map(encodeFamily);
  return { wire, transfer: wire.map((f) => f.values.buffer as ArrayBuffer) };
}

export function decodeFamilies(wire: readonly WireFamily[]): MetricFamily[] {
  return wire.map(decodeFamily);
}

function encodeFamily(family: MetricFamily): WireFamily {
  const { series } = family;
  const labelColumns = family.labelNames.map((_, column) => series.map((s) => s.labels[column]!));
  const values = Float64Array.from(series, (s) => s.value);
  const hasExtras = series.some((s) => s.sampleName !== undefined || s.extraLabels !== undefined);
  return {
    name: family.name,
    help: family.help,
    type: family.type,
    labelNames: family.labelNames,
    labelColumns,
    values,
    ...(hasExtras && { extras: series.map(({ sampleName, extraLabels }) => ({ ...(sampleName !== undefined && { sampleName }), ...(extraLabels && { extraLabels }) })) }),
  };
}

function decodeFamily(wire: WireFamily): MetricFamily {
  const labelsOf = labelRows(wire.labelColumns);
  const series: Series[] = Array.from(wire.values, (value, row) => ({ labels: labelsOf(row), value, ...wire.extras?.[row] }));
  return { name: wire.name, help: wire.help, type: wire.type, labelNames: wire.labelNames, series };
}

/**
 * Each row's label values. With one label (a CPU, a state, a command), rows
 * with the same value share one array, as the collectors built them.
 */
function labelRows(columns: readonly (readonly string[])[]): (row: number) => readonly string[] {
  if (columns.length === 0) return () => NO_LABELS;
  if (columns.length > 1) return (row) => columns.map((column) => column[row]!);
  const [column] = columns as [readonly string[]];
  const shared = new Map<string, readonly string[]>();
  return (row) => {
    const value = column[row]!;
    let labels = shared.get(value);
    if (labels === undefined) shared.set(value, (labels = [value]));
    return labels;
  };
}

const NO_LABELS: readonly string[] = [];
