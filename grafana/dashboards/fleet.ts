/**
 * "kvm_exporter / Fleet": every host of a job side by side.
 *
 * For the operator who looks after many FreeBSD machines: how many are
 * unreachable or unreadable, which collectors fail where, whose scheduler or
 * interrupt load stands out, where zombies pile up and which hosts spread a
 * per-CPU counter worst. Each host links to the overview through the
 * dashboard links (variables kept).
 */

import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { labelTable, ranking, stat, timeseries, UNIT } from './panels.js';
import type { Section } from './shell.js';
import { newDashboard, withSections } from './shell.js';
import { ZOMBIE_ALERT_THRESHOLD } from './thresholds.js';
import { counterVariable, instanceVariable } from './variables.js';

/** Label matchers selecting the chosen hosts ("All" is `.+`). */
const HOSTS = 'job="$job", instance=~"$instance"';

/** Per host: how many collectors failed in the last scrape (success is 0 or 1). */
const FAILING_COLLECTORS = `sum by (instance) (1 - kvm_scrape_collector_success{${HOSTS}})`;

const COUNTER_RATE = `rate({__name__="$counter", ${HOSTS}}[$__rate_interval])`;

function perInstanceRate(metric: string): string {
  return `sum by (instance) (rate(${metric}{${HOSTS}}[$__rate_interval]))`;
}

function countWhere(condition: string): string {
  return `count(${condition}) or vector(0)`;
}

function healthSection(): Section {
  return {
    title: 'Fleet health',
    panels: [
      stat({
        title: 'Hosts',
        description: 'Targets of this job Prometheus knows about.',
        unit: UNIT.count,
        width: 6,
        queries: [{ expr: `count(up{${HOSTS}})`, legend: 'hosts' }],
      }),
      stat({
        title: 'Exporters down',
        description: 'Hosts whose last scrape failed (`up == 0`).',
        unit: UNIT.count,
        width: 6,
        redFrom: 1,
        queries: [{ expr: countWhere(`up{${HOSTS}} == 0`), legend: 'down' }],
      }),
      stat({
        title: 'Kernels unreadable',
        description: 'Hosts whose exporter runs but cannot read the kernel (`kvm_up == 0`).',
        unit: UNIT.count,
        width: 6,
        redFrom: 1,
        queries: [{ expr: countWhere(`kvm_up{${HOSTS}} == 0`), legend: 'unreadable' }],
      }),
      stat({
        title: 'Failing collectors',
        description: 'Collector runs that failed in the last scrape, over all hosts.',
        unit: UNIT.count,
        width: 6,
        redFrom: 1,
        queries: [{ expr: countWhere(`kvm_scrape_collector_success{${HOSTS}} == 0`), legend: 'failing' }],
      }),
      labelTable({
        title: 'Hosts at a glance',
        description: 'Latest values per host. Empty cells: the exporter was not scraped, so it reported nothing.',
        unit: UNIT.count,
        joinLabel: 'instance',
        queries: [
          { expr: `sum by (instance) (up{${HOSTS}})`, legend: 'exporter up' },
          { expr: `sum by (instance) (kvm_up{${HOSTS}})`, legend: 'kernel readable' },
          { expr: FAILING_COLLECTORS, legend: 'failing collectors' },
          { expr: `sum by (instance) (kvm_processes{state="zombie", ${HOSTS}})`, legend: 'zombies' },
          { expr: `sum by (instance) (kvm_cpus{${HOSTS}})`, legend: 'CPUs online' },
        ],
      }),
      timeseries({
        title: 'Kernel readable per host',
        description: '`kvm_up` per host over time: 1 readable, 0 not.',
        unit: UNIT.count,
        min: 0,
        max: 1,
        queries: [{ expr: `kvm_up{${HOSTS}}`, legend: '{{instance}}' }],
      }),
      timeseries({
        title: 'Failing collectors per host',
        description: 'How many collectors failed per scrape, per host.',
        unit: UNIT.count,
        min: 0,
        queries: [{ expr: FAILING_COLLECTORS, legend: '{{instance}}' }],
      }),
    ],
  };
}

function activitySection(): Section {
  return {
    title: 'Kernel activity',
    panels: [
      timeseries({
        title: 'Context switches per host',
        description: 'Rate of `kvm_vm_swtch_total` (vm_cnt v_swtch) per host.',
        unit: UNIT.perSecond,
        queries: [{ expr: perInstanceRate('kvm_vm_swtch_total'), legend: '{{instance}}' }],
      }),
      timeseries({
        title: 'Interrupts per host',
        description: 'Rate of `kvm_vm_intr_total` (vm_cnt v_intr) per host.',
        unit: UNIT.perSecond,
        queries: [{ expr: perInstanceRate('kvm_vm_intr_total'), legend: '{{instance}}' }],
      }),
      timeseries({
        title: 'Zombie processes per host',
        description: `Zombies per host; the dashed line is the KvmZombieProcessesPilingUp threshold (${ZOMBIE_ALERT_THRESHOLD}).`,
        unit: UNIT.count,
        min: 0,
        alertAt: ZOMBIE_ALERT_THRESHOLD,
        queries: [{ expr: `sum by (instance) (kvm_processes{state="zombie", ${HOSTS}})`, legend: '{{instance}}' }],
      }),
      ranking({
        title: 'Top 10 hosts by CPU imbalance of $counter',
        description: 'Busiest CPU\'s rate divided by the average CPU\'s rate, per host: 1 is even, the number of CPUs is "all on one CPU".',
        unit: UNIT.times,
        queries: [{
          expr: `topk(10, max by (instance) (${COUNTER_RATE}) / (avg by (instance) (${COUNTER_RATE}) > 0))`,
          legend: '{{instance}}',
        }],
      }),
    ],
  };
}

export function fleetDashboard(): Dashboard {
  const dashboard = newDashboard({
    uid: 'kvm-exporter-fleet',
    title: 'kvm_exporter / Fleet',
    description: 'All FreeBSD hosts of a job through kvm_exporter: reachability, kernel access, failing collectors, kernel activity, zombies, CPU imbalance.',
    hostMatchers: HOSTS,
  })
    .withVariable(instanceVariable(true))
    .withVariable(counterVariable(HOSTS));
  return withSections(dashboard, [healthSection(), activitySection()]).build();
}
