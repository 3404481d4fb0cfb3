/**
 * The shipped Grafana dashboards: the committed JSON is exactly what the
 * TypeScript sources generate, and every panel follows the conventions an
 * operator relies on (a query behind every panel, the `$datasource`
 * variable everywhere, hosts listed from an always-present series, units,
 * legends, `$__rate_interval` in every rate). Also checks the query list
 * that grafana/queries.ts hands to the end-to-end test, and that the
 * provisioning files agree with config/prometheus.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Dashboard, Panel, VariableModel } from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboards, DASHBOARD_SOURCES, renderDashboard } from '../../grafana/dashboards/index.js';
import { JAIL_DROPS, JAIL_ERRORS, counterMetrics } from '../../grafana/dashboards/jail-counters.js';
import { ZOMBIE_ALERT_THRESHOLD } from '../../grafana/dashboards/thresholds.js';
import { dashboardQueries, dataPanels, substituteVariables } from '../../grafana/queries.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DASHBOARD_DIR = join(ROOT, 'grafana', 'dashboards');
const BUILT = buildDashboards();

interface Target {
  expr?: string;
  legendFormat?: string;
  refId?: string;
  instant?: boolean;
  datasource?: { type?: string; uid?: string };
}

interface PanelCase {
  readonly name: string;
  readonly panel: Panel;
}

const PANELS: PanelCase[] = BUILT.flatMap(({ dashboard }) =>
  dataPanels(dashboard).map((panel) => ({ name: `${dashboard.uid} #${panel.id} "${panel.title}"`, panel })),
);

function targetsOf(panel: Panel): Target[] {
  return (panel.targets ?? []) as Target[];
}

function variable(dashboard: Dashboard, name: string): VariableModel | undefined {
  return dashboard.templating?.list?.find((candidate) => candidate.name === name);
}

/** Every `datasource` value anywhere in the JSON, with the path where it sits. */
function datasourceReferences(node: unknown, path: string): { path: string; value: unknown }[] {
  if (Array.isArray(node)) {
    return node.flatMap((item, index) => datasourceReferences(item, `${path}[${index}]`));
  }
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([key, value]) => [
    ...(key === 'datasource' ? [{ path: `${path}.${key}`, value }] : []),
    ...datasourceReferences(value, `${path}.${key}`),
  ]);
}

/** Where two texts first differ, as `line N: committed ... / generated ...`. */
function firstDifference(committed: string, generated: string): string {
  const left = committed.split('\n');
  const right = generated.split('\n');
  const line = left.findIndex((text, index) => text !== right[index]);
  const at = line === -1 ? left.length : line;
  return `line ${at + 1}: committed ${JSON.stringify(left[at] ?? '<end of file>')} / generated ${JSON.stringify(right[at] ?? '<end of file>')}`;
}

/** The duration inside each `[...]` of a PromQL expression (range or subquery); string literals, such as a regex `[1-9]`, are skipped. */
function rangeSelectors(expr: string): string[] {
  const code = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [...code.matchAll(/\[([^\]:]*)(?::[^\]]*)?\]/g)].map((match) => match[1] ?? '');
}

describe('committed dashboard JSON', () => {
  it.each(DASHBOARD_SOURCES.map((source) => source.file))('positive: grafana/dashboards/%s is up to date', (file) => {
    const built = BUILT.find((candidate) => candidate.file === file);
    const committed = readFileSync(join(DASHBOARD_DIR, file), 'utf8');
    const generated = renderDashboard(built!.dashboard);
    expect(
      committed === generated,
      `grafana/dashboards/${file} differs from what grafana/dashboards/*.ts generate ` +
        `(${firstDifference(committed, generated)}): run \`npm run dashboards\` and commit the result`,
    ).toBe(true);
  });

  it('positive: the folder holds exactly the generated JSON files (no stale dashboard)', () => {
    const onDisk = readdirSync(DASHBOARD_DIR).filter((name) => name.endsWith('.json')).sort();
    expect(onDisk).toEqual(DASHBOARD_SOURCES.map((source) => source.file).sort());
  });

  it('positive: dashboard uids are unique and panel ids are unique within each dashboard', () => {
    const uids = BUILT.map(({ dashboard }) => dashboard.uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const { dashboard } of BUILT) {
      const ids = (dashboard.panels ?? []).map((panel) => panel.id);
      expect(ids.every((id) => typeof id === 'number' && id > 0), `${dashboard.uid}: panel without id`).toBe(true);
      expect(new Set(ids).size, `${dashboard.uid}: duplicate panel id`).toBe(ids.length);
    }
  });
});

describe('panels', () => {
  it('positive: there are panels to check', () => {
    expect(PANELS.length).toBeGreaterThan(30);
  });

  it.each(PANELS)('positive: $name has a query with a non-empty expr', ({ panel }) => {
    const exprs = targetsOf(panel).map((target) => (target.expr ?? '').trim());
    expect(exprs.length).toBeGreaterThan(0);
    expect(exprs.every((expr) => expr.length > 0)).toBe(true);
  });

  it.each(PANELS)('positive: $name sets a unit', ({ panel }) => {
    expect(panel.fieldConfig?.defaults?.unit ?? '').not.toBe('');
  });

  it.each(PANELS)('positive: $name gives every query a legend and its own refId', ({ panel }) => {
    const targets = targetsOf(panel);
    expect(targets.every((target) => (target.legendFormat ?? '').trim() !== '')).toBe(true);
    const refIds = targets.map((target) => target.refId ?? '');
    expect(refIds.every((refId) => /^[A-Z]$/.test(refId))).toBe(true);
    expect(new Set(refIds).size).toBe(refIds.length);
  });

  it.each(PANELS)('positive: $name takes every rate over $__rate_interval', ({ panel }) => {
    for (const target of targetsOf(panel)) {
      for (const range of rangeSelectors(target.expr ?? '')) {
        expect(range, `${target.refId}: ${target.expr}`).toBe('$__rate_interval');
      }
    }
  });
});

describe('data source and variables', () => {
  it.each(BUILT.map(({ dashboard }) => dashboard))('positive: every datasource reference in $uid is the $datasource variable', (dashboard) => {
    const references = datasourceReferences(dashboard, dashboard.uid ?? '');
    expect(references.length).toBeGreaterThan(0);
    for (const reference of references) {
      expect(reference.value, reference.path).toEqual({ type: 'prometheus', uid: '${datasource}' });
    }
  });

  it.each(BUILT.map(({ dashboard }) => dashboard))('positive: $uid has datasource, job and instance variables, hosts from kvm_up', (dashboard) => {
    expect(variable(dashboard, 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(variable(dashboard, 'job')).toMatchObject({ type: 'query', query: 'label_values(kvm_up, job)' });
    expect(variable(dashboard, 'instance')).toMatchObject({
      type: 'query',
      query: 'label_values(kvm_up{job="$job"}, instance)',
    });
  });

  it('positive: per-CPU and fleet dashboards list per-CPU counters (a cpu label, no mode label) by metric name', () => {
    for (const uid of ['kvm-exporter-per-cpu', 'kvm-exporter-fleet']) {
      const dashboard = BUILT.find((candidate) => candidate.dashboard.uid === uid)!.dashboard;
      expect(String(variable(dashboard, 'counter')?.query)).toMatch(
        /^label_values\(\{__name__=~"kvm_\.\+_total", cpu!="", mode="", job="\$job", instance=~?"\$instance"\}, __name__\)$/,
      );
    }
  });

  it('positive: only the fleet dashboard selects many hosts', () => {
    const many = BUILT.filter(({ dashboard }) => variable(dashboard, 'instance')?.multi === true);
    expect(many.map(({ dashboard }) => dashboard.uid)).toEqual(['kvm-exporter-fleet']);
  });
});

describe('consistency with config/prometheus', () => {
  it('positive: the zombie threshold drawn on the dashboards is the alert threshold', () => {
    const alerts = parse(readFileSync(join(ROOT, 'config/prometheus/rules/kvm_exporter.alerts.yml'), 'utf8')) as {
      groups: { rules: { alert?: string; expr: string }[] }[];
    };
    const zombie = alerts.groups.flatMap((group) => group.rules).find((rule) => rule.alert === 'KvmZombieProcessesPilingUp');
    expect(zombie?.expr).toMatch(new RegExp(`kvm_processes\\{state="zombie"\\} > ${ZOMBIE_ALERT_THRESHOLD} `));
  });

  it.each([
    ['instance_jail:kvm_net_drops:rate5m', JAIL_DROPS],
    ['instance_jail:kvm_net_errors:rate5m', JAIL_ERRORS],
  ] as const)('positive: the recording rule %s sums exactly the counters the Jails dashboard sums', (record, counters) => {
    const rules = parse(readFileSync(join(ROOT, 'config/prometheus/rules/kvm_exporter.rules.yml'), 'utf8')) as {
      groups: { rules: { record?: string; expr: string }[] }[];
    };
    const rule = rules.groups.flatMap((group) => group.rules).find((candidate) => candidate.record === record);
    const summed = [...(rule?.expr ?? '').matchAll(/rate\((kvm_\w+_total)\[5m\]\)/g)].map((match) => match[1]);
    expect(summed.sort()).toEqual(counterMetrics(counters).sort());
    const jails = BUILT.find(({ dashboard }) => dashboard.uid === 'kvm-exporter-jails')!.dashboard;
    const allProtocols = dataPanels(jails)
      .flatMap((panel) => targetsOf(panel))
      .map((target) => [...(target.expr ?? '').matchAll(/rate\((kvm_\w+_total)\{/g)].map((match) => match[1]).sort());
    expect(allProtocols, 'a panel summing every protocol\'s counters').toContainEqual(counterMetrics(counters).sort());
  });

  it('positive: the provisioned data source interval equals the scrape interval', () => {
    const datasources = parse(readFileSync(join(ROOT, 'grafana/provisioning/datasources/kvm_exporter.yml'), 'utf8')) as {
      datasources: { type: string; jsonData: { timeInterval: string } }[];
    };
    const prometheus = parse(readFileSync(join(ROOT, 'config/prometheus/prometheus.yml'), 'utf8')) as {
      scrape_configs: { job_name: string; scrape_interval: string }[];
    };
    const job = prometheus.scrape_configs.find((config) => config.job_name === 'kvm_exporter');
    expect(datasources.datasources[0]?.type).toBe('prometheus');
    expect(datasources.datasources[0]?.jsonData.timeInterval).toBe(job?.scrape_interval);
  });

  it.each(BUILT)('positive: grafana/README.md describes $file under its title', ({ file, dashboard }) => {
    const readme = readFileSync(join(ROOT, 'grafana', 'README.md'), 'utf8');
    expect(readme).toContain(`- **${dashboard.title}** (\`${file}\`):`);
  });

  it('positive: the dashboard provider is a file provider with a path', () => {
    const provisioning = parse(readFileSync(join(ROOT, 'grafana/provisioning/dashboards/kvm_exporter.yml'), 'utf8')) as {
      apiVersion: number;
      providers: { type: string; options: { path: string } }[];
    };
    expect(provisioning.apiVersion).toBe(1);
    expect(provisioning.providers[0]?.type).toBe('file');
    expect(provisioning.providers[0]?.options.path).toMatch(/^\/.+/);
  });
});

describe('grafana/queries.ts', () => {
  const values = { job: 'kvm_exporter', instance: 'host1:9632', counter: 'kvm_vm_soft_percpu_total' };
  const queries = dashboardQueries(values);

  it('positive: returns one entry per panel query of every dashboard', () => {
    const targetCount = PANELS.reduce((sum, { panel }) => sum + targetsOf(panel).length, 0);
    expect(queries).toHaveLength(targetCount);
    expect(new Set(queries.map((query) => query.dashboard))).toEqual(new Set(BUILT.map(({ dashboard }) => dashboard.uid)));
  });

  it('positive: substitutes every variable; only label_replace capture groups keep a $', () => {
    for (const query of queries) {
      expect(query.expr.replace(/\$\d+/g, ''), `${query.dashboard} ${query.panel}`).not.toContain('$');
    }
    expect(queries.some((query) => query.expr.includes('instance="host1:9632"'))).toBe(true);
    expect(queries.some((query) => query.expr.includes('{__name__="kvm_vm_soft_percpu_total"'))).toBe(true);
    expect(queries.some((query) => query.panel === 'kvm_vm_soft_percpu_total per CPU')).toBe(true);
  });

  it('positive: fills $__rate_interval with the chosen duration, 1m by default', () => {
    expect(queries.some((query) => query.expr.includes('[1m]'))).toBe(true);
    const slow = dashboardQueries({ ...values, rateInterval: '2m' });
    expect(slow.some((query) => query.expr.includes('[2m]'))).toBe(true);
    expect(slow.some((query) => query.expr.includes('[1m]'))).toBe(false);
  });

  it('positive: replaces the ${name} form as Grafana does', () => {
    expect(substituteVariables('up{job="${job}"}', values, 'test')).toBe('up{job="kvm_exporter"}');
  });

  it('negative: an unknown variable is an error naming where it is', () => {
    expect(() => substituteVariables('up{job="$jbo"}', values, 'dashboard x, panel 3')).toThrow(
      /dashboard x, panel 3: unknown dashboard variable \$jbo/,
    );
  });
});
