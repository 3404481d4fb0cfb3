/**
 * Every metric family the exporter emits on its own, declared once: the
 * collectors without config entries, the per-scrape families, the
 * exporter's self-metrics and the prom-client process metrics it passes on.
 * Each emitter takes its families from here, and the config check refuses a
 * config entry whose family would take one of these names, naming the
 * emitter; a family not declared here is not emitted (see self-metrics.ts).
 *
 * A new built-in family is added here, to its emitter's group, and used by
 * the emitter from here.
 */
import type { FamilyHead } from './family.js';

function gauge(name: string, help: string, labelNames: readonly string[] = []): FamilyHead {
  return { name, help, type: 'gauge', labelNames };
}

/** The cpus collector. */
export const CPUS_METRICS = {
  max: gauge('kvm_cpus_max', 'Highest number of CPUs the kernel supports, mp_maxcpus (kvm_getmaxcpu)'),
  ncpus: gauge('kvm_cpus', 'Number of CPUs, mp_ncpus (kvm_getncpus)'),
  present: gauge('kvm_cpus_present', 'CPU ids with a struct pcpu (non-NULL cpuid_to_pcpu entries)'),
} as const;

/** The loadavg collector, in the order of kvm_getloadavg's array. */
export const LOADAVG_METRICS = [1, 5, 15].map((minutes) =>
  gauge(`kvm_load${minutes}`, `${minutes}-minute load average (kvm_getloadavg)`),
);

/** The processes collector; a breakdown's HELP gets its cap appended. */
export const PROCESSES_METRICS = {
  processes: gauge('kvm_processes', 'Processes by state (ki_stat of kvm_getprocs KERN_PROC_PROC)', ['state']),
  threads: gauge('kvm_threads', 'Threads by state (ki_stat of kvm_getprocs KERN_PROC_INC_THREAD)', ['state']),
  byJail: gauge('kvm_processes_by_jail', 'Processes per jail (ki_jid, and the jail\'s pr_name from allprison)', ['jid', 'jail']),
  byUser: gauge('kvm_processes_by_user', 'Processes per effective user id (ki_uid)', ['uid']),
  byCommand: gauge('kvm_processes_by_command', 'Processes per command name (ki_comm)', ['command']),
  group: gauge(
    'kvm_processes_group',
    'Processes per configured group (processes.groups): ki_comm and the kvm_getargv command line matched, each process in its first matching group',
    ['group'],
  ),
  hidden: gauge(
    'kvm_processes_hidden',
    "Processes counted in the kernel's nprocs that kvm_getprocs did not return to this exporter (p_cansee: see_other_uids, see_other_gids, jails)",
  ),
} as const;

/** The swap collector: per device and libkvm's "total" (kvm_getswapinfo). */
export const SWAP_METRICS = {
  total: gauge('kvm_swap_total_bytes', 'Usable swap space per device and in total (ksw_total of kvm_getswapinfo, pages x PAGE_SIZE)', ['device']),
  used: gauge('kvm_swap_used_bytes', 'Swap space in use per device and in total (ksw_used of kvm_getswapinfo, pages x PAGE_SIZE)', ['device']),
} as const;

/** Added to every scrape by the exporter: how each collector and the kernel fared. */
export const SCRAPE_METRICS = {
  duration: gauge('kvm_scrape_collector_duration_seconds', 'Time a collector took in this scrape', ['collector']),
  success: gauge(
    'kvm_scrape_collector_success',
    'Whether a collector read everything it was configured to read (1) or something failed (0)',
    ['collector'],
  ),
  up: gauge('kvm_up', 'Whether the kernel handle is open and its CPU topology could be read in this scrape'),
} as const;

/** The exporter's self-metrics (as Prometheus' own `prometheus_build_info` and `prometheus_config_last_reload_*`). */
export const SELF_METRICS = {
  buildInfo: gauge(
    'kvm_exporter_build_info',
    'A metric with a constant 1 value labelled by version, revision and Node.js version of kvm_exporter.',
    ['version', 'revision', 'nodejs'],
  ),
  reloadSuccessful: gauge('kvm_exporter_config_last_reload_successful', 'Whether the last configuration reload attempt was successful (1) or not (0).'),
  reloadSuccessTimestamp: gauge('kvm_exporter_config_last_reload_success_timestamp_seconds', 'Timestamp of the last successful configuration reload.'),
} as const;

/**
 * prom-client's default metrics (`collectDefaultMetrics`) that are passed on,
 * by name and type; their HELP and labels are prom-client's. Left out:
 * `nodejs_active_handles_total`, `nodejs_active_requests_total` and
 * `nodejs_active_resources_total`, gauges named `_total`, which
 * `promtool check metrics` rejects (only counters end in `_total`);
 * `nodejs_active_handles` and friends carry the same numbers. The
 * `process_*` memory and file descriptor gauges exist on Linux only.
 */
export const PROCESS_METRICS: readonly Pick<FamilyHead, 'name' | 'type'>[] = [
  ...['process_cpu_user_seconds_total', 'process_cpu_system_seconds_total', 'process_cpu_seconds_total'].map((name) => ({ name, type: 'counter' as const })),
  ...[
    'process_start_time_seconds', 'process_resident_memory_bytes', 'process_virtual_memory_bytes', 'process_heap_bytes',
    'process_open_fds', 'process_max_fds',
    'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_min_seconds', 'nodejs_eventloop_lag_max_seconds',
    'nodejs_eventloop_lag_mean_seconds', 'nodejs_eventloop_lag_stddev_seconds', 'nodejs_eventloop_lag_p50_seconds',
    'nodejs_eventloop_lag_p90_seconds', 'nodejs_eventloop_lag_p99_seconds',
    'nodejs_active_resources', 'nodejs_active_handles', 'nodejs_active_requests',
    'nodejs_heap_size_total_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_external_memory_bytes',
    'nodejs_heap_space_size_total_bytes', 'nodejs_heap_space_size_used_bytes', 'nodejs_heap_space_size_available_bytes',
    'nodejs_version_info',
  ].map((name) => ({ name, type: 'gauge' as const })),
  { name: 'nodejs_gc_duration_seconds', type: 'histogram' },
];

/** Who emits a group of built-in families, as a clash with a config entry names it. */
export interface BuiltinGroup {
  readonly emitter: string;
  readonly families: readonly Pick<FamilyHead, 'name' | 'type'>[];
}

export const BUILTIN_METRICS: readonly BuiltinGroup[] = [
  { emitter: 'the cpus collector', families: Object.values(CPUS_METRICS) },
  { emitter: 'the loadavg collector', families: LOADAVG_METRICS },
  { emitter: 'the processes collector', families: Object.values(PROCESSES_METRICS) },
  { emitter: 'the swap collector', families: Object.values(SWAP_METRICS) },
  { emitter: "the exporter's per-scrape metrics", families: Object.values(SCRAPE_METRICS) },
  { emitter: "the exporter's self-metrics", families: Object.values(SELF_METRICS) },
  { emitter: "prom-client's process metrics", families: PROCESS_METRICS },
];
