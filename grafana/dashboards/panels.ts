/**
 * Panel and query builders shared by the kvm_exporter dashboards.
 *
 * Owns the conventions every panel follows, so that the dashboards cannot
 * drift apart: each query and each panel points at the `$datasource`
 * variable, as in node_exporter's common dashboards, never at a fixed data
 * source uid; queries get refIds A, B, C... in order; every panel states
 * its unit. Mirrors the foundation SDK's builders
 * (@grafana/grafana-foundation-sdk, pinned in package.json).
 */

import type { DataSourceRef, Threshold, ValueMapping } from '@grafana/grafana-foundation-sdk/dashboard';
import { MappingType, ThresholdsConfigBuilder, ThresholdsMode } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  BigValueColorMode,
  BigValueGraphMode,
  BigValueTextMode,
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
  HeatmapCellLayout,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  SortOrder,
  StackingConfigBuilder,
  StackingMode,
  TooltipDisplayMode,
  VizLegendOptionsBuilder,
  VizOrientation,
  VizTooltipOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as BarGaugePanelBuilder } from '@grafana/grafana-foundation-sdk/bargauge';
import { PanelBuilder as TablePanelBuilder } from '@grafana/grafana-foundation-sdk/table';
import {
  CellValuesBuilder,
  PanelBuilder as HeatmapPanelBuilder,
  RowsHeatmapOptionsBuilder,
  YAxisConfigBuilder,
} from '@grafana/grafana-foundation-sdk/heatmap';

/** Every panel and query reads from the data source the viewer picked. */
export const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

/** Grafana's unit ids used here (see Grafana's "Standard options > Unit"). */
export const UNIT = {
  perSecond: 'cps',
  packetsPerSecond: 'pps',
  bytesPerSecond: 'Bps',
  seconds: 's',
  bytes: 'bytes',
  ratio: 'percentunit',
  count: 'none',
  load: 'short',
  times: 'suffix:x',
} as const;

export interface Query {
  readonly expr: string;
  /** Legend template; `{{label}}` picks a label, as in Grafana's query editor. */
  readonly legend: string;
}

export interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly unit: string;
  readonly queries: readonly Query[];
  /** Grid width (of 24) and height. */
  readonly width?: number;
  readonly height?: number;
}

export interface TimeseriesSpec extends PanelSpec {
  readonly stack?: boolean;
  readonly min?: number;
  readonly max?: number;
  /** Drawn as a dashed red line, e.g. an alert's threshold. */
  readonly alertAt?: number;
}

export interface StatSpec extends PanelSpec {
  /** Text shown for exact values, e.g. 0 -> "unreadable". */
  readonly valueNames?: Readonly<Record<string, { text: string; color: string }>>;
  /** Value from which the stat turns red (default: never). */
  readonly redFrom?: number;
  /** Show the legend instead of the value, e.g. for an `_info` series. */
  readonly showLegendOnly?: boolean;
}

/** refId of the i-th query of a panel: A, B, ..., Z. */
export function refId(index: number): string {
  if (index < 0 || index >= 26) {
    throw new RangeError(`grafana/dashboards/panels.ts: query index ${index} has no single-letter refId (0..25)`);
  }
  return String.fromCharCode(65 + index);
}

/** Range queries, one per entry, all on the `$datasource` variable. */
export function rangeQueries(queries: readonly Query[]): DataqueryBuilder[] {
  return queries.map((query, index) =>
    new DataqueryBuilder()
      .expr(query.expr)
      .legendFormat(query.legend)
      .refId(refId(index))
      .range()
      .datasource(DATASOURCE),
  );
}

/** Instant queries: for panels that show only the latest value. */
export function instantQueries(queries: readonly Query[]): DataqueryBuilder[] {
  return rangeQueries(queries).map((query) => query.instant());
}

function tableLegend(): VizLegendOptionsBuilder {
  return new VizLegendOptionsBuilder()
    .showLegend(true)
    .displayMode(LegendDisplayMode.Table)
    .placement(LegendPlacement.Bottom)
    .calcs(['mean', 'max', 'lastNotNull']);
}

function thresholdSteps(redFrom: number | undefined, baseColor: string): ThresholdsConfigBuilder {
  const steps: Threshold[] = [{ value: null, color: baseColor }];
  if (redFrom !== undefined) {
    steps.push({ value: redFrom, color: 'red' });
  }
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps);
}

/** A time series panel with a table legend (mean, max, last) and a shared tooltip. */
export function timeseries(spec: TimeseriesSpec): TimeseriesPanelBuilder {
  const panel = new TimeseriesPanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .targets(rangeQueries(spec.queries))
    .unit(spec.unit)
    .span(spec.width ?? 12)
    .height(spec.height ?? 8)
    .fillOpacity(spec.stack ? 40 : 10)
    .legend(tableLegend())
    .tooltip(new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.Descending));
  if (spec.stack) {
    panel.stacking(new StackingConfigBuilder().mode(StackingMode.Normal));
  }
  if (spec.min !== undefined) panel.min(spec.min);
  if (spec.max !== undefined) panel.max(spec.max);
  if (spec.alertAt !== undefined) {
    // Drawn as a dashed line only (series keep their palette colours), so
    // operators see how close a host is to the matching alert.
    panel.thresholds(thresholdSteps(spec.alertAt, 'green'));
    panel.thresholdsStyle(new GraphThresholdsStyleConfigBuilder().mode(GraphThresholdsStyleMode.Dashed));
  }
  return panel;
}

function valueMappings(names: StatSpec['valueNames']): ValueMapping[] {
  if (names === undefined) return [];
  const options = Object.fromEntries(
    Object.entries(names).map(([value, result], index) => [value, { ...result, index }]),
  );
  return [{ type: MappingType.ValueToText, options }];
}

function statTextMode(spec: StatSpec): BigValueTextMode {
  if (spec.showLegendOnly) return BigValueTextMode.Name;
  return spec.queries.length > 1 ? BigValueTextMode.ValueAndName : BigValueTextMode.Value;
}

/** A single-value panel showing the latest value of each query. */
export function stat(spec: StatSpec): StatPanelBuilder {
  return new StatPanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .targets(rangeQueries(spec.queries))
    .unit(spec.unit)
    .span(spec.width ?? 4)
    .height(spec.height ?? 4)
    .mappings(valueMappings(spec.valueNames))
    .thresholds(thresholdSteps(spec.redFrom, 'green'))
    .colorMode(BigValueColorMode.Value)
    .graphMode(spec.showLegendOnly ? BigValueGraphMode.None : BigValueGraphMode.Area)
    .textMode(statTextMode(spec))
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
}

/** Horizontal bars of the latest values: for "top N" rankings. */
export function ranking(spec: PanelSpec): BarGaugePanelBuilder {
  return new BarGaugePanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .targets(instantQueries(spec.queries))
    .unit(spec.unit)
    .span(spec.width ?? 12)
    .height(spec.height ?? 8)
    .orientation(VizOrientation.Horizontal)
    .thresholds(thresholdSteps(undefined, 'blue'))
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
}

/**
 * One heatmap row per series, ordered by its legend: Grafana sorts the rows
 * numerically when every legend is a number, so `{{cpu}}` gives CPU 0 at the
 * bottom. `calculate(false)` keeps the values as they are instead of
 * bucketing them into a histogram.
 */
export function rowsHeatmap(spec: PanelSpec & { readonly rowLabel: string }): HeatmapPanelBuilder {
  return new HeatmapPanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .targets(rangeQueries(spec.queries))
    .unit(spec.unit)
    .span(spec.width ?? 24)
    .height(spec.height ?? 9)
    .calculate(false)
    .rowsFrame(new RowsHeatmapOptionsBuilder().layout(HeatmapCellLayout.Unknown))
    .yAxis(new YAxisConfigBuilder().axisLabel(spec.rowLabel).decimals(0))
    .cellValues(new CellValuesBuilder().unit(spec.unit))
    .showLegend()
    .mode(TooltipDisplayMode.Single);
}

/**
 * One row per value of `joinLabel`, one column per query (titled by its
 * legend). Each query must aggregate `by (joinLabel)` so Grafana's "merge"
 * transformation can line the columns up.
 */
export function labelTable(spec: PanelSpec & { readonly joinLabel: string }): TablePanelBuilder {
  const columnNames = Object.fromEntries(spec.queries.map((query, index) => [`Value #${refId(index)}`, query.legend]));
  return new TablePanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .targets(instantQueries(spec.queries).map((query) => query.format(PromQueryFormat.Table)))
    .unit(spec.unit)
    .span(spec.width ?? 24)
    .height(spec.height ?? 8)
    .withTransformation({ id: 'merge', options: {} })
    .withTransformation({
      id: 'organize',
      options: { excludeByName: { Time: true }, renameByName: columnNames },
    });
}
