/**
 * FreeBSD libkvm's real limitation, and how the exporter copes: its per-CPU
 * cache (MAXCPU, mp_ncpus, __pcpu, cpuid_to_pcpu[]) is process-wide and
 * filled by the first handle (lib/libkvm/kvm_pcpu.c), and the simulator
 * reproduces it. A bare session on a second kernel reads through the first
 * kernel's view; the exporter refreshes the cache (kvm_getmaxcpu(NULL)) when
 * it opens a handle, so a second kernel of any shape in one process is read
 * with its own CPUs.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { KvmSession, readTopology, refreshPcpuCache } from '../../src/kvm/index.js';
import { counterHandle } from '../../sim/image/manifest.js';
import type { FreeBsdKernelSpec } from '../../sim/image/freebsd-kernel.js';
import { byLabel, valueOf } from '../support/parse.js';
import { SIM_LIBRARY, makeKernel, type TestKernel } from '../support/sim.js';
import { forgetPcpuCache, openExporter, sumOf, type ExporterUnderTest } from './harness.js';

const BODY = 'counters:\n  - { name: swtch, symbol: vm_cnt, offset: 0, per_cpu: true }\n  - { name: forks, symbol: vm_cnt, offset: 216 }\n';

const kernels: TestKernel[] = [];
const exporters: ExporterUnderTest[] = [];
afterEach(async () => {
  await Promise.all(exporters.splice(0).map((e) => e.close()));
  kernels.splice(0).forEach((k) => k.remove());
});

function kernel(spec: FreeBsdKernelSpec): TestKernel {
  const k = makeKernel(spec);
  kernels.push(k);
  return k;
}

/** An exporter on `first`, scraped (which fills libkvm's cache), then one on `second` without a reset. */
async function secondAfterFirst(first: FreeBsdKernelSpec, second: FreeBsdKernelSpec): Promise<ExporterUnderTest> {
  forgetPcpuCache();
  const a = await openExporter(kernel(first), BODY, { keepPcpuCache: true });
  exporters.push(a);
  expect(valueOf(await a.scrape(), 'kvm_up')).toBe(1);
  const b = await openExporter(kernel(second), BODY, { keepPcpuCache: true });
  exporters.push(b);
  return b;
}

describe.each<[string, FreeBsdKernelSpec, FreeBsdKernelSpec]>([
  ['fewer CPUs', { cpus: [0, 1, 2, 3] }, { cpus: [0, 1] }],
  ['more CPUs', { cpus: [0, 1] }, { cpus: [0, 1, 2, 3] }],
  ['a smaller MAXCPU', { cpus: [0, 1, 2, 3] }, { cpus: [0, 1, 2, 3], mpMaxcpus: 16 }],
  ['a larger MAXCPU (CPU 20 past the first kernel\'s 16)', { cpus: [0, 1, 2, 3], mpMaxcpus: 16 }, { cpus: [0, 1, 2, 3, 20] }],
  ['the same counts but other ids', { cpus: [0, 1, 2, 3], mpMaxcpus: 16 }, { cpus: [0, 2, 5, 9], mpMaxcpus: 16 }],
])('a second kernel with %s in the same process', (_what, first, second) => {
  it('is read with its own CPUs: the exporter refreshes libkvm\'s cache when it opens the handle', async () => {
    const b = await secondAfterFirst(first, second);
    const scrape = await b.scrape();
    const k = kernels[1]!;
    const image = k.open();
    const cpus = [...(second.cpus ?? [])];
    expect(valueOf(scrape, 'kvm_up')).toBe(1);
    expect([...byLabel(scrape, 'kvm_scrape_collector_success', 'collector').values()].every((v) => v === 1)).toBe(true);
    expect([...byLabel(scrape, 'kvm_swtch_percpu_total', 'cpu').keys()]).toEqual(cpus.map(String));
    expect(valueOf(scrape, 'kvm_forks_total')).toBe(sumOf(image, counterHandle(k.manifest, 'vm_cnt.v_forks'), cpus));
    image.close();
  });
});

describe('the check itself', () => {
  it('accepts a second kernel of the same shape', async () => {
    const b = await secondAfterFirst({ cpus: [0, 2, 5, 9], mpMaxcpus: 16 }, { cpus: [0, 2, 5, 9], mpMaxcpus: 16 });
    const scrape = await b.scrape();
    expect(valueOf(scrape, 'kvm_up')).toBe(1);
    expect([...byLabel(scrape, 'kvm_swtch_percpu_total', 'cpu').keys()]).toEqual(['0', '2', '5', '9']);
  });

  it('on a bare session, readTopology follows the stale view until the cache is refreshed', () => {
    forgetPcpuCache();
    const first = KvmSession.open({ library: SIM_LIBRARY, corefile: kernel({ cpus: [0, 1, 2, 3], mpMaxcpus: 16 }).image });
    readTopology(first);
    const second = KvmSession.open({ library: SIM_LIBRARY, corefile: kernel({ cpus: [0, 1, 2, 3, 20] }).image });
    try {
      expect(readTopology(second).present, 'CPU 20 is past the cached MAXCPU 16').toEqual([0, 1, 2, 3]);
      refreshPcpuCache(second);
      expect(readTopology(second).present).toEqual([0, 1, 2, 3, 20]);
    } finally {
      first.close();
      second.close();
    }
  });
});
