/**
 * Template variables of the kvm_exporter dashboards: datasource, job,
 * instance and, where a panel shows one counter per CPU, counter; on the
 * Jails dashboard, jail.
 *
 * Mirrors node_exporter's common dashboards (a `datasource` variable of type
 * prometheus, then `job` and `instance` chained from one always-present
 * series). Hosts are listed from `kvm_up`, which the exporter emits on every
 * scrape whatever its collectors do, even with
 * --web.disable-exporter-metrics (which drops `kvm_exporter_build_info`): a
 * dashboard that listed hosts from a collector's metric would lose a host
 * exactly when that collector fails (node_exporter's `node_uname_info`
 * problem on pfSense).
 */

import {
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DATASOURCE } from './panels.js';

/** The series every scrape of kvm_exporter carries. */
export const HOST_SERIES = 'kvm_up';

/**
 * Per-CPU counters: counter(9) entries exported per CPU
 * (`kvm_<name>_percpu_total{cpu}`) and struct pcpu or DPCPU counters, which
 * carry a `cpu` label under their own name (`kvm_pcputicks_total{cpu}`).
 * CPU time is left out (it has its own panels): its `mode` label would be
 * summed away.
 */
export const PERCPU_COUNTER_MATCHERS = '__name__=~"kvm_.+_total", cpu!="", mode=""';

/** Shown first: interrupts are where per-CPU imbalance usually hurts. */
export const DEFAULT_PERCPU_COUNTER = 'kvm_vm_intr_percpu_total';

export function datasourceVariable(): DatasourceVariableBuilder {
  return new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus');
}

/** `label_values(selector, name)`, refreshed with the time range, sorted alphabetically. */
function labelValuesVariable(name: string, label: string, selector: string, valueLabel = name): QueryVariableBuilder {
  return new QueryVariableBuilder(name)
    .label(label)
    .datasource(DATASOURCE)
    .query(`label_values(${selector}, ${valueLabel})`)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc);
}

export function jobVariable(): QueryVariableBuilder {
  return labelValuesVariable('job', 'Job', HOST_SERIES);
}

/** One host (overview, per-CPU) or any set of hosts (fleet, "All" by default). */
export function instanceVariable(many: boolean): QueryVariableBuilder {
  const variable = labelValuesVariable('instance', 'Instance', `${HOST_SERIES}{job="$job"}`);
  return many ? manyOrAll(variable) : variable;
}

/** Several values or "All" (a `.+` regex, so queries match with `=~`), All chosen at first. */
function manyOrAll(variable: QueryVariableBuilder): QueryVariableBuilder {
  return variable.multi(true).includeAll(true).allValue('.+').current({ text: 'All', value: '$__all' });
}

/**
 * The per-CPU counters the chosen hosts export, by metric name. Of the
 * counter(9) entries only those marked `per_cpu` in the exporter's
 * configuration have one.
 */
export function counterVariable(hostMatchers: string): QueryVariableBuilder {
  return labelValuesVariable('counter', 'Per-CPU counter', `{${PERCPU_COUNTER_MATCHERS}, ${hostMatchers}}`, '__name__')
    .current({ text: DEFAULT_PERCPU_COUNTER, value: DEFAULT_PERCPU_COUNTER });
}

/**
 * Series that carry a `jail` label: the network stacks the vnet collector
 * reads (every `vnet: true` entry has `ip`'s packets in the presets) and the
 * processes per jail, so a jail that shares the host's stack is listed too.
 */
export const JAIL_SERIES = '__name__=~"kvm_ip_packets_total|kvm_processes_by_jail"';

/** The jails of the chosen host, by name; several or all ("All" by default, the host's own stack included). */
export function jailVariable(hostMatchers: string): QueryVariableBuilder {
  return manyOrAll(labelValuesVariable('jail', 'Jail', `{${JAIL_SERIES}, ${hostMatchers}}`));
}
