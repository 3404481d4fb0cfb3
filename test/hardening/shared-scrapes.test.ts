/**
 * Identical scrapes in flight are shared, and a scrape that joins one can
 * only lengthen its deadline: one client sending a tiny
 * X-Prometheus-Scrape-Timeout-Seconds gets its own (failed) answer by its
 * own deadline, and the other clients' scrapes, arriving while it is in
 * flight, read everything, in one collection.
 * A collector cut off by a scrape's deadline is not a collector failure:
 * the log says once that scrapes miss their deadline, not once per
 * collector per request.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { KernelImage } from '../../sim/image/image.js';
import { parseExposition } from '../support/parse.js';
import { makeKernel, type TestKernel } from '../support/sim.js';
import { FULL_CONFIG, serveKernel, simControl, sleep, successOf, type Served } from './served.js';

let kernel: TestKernel | undefined;
let image: KernelImage | undefined;
let served: Served | undefined;

afterEach(async () => {
  image?.setReadDelayUs(0);
  await served?.close();
  image?.close();
  kernel?.remove();
  served = undefined;
  image = undefined;
  kernel = undefined;
});

describe('a client with a tiny scrape timeout', () => {
  it('does not shorten the deadline of the scrapes that arrive while its own is in flight', async () => {
    kernel = makeKernel({ cpus: [0, 1, 2, 3] });
    image = kernel.open();
    served = await serveKernel(kernel, FULL_CONFIG);
    await served.scrape();
    const mark = served.log.mark;
    // Slow enough reads that the short scrape is still in flight when the others arrive.
    image.setReadDelayUs(5_000);
    const short = served.get('/metrics', { 'X-Prometheus-Scrape-Timeout-Seconds': '0.0001' });
    await sleep(5);
    simControl().resetCallCounts();
    const legitimate = Array.from({ length: 8 }, () => served!.get('/metrics', { 'X-Prometheus-Scrape-Timeout-Seconds': '20' }));
    const replies = await Promise.all(legitimate);
    image.setReadDelayUs(0);
    // One collection served them all (each reads the process table twice: processes and threads).
    expect(simControl().callCounts().kvm_getprocs).toBe(2);

    for (const reply of replies) {
      expect(reply.status).toBe(200);
      expect(Object.values(successOf(parseExposition(reply.text)))).toEqual([1, 1, 1, 1, 1, 1, 1]);
    }
    const own = parseExposition((await short).text);
    expect(Object.values(successOf(own)).every((v) => v === 0)).toBe(true);
    // Its deadline miss is one line about the scrape, not a failure of every collector.
    expect(served.log.find('error', 'collector failed', {}, mark)).toEqual([]);
    expect(served.log.find('info', 'collector recovered', {}, mark)).toEqual([]);
    expect(served.log.find('warn', 'scrape deadline passed before every collector finished', {}, mark).length).toBeLessThanOrEqual(1);
    expect(served.exporter.status().collectors.every((c) => c.lastSuccess === true)).toBe(true);
  });
});
