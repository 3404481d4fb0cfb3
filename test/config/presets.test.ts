/**
 * The shipped presets and config files: each loads, and each holds what the
 * project promises (vm_cnt counters by field name with the per-CPU five,
 * udpstat and ipstat arrays, hz and stathz, CPU time from pc_cp_time), with
 * layouts that agree with struct vmmeter and struct pcpu of its release.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { entryFamilies } from '../../src/config/names.js';
import { defaultPresetsDir, knownPresets } from '../../src/config/presets.js';
import type { Config, CounterEntry } from '../../src/config/types.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PRESETS_DIR = `${ROOT}config/presets`;
const PRESETS = ['freebsd-13-amd64', 'freebsd-14-amd64', 'freebsd-15-amd64'];

/** The 36 counter(9) fields of struct vmmeter in 13.0 and later, in declaration order. */
const VMMETER_COUNTERS = [
  'v_swtch', 'v_trap', 'v_syscall', 'v_intr', 'v_soft', 'v_vm_faults', 'v_io_faults', 'v_cow_faults',
  'v_cow_optim', 'v_zfod', 'v_ozfod', 'v_swapin', 'v_swapout', 'v_swappgsin', 'v_swappgsout', 'v_vnodein',
  'v_vnodeout', 'v_vnodepgsin', 'v_vnodepgsout', 'v_intrans', 'v_reactivated', 'v_pdwakeups', 'v_pdpages',
  'v_pdshortfalls', 'v_dfree', 'v_pfree', 'v_tfree', 'v_forks', 'v_vforks', 'v_rforks', 'v_kthreads',
  'v_forkpages', 'v_vforkpages', 'v_rforkpages', 'v_kthreadpages', 'v_wire_count',
];
const PER_CPU = ['vm_swtch', 'vm_trap', 'vm_syscall', 'vm_intr', 'vm_soft'];
const UDPSTAT = [
  'ipackets', 'hdrops', 'badsum', 'nosum', 'badlen', 'noport', 'noportbcast', 'fullsock', 'pcbcachemiss',
  'pcbhashmiss', 'opackets', 'fastout', 'noportmcast', 'filtermcast',
];

function vmFieldsOf(release: string): string[] {
  return release === 'freebsd-15-amd64' ? [...VMMETER_COUNTERS, 'v_nofree_count'] : VMMETER_COUNTERS;
}

function presetConfig(name: string): Config {
  return parseConfig(`preset: ${name}\n`, `${ROOT}test-config.yml`);
}

function counter(config: Config, name: string): CounterEntry {
  const found = config.counters.find((entry) => entry.name === name);
  if (found === undefined) throw new Error(`no counter ${name}`);
  return found;
}

function allMetricNames(config: Config): string[] {
  return [
    ...[...config.counters, ...config.variables, ...config.dpcpu, ...config.pcpu].flatMap((entry) => entryFamilies(entry).map((f) => f.name)),
  ];
}

describe('presets folder', () => {
  it('is found by walking up to package.json', () => {
    expect(defaultPresetsDir()).toBe(PRESETS_DIR);
  });

  it('holds the 13, 14 and 15 amd64 presets', () => {
    expect(knownPresets(PRESETS_DIR)).toEqual(PRESETS);
  });
});

describe.each(PRESETS)('preset %s', (name) => {
  const config = presetConfig(name);
  const vmFields = vmFieldsOf(name);
  const vmCounters = config.counters.filter((entry) => entry.source.kind === 'symbol' && entry.source.symbol === 'vm_cnt');

  it('reads every vm_cnt counter handle by field name, 8 bytes apart', () => {
    // Page gauges are named for their unit (`_count` is reserved for histograms and summaries).
    const stem = (field: string) => `vm_${field.slice(2).replace(/_count$/, '_pages')}`;
    expect(vmCounters.map((entry) => entry.name)).toEqual(vmFields.map(stem));
    expect(vmCounters.map((entry) => entry.source)).toEqual(
      vmFields.map((field, i) => ({ kind: 'symbol', symbol: 'vm_cnt', offset: 8 * i, field: `vmmeter.${field}`, offsetOrigin: { from: expect.stringMatching(/^preset layout vmmeter /) } })),
    );
  });

  it('marks exactly swtch, trap, syscall, intr and soft per CPU', () => {
    expect(vmCounters.filter((entry) => entry.perCpu).map((entry) => entry.name)).toEqual(PER_CPU);
  });

  it('exports page counts as gauges and event counts as counters', () => {
    const gauges = vmCounters.filter((entry) => entry.type === 'gauge').map((entry) => entry.name);
    expect(gauges).toEqual(name === 'freebsd-15-amd64' ? ['vm_wire_pages', 'vm_nofree_pages'] : ['vm_wire_pages']);
  });

  it('reads udpstat as udp and ipstat as ip, one element per struct field', () => {
    expect(counter(config, 'udp').source).toEqual({ kind: 'array', symbol: 'udpstat', offset: 0, elements: UDPSTAT });
    const ip = counter(config, 'ip').source;
    expect(ip.kind === 'array' && ip.elements.length).toBe(29);
    expect(ip.kind === 'array' && [ip.elements[0], ip.elements[28]]).toEqual(['packets', 'badaddr']);
  });

  it('produces the project-wide metric names', () => {
    const names = allMetricNames(config);
    for (const expected of [
      'kvm_vm_swtch_total', 'kvm_vm_swtch_percpu_total', 'kvm_vm_intr_total', 'kvm_vm_syscall_total',
      'kvm_vm_trap_total', 'kvm_vm_soft_total', 'kvm_vm_forks_total', 'kvm_vm_wire_pages',
      'kvm_udp_ipackets_total', 'kvm_udp_pcbcachemiss_total', 'kvm_ip_packets_total', 'kvm_ip_badaddr_total',
      'kvm_hz', 'kvm_stathz', 'kvm_cpu_time_seconds_total',
    ]) {
      expect(names).toContain(expected);
    }
    expect(names.filter((metric) => metric.endsWith('_total_total'))).toEqual([]);
  });

  it('reads hz and stathz as int gauges and CPU time from pc_cp_time', () => {
    expect(config.variables.map((entry) => [entry.name, entry.symbol, entry.ctype, entry.type])).toEqual([
      ['hz', 'hz', 'int32', 'gauge'],
      ['stathz', 'stathz', 'int32', 'gauge'],
    ]);
    expect(config.pcpu).toEqual([
      expect.objectContaining({
        name: 'cpu_time_seconds', offset: 80, field: 'pcpu.pc_cp_time', ctype: 'long', count: 5,
        elementLabel: { name: 'mode', values: ['user', 'nice', 'system', 'interrupt', 'idle'] },
        divideBy: 'stathz', type: 'counter', scale: 1,
      }),
    ]);
  });

  it('places each entry at its line in the preset file', () => {
    const file = `${PRESETS_DIR}/${name}.yml`;
    const lines = readFileSync(file, 'utf8').split('\n');
    const swtch = counter(config, 'vm_swtch').origin;
    expect(swtch).toMatchObject({ file, key: 'counters[0]', column: 5 });
    expect(lines[swtch.line! - 1]).toBe('  - name: vm_swtch');
  });

  it('has layouts that match the struct sizes it claims', () => {
    const layouts = parse(readFileSync(`${PRESETS_DIR}/${name}.yml`, 'utf8')).layouts;
    const vmmeter = layouts.vmmeter;
    const counterBytes = 8 * vmFields.length;
    // Nine u_int fields follow the counters; the struct is padded to 8 bytes.
    expect(vmmeter.size).toBe(Math.ceil((counterBytes + 9 * 4) / 8) * 8);
    expect(vmmeter.fields.v_page_size).toBe(counterBytes);
    expect(vmmeter.fields.v_free_severe).toBe(counterBytes + 32);
    expect(layouts.pcpu.size).toBe(4096);
    expect(layouts.pcpu.fields.pc_cp_time).toBe(80);
    expect(vmmeter.checked).toMatch(/vmmeter\.h/);
    expect(layouts.pcpu.checked).toMatch(/pcpu\.h/);
  });

  it('leaves the process breakdowns off', () => {
    expect(config.processes).toEqual({
      byJail: { enabled: false, maxSeries: 100 },
      byUser: { enabled: false, maxSeries: 100 },
      byCommand: { enabled: false, maxSeries: 100 },
      groups: [],
    });
  });
});

describe('config/demo.yml', () => {
  const config = loadConfig(`${ROOT}config/demo.yml`);

  it('points at the simulated library and the demo image, relative to config/', () => {
    expect(config.kvm).toEqual({
      library: `${ROOT}dist/libkvm-sim/libkvm.so.7`,
      execfile: null,
      corefile: `${ROOT}dist/demo/kernel.img`,
      ctf: [`${ROOT}dist/demo/kernel`],
    });
  });

  it('adds sfstat, the static counters, ticks, nprocs and the DPCPU pcputicks to the 14 preset', () => {
    const sendfile = counter(config, 'sendfile').source;
    expect(sendfile.kind === 'array' && sendfile.symbol).toBe('sfstat');
    expect(sendfile.kind === 'array' && sendfile.elements).toHaveLength(11);
    expect(sendfile.kind === 'array' && [sendfile.elements[0], sendfile.elements[10]]).toEqual(['syscalls', 'pages_bogus']);
    expect(counter(config, 'pqstate_commit_retries').source).toEqual({ kind: 'symbol', symbol: 'pqstate_commit_retries', offset: 0 });
    expect(counter(config, 'object_collapses').source).toEqual({ kind: 'symbol', symbol: 'object_collapses', offset: 0 });
    expect(config.variables.map((entry) => entry.name)).toEqual(['hz', 'stathz', 'ticks', 'nprocs']);
    expect(config.dpcpu).toEqual([expect.objectContaining({ name: 'pcputicks', symbol: 'pcputicks', ctype: 'int32', type: 'counter', offset: 0 })]);
    expect(config.counters).toHaveLength(36 + 2 + 3 + 3);
  });

  it('enables all three process breakdowns', () => {
    const { byJail, byUser, byCommand } = config.processes;
    expect([byJail, byUser, byCommand].map((breakdown) => breakdown.enabled)).toEqual([true, true, true]);
  });
});

describe('config/kvm_exporter.yml', () => {
  it('reads the running kernel through /dev/mem with the 14 preset', () => {
    const config = loadConfig(`${ROOT}config/kvm_exporter.yml`);
    expect(config.kvm).toEqual({ library: 'libkvm.so.7', execfile: null, corefile: '/dev/mem', ctf: 'auto' });
    expect(config.counters.map((entry) => entry.name)).toEqual(presetConfig('freebsd-14-amd64').counters.map((entry) => entry.name));
    expect(config.collectors).toEqual({
      counters: true, variables: true, dpcpu: true, pcpu: true, processes: true, cpus: true, loadavg: true, swap: true,
    });
  });
});
