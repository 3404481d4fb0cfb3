/**
 * The pcpu collector reads fields of each present CPU's struct pcpu
 * (kvm_getpcpu): pc_cp_time divided by stathz with the mode labels of the
 * presets, raw-offset fields of other widths, and a CPU whose struct pcpu
 * cannot be read is left out and reported. Expected values come from the
 * image's struct pcpu copies (KernelImage.readCpTime, readBytes).
 */
import { afterEach, describe, expect, it } from 'vitest';

import type { KernelImage } from '../../sim/image/image.js';
import { symbolAddress, type KernelManifest } from '../../sim/image/manifest.js';
import { byLabel, samplesOf, valueOf } from '../support/parse.js';
import { makeKernel, type TestKernel } from '../support/sim.js';
import { runCollector, scrapeKernel } from '../exporter/harness.js';

const MODES = ['user', 'nice', 'system', 'interrupt', 'idle'];
const PRESET_PCPU = `preset: freebsd-14-amd64
collectors: { counters: false, variables: false, dpcpu: false, processes: false, cpus: false, loadavg: false }
`;

let kernel: TestKernel | undefined;
afterEach(() => {
  kernel?.remove();
  kernel = undefined;
});

/** New cp_time ticks for every present CPU, unlike the planted ones. */
function tick(image: KernelImage, manifest: KernelManifest): void {
  manifest.cpus.forEach((cpu, i) => image.writeCpTime(cpu, MODES.map((_, mode) => BigInt(127 * (i + 3) * (mode + 1) + cpu * 11 + mode))));
}

function stathz(image: KernelImage, manifest: KernelManifest): number {
  return image.readI32(symbolAddress(manifest, 'stathz'));
}

describe.each([
  ['dense', { cpus: [0, 1, 2, 3] }],
  ['sparse', { cpus: [0, 2, 5, 9], mpMaxcpus: 16 }],
])('%s CPU ids', (_shape, spec) => {
  it('publishes kvm_cpu_time_seconds_total{cpu,mode} as pc_cp_time / stathz for every present CPU', async () => {
    kernel = makeKernel(spec);
    const image = kernel.open();
    tick(image, kernel.manifest);
    const scrape = await scrapeKernel(kernel, PRESET_PCPU);
    const hz = stathz(image, kernel.manifest);
    const samples = samplesOf(scrape, 'kvm_cpu_time_seconds_total');
    expect(samples.length).toBe(spec.cpus.length * MODES.length);
    expect([...new Set(samples.map((s) => s.labels.cpu))]).toEqual(spec.cpus.map(String));
    for (const cpu of spec.cpus) {
      const ticks = image.readCpTime(cpu);
      const seconds = byLabel(scrape, 'kvm_cpu_time_seconds_total', 'mode', { cpu: String(cpu) });
      expect([...seconds.keys()]).toEqual(MODES);
      MODES.forEach((mode, i) => expect(seconds.get(mode), `cpu ${cpu} ${mode}`).toBe(Number(ticks[i]) / hz));
    }
    expect(samples[0]?.type).toBe('counter');
    image.close();
  });
});

describe('fields by raw offset', () => {
  it('reads pc_cpuid (int32 at 60) and pc_switchtime (uint64 at 48) of each CPU, and the first two pc_cp_time elements', async () => {
    kernel = makeKernel({ cpus: [1, 3, 4], mpMaxcpus: 8 });
    const image = kernel.open();
    const body = `pcpu:
  - { name: pcpu_cpuid, offset: 60, ctype: int32 }
  - { name: pcpu_switchtime, offset: 48, ctype: uint64, type: untyped }
  - { name: pcpu_cp_time_ticks, offset: 80, ctype: long, count: 2, element_label: { name: mode, values: [user, nice] } }
`;
    const scrape = await scrapeKernel(kernel, body, { enabled: ['pcpu'] });
    const pcpu = (cpu: number) => image.pcpuAddress(cpu);
    expect(byLabel(scrape, 'kvm_pcpu_cpuid', 'cpu')).toEqual(new Map([1, 3, 4].map((cpu) => [String(cpu), image.readI32(pcpu(cpu) + 60n)])));
    for (const cpu of [1, 3, 4]) {
      expect(valueOf(scrape, 'kvm_pcpu_switchtime', { cpu: String(cpu) })).toBe(Number(image.readU64(pcpu(cpu) + 48n)));
      const ticks = image.readCpTime(cpu);
      const byMode = byLabel(scrape, 'kvm_pcpu_cp_time_ticks', 'mode', { cpu: String(cpu) });
      expect(byMode).toEqual(new Map([['user', Number(ticks[0])], ['nice', Number(ticks[1])]]));
    }
    image.close();
  });
});

describe('failures', () => {
  it("leaves out a CPU whose struct pcpu cannot be read, names it, and publishes the other CPUs", () => {
    kernel = makeKernel({ cpus: [0, 1, 2, 3] });
    const image = kernel.open();
    tick(image, kernel.manifest);
    const pc1 = image.pcpuAddress(1);
    const run = runCollector(kernel, 'pcpu', PRESET_PCPU, () => image.setEfault(pc1 + 80n, pc1 + 88n));
    image.clearFaults();
    expect(run.failures).toEqual(new Map([['struct pcpu of CPU 1', 'kvm_getpcpu(kd, 1) failed: unable to read per-CPU data']]));
    const cpus = new Set(samplesOf(run.parsed, 'kvm_cpu_time_seconds_total').map((s) => s.labels.cpu));
    expect([...cpus]).toEqual(['0', '2', '3']);
    const hz = stathz(image, kernel.manifest);
    expect(valueOf(run.parsed, 'kvm_cpu_time_seconds_total', { cpu: '3', mode: 'idle' })).toBe(Number(image.readCpTime(3)[4]) / hz);
    image.close();
  });

  it('leaves out an entry whose divide_by variable is missing or not positive', () => {
    kernel = makeKernel({ cpus: [0, 1] });
    const image = kernel.open();
    image.writeI32(symbolAddress(kernel.manifest, 'hz'), 0);
    const body = `pcpu:
  - { name: by_missing, offset: 80, ctype: long, divide_by: no_such_rate }
  - { name: by_zero, offset: 80, ctype: long, divide_by: hz }
  - { name: by_stathz, offset: 80, ctype: long, divide_by: stathz }
`;
    const run = runCollector(kernel, 'pcpu', body);
    const problems = run.collector.entries.map((e) => e.problem);
    expect(problems[0]).toMatch(/^kernel symbol no_such_rate not found/);
    expect(problems[1]).toBe('divide_by variable hz is 0; expected a positive int');
    expect(problems[2]).toBeUndefined();
    expect(samplesOf(run.parsed, 'kvm_by_missing')).toEqual([]);
    expect(samplesOf(run.parsed, 'kvm_by_zero')).toEqual([]);
    expect(valueOf(run.parsed, 'kvm_by_stathz', { cpu: '1' })).toBe(Number(image.readCpTime(1)[0]) / stathz(image, kernel.manifest));
    image.close();
  });
});
