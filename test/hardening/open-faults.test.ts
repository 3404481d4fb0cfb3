/**
 * Faults of the kernel handle itself: kvm_openfiles refused (EACCES, as
 * /dev/mem without group kmem; ENOENT, as /dev/mem hidden in a jail) at
 * start and later, and the image truncated or replaced on disk under a
 * running exporter. The exporter serves anyway with kvm_up 0 and every
 * collector failed, says why once (libkvm's errbuf text), reopens with
 * backoff, and once the kernel is readable again serves exactly what the
 * image holds.
 */
import { copyFileSync, linkSync, renameSync, statSync, truncateSync } from 'node:fs';
import { constants } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { enabledCollectors } from '../../src/cli/flags.js';
import { buildFreeBsdKernel } from '../../sim/image/freebsd-kernel.js';
import { KernelImage } from '../../sim/image/image.js';
import { counterHandle } from '../../sim/image/manifest.js';
import { makeKernel, type TestKernel } from '../support/sim.js';
import { compareWithImage, imageTruth, isKernelSample } from './oracle.js';
import { FULL_CONFIG, serveKernel, simControl, sleep, successOf, upOf, until, type Served } from './served.js';

const BACKOFF = { initialMs: 100, maxMs: 400 };
const ALL_FAILED = { cpus: 0, counters: 0, variables: 0, vnet: 0, dpcpu: 0, pcpu: 0, processes: 0, loadavg: 0, swap: 0 };
const ALL_OK = { cpus: 1, counters: 1, variables: 1, vnet: 1, dpcpu: 1, pcpu: 1, processes: 1, loadavg: 1, swap: 1 };

let kernel: TestKernel;
let image: KernelImage;
let served: Served | undefined;

beforeEach(() => {
  simControl().resetPcpuCache();
  kernel = makeKernel({ cpus: [0, 1, 2, 3] });
  image = kernel.open();
});

afterEach(async () => {
  await served?.close();
  served = undefined;
  image.close();
  kernel.remove();
});

async function expectDown(reason: string): Promise<void> {
  const { parsed } = await served!.scrape();
  expect(upOf(parsed)).toBe(0);
  expect(successOf(parsed)).toEqual(ALL_FAILED);
  expect(parsed.samples.filter(isKernelSample)).toEqual([]);
  const ready = await served!.get('/-/ready');
  expect(ready.status).toBe(503);
  expect(ready.text).toContain(reason);
}

/** Waits for kvm_up 1, then checks that every series is served with the image's value. */
async function expectServingImage(of: KernelImage = image): Promise<void> {
  await until('kvm_up 1', async () => upOf((await served!.scrape()).parsed) === 1, 3_000);
  const { parsed } = await served!.scrape();
  expect(successOf(parsed)).toEqual(ALL_OK);
  const cmp = compareWithImage(parsed, imageTruth(of, kernel.manifest, served!.config));
  expect(cmp.wrong).toEqual([]);
  expect(cmp.absent).toEqual([]);
  expect((await served!.get('/-/ready')).status).toBe(200);
}

/** Scrapes (retries happen only when a scrape asks for the kernel) until the log has `msg` at error level after `mark`. */
async function scrapeUntilLogged(msg: string, mark: number): Promise<void> {
  await until(msg, async () => {
    await served!.scrape();
    return served!.log.find('error', msg, {}, mark).length > 0;
  }, 3_000);
}

/** Scrapes for `ms` so that retries happen; returns how many times kvm_openfiles was called meanwhile. */
async function keepScraping(ms: number): Promise<number> {
  const control = simControl();
  control.resetCallCounts();
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await served!.scrape();
    await sleep(30);
  }
  return control.callCounts().kvm_openfiles ?? 0;
}

describe('kvm_openfiles fails at start', () => {
  it.each([
    { errno: 'EACCES', code: constants.errno.EACCES, text: 'Permission denied' },
    { errno: 'ENOENT', code: constants.errno.ENOENT, text: 'No such file or directory' },
  ])('$errno: serves kvm_up 0 and says why once, retries with backoff, and serves the kernel once it opens', async ({ code, text }) => {
    image.setOpenErrno(code);
    served = await serveKernel(kernel, FULL_CONFIG, { backoff: BACKOFF });
    const reason = `kvm_openfiles(NULL, ${kernel.image}) failed: ${kernel.image}: ${text}`;
    await expectDown(reason);
    const scraping = served.log.mark;
    const retries = await keepScraping(1_200);
    // 200, 400, 400 ms apart: a handful, not one per scrape.
    expect(retries).toBeGreaterThanOrEqual(2);
    expect(retries).toBeLessThanOrEqual(5);
    const failures = served.log.find('error', 'cannot open the kernel');
    expect(failures.map((l) => l.err)).toEqual([reason]);
    // Each retry while scraping says so at debug level (one before, if the first scrape came after the first delay).
    expect(served.log.find('debug', 'cannot open the kernel (unchanged)', {}, scraping).length).toBe(retries);
    expect(served.log.find('error', 'collector failed')).toHaveLength(8);

    image.setOpenErrno(0);
    const mark = served.log.mark;
    await expectServingImage();
    expect(served.log.find('info', 'kernel readable again', {}, mark)).toHaveLength(1);
    expect(served.log.problems(mark)).toEqual([]);
  });
});

describe('kvm_openfiles fails later', () => {
  it('a handle that breaks while /dev/mem became unopenable (ENOENT, as in a jail) stays down until the open works again', async () => {
    served = await serveKernel(kernel, FULL_CONFIG, { backoff: BACKOFF });
    await expectServingImage();
    image.setOpenErrno(constants.errno.ENOENT);
    // The open handle does not need open(2) again: it keeps serving.
    await expectServingImage();
    const table = image.symbol('cpuid_to_pcpu').value;
    image.setEfault(table, table + 8n);
    const mark = served.log.mark;
    await expectDown('kvm_read: Bad address');
    image.setEfault(0n, 0n);
    await scrapeUntilLogged('cannot open the kernel', mark);
    await expectDown('No such file or directory');
    await keepScraping(600);
    expect(served.log.find('error', 'kernel handle broken; closing it and reopening with backoff', {}, mark)).toHaveLength(1);
    expect(served.log.find('error', 'cannot open the kernel', {}, mark).map((l) => l.err)).toEqual([
      `kvm_openfiles(NULL, ${kernel.image}) failed: ${kernel.image}: No such file or directory`,
    ]);
    image.setOpenErrno(0);
    await expectServingImage();
  });
});

describe('the image changes on disk under a running exporter', () => {
  it('truncated: reads past the end fail, the reopen is refused with the image error, and a restored image is served again', async () => {
    served = await serveKernel(kernel, FULL_CONFIG, { backoff: BACKOFF });
    await expectServingImage();
    const size = statSync(kernel.image).size;
    copyFileSync(kernel.image, `${kernel.image}.whole`);
    truncateSync(kernel.image, 32 * 1024);
    const mark = served.log.mark;
    await expectDown('short read');
    await scrapeUntilLogged('cannot open the kernel', mark);
    const refused = served.log.find('error', 'cannot open the kernel', {}, mark)[0]!;
    expect(refused.err).toMatch(new RegExp(`^kvm_openfiles\\(NULL, ${kernel.image}\\) failed: ${kernel.image}: .* past end of file \\(.*file is 32768 bytes\\)$`));
    await expectDown('past end of file');
    copyFileSync(`${kernel.image}.whole`, kernel.image);
    expect(statSync(kernel.image).size).toBe(size);
    await expectServingImage();
  });

  it('replaced: the open handle keeps reading the kernel it opened, never a mix, and a reload reads the new one', async () => {
    served = await serveKernel(kernel, FULL_CONFIG, { backoff: BACKOFF });
    await expectServingImage();
    // The replacement has other counter values and load averages at the same addresses.
    const next = `${kernel.dir}/next.img`;
    buildFreeBsdKernel(next, { cpus: [0, 1, 2, 3], loadavg: [3.5, 2.25, 1.125] });
    const replacement = KernelImage.open(next);
    replacement.addCounter(counterHandle(kernel.manifest, 'vm_cnt.v_swtch'), 1, 123_456n);
    linkSync(kernel.image, `${kernel.dir}/opened.img`);
    const opened = KernelImage.open(`${kernel.dir}/opened.img`);
    renameSync(`${next}.ctl`, `${kernel.image}.ctl`);
    renameSync(next, kernel.image);
    try {
      await expectServingImage(opened);
      await served.exporter.reload(served.config, enabledCollectors({ collectors: new Map(), disableDefaults: false }, served.config.collectors));
      await expectServingImage(replacement);
      const { parsed } = await served.scrape();
      expect(parsed.samples.find((s) => s.name === 'kvm_load1')?.value).toBe(3.5);
    } finally {
      opened.close();
      replacement.close();
    }
  });
});
