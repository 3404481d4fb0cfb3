/**
 * Runs the shipped dashboards' queries against a live Prometheus the way
 * Grafana does: variable queries (`label_values(selector, label)`) through
 * the label values API, instant panels through /api/v1/query and graph
 * panels through /api/v1/query_range.
 *
 * Owns the choice of Grafana's built-in intervals for one-second scrapes
 * ($__rate_interval 15s, $__interval 1s) and the description of a panel
 * that comes up empty. The queries themselves come from grafana/queries.ts,
 * so the test runs exactly what the dashboards hold.
 */
import { buildDashboards } from '../../grafana/dashboards/index.js';
import { dashboardQueries, substituteVariables, type PanelQuery, type QueryValues } from '../../grafana/queries.js';
import type { PrometheusApi, Labels } from './prometheus-api.js';

/** Fifteen one-second scrapes: what Grafana's $__rate_interval would be for a 1s scrape interval and a short range. */
export const RATE_INTERVAL = '15s';
/** A graph panel's range in the test: the last 10 s, one point per second. */
const GRAPH_RANGE_SECONDS = 10;
const GRAPH_STEP_SECONDS = 1;

export interface PanelResult {
  readonly query: PanelQuery;
  /** The label sets of the series returned (empty: the panel would say "No data"). */
  readonly series: readonly Labels[];
}

/** Variable values for one-second scrapes; `instance` may be a regex for the fleet dashboard. */
export function queryValues(job: string, instance: string, counter?: string): QueryValues {
  return { job, instance, ...(counter !== undefined && { counter }), rateInterval: RATE_INTERVAL, interval: '1s', range: '1m' };
}

/** Evaluates one panel query at `time` (unix seconds) as Grafana would. */
export async function runPanelQuery(api: PrometheusApi, query: PanelQuery, time: number): Promise<PanelResult> {
  if (query.instant) {
    return { query, series: (await api.query(query.expr, time)).map((sample) => sample.metric) };
  }
  const range = await api.queryRange(query.expr, time - GRAPH_RANGE_SECONDS, time, GRAPH_STEP_SECONDS);
  return { query, series: range.filter((series) => series.values.length > 0).map((series) => series.metric) };
}

/** Every panel of the dashboards `uids` (all when empty) for the given variable values. */
export function panelQueries(values: QueryValues, uids: readonly string[] = []): PanelQuery[] {
  return dashboardQueries(values).filter((query) => uids.length === 0 || uids.includes(query.dashboard));
}

export function describePanel(query: PanelQuery): string {
  return `${query.dashboard} #${query.panelId} "${query.panel}" ${query.refId}${query.instant ? ' (instant)' : ''}: ${query.expr}`;
}

/** The values a dashboard variable lists, as Grafana asks Prometheus for them (last `seconds` before `time`). */
export async function variableValues(
  api: PrometheusApi,
  dashboardUid: string,
  variable: string,
  values: QueryValues,
  time: number,
  seconds = 60,
): Promise<string[]> {
  const definition = buildDashboards()
    .map(({ dashboard }) => dashboard)
    .find((dashboard) => dashboard.uid === dashboardUid)
    ?.templating?.list?.find((candidate) => candidate.name === variable);
  if (definition === undefined) throw new Error(`dashboard ${dashboardUid} has no variable ${variable}`);
  const where = `dashboard ${dashboardUid}, variable ${variable}`;
  const text = substituteVariables(String(definition.query), values, where);
  const match = /^label_values\((.+), (\w+)\)$/.exec(text);
  if (match === null) throw new Error(`${where}: not a label_values(selector, label) query: ${text}`);
  return api.labelValues(match[2] as string, match[1] as string, time - seconds, time);
}
