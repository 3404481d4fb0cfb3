/**
 * Hung kernel reads, one after another: each stuck kernel thread is
 * abandoned and a fresh one reopens the kernel, until three abandoned
 * threads are blocked at once; then no new one is started. Once a hung read
 * returns and its thread ends, a fresh thread must start again and scrapes
 * read the kernel: the exporter recovers by itself, without a restart.
 *
 * The simulator's read delay is read once per kvm_read (sim/README.md): a
 * delay armed just before a scrape and cleared 300 ms later hangs the read
 * in progress. A short stuckAfterMs (the product's option; 10 s by default)
 * keeps the test short.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KernelImage } from '../../sim/image/image.js';
import { valueOf } from '../support/parse.js';
import { makeKernel, type TestKernel } from '../support/sim.js';
import { openExporter, sleep, type ExporterUnderTest } from './harness.js';

/** Longer than the four hangs take to be abandoned, so all four threads are blocked at once. */
const HANG_US = 15_000_000;
const BODY = 'counters:\n  - { name: swtch, symbol: vm_cnt, offset: 0, per_cpu: true }\n';

let kernel: TestKernel;
let image: KernelImage;
let run: ExporterUnderTest | undefined;

beforeAll(() => {
  kernel = makeKernel({ cpus: [0, 1] });
  image = kernel.open();
});
afterEach(async () => {
  image.setReadDelayUs(0);
  await run?.close();
  run = undefined;
});
afterAll(() => {
  image.close();
  kernel.remove();
});

async function hangOneRead(exporter: ExporterUnderTest): Promise<number | undefined> {
  await exporter.exporter.opened();
  image.setReadDelayUs(HANG_US);
  const scrape = exporter.scrape();
  await sleep(300);
  image.setReadDelayUs(0);
  return valueOf(await scrape, 'kvm_up');
}

describe('kernel threads abandoned on hung reads', () => {
  it('after the limit of abandoned threads, a fresh thread starts once a hung read returns, and scrapes read the kernel again', async () => {
    run = await openExporter(kernel, BODY, { enabled: ['counters'], stuckAfterMs: 1_500 });
    expect(valueOf(await run.scrape(), 'kvm_up')).toBe(1);
    for (let hang = 0; hang < 4; hang++) expect(await hangOneRead(run)).toBe(0);
    // Four threads blocked: none is started, and scrapes say the kernel cannot be read.
    expect(run.exporter.holdsStuckThread).toBe(true);
    expect(valueOf(await run.scrape(), 'kvm_up')).toBe(0);
    const deadline = Date.now() + 30_000;
    let up: number | undefined = 0;
    while (up !== 1 && Date.now() < deadline) {
      await sleep(250);
      up = valueOf(await run.scrape(), 'kvm_up');
    }
    expect(up).toBe(1);
  }, 60_000);
});
