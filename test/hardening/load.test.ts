/**
 * Load: a small run of bench/load.ts (the built CLI on a 64-CPU simulated
 * kernel, autocannon at 16 connections) must answer every request and make
 * far fewer collections than requests, since overlapping scrapes share one;
 * and `--web.max-requests` turns scrapes past the limit away at once with a
 * 503 instead of queueing them behind a slow kernel.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { formatReport, loadProblems, runLoad, secondHalfSlopes, type MemorySample } from '../../bench/load.js';
import { makeKernel, type TestKernel } from '../support/sim.js';
import { FULL_CONFIG, serveKernel, simControl, type Served } from './served.js';

describe('bench/load.ts, small', () => {
  it('500 scrapes at 16 connections: no error, and overlapping scrapes share collections', async () => {
    const report = await runLoad({ requests: 500, connections: 16, cpus: 64, warmup: 100 });
    expect(loadProblems(report), formatReport(report)).toEqual([]);
    expect(report.requests).toBe(500);
    expect(report.ok).toBe(500);
    expect(report.errors).toBe(0);
    expect(report.collections).toBeGreaterThan(0);
    // With 16 scrapes outstanding, most join a collection already running.
    expect(report.collections).toBeLessThan(report.requests / 3);
    expect(report.latencyMs.p99).toBeGreaterThan(0);
    // The kernel thread's own heap is measured (its V8 heap is not the main thread's).
    for (const sample of report.samples) {
      expect(sample.threads).toBe(1);
      expect(sample.kernelThreadHeapUsed).toBeGreaterThan(1024 * 1024);
    }
  }, 90_000);
});

describe('the flat verdict of bench/load.ts', () => {
  const MB = 1024 * 1024;
  const samples = (rssMb: (i: number) => number): MemorySample[] =>
    Array.from({ length: 21 }, (_, i) => ({
      requests: i * 1_000,
      rss: rssMb(i) * MB,
      heapUsed: 17 * MB,
      external: 0,
      arrayBuffers: 0,
      kernelThreadHeapUsed: 5 * MB,
      kernelThreadExternal: 0,
      threads: 1,
    }));

  it('a climb to a plateau, with one odd sample, is flat over the second half', () => {
    const slopes = secondHalfSlopes(samples((i) => (i === 15 ? 290 : 175 + 35 * Math.min(1, i / 4) + (i % 3) * 4)));
    expect(Math.abs(slopes.rss)).toBeLessThan(1);
  });

  it('a leak of 200 bytes a request shows as 2 MB per 10,000 requests', () => {
    const slopes = secondHalfSlopes(samples((i) => 200 + (i * 1_000 * 200) / MB));
    expect(slopes.rss).toBeCloseTo((10_000 * 200) / MB, 5);
  });
});

describe('--web.max-requests', () => {
  let kernel: TestKernel | undefined;
  let served: Served | undefined;

  afterEach(async () => {
    await served?.close();
    kernel?.remove();
  });

  it('with a limit of 1 and a slow kernel, a second concurrent scrape gets 503 at once and the slot is freed after', async () => {
    simControl().resetPcpuCache();
    kernel = makeKernel({ cpus: [0, 1, 2, 3] });
    served = await serveKernel(kernel, FULL_CONFIG, { maxRequests: 1 });
    const image = kernel.open();
    try {
      // About 40 reads in a scrape: at 25 ms each, most of a second.
      image.setReadDelayUs(25_000);
      const first = served.get('/metrics');
      await new Promise((resolve) => setTimeout(resolve, 100));
      const second = await served.get('/metrics');
      expect(second.status).toBe(503);
      expect(second.text).toBe('too many concurrent scrapes: the limit of 1 (--web.max-requests) is reached, try again later\n');
      // Refused without waiting for the scrape in flight (which takes most of a second).
      expect(second.ms).toBeLessThan(200);
      const done = await first;
      expect(done.status).toBe(200);
      expect(done.ms).toBeGreaterThan(300);
      image.setReadDelayUs(0);
      expect((await served.get('/metrics')).status).toBe(200);
    } finally {
      image.close();
    }
  });
});
