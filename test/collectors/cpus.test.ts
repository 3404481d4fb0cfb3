/**
 * The cpus collector publishes MAXCPU (kvm_getmaxcpu), mp_ncpus
 * (kvm_getncpus) and the number of CPU ids with a struct pcpu, for dense
 * and sparse ids and after a CPU went away. Expected values are the
 * kernel variables and the cpuid_to_pcpu[] entries read from the image.
 */
import { afterEach, describe, expect, it } from 'vitest';

import type { KernelImage } from '../../sim/image/image.js';
import { symbolAddress, type KernelManifest } from '../../sim/image/manifest.js';
import type { FreeBsdKernelSpec } from '../../sim/image/freebsd-kernel.js';
import { samplesOf, valueOf } from '../support/parse.js';
import { makeKernel, type TestKernel } from '../support/sim.js';
import { presentCpus, scrapeKernel } from '../exporter/harness.js';

const ONLY_CPUS = 'collectors: { counters: false, variables: false, dpcpu: false, pcpu: false, processes: false, loadavg: false }\n';

let kernel: TestKernel | undefined;
afterEach(() => {
  kernel?.remove();
  kernel = undefined;
});

function kernelInt(image: KernelImage, manifest: KernelManifest, name: string): number {
  return image.readI32(symbolAddress(manifest, name));
}

describe.each<[string, FreeBsdKernelSpec, (image: KernelImage) => void]>([
  ['dense ids on an amd64 GENERIC MAXCPU', { cpus: [0, 1, 2, 3] }, () => undefined],
  ['sparse ids', { cpus: [0, 2, 5, 9], mpMaxcpus: 16 }, () => undefined],
  ['a CPU gone before the exporter started', { cpus: [0, 1, 2, 3, 4, 5], mpMaxcpus: 64 }, (image) => image.setCpuPresent(4, false)],
])('%s', (_shape, spec, change) => {
  it('publishes kvm_cpus_max, kvm_cpus and kvm_cpus_present as the kernel holds them', async () => {
    kernel = makeKernel(spec);
    const image = kernel.open();
    change(image);
    const scrape = await scrapeKernel(kernel, ONLY_CPUS);
    expect(valueOf(scrape, 'kvm_cpus_max')).toBe(kernelInt(image, kernel.manifest, 'mp_maxcpus'));
    expect(valueOf(scrape, 'kvm_cpus')).toBe(kernelInt(image, kernel.manifest, 'mp_ncpus'));
    expect(valueOf(scrape, 'kvm_cpus_present')).toBe(presentCpus(image, kernel.manifest).length);
    for (const name of ['kvm_cpus_max', 'kvm_cpus', 'kvm_cpus_present']) expect(samplesOf(scrape, name)[0]?.type).toBe('gauge');
    image.close();
  });
});

it('counts a CPU that went away out of both mp_ncpus and the present ids', async () => {
  kernel = makeKernel({ cpus: [0, 1, 2, 3] });
  const image = kernel.open();
  image.setCpuPresent(1, false);
  const scrape = await scrapeKernel(kernel, ONLY_CPUS);
  expect(valueOf(scrape, 'kvm_cpus')).toBe(3);
  expect(valueOf(scrape, 'kvm_cpus_present')).toBe(3);
  expect(valueOf(scrape, 'kvm_cpus_max')).toBe(256);
  image.close();
});
