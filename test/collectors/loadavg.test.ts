/**
 * The loadavg collector publishes kvm_getloadavg's three averages: on a live
 * kernel (getloadavg(3)) and on a crash dump (averunnable read with kvm_read,
 * scaled by its fscale). Expected values are averunnable's fixed-point
 * ldavg[] divided by its fscale, read from the image.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config/load.js';
import { Exporter } from '../../src/exporter/exporter.js';
import { silentLogger } from '../../src/log.js';
import type { KernelImage } from '../../sim/image/image.js';
import { symbolAddress, type KernelManifest } from '../../sim/image/manifest.js';
import { samplesOf, valueOf } from '../support/parse.js';
import { SIM_LIBRARY, makeKernel, type TestKernel } from '../support/sim.js';
import { forgetPcpuCache, openExporter, parseFamilies, scrapeKernel } from '../exporter/harness.js';

const ONLY_LOADAVG = 'collectors: { counters: false, variables: false, dpcpu: false, pcpu: false, processes: false, cpus: false }\n';

let kernel: TestKernel | undefined;
afterEach(() => {
  kernel?.remove();
  kernel = undefined;
});

/** struct loadavg: fixpt_t ldavg[3] (u32), then long fscale at 16. */
function loads(image: KernelImage, manifest: KernelManifest): number[] {
  const at = symbolAddress(manifest, 'averunnable');
  const fscale = Number(image.readU64(at + 16n));
  return [0, 1, 2].map((i) => image.readU32(at + BigInt(4 * i)) / fscale);
}

function expectLoads(scrape: ReturnType<typeof parseFamilies>, expected: readonly number[]): void {
  expect([valueOf(scrape, 'kvm_load1'), valueOf(scrape, 'kvm_load5'), valueOf(scrape, 'kvm_load15')]).toEqual(expected);
  for (const name of ['kvm_load1', 'kvm_load5', 'kvm_load15']) expect(samplesOf(scrape, name)[0]?.type).toBe('gauge');
}

describe('live kernel', () => {
  it('publishes kvm_load1, kvm_load5 and kvm_load15 as averunnable / fscale', async () => {
    kernel = makeKernel({ cpus: [0, 1], loadavg: [1.5, 0.75, 3.25] });
    const image = kernel.open();
    const expected = loads(image, kernel.manifest);
    expect(expected).toEqual([1.5, 0.75, 3.25]);
    expectLoads(await scrapeKernel(kernel, ONLY_LOADAVG), expected);
    image.close();
  });

  it('re-reads the averages at every scrape', async () => {
    kernel = makeKernel({ cpus: [0, 1] });
    const image = kernel.open();
    const run = await openExporter(kernel, ONLY_LOADAVG);
    const before = await run.scrape();
    const at = symbolAddress(kernel.manifest, 'averunnable');
    [4321, 777, 12].forEach((fixed, i) => image.writeU32(at + BigInt(4 * i), fixed));
    const after = await run.scrape();
    await run.close();
    expectLoads(after, loads(image, kernel.manifest));
    expect(valueOf(after, 'kvm_load1')).not.toBe(valueOf(before, 'kvm_load1'));
    image.close();
  });
});

describe('crash dump', () => {
  function dumpConfig(k: TestKernel): string {
    const execfile = k.kernelFile();
    const file = join(k.dir, 'dump.yml');
    writeFileSync(
      file,
      `kvm:\n  library: ${JSON.stringify(SIM_LIBRARY)}\n  execfile: ${JSON.stringify(execfile)}\n  corefile: ${JSON.stringify(k.image)}\n${ONLY_LOADAVG}`,
    );
    return file;
  }

  it('reads averunnable with kvm_read and publishes the same averages', async () => {
    kernel = makeKernel({ cpus: [0, 1, 2], live: false, loadavg: [0.25, 2.5, 8] });
    const image = kernel.open();
    forgetPcpuCache();
    const exporter = new Exporter({ config: loadConfig(dumpConfig(kernel)), enabled: new Set(['loadavg']), logger: silentLogger() });
    const scrape = parseFamilies(await exporter.scrape({}));
    await exporter.close();
    expect(valueOf(scrape, 'kvm_up')).toBe(1);
    expectLoads(scrape, loads(image, kernel.manifest));
    image.close();
  });

  it('fails with kvm_getloadavg and libkvm\'s text when averunnable cannot be read', async () => {
    kernel = makeKernel({ cpus: [0, 1, 2], live: false });
    const image = kernel.open();
    const at = symbolAddress(kernel.manifest, 'averunnable');
    forgetPcpuCache();
    const exporter = new Exporter({ config: loadConfig(dumpConfig(kernel)), enabled: new Set(['loadavg', 'cpus']), logger: silentLogger() });
    image.setEfault(at, at + 24n);
    const scrape = parseFamilies(await exporter.scrape({}));
    const status = exporter.status().collectors.find((c) => c.name === 'loadavg');
    await exporter.close();
    image.clearFaults();
    expect(valueOf(scrape, 'kvm_scrape_collector_success', { collector: 'loadavg' })).toBe(0);
    expect(valueOf(scrape, 'kvm_scrape_collector_success', { collector: 'cpus' })).toBe(1);
    expect(status?.lastError).toBe("kvm_getloadavg(kd, loadavg, 3) failed: can't read averunnable");
    expect(samplesOf(scrape, 'kvm_load1')).toEqual([]);
    image.close();
  });
});
