/**
 * `promtool check metrics` (Prometheus' own parser and linter) on rendered
 * output. A missing promtool fails the test with the install command.
 */
import { describe, expect, it } from 'vitest';
import type { MetricFamily } from '../../src/exposition/family.js';
import { renderFamilies } from '../../src/exposition/render.js';
import { SelfMetrics } from '../../src/exposition/self-metrics.js';
import { promtoolCheckMetrics as checkMetrics } from '../support/tools.js';
import { columnarAll, type SeriesFamily } from '../support/families.js';

const cpus = ['0', '1', '2', '5'];
const modes = ['user', 'nice', 'system', 'interrupt', 'idle'];
const states = ['idle', 'running', 'sleeping', 'stopped', 'zombie', 'waiting', 'lock'];
const collectors = ['counters', 'variables', 'dpcpu', 'pcpu', 'processes', 'cpus', 'loadavg'];

/** What a scrape of a 4-CPU host with sparse CPU ids looks like. */
const REALISTIC: MetricFamily[] = columnarAll([
  counter('kvm_vm_swtch_total', 'Context switches (vm_cnt.v_swtch, counter(9)).', [], [[[], 81234567]]),
  counter('kvm_vm_swtch_percpu_total', 'Context switches per CPU (vm_cnt.v_swtch).', ['cpu'], cpus.map((cpu, i) => [[cpu], 1000 * (i + 1)])),
  counter('kvm_vm_intr_total', 'Device interrupts (vm_cnt.v_intr).', [], [[[], 5_000_000_000]]),
  counter('kvm_udp_ipackets_total', 'UDP datagrams received (udpstat.udps_ipackets).', [], [[[], 42]]),
  counter(
    'kvm_cpu_time_seconds_total',
    'CPU time by mode from struct pcpu pc_cp_time.',
    ['cpu', 'mode'],
    cpus.flatMap((cpu) => modes.map((mode, j): [string[], number] => [[cpu, mode], 12.5 * (j + 1)])),
  ),
  gauge('kvm_processes', 'Processes by state (kvm_getprocs).', ['state'], states.map((state, i) => [[state], i])),
  gauge('kvm_threads', 'Threads by state (kvm_getprocs KERN_PROC_ALL | KERN_PROC_INC_THREAD).', ['state'], states.map((state, i) => [[state], i * 3])),
  gauge('kvm_processes_by_command', 'Processes by command name.', ['command'], [[['sh'], 4], [['sshd: "user"\\x'], 1]]),
  gauge('kvm_cpus_max', 'kvm_getmaxcpu().', [], [[[], 256]]),
  gauge('kvm_cpus', 'kvm_getncpus().', [], [[[], 4]]),
  gauge('kvm_load1', 'Load average over 1 minute.', [], [[[], 0.42]]),
  gauge('kvm_up', 'Whether the kernel handle is open and readable.', [], [[[], 1]]),
  gauge('kvm_scrape_collector_success', 'Whether a collector succeeded.', ['collector'], collectors.map((c) => [[c], 1])),
  gauge('kvm_scrape_collector_duration_seconds', 'Duration of a collector scrape.', ['collector'], collectors.map((c, i) => [[c], i / 1000])),
  { name: 'kvm_odd', help: 'Untyped value with special floats.', type: 'untyped', labelNames: ['kind'], series: [{ labels: ['nan'], value: NaN }, { labels: ['inf'], value: Infinity }] },
]);

function counter(name: string, help: string, labelNames: string[], rows: [string[], number][]): SeriesFamily {
  return { name, help, type: 'counter', labelNames, series: rows.map(([labels, value]) => ({ labels, value })) };
}
function gauge(name: string, help: string, labelNames: string[], rows: [string[], number][]): SeriesFamily {
  return { name, help, type: 'gauge', labelNames, series: rows.map(([labels, value]) => ({ labels, value })) };
}

describe('promtool check metrics', () => {
  it('finds nothing to complain about in a realistic kvm_exporter scrape', () => {
    const exposition = renderFamilies(REALISTIC, 'text-0.0.4');
    expect(exposition.split('\n').filter((line) => line.startsWith('kvm_')).length).toBeGreaterThan(50);
    const result = checkMetrics(exposition);
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  it('finds nothing to complain about in the self-metrics (prom-client\'s _total gauges are left out)', async () => {
    const self = new SelfMetrics({ version: '0.1.0', revision: 'abc123' });
    const exposition = renderFamilies(await self.families(), 'text-0.0.4');
    expect(exposition).toContain('kvm_exporter_build_info{version="0.1.0",revision="abc123",nodejs="');
    expect(exposition).toContain('nodejs_active_handles ');
    expect(exposition).not.toContain('nodejs_active_handles_total');
    const result = checkMetrics(exposition);
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  it('rejects a broken exposition, so a clean result above means something', () => {
    const result = checkMetrics('# TYPE kvm_bad counter\nkvm_bad{cpu="0" 1\n');
    expect(result.status).not.toBe(0);
    expect(result.output).not.toBe('');
  });
});
