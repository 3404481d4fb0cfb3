/**
 * What every kvm_exporter dashboard shares around its panels: tags, time
 * range, refresh, shared crosshair, links to its sibling dashboards and the
 * `datasource` and `job` variables.
 *
 * Mirrors the header of node_exporter's common dashboards ("Node Exporter
 * Full": shared crosshair, a tag that links the family together).
 */

import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type { AnnotationQuery, Panel } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  AnnotationQueryBuilder,
  DashboardBuilder,
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
  RowBuilder,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DATASOURCE } from './panels.js';
import { datasourceVariable, jobVariable } from './variables.js';

/** The tag that ties the dashboards together (and the link menu). */
export const DASHBOARD_TAG = 'kvm_exporter';

export interface DashboardIdentity {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  /** Label matchers for the hosts the dashboard shows, e.g. `job="$job", instance="$instance"`. */
  readonly hostMatchers: string;
}

/**
 * Fields the Prometheus data source reads from an annotation query besides
 * `expr`; the SDK's generic AnnotationQuery type does not list them.
 */
interface PrometheusAnnotation extends AnnotationQuery {
  readonly titleFormat: string;
  readonly textFormat: string;
  readonly tagKeys: string;
  readonly step: string;
}

/**
 * Marks on every graph where one of kvm_exporter's own alerts fired for
 * the hosts shown (Prometheus keeps them as the `ALERTS` series), so a spike
 * and the page it caused line up. Titled by alert name, tagged by severity.
 */
function firingAlerts(hostMatchers: string): cog.Builder<AnnotationQuery> {
  const query = new AnnotationQueryBuilder()
    .name('kvm_exporter alerts')
    .datasource(DATASOURCE)
    .enable(true)
    .iconColor('red')
    .expr(`ALERTS{alertname=~"Kvm.+", alertstate="firing", ${hostMatchers}}`);
  return {
    build: (): PrometheusAnnotation => ({
      ...query.build(),
      titleFormat: '{{alertname}}',
      textFormat: '{{instance}} {{collector}}{{counter}}{{jail}}',
      tagKeys: 'severity',
      step: '60s',
    }),
  };
}

function siblingsLink(): DashboardLinkBuilder {
  return new DashboardLinkBuilder('kvm_exporter dashboards')
    .type(DashboardLinkType.Dashboards)
    .tags([DASHBOARD_TAG])
    .asDropdown(true)
    .includeVars(true)
    .keepTime(true);
}

/** A dashboard with the shared header; the caller adds further variables and panels. */
export function newDashboard(identity: DashboardIdentity): DashboardBuilder {
  return new DashboardBuilder(identity.title)
    .uid(identity.uid)
    .description(identity.description)
    .tags([DASHBOARD_TAG, 'freebsd'])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .time({ from: 'now-3h', to: 'now' })
    .refresh('1m')
    .link(siblingsLink())
    .annotation(firingAlerts(identity.hostMatchers))
    .withVariable(datasourceVariable())
    .withVariable(jobVariable());
}

/** A titled row and the panels under it, left to right, then wrapping. */
export interface Section {
  readonly title: string;
  readonly panels: readonly cog.Builder<Panel>[];
}

/**
 * Adds each section as an expanded row followed by its panels. (A panel
 * added to the RowBuilder itself would make the row collapsed, hiding it.)
 */
export function withSections(dashboard: DashboardBuilder, sections: readonly Section[]): DashboardBuilder {
  for (const section of sections) {
    dashboard.withRow(new RowBuilder(section.title));
    for (const panel of section.panels) {
      dashboard.withPanel(panel);
    }
  }
  return dashboard;
}
