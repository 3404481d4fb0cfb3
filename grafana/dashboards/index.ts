/**
 * The list of shipped dashboards and how each becomes the JSON file Grafana
 * provisions: the one place that maps a dashboard to its file name.
 *
 * grafana/generate.ts writes these files; test/grafana/dashboards.test.ts
 * rebuilds them in memory and fails if the committed JSON differs.
 */

import type { Dashboard, Panel, RowPanel } from '@grafana/grafana-foundation-sdk/dashboard';
import { fleetDashboard } from './fleet.js';
import { jailsDashboard } from './jails.js';
import { overviewDashboard } from './overview.js';
import { perCpuDashboard } from './per-cpu.js';

export interface DashboardSource {
  /** File name inside grafana/dashboards/. */
  readonly file: string;
  readonly build: () => Dashboard;
}

export const DASHBOARD_SOURCES: readonly DashboardSource[] = [
  { file: 'kvm-overview.json', build: overviewDashboard },
  { file: 'kvm-per-cpu.json', build: perCpuDashboard },
  { file: 'kvm-fleet.json', build: fleetDashboard },
  { file: 'kvm-jails.json', build: jailsDashboard },
];

export interface BuiltDashboard {
  readonly file: string;
  readonly dashboard: Dashboard;
}

/**
 * Gives rows and panels ids 1, 2, 3... in grid order. The builders leave
 * panels without one (and every row at 0), and Grafana needs unique ids to
 * link to a panel or to view it alone.
 */
export function numberPanels(dashboard: Dashboard): Dashboard {
  const panels = (dashboard.panels ?? []).map((panel: Panel | RowPanel, index: number) => ({ ...panel, id: index + 1 }));
  return { ...dashboard, panels };
}

export function buildDashboards(): BuiltDashboard[] {
  return DASHBOARD_SOURCES.map((source) => ({ file: source.file, dashboard: numberPanels(source.build()) }));
}

/** The exact text of a dashboard file: two-space JSON and a final newline. */
export function renderDashboard(dashboard: Dashboard): string {
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}
