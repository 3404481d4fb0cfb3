/**
 * The shipped Prometheus configuration, rules and alerts, checked by
 * promtool (the reference implementation) and for coverage: every alert is
 * tested both firing and not firing, every recording rule has an expected
 * value, every alert carries the labels and annotations operators rely on.
 */

import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runPromtool } from './promtool.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PROMETHEUS_DIR = join(ROOT, 'config', 'prometheus');
const RULES_FILE = 'config/prometheus/rules/kvm_exporter.rules.yml';
const ALERTS_FILE = 'config/prometheus/rules/kvm_exporter.alerts.yml';
const TESTS_DIR = join(PROMETHEUS_DIR, 'tests');

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface AlertRuleTest {
  alertname: string;
  exp_alerts?: unknown[];
}

interface RuleTestFile {
  rule_files: string[];
  tests: { alert_rule_test?: AlertRuleTest[]; promql_expr_test?: { expr: string }[] }[];
}

function readYaml<T>(relativePath: string): T {
  return parse(readFileSync(join(ROOT, relativePath), 'utf8')) as T;
}

function rulesOf(relativePath: string): Rule[] {
  const file = readYaml<{ groups: { rules: Rule[] }[] }>(relativePath);
  return file.groups.flatMap((group) => group.rules);
}

function testFiles(): string[] {
  return readdirSync(TESTS_DIR).filter((name) => name.endsWith('.test.yml')).sort();
}

function allRuleTests(): RuleTestFile[] {
  return testFiles().map((name) => readYaml<RuleTestFile>(`config/prometheus/tests/${name}`));
}

const ALERTS = rulesOf(ALERTS_FILE);
const RECORDS = rulesOf(RULES_FILE);

function expectPromtoolSuccess(args: string[]): string {
  const run = runPromtool(args, ROOT);
  expect(run.status, `${run.command} failed:\n${run.output}`).toBe(0);
  return run.output;
}

describe('promtool', () => {
  it('positive: check rules accepts the recording rules and the alerts', () => {
    const output = expectPromtoolSuccess(['check', 'rules', RULES_FILE, ALERTS_FILE]);
    expect(output).toContain(`SUCCESS: ${RECORDS.length} rules found`);
    expect(output).toContain(`SUCCESS: ${ALERTS.length} rules found`);
  });

  it('positive: check config accepts prometheus.yml, its rule files and its file_sd targets', () => {
    const output = expectPromtoolSuccess(['check', 'config', 'config/prometheus/prometheus.yml']);
    expect(output).toContain('SUCCESS: 2 rule files found');
  });

  it.each(testFiles())('positive: test rules passes %s', (name) => {
    expectPromtoolSuccess(['test', 'rules', `config/prometheus/tests/${name}`]);
  });

  it('negative: test rules fails when an expected value is wrong', () => {
    const folder = mkdtempSync(join(tmpdir(), 'kvm-rules-'));
    const testFile = join(folder, 'wrong.test.yml');
    writeFileSync(testFile, [
      'rule_files:',
      `  - ${join(ROOT, RULES_FILE)}`,
      'tests:',
      '  - interval: 1m',
      '    input_series:',
      `      - series: 'kvm_processes{job="kvm_exporter", instance="h:9632", state="zombie"}'`,
      `        values: '3x10'`,
      '    promql_expr_test:',
      '      - expr: instance:kvm_processes:sum',
      '        eval_time: 5m',
      '        exp_samples:',
      `          - labels: 'instance:kvm_processes:sum{job="kvm_exporter", instance="h:9632"}'`,
      '            value: 4',
      '',
    ].join('\n'));
    const run = runPromtool(['test', 'rules', testFile], folder);
    expect(run.status).not.toBe(0);
    expect(run.output).toContain('instance:kvm_processes:sum');
  });

  it('negative: check config rejects a file_sd target file that is not valid JSON', () => {
    const folder = mkdtempSync(join(tmpdir(), 'kvm-sd-'));
    writeFileSync(join(folder, 'broken.json'), '[{"targets": ["h:9632"]}');
    writeFileSync(join(folder, 'prometheus.yml'), [
      'scrape_configs:',
      '  - job_name: kvm_exporter',
      '    file_sd_configs:',
      '      - files: [broken.json]',
      '',
    ].join('\n'));
    const run = runPromtool(['check', 'config', 'prometheus.yml'], folder);
    expect(run.status).not.toBe(0);
    expect(run.output).toContain('broken.json');
  });
});

describe('rule files', () => {
  it('positive: every rule test file loads both rule files it depends on', () => {
    for (const file of allRuleTests()) {
      expect(file.rule_files).toContain('../rules/kvm_exporter.rules.yml');
    }
  });

  it.each(RECORDS.map((rule) => rule.record ?? ''))('positive: recording rule %s is named level:metric:operations', (name) => {
    expect(name).toMatch(/^(instance|instance_cpu|instance_mode|instance_jail):kvm_[a-z0-9_]+:[a-z0-9_]+$/);
  });

  it.each(RECORDS.map((rule) => rule.record ?? ''))('positive: recording rule %s has a promql_expr_test', (name) => {
    const tested = allRuleTests()
      .flatMap((file) => file.tests)
      .flatMap((test) => test.promql_expr_test ?? [])
      .some((test) => new RegExp(`(^|[^a-z_:])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^a-z0-9_:])`).test(test.expr));
    expect(tested, `no promql_expr_test in config/prometheus/tests evaluates ${name}`).toBe(true);
  });

  it.each(ALERTS.map((rule) => rule.alert ?? ''))('positive: alert %s has for, severity, summary and a templated description', (name) => {
    const rule = ALERTS.find((candidate) => candidate.alert === name);
    expect(rule?.for, `${ALERTS_FILE}: alert ${name} has no for:`).toMatch(/^\d+[mh]$/);
    expect(['warning', 'critical']).toContain(rule?.labels?.severity);
    expect(rule?.annotations?.summary).toMatch(/\{\{ \$labels\.instance \}\}/);
    expect(rule?.annotations?.description).toMatch(/\{\{ \$(labels\.\w+|value)[^}]*\}\}/);
  });

  it('positive: grafana/README.md has one line for every recording rule and alert, and none for others', () => {
    const readme = readFileSync(join(ROOT, 'grafana', 'README.md'), 'utf8');
    const documentedRules = [...readme.matchAll(/^- `([a-z_]+:[a-z0-9_]+:[a-z0-9_]+)`:/gm)].map((match) => match[1]);
    const documentedAlerts = [...readme.matchAll(/^- \*\*(Kvm\w+)\*\* \((warning|critical), /gm)].map((match) => match[1]);
    expect(documentedRules).toEqual(RECORDS.map((rule) => rule.record));
    expect(documentedAlerts).toEqual(ALERTS.map((rule) => rule.alert));
  });

  it.each(ALERTS.map((rule) => rule.alert ?? ''))('positive: grafana/README.md states the severity and for: of alert %s', (name) => {
    const rule = ALERTS.find((candidate) => candidate.alert === name);
    const readme = readFileSync(join(ROOT, 'grafana', 'README.md'), 'utf8');
    expect(readme).toContain(`- **${name}** (${rule?.labels?.severity}, ${rule?.for}):`);
  });

  it.each(ALERTS.map((rule) => rule.alert ?? ''))('positive: alert %s is named Kvm* (the dashboards annotate alertname=~"Kvm.+")', (name) => {
    expect(name).toMatch(/^Kvm[A-Z]\w+$/);
  });

  it.each(ALERTS.map((rule) => rule.alert ?? ''))('positive: alert %s is tested both firing and not firing', (name) => {
    const cases = allRuleTests()
      .flatMap((file) => file.tests)
      .flatMap((test) => test.alert_rule_test ?? [])
      .filter((test) => test.alertname === name);
    const firing = cases.filter((test) => (test.exp_alerts ?? []).length > 0);
    const silent = cases.filter((test) => (test.exp_alerts ?? []).length === 0);
    expect(firing.length, `${name}: no alert_rule_test expects it to fire`).toBeGreaterThan(0);
    expect(silent.length, `${name}: no alert_rule_test expects it to stay silent`).toBeGreaterThan(0);
  });
});
