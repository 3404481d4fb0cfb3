/**
 * The kernel handle's life in the Exporter: a kernel that cannot be opened
 * at start is retried with a growing backoff (a short one is injected) and
 * read right once it opens; a handle that breaks mid-life is reopened the
 * same way; reload() swaps the config after queued scrapes. Open attempts
 * are counted with the simulator's instrumentation, values compared with
 * the image.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { KernelImage } from '../../sim/image/image.js';
import { counterHandle, symbolAddress } from '../../sim/image/manifest.js';
import { byLabel, samplesOf, valueOf } from '../support/parse.js';
import { makeKernel, type TestKernel } from '../support/sim.js';
import { kernelConfig, openExporter, simControl, sleep, sumOf, type ExporterUnderTest } from './harness.js';

const EACCES = 13;
const BACKOFF = { initialMs: 300, maxMs: 2_000 };
const BODY = 'counters:\n  - { name: swtch, symbol: vm_cnt, offset: 0, per_cpu: true }\n';

let kernel: TestKernel;
let image: KernelImage;
const running: ExporterUnderTest[] = [];

beforeAll(() => {
  kernel = makeKernel({ cpus: [0, 1, 2] });
  image = kernel.open();
});
afterEach(async () => {
  image.clearFaults();
  await Promise.all(running.splice(0).map((r) => r.close()));
});
afterAll(() => {
  image.close();
  kernel.remove();
});

async function start(body = BODY): Promise<ExporterUnderTest> {
  const run = await openExporter(kernel, body, { backoff: BACKOFF, enabled: ['counters', 'cpus'] });
  running.push(run);
  return run;
}

function opens(): number {
  return simControl().callCounts().kvm_openfiles ?? 0;
}

function expectReadRight(scrape: Awaited<ReturnType<ExporterUnderTest['scrape']>>): void {
  const swtch = counterHandle(kernel.manifest, 'vm_cnt.v_swtch');
  expect(valueOf(scrape, 'kvm_up')).toBe(1);
  expect(valueOf(scrape, 'kvm_swtch_total')).toBe(sumOf(image, swtch, [0, 1, 2]));
  expect([...byLabel(scrape, 'kvm_scrape_collector_success', 'collector').values()]).toEqual([1, 1]);
}

describe('a kernel that cannot be opened at start', () => {
  it('is retried after the backoff, not before, and read right once it opens', async () => {
    image.setOpenErrno(EACCES);
    simControl().resetCallCounts();
    const run = await start();
    expect(opens()).toBe(1);
    image.setOpenErrno(0);
    const early = await run.scrape();
    expect(opens(), 'no attempt before the backoff has passed').toBe(1);
    expect(valueOf(early, 'kvm_up')).toBe(0);
    expect(run.exporter.status().kernelError).toBe(`kvm_openfiles(NULL, ${kernel.image}) failed: ${kernel.image}: Permission denied`);
    await sleep(BACKOFF.initialMs + 50);
    const later = await run.scrape();
    expect(opens()).toBe(2);
    expectReadRight(later);
    expect(run.exporter.status()).toMatchObject({ kernelUp: true });
    expect(run.exporter.status().kernelError).toBeUndefined();
  });

  it('waits twice as long after a retry fails again', async () => {
    image.setOpenErrno(EACCES);
    simControl().resetCallCounts();
    const run = await start();
    await sleep(BACKOFF.initialMs + 50);
    expect(valueOf(await run.scrape(), 'kvm_up')).toBe(0);
    expect(opens(), 'the first retry').toBe(2);
    image.setOpenErrno(0);
    await sleep(BACKOFF.initialMs + 50);
    expect(valueOf(await run.scrape(), 'kvm_up'), 'one initial delay is not enough any more').toBe(0);
    expect(opens()).toBe(2);
    await sleep(BACKOFF.initialMs);
    expectReadRight(await run.scrape());
    expect(opens()).toBe(3);
  });
});

describe('a handle that breaks while serving', () => {
  it('goes to kvm_up 0, is closed and reopened after the backoff, and reads right again', async () => {
    const run = await start();
    expectReadRight(await run.scrape());
    const table = symbolAddress(kernel.manifest, 'cpuid_to_pcpu');
    image.setEfault(table, table + 8n);
    simControl().resetCallCounts();
    const broken = await run.scrape();
    expect(valueOf(broken, 'kvm_up')).toBe(0);
    expect(simControl().callCounts().kvm_close, 'the broken handle is closed').toBe(1);
    image.clearFaults();
    expect(valueOf(await run.scrape(), 'kvm_up'), 'still waiting out the backoff').toBe(0);
    expect(opens()).toBe(0);
    await sleep(BACKOFF.initialMs + 50);
    expectReadRight(await run.scrape());
    expect(opens()).toBe(1);
  });
});

describe('reload()', () => {
  it('swaps in the new config and collectors after the queued scrapes, on a new handle', async () => {
    const run = await start();
    const queued = run.scrape();
    const next = kernelConfig(kernel, 'variables:\n  - { name: hz, symbol: hz, ctype: int32 }\n', 'next.yml');
    simControl().resetCallCounts();
    await run.exporter.reload(next, new Set(['variables']));
    expectReadRight(await queued);
    const calls = simControl().callCounts();
    expect([calls.kvm_close, calls.kvm_openfiles]).toEqual([1, 1]);
    const scrape = await run.scrape();
    expect(valueOf(scrape, 'kvm_hz')).toBe(image.readI32(symbolAddress(kernel.manifest, 'hz')));
    expect(samplesOf(scrape, 'kvm_swtch_total')).toEqual([]);
    expect(byLabel(scrape, 'kvm_scrape_collector_success', 'collector')).toEqual(new Map([['variables', 1]]));
    const status = run.exporter.status();
    expect(status.configFile).toBe(next.file);
    expect(status.collectors.filter((c) => c.enabled).map((c) => c.name)).toEqual(['variables']);
  });

  it('forgets the old outcomes: a collector failing before the reload has no error after it', async () => {
    const run = await start();
    const pc = image.pcpuAddress(0);
    image.setEfault(pc + 60n, pc + 64n);
    await run.scrape();
    expect(run.exporter.status().kernelUp).toBe(false);
    image.clearFaults();
    await run.exporter.reload(run.config, new Set(['counters', 'cpus']));
    expect(run.exporter.status().collectors.every((c) => c.lastError === undefined && c.lastSuccess === undefined)).toBe(true);
    expectReadRight(await run.scrape());
  });
});
