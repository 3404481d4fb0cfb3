/**
 * Every PromQL query of the shipped dashboards, ready to send to Prometheus:
 * Grafana's variables replaced by the values a test (or a person) chooses.
 *
 * Owns the list the end-to-end test runs against a live Prometheus to prove
 * no panel comes up empty, and that test/grafana checks for syntax and
 * shape. Mirrors what Grafana does before it queries: `$var` and `${var}`
 * become the variable's value, `$__rate_interval` and `$__interval` become
 * durations.
 */

import type { Dashboard, Panel, RowPanel } from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboards } from './dashboards/index.js';
import { DEFAULT_PERCPU_COUNTER } from './dashboards/variables.js';

export interface QueryValues {
  readonly job: string;
  /** One host; for the fleet dashboard (a regex matcher) a regex such as `.+` also works. */
  readonly instance: string;
  /** A per-CPU counter's metric name; default `kvm_vm_intr_percpu_total`. */
  readonly counter?: string;
  /** The Jails dashboard's picker, a regex as Grafana makes of a multi-value choice; default `.+` (All). */
  readonly jail?: string;
  /** Grafana's `$__rate_interval`; default `1m`, four 15s scrapes. */
  readonly rateInterval?: string;
  /** Grafana's `$__interval`; default `15s`. */
  readonly interval?: string;
  /** Grafana's `$__range`; default `3h`, the dashboards' default time range. */
  readonly range?: string;
}

export interface PanelQuery {
  /** Dashboard uid, e.g. `kvm-exporter-overview`. */
  readonly dashboard: string;
  readonly panelId: number;
  /** Panel title, variables replaced. */
  readonly panel: string;
  readonly refId: string;
  /** Instant query (the panel shows only the latest value) or range query. */
  readonly instant: boolean;
  /** The PromQL text, variables replaced. */
  readonly expr: string;
}

/** Query targets as the Prometheus data source stores them. */
interface PromTarget {
  readonly expr?: string;
  readonly refId?: string;
  readonly instant?: boolean;
}

function variableTable(values: QueryValues): ReadonlyMap<string, string> {
  return new Map([
    ['job', values.job],
    ['instance', values.instance],
    ['counter', values.counter ?? DEFAULT_PERCPU_COUNTER],
    ['jail', values.jail ?? '.+'],
    ['__rate_interval', values.rateInterval ?? '1m'],
    ['__interval', values.interval ?? '15s'],
    ['__range', values.range ?? '3h'],
  ]);
}

/**
 * Replaces `$name` and `${name}` as Grafana does. `$1`, `$2`... are left
 * alone: they are label_replace() capture groups, not variables. Any other
 * unknown name is an error, so a typo cannot reach Prometheus unnoticed.
 */
export function substituteVariables(text: string, values: QueryValues, where: string): string {
  const table = variableTable(values);
  return text.replace(/\$(?:\{(\w+)\}|(\w+))/g, (whole, braced?: string, bare?: string) => {
    const name = braced ?? bare ?? '';
    if (/^\d+$/.test(name)) return whole;
    const value = table.get(name);
    if (value === undefined) {
      throw new Error(`${where}: unknown dashboard variable ${whole} (known: ${[...table.keys()].join(', ')})`);
    }
    return value;
  });
}

/** The panels of a dashboard that show data: rows dropped, collapsed rows opened. */
export function dataPanels(dashboard: Dashboard): Panel[] {
  return (dashboard.panels ?? []).flatMap((panel: Panel | RowPanel): Panel[] =>
    panel.type === 'row' ? ((panel as RowPanel).panels ?? []) : [panel as Panel],
  );
}

function panelQueries(dashboard: Dashboard, panel: Panel, values: QueryValues): PanelQuery[] {
  const where = `dashboard ${dashboard.uid}, panel ${panel.id} "${panel.title}"`;
  return ((panel.targets ?? []) as PromTarget[]).map((target) => ({
    dashboard: dashboard.uid ?? '',
    panelId: panel.id ?? 0,
    panel: substituteVariables(panel.title ?? '', values, where),
    refId: target.refId ?? '',
    instant: target.instant === true,
    expr: substituteVariables(target.expr ?? '', values, `${where}, query ${target.refId}`),
  }));
}

/** Every panel query of every shipped dashboard, with `values` filled in. */
export function dashboardQueries(values: QueryValues): PanelQuery[] {
  return buildDashboards().flatMap(({ dashboard }) =>
    dataPanels(dashboard).flatMap((panel) => panelQueries(dashboard, panel, values)),
  );
}
