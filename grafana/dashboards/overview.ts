/**
 * "kvm_exporter / Overview": one FreeBSD host as kvm_exporter sees it.
 *
 * Answers, top to bottom: can we read this kernel at all, which collectors
 * fail, what are the processes and threads doing, which kernel counters move
 * fastest, how busy are scheduler and interrupts, and what does the exporter
 * itself cost. Mirrors the "Quick" and "Node Exporter" rows of node_exporter's
 * common dashboards, with kvm_exporter's own metric names.
 */

import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { ranking, stat, timeseries, UNIT } from './panels.js';
import type { Section } from './shell.js';
import { newDashboard, withSections } from './shell.js';
import { ZOMBIE_ALERT_THRESHOLD } from './thresholds.js';
import { instanceVariable } from './variables.js';

/** Label matchers selecting the chosen host. */
const HOST = 'job="$job", instance="$instance"';


/**
 * Every kernel counter the exporter sums over CPUs. Per-CPU copies and CPU
 * time have their own dashboard and would crowd the ranking; `cpu=""` also
 * leaves out struct pcpu and DPCPU counters, which are per CPU under their
 * own name (`kvm_pcputicks_total{cpu}`). Of the per-network-stack counters
 * (`vnet: true` entries) only the host's own stack (`jid="0"`) counts: the
 * jails' have their own dashboard, and a hundred jails would fill the
 * ranking with one counter under one legend.
 */
const SUMMED_COUNTERS =
  `{__name__=~"kvm_.+_total", __name__!~"kvm_.+_percpu_total|kvm_cpu_time_seconds_total", cpu="", jid=~"0|", ${HOST}}`;

/**
 * rate() drops the metric name, so rating counters of different names but
 * equal labels fails with "vector cannot contain metrics with the same
 * labelset". Copying the name into a `counter` label first, inside a
 * subquery, keeps the series apart. The subquery steps by 1s, not by the
 * scrape interval: rate() needs two points inside `$__rate_interval`, which
 * Grafana makes as short as 4 scrape intervals (4s for 1s scrapes), and no
 * fixed step longer than half of that is safe. A step shorter than the
 * scrape interval only repeats samples, which rate() reads correctly.
 */
const TOP_COUNTERS =
  `topk(10, rate(label_replace(${SUMMED_COUNTERS}, "counter", "$1", "__name__", "kvm_(.+)_total")` +
  `[$__rate_interval:1s]))`;

function rateOf(metric: string): string {
  return `rate(${metric}{${HOST}}[$__rate_interval])`;
}

function healthRow(): Section {
  return {
    title: 'Health',
    panels: [
      stat({
        title: 'Exporter scraped',
        description: 'Prometheus `up`: 1 when the last scrape of kvm_exporter on this host succeeded.',
        unit: UNIT.count,
        queries: [{ expr: `up{${HOST}}`, legend: 'up' }],
        valueNames: { 0: { text: 'down', color: 'red' }, 1: { text: 'up', color: 'green' } },
      }),
      stat({
        title: 'Kernel readable',
        description: '`kvm_up`: 1 when the exporter holds an open libkvm handle and its last read succeeded.',
        unit: UNIT.count,
        queries: [{ expr: `kvm_up{${HOST}}`, legend: 'kvm_up' }],
        valueNames: { 0: { text: 'unreadable', color: 'red' }, 1: { text: 'readable', color: 'green' } },
      }),
      stat({
        title: 'CPUs',
        description: 'CPUs online (`kvm_getncpus`) and the highest CPU count the kernel supports (`kvm_getmaxcpu`).',
        unit: UNIT.count,
        queries: [
          { expr: `kvm_cpus{${HOST}}`, legend: 'online' },
          { expr: `kvm_cpus_max{${HOST}}`, legend: 'max' },
        ],
      }),
      stat({
        title: 'Failing collectors',
        description: 'Collectors whose last run failed (`kvm_scrape_collector_success == 0`). The exporter log names the libkvm call and its error.',
        unit: UNIT.count,
        queries: [{ expr: `count(kvm_scrape_collector_success{${HOST}} == 0) or vector(0)`, legend: 'failing' }],
        redFrom: 1,
      }),
      stat({
        title: 'Zombie processes',
        description: 'Processes in state zombie (`kvm_processes{state="zombie"}`): exited, waiting for their parent to reap them.',
        unit: UNIT.count,
        queries: [{ expr: `kvm_processes{state="zombie", ${HOST}}`, legend: 'zombies' }],
        redFrom: ZOMBIE_ALERT_THRESHOLD,
      }),
      stat({
        title: 'Exporter version',
        description: 'From `kvm_exporter_build_info`.',
        unit: UNIT.count,
        queries: [{ expr: `kvm_exporter_build_info{${HOST}}`, legend: '{{version}} ({{revision}}), Node.js {{nodejs}}' }],
        showLegendOnly: true,
      }),
    ],
  };
}

function scrapeRow(): Section {
  return {
    title: 'Scrape health',
    panels: [
      timeseries({
        title: 'Collector success',
        description: '`kvm_scrape_collector_success` per collector: 1 ok, 0 failed. One failing collector leaves the others\' metrics in place.',
        unit: UNIT.count,
        min: 0,
        max: 1,
        queries: [{ expr: `kvm_scrape_collector_success{${HOST}}`, legend: '{{collector}}' }],
      }),
      timeseries({
        title: 'Collector duration',
        description: 'Time each collector took in the last scrape (`kvm_scrape_collector_duration_seconds`), and the whole scrape as Prometheus measured it.',
        unit: UNIT.seconds,
        queries: [
          { expr: `kvm_scrape_collector_duration_seconds{${HOST}}`, legend: '{{collector}}' },
          { expr: `scrape_duration_seconds{${HOST}}`, legend: 'whole scrape (Prometheus)' },
        ],
      }),
    ],
  };
}

function processRow(): Section {
  return {
    title: 'Processes and threads',
    panels: [
      timeseries({
        title: 'Processes by state',
        description: '`kvm_processes{state}` from kvm_getprocs(3): idle, running, sleeping, stopped, zombie, waiting, lock.',
        unit: UNIT.count,
        stack: true,
        width: 8,
        queries: [{ expr: `kvm_processes{${HOST}}`, legend: '{{state}}' }],
      }),
      timeseries({
        title: 'Threads by state',
        description: '`kvm_threads{state}`: every kernel thread, by the same states.',
        unit: UNIT.count,
        stack: true,
        width: 8,
        queries: [{ expr: `kvm_threads{${HOST}}`, legend: '{{state}}' }],
      }),
      timeseries({
        title: 'Zombie processes',
        description: `Zombies over time. The dashed line is the KvmZombieProcessesPilingUp threshold (${ZOMBIE_ALERT_THRESHOLD}, and growing).`,
        unit: UNIT.count,
        min: 0,
        width: 8,
        alertAt: ZOMBIE_ALERT_THRESHOLD,
        queries: [{ expr: `kvm_processes{state="zombie", ${HOST}}`, legend: 'zombies' }],
      }),
    ],
  };
}

function counterRow(): Section {
  return {
    title: 'Kernel activity',
    panels: [
      ranking({
        title: 'Top 10 kernel counters by rate',
        description: 'The fastest-moving summed counters (`kvm_<name>_total`), per second, over the last rate interval.',
        unit: UNIT.perSecond,
        queries: [{ expr: TOP_COUNTERS, legend: '{{counter}}' }],
      }),
      timeseries({
        title: 'Scheduler, interrupts and system calls',
        description: 'Rates of the vm_cnt counters (`kvm_vm_<field>_total`, from struct vmmeter).',
        unit: UNIT.perSecond,
        queries: [
          { expr: rateOf('kvm_vm_swtch_total'), legend: 'context switches' },
          { expr: rateOf('kvm_vm_intr_total'), legend: 'interrupts' },
          { expr: rateOf('kvm_vm_soft_total'), legend: 'software interrupts' },
          { expr: rateOf('kvm_vm_syscall_total'), legend: 'system calls' },
          { expr: rateOf('kvm_vm_trap_total'), legend: 'traps' },
        ],
      }),
      timeseries({
        title: 'Load average',
        description: 'kvm_getloadavg(3) over 1, 5 and 15 minutes, against the number of CPUs online.',
        unit: UNIT.load,
        min: 0,
        queries: [
          { expr: `kvm_load1{${HOST}}`, legend: '1m' },
          { expr: `kvm_load5{${HOST}}`, legend: '5m' },
          { expr: `kvm_load15{${HOST}}`, legend: '15m' },
          { expr: `kvm_cpus{${HOST}}`, legend: 'CPUs online' },
        ],
      }),
      timeseries({
        title: 'CPU busy by mode',
        description: 'Non-idle CPU time from struct pcpu pc_cp_time, summed over CPUs, as a share of all CPUs\' elapsed time.',
        unit: UNIT.ratio,
        stack: true,
        min: 0,
        max: 1,
        queries: [{
          expr: `sum by (mode) (rate(kvm_cpu_time_seconds_total{mode!="idle", ${HOST}}[$__rate_interval]))` +
            ` / scalar(count(count by (cpu) (kvm_cpu_time_seconds_total{${HOST}})))`,
          legend: '{{mode}}',
        }],
      }),
    ],
  };
}

function exporterRow(): Section {
  return {
    title: 'Exporter process',
    panels: [
      timeseries({
        title: 'Exporter memory',
        description: 'Resident set of the kvm_exporter process and the part V8 uses for its heap.',
        unit: UNIT.bytes,
        width: 8,
        queries: [
          { expr: `process_resident_memory_bytes{${HOST}}`, legend: 'resident' },
          { expr: `nodejs_heap_size_used_bytes{${HOST}}`, legend: 'V8 heap used' },
        ],
      }),
      timeseries({
        title: 'Exporter CPU',
        description: 'CPU time the exporter used, as a share of one CPU.',
        unit: UNIT.ratio,
        width: 8,
        queries: [{ expr: rateOf('process_cpu_seconds_total'), legend: 'user + system' }],
      }),
      timeseries({
        title: 'Exporter event loop lag',
        description: 'libkvm calls are synchronous: a slow kernel read shows here as event loop lag (p99).',
        unit: UNIT.seconds,
        width: 8,
        queries: [{ expr: `nodejs_eventloop_lag_p99_seconds{${HOST}}`, legend: 'p99' }],
      }),
    ],
  };
}

export function overviewDashboard(): Dashboard {
  const dashboard = newDashboard({
    uid: 'kvm-exporter-overview',
    title: 'kvm_exporter / Overview',
    description: 'One FreeBSD host through kvm_exporter: kernel access, collectors, processes, kernel counters, load, exporter cost.',
    hostMatchers: HOST,
  }).withVariable(instanceVariable(false));
  return withSections(dashboard, [healthRow(), scrapeRow(), processRow(), counterRow(), exporterRow()]).build();
}
