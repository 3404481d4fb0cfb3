/**
 * FreeBSD libkvm's real limitation, documented: its per-CPU cache (MAXCPU,
 * mp_ncpus, __pcpu, cpuid_to_pcpu[]) is process-wide and never refreshed
 * (lib/libkvm/kvm_pcpu.c), and the simulator reproduces it. Two sessions on
 * two kernels with different CPU layouts in one process: the second is
 * refused with a KvmLayoutError (kvm_up 0, the reason in the status) rather
 * than published with the first kernel's shape, unless the simulator's
 * cache is reset in between. A second kernel of the same shape is fine.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { KvmLayoutError } from '../../src/errors.js';
import { checkPcpuCache } from '../../src/kvm/index.js';
import { KvmSession, readTopology } from '../../src/kvm/index.js';
import { counterHandle } from '../../src/sim/image/manifest.js';
import type { FreeBsdKernelSpec } from '../../src/sim/image/freebsd-kernel.js';
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
  const a = openExporter(kernel(first), BODY, { keepPcpuCache: true });
  exporters.push(a);
  expect(valueOf(await a.scrape(), 'kvm_up')).toBe(1);
  const b = openExporter(kernel(second), BODY, { keepPcpuCache: true });
  exporters.push(b);
  return b;
}

describe.each<[string, FreeBsdKernelSpec, FreeBsdKernelSpec, RegExp]>([
  ['fewer CPUs', { cpus: [0, 1, 2, 3] }, { cpus: [0, 1] }, /kvm_getncpus 4, but this kernel's mp_maxcpus is 256 and mp_ncpus 2/],
  ['more CPUs', { cpus: [0, 1] }, { cpus: [0, 1, 2, 3] }, /kvm_getncpus 2, but this kernel's mp_maxcpus is 256 and mp_ncpus 4/],
  ['a smaller MAXCPU', { cpus: [0, 1, 2, 3] }, { cpus: [0, 1, 2, 3], mpMaxcpus: 16 }, /kvm_getmaxcpu says 256 .* mp_maxcpus is 16/],
  ['a larger MAXCPU (CPU 20 past the cached 16)', { cpus: [0, 1, 2, 3], mpMaxcpus: 16 }, { cpus: [0, 1, 2, 3, 20] }, /kvm_getmaxcpu says 16 .* mp_maxcpus is 256/],
  ['the same counts but other ids', { cpus: [0, 1, 2, 3], mpMaxcpus: 16 }, { cpus: [0, 2, 5, 9], mpMaxcpus: 16 }, /kvm_getpcpu returns NULL for CPU 5, 9/],
])('a second kernel with %s in the same process', (_what, first, second, reason) => {
  it('is refused with the stale-cache KvmLayoutError: kvm_up 0, every collector failed, the reason in the status', async () => {
    const b = await secondAfterFirst(first, second);
    const scrape = await b.scrape();
    expect(valueOf(scrape, 'kvm_up')).toBe(0);
    expect([...byLabel(scrape, 'kvm_scrape_collector_success', 'collector').values()].every((v) => v === 0)).toBe(true);
    const status = b.exporter.status();
    expect(status.kernelUp).toBe(false);
    expect(status.kernelError).toMatch(/^libkvm's process-wide per-CPU cache \(lib\/libkvm\/kvm_pcpu\.c\) was filled from another kernel/);
    expect(status.kernelError).toMatch(reason);
    expect(status.kernelError).toMatch(/restart the exporter/);
  });

  it('is read right once the simulator forgets the cache', async () => {
    const b = await secondAfterFirst(first, second);
    forgetPcpuCache();
    await b.exporter.reload(b.config, new Set(['counters']));
    const scrape = await b.scrape();
    const k = kernels[1]!;
    const image = k.open();
    const cpus = [...(second.cpus ?? [])];
    expect(valueOf(scrape, 'kvm_up')).toBe(1);
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

  it('throws KvmLayoutError on a bare session, where readTopology alone would follow the stale view', () => {
    forgetPcpuCache();
    const first = KvmSession.open({ library: SIM_LIBRARY, corefile: kernel({ cpus: [0, 1, 2, 3], mpMaxcpus: 16 }).image });
    readTopology(first);
    const second = KvmSession.open({ library: SIM_LIBRARY, corefile: kernel({ cpus: [0, 1, 2, 3, 20] }).image });
    try {
      expect(readTopology(second).present, 'CPU 20 is past the cached MAXCPU 16').toEqual([0, 1, 2, 3]);
      expect(() => checkPcpuCache(second)).toThrow(KvmLayoutError);
      checkPcpuCache(first);
    } finally {
      first.close();
      second.close();
    }
  });
});
