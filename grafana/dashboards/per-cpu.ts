/**
 * "kvm_exporter / Per-CPU": how one host's work spreads over its CPUs.
 *
 * The `counter` variable lists the host's per-CPU counters
 * (`kvm_<name>_percpu_total{cpu}`, the counter(9) slots the exporter reads
 * per CPU, and struct pcpu / DPCPU counters with a `cpu` label); the panels show its rate per CPU and how unevenly it is spread,
 * then CPU time by mode from struct pcpu `pc_cp_time` (what `top -P` shows).
 * The imbalance panel is the dashboard view of the KvmCpuImbalance alert.
 */

import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { rowsHeatmap, timeseries, UNIT } from './panels.js';
import type { Section } from './shell.js';
import { newDashboard, withSections } from './shell.js';
import { counterVariable, instanceVariable } from './variables.js';

const HOST = 'job="$job", instance="$instance"';

/** The chosen per-CPU counter's rate, one series per CPU. */
const COUNTER_RATE = `rate({__name__="$counter", ${HOST}}[$__rate_interval])`;

const CPU_TIME = `kvm_cpu_time_seconds_total{${HOST}}`;
const CPU_BUSY_TIME = `kvm_cpu_time_seconds_total{mode!="idle", ${HOST}}`;

/** Number of CPUs that report CPU time: the divisor for "share of all CPUs". */
const CPU_COUNT = `scalar(count(count by (cpu) (${CPU_TIME})))`;

function counterSection(): Section {
  return {
    title: 'Per-CPU counter: $counter',
    panels: [
      rowsHeatmap({
        title: '$counter per CPU',
        description: 'Rate per second of the chosen counter, one row per CPU (CPU 0 at the bottom). A single bright row is a CPU doing the work of many.',
        unit: UNIT.perSecond,
        rowLabel: 'CPU',
        queries: [{ expr: `sum by (cpu) (${COUNTER_RATE})`, legend: '{{cpu}}' }],
      }),
      timeseries({
        title: '$counter rate per CPU',
        description: 'The same rates as lines, to read exact values.',
        unit: UNIT.perSecond,
        queries: [{ expr: `sum by (cpu) (${COUNTER_RATE})`, legend: 'CPU {{cpu}}' }],
      }),
      timeseries({
        title: 'Imbalance: busiest CPU / average CPU',
        description: '1 means every CPU does the same share; N (the number of CPUs) means one CPU does it all. For interrupts and software interrupts KvmCpuImbalance fires above max(3, N/2): the busiest CPU does over 3 times the average and over half of all the work.',
        unit: UNIT.times,
        min: 1,
        queries: [{ expr: `max(${COUNTER_RATE}) / (avg(${COUNTER_RATE}) > 0)`, legend: 'max / avg' }],
      }),
      timeseries({
        title: 'Busiest, average and idlest CPU',
        description: 'The spread behind the imbalance ratio, per second.',
        unit: UNIT.perSecond,
        queries: [
          { expr: `max(${COUNTER_RATE})`, legend: 'busiest CPU' },
          { expr: `avg(${COUNTER_RATE})`, legend: 'average CPU' },
          { expr: `min(${COUNTER_RATE})`, legend: 'idlest CPU' },
        ],
      }),
    ],
  };
}

function cpuTimeSection(): Section {
  return {
    title: 'CPU time (struct pcpu pc_cp_time)',
    panels: [
      timeseries({
        title: 'CPU time by mode, all CPUs',
        description: 'kvm_cpu_time_seconds_total summed over CPUs, as a share of all CPUs\' elapsed time; the modes add up to 100%.',
        unit: UNIT.ratio,
        stack: true,
        min: 0,
        max: 1,
        queries: [{
          expr: `sum by (mode) (rate(${CPU_TIME}[$__rate_interval])) / ${CPU_COUNT}`,
          legend: '{{mode}}',
        }],
      }),
      timeseries({
        title: 'CPU time by mode, per CPU',
        description: 'Non-idle time of each CPU by mode, as a share of that CPU\'s elapsed time.',
        unit: UNIT.ratio,
        min: 0,
        max: 1,
        queries: [{
          expr: `sum by (cpu, mode) (rate(${CPU_BUSY_TIME}[$__rate_interval]))`,
          legend: 'CPU {{cpu}} {{mode}}',
        }],
      }),
      rowsHeatmap({
        title: 'Busy share per CPU',
        description: 'Share of each CPU\'s time not spent idle, one row per CPU.',
        unit: UNIT.ratio,
        rowLabel: 'CPU',
        queries: [{ expr: `sum by (cpu) (rate(${CPU_BUSY_TIME}[$__rate_interval]))`, legend: '{{cpu}}' }],
      }),
    ],
  };
}

export function perCpuDashboard(): Dashboard {
  const dashboard = newDashboard({
    uid: 'kvm-exporter-per-cpu',
    title: 'kvm_exporter / Per-CPU',
    description: 'One FreeBSD host, CPU by CPU: a per-CPU kernel counter\'s rate and imbalance, and CPU time by mode.',
    hostMatchers: HOST,
  })
    .withVariable(instanceVariable(false))
    .withVariable(counterVariable(HOST));
  return withSections(dashboard, [counterSection(), cpuTimeSection()]).build();
}
