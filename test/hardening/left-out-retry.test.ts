/**
 * Config entries left out because a read failed while their collector was
 * built (a transient fault during an open or reopen) are retried with the
 * handle's backoff, not only at the next SIGHUP: once the fault clears, the
 * series come back within a few backoff steps, and the log says so once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { KernelImage } from '../../sim/image/image.js';
import { samplesOf } from '../support/parse.js';
import { makeKernel, type TestKernel } from '../support/sim.js';
import { compareWithImage, imageTruth } from './oracle.js';
import { FULL_CONFIG, serveKernel, simControl, successOf, until, type Served } from './served.js';

let kernel: TestKernel | undefined;
let image: KernelImage | undefined;
let served: Served | undefined;

afterEach(async () => {
  await served?.close();
  image?.close();
  kernel?.remove();
  served = undefined;
  image = undefined;
  kernel = undefined;
});

describe('entries left out by a read that failed while the collector was built', () => {
  it('are retried with backoff and served once the read succeeds', async () => {
    simControl().resetPcpuCache();
    kernel = makeKernel({ cpus: [0, 1, 2, 3] });
    image = kernel.open();
    // vm_cnt holds the counter(9) handles: while it cannot be read, the vm_cnt counters cannot be resolved.
    const vmCnt = kernel.manifest.symbols.vm_cnt!;
    const start = BigInt(vmCnt.address);
    image.setEfault(start, start + BigInt(vmCnt.size));
    served = await serveKernel(kernel, FULL_CONFIG, { backoff: { initialMs: 100, maxMs: 400 } });

    const faulted = await served.scrape();
    expect(samplesOf(faulted.parsed, 'kvm_vm_swtch_total')).toEqual([]);
    expect(successOf(faulted.parsed).counters).toBe(0);
    const leftOut = served.log.find('warn', 'config entry left out');
    expect(leftOut.length).toBeGreaterThan(0);
    expect(leftOut.some((l) => String(l.problem).includes('vm_cnt.v_swtch'))).toBe(true);

    image.setEfault(0n, 0n);
    await until('kvm_vm_swtch_total to be served again', async () => samplesOf((await served!.scrape()).parsed, 'kvm_vm_swtch_total').length === 1, 5_000);
    const healed = await served.scrape();
    expect(Object.values(successOf(healed.parsed))).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(compareWithImage(healed.parsed, imageTruth(image, kernel.manifest, served.config))).toMatchObject({ wrong: [], absent: [] });
    expect(served.exporter.status().leftOut).toEqual([]);
    // Each left-out entry was reported once when it failed and once when it came back.
    expect(served.log.find('warn', 'config entry left out')).toHaveLength(leftOut.length);
    expect(served.log.find('info', 'config entry resolved')).toHaveLength(leftOut.length);
  });
});
