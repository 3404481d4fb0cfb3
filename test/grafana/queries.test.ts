/**
 * Every dashboard query (grafana/queries.ts) and every variable query, run
 * by promtool's PromQL engine against ten minutes of the series kvm_exporter
 * is specified to export, for two hosts. Each query must parse, evaluate
 * without error and return at least one series: a dashboard that names a
 * metric the exporter does not have, or whose PromQL Prometheus rejects
 * (such as rate() over several metric names, "vector cannot contain
 * metrics with the same labelset"), fails here before any Grafana sees it.
 *
 * The input mirrors the project's metric names (kvm_ prefix, `_total` on
 * counters, `_percpu_total{cpu}` for per-CPU copies); values are arbitrary
 * but distinct per CPU, so max/avg ratios exist. The per-jail series are
 * elements of the freebsd-14-amd64 preset's `vnet: true` entries, for the
 * host's stack and two jails, so a Jails panel that names a counter the
 * preset does not have finds nothing.
 */

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { buildDashboards } from '../../grafana/dashboards/index.js';
import type { PanelQuery, QueryValues } from '../../grafana/queries.js';
import { dashboardQueries, substituteVariables } from '../../grafana/queries.js';
import { runPromtool } from '../rules/promtool.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const JOB = 'kvm_exporter';
const HOSTS = [
  { instance: 'host1:9632', cpus: 4 },
  { instance: 'host2:9632', cpus: 2 },
] as const;
/** 15s scrapes for 10 minutes: the example scrape interval. */
const SAMPLES = 40;
const EVAL_TIME = '10m';

const STATES = ['idle', 'running', 'sleeping', 'stopped', 'zombie', 'waiting', 'lock'];
const COLLECTORS = ['counters', 'variables', 'dpcpu', 'pcpu', 'processes', 'cpus', 'loadavg'];
const PERCPU_COUNTERS = ['vm_swtch', 'vm_intr', 'vm_soft', 'vm_syscall', 'vm_trap'];
const SUMMED_ONLY_COUNTERS = ['vm_forks', 'udp_ipackets', 'ip_total'];
const MODES = ['user', 'nice', 'system', 'interrupt', 'idle'];
const STACKS = [
  { jid: '0', jail: 'host' },
  { jid: '1', jail: 'web' },
  { jid: '2', jail: 'app' },
];

interface PresetEntry {
  name: string;
  vnet?: boolean;
  array?: string[];
}

/** kvm_<entry>_<element>_total of every `vnet: true` entry of the preset the demo and the end-to-end test run. */
function presetVnetCounters(): string[] {
  const preset = parse(readFileSync(join(ROOT, 'config', 'presets', 'freebsd-14-amd64.yml'), 'utf8')) as { counters: PresetEntry[] };
  const entries = preset.counters.filter((entry) => entry.vnet === true);
  if (entries.length === 0) throw new Error('freebsd-14-amd64.yml has no vnet: true entry');
  return entries.flatMap((entry) => (entry.array ?? []).map((element) => `kvm_${entry.name}_${element}_total`));
}
const PRESET_VNET_COUNTERS = presetVnetCounters();

/** The per-stack counters the dashboards name (`kvm_ip_`, `kvm_ip6_`, `kvm_udp_`, `kvm_tcp_`, `kvm_icmp_`). */
function dashboardVnetCounters(): string[] {
  const exprs = dashboardQueries({ job: JOB, instance: 'any' }).map((query) => query.expr);
  return [...new Set(exprs.flatMap((expr) => [...expr.matchAll(/\bkvm_(?:ip|ip6|udp|tcp|icmp)_\w+_total\b/g)].map((match) => match[0])))].sort();
}

/**
 * The input holds only the preset's per-stack counters that some dashboard
 * names (every one of the preset's 673 per stack would exceed promtool's
 * sample limit in the overview's subquery); a test below checks that each
 * one the dashboards name is in the preset.
 */
const VNET_COUNTERS = dashboardVnetCounters().filter((metric) => PRESET_VNET_COUNTERS.includes(metric));

interface InputSeries {
  series: string;
  values: string;
}

function labels(pairs: Record<string, string>): string {
  return Object.entries(pairs).map(([name, value]) => `${name}="${value}"`).join(', ');
}

function constant(metric: string, pairs: Record<string, string>, value: number): InputSeries {
  return { series: `${metric}{${labels(pairs)}}`, values: `${value}x${SAMPLES}` };
}

function growing(metric: string, pairs: Record<string, string>, perSample: number): InputSeries {
  return { series: `${metric}{${labels(pairs)}}`, values: `0+${perSample}x${SAMPLES}` };
}

function hostSeries(instance: string, cpus: number): InputSeries[] {
  const host = { job: JOB, instance };
  const cpuIds = Array.from({ length: cpus }, (_, cpu) => cpu);
  return [
    constant('up', host, 1),
    constant('scrape_duration_seconds', host, 0.02),
    constant('kvm_up', host, 1),
    constant('kvm_exporter_build_info', { ...host, version: '0.1.0', revision: 'abc1234', nodejs: 'v22.0.0' }, 1),
    constant('kvm_cpus', host, cpus),
    constant('kvm_cpus_max', host, 256),
    constant('kvm_load1', host, 0.5),
    constant('kvm_load5', host, 0.4),
    constant('kvm_load15', host, 0.3),
    ...COLLECTORS.map((collector) => constant('kvm_scrape_collector_success', { ...host, collector }, 1)),
    ...COLLECTORS.map((collector) => constant('kvm_scrape_collector_duration_seconds', { ...host, collector }, 0.001)),
    ...STATES.map((state, index) => constant('kvm_processes', { ...host, state }, index + 1)),
    ...STATES.map((state, index) => constant('kvm_threads', { ...host, state }, 10 * (index + 1))),
    ...[...PERCPU_COUNTERS, ...SUMMED_ONLY_COUNTERS].map((name, index) => growing(`kvm_${name}_total`, host, 1000 * (index + 1))),
    ...PERCPU_COUNTERS.flatMap((name) =>
      cpuIds.map((cpu) => growing(`kvm_${name}_percpu_total`, { ...host, cpu: String(cpu) }, 100 * (cpu + 1))),
    ),
    // A struct pcpu counter: per CPU under its own name, not `_percpu_total`.
    ...cpuIds.map((cpu) => growing('kvm_pcputicks_total', { ...host, cpu: String(cpu) }, 30 + cpu)),
    ...cpuIds.flatMap((cpu) =>
      MODES.map((mode, index) => growing('kvm_cpu_time_seconds_total', { ...host, cpu: String(cpu), mode }, (index + 1) / 10)),
    ),
    constant('process_resident_memory_bytes', host, 60e6),
    constant('nodejs_heap_size_used_bytes', host, 20e6),
    growing('process_cpu_seconds_total', host, 0.01),
    constant('nodejs_eventloop_lag_p99_seconds', host, 0.002),
    ...STACKS.flatMap((stack, index) => VNET_COUNTERS.map((metric) => growing(metric, { ...host, ...stack }, 10 * (index + 1)))),
    ...STACKS.map((stack, index) => constant('kvm_processes_by_jail', { ...host, ...stack }, 20 + index)),
  ];
}

/** `label_values(SELECTOR, LABEL)` as Grafana runs it: the LABEL values of the series SELECTOR matches. */
function labelValuesAsPromql(query: string): string {
  const match = /^label_values\((.+), (\w+)\)$/.exec(query);
  if (match === null) throw new Error(`not a label_values(selector, label) query: ${query}`);
  return `count by (${match[2]}) (${match[1]})`;
}

function variableQueries(values: QueryValues): { name: string; expr: string }[] {
  return buildDashboards().flatMap(({ dashboard }) =>
    (dashboard.templating?.list ?? [])
      .filter((variable) => variable.type === 'query')
      .map((variable) => {
        const where = `dashboard ${dashboard.uid}, variable ${variable.name}`;
        return { name: where, expr: substituteVariables(labelValuesAsPromql(String(variable.query)), values, where) };
      }),
  );
}

/** What a check expects of a query: some series, or exactly this many. */
interface Check {
  readonly expr: string;
  readonly seriesCount?: number;
}

/**
 * Without a count: `clamp_max(count(q), 1)` is exactly `{} 1` when q returns
 * any series, and nothing (a failure that prints the expression) when q
 * returns nothing or errors. With a count: `count(q)` must equal it.
 */
function promqlExprTest(check: Check): object {
  const expr = check.seriesCount === undefined ? `clamp_max(count(${check.expr}), 1)` : `count(${check.expr})`;
  return { expr, eval_time: EVAL_TIME, exp_samples: [{ labels: '{}', value: check.seriesCount ?? 1 }] };
}

function promtoolTestFile(checks: readonly Check[]): string {
  const input = HOSTS.flatMap((host) => hostSeries(host.instance, host.cpus));
  return stringify({
    rule_files: [],
    evaluation_interval: '15s',
    tests: [{ interval: '15s', input_series: input, promql_expr_test: checks.map(promqlExprTest) }],
  });
}

function runChecks(checks: readonly Check[]): { status: number | null; output: string } {
  const folder = mkdtempSync(join(tmpdir(), 'kvm-dashboard-queries-'));
  writeFileSync(join(folder, 'queries.test.yml'), promtoolTestFile(checks));
  return runPromtool(['test', 'rules', 'queries.test.yml'], folder);
}

function runExprs(exprs: readonly string[]): { status: number | null; output: string } {
  return runChecks(exprs.map((expr) => ({ expr })));
}

function describeFailure(queries: readonly PanelQuery[], output: string): string {
  const failing = queries.filter((query) => output.includes(JSON.stringify(`clamp_max(count(${query.expr}), 1)`).slice(1, -1)));
  return [
    'promtool rejected or found no data for:',
    ...failing.map((query) => `  ${query.dashboard} #${query.panelId} "${query.panel}" ${query.refId}: ${query.expr}`),
    output,
  ].join('\n');
}

describe('dashboard queries on the exporter\'s series (promtool)', () => {
  const oneHost: QueryValues = { job: JOB, instance: HOSTS[0].instance };
  const allHosts: QueryValues = { job: JOB, instance: '.+' };

  it('positive: every panel query for one host evaluates and returns data', () => {
    const queries = dashboardQueries(oneHost);
    const run = runExprs(queries.map((query) => query.expr));
    expect(run.status, describeFailure(queries, run.output)).toBe(0);
  });

  it('positive: every fleet query for all hosts (instance ".+") evaluates and returns data', () => {
    const queries = dashboardQueries(allHosts).filter((query) => query.dashboard === 'kvm-exporter-fleet');
    expect(queries.length).toBeGreaterThan(10);
    const run = runExprs(queries.map((query) => query.expr));
    expect(run.status, describeFailure(queries, run.output)).toBe(0);
  });

  it.each([...PERCPU_COUNTERS.map((name) => `kvm_${name}_percpu_total`), 'kvm_pcputicks_total'])('positive: per-CPU panels work for counter %s', (counter) => {
    const queries = dashboardQueries({ ...oneHost, counter })
      .filter((query) => query.dashboard === 'kvm-exporter-per-cpu');
    const run = runExprs(queries.map((query) => query.expr));
    expect(run.status, describeFailure(queries, run.output)).toBe(0);
  });

  it('positive: every variable query (job, instance, counter) lists at least one value', () => {
    const variables = variableQueries(oneHost);
    expect(variables.map((variable) => variable.name)).toContain('dashboard kvm-exporter-per-cpu, variable counter');
    const run = runExprs(variables.map((variable) => variable.expr));
    expect(run.status, `${variables.map((variable) => `${variable.name}: ${variable.expr}`).join('\n')}\n${run.output}`).toBe(0);
  });

  it('positive: every per-stack counter a dashboard names is an element of the preset\'s vnet: true entries', () => {
    const named = dashboardVnetCounters();
    expect(named.length).toBeGreaterThan(30);
    expect(named.filter((metric) => !PRESET_VNET_COUNTERS.includes(metric))).toEqual([]);
  });

  it('positive: the jail variable lists the host\'s stack and every jail', () => {
    const jail = variableQueries(oneHost).find((variable) => variable.name === 'dashboard kvm-exporter-jails, variable jail');
    const run = runChecks([{ expr: jail!.expr, seriesCount: STACKS.length }]);
    expect(run.status, `${jail!.expr}\n${run.output}`).toBe(0);
  });

  it('positive: the counter variable lists the per-CPU counters and nothing else', () => {
    const counter = variableQueries(oneHost).find((variable) => variable.name === 'dashboard kvm-exporter-per-cpu, variable counter');
    const run = runChecks([{ expr: counter!.expr, seriesCount: PERCPU_COUNTERS.length + 1 }]);
    expect(run.status, `${counter!.expr}\n${run.output}`).toBe(0);
  });

  it('positive: the top-counters ranking holds counters summed over CPUs, the host\'s network stack\'s but no jail\'s', () => {
    const top = dashboardQueries(oneHost).find((query) => query.panel === 'Top 10 kernel counters by rate');
    const run = runChecks([
      { expr: top!.expr, seriesCount: 10 },
      { expr: `${top!.expr} and on (counter) label_replace(vector(1), "counter", "vm_forks", "", "")`, seriesCount: 1 },
      // The summed counters grow fastest, then the host's stack (10 a scrape): the other two places are the host's.
      { expr: `${top!.expr} and on (jid) label_replace(vector(1), "jid", "0", "", "")`, seriesCount: 10 - PERCPU_COUNTERS.length - SUMMED_ONLY_COUNTERS.length },
    ]);
    expect(run.status, `${top!.expr}\n${run.output}`).toBe(0);
  });

  it('negative: a query for a metric the exporter does not export fails the check', () => {
    const run = runExprs(['kvm_no_such_metric_total{job="kvm_exporter"}']);
    expect(run.status).not.toBe(0);
    expect(run.output).toContain('kvm_no_such_metric_total');
  });

  it('negative: rate() over several counter names without the label_replace subquery fails the check', () => {
    const run = runExprs(['rate({__name__=~"kvm_vm_.+_total", __name__!~".+_percpu_total", job="kvm_exporter"}[1m])']);
    expect(run.status).not.toBe(0);
    expect(run.output).toContain('vector cannot contain metrics with the same labelset');
  });
});
