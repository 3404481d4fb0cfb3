/**
 * Kernels that push the exporter's limits: reads so slow that a whole
 * scrape would outlast Prometheus' scrape timeout, and a process table of
 * 100,000 processes. A slow scrape must answer before the scraper gives up,
 * with what was collected and the late collectors marked failed; a huge
 * table must be counted exactly.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProcState, type KinfoProcess, type ProcStateValue } from '../../sim/image/kinfo.js';
import type { KernelImage } from '../../sim/image/image.js';
import { makeKernel, type TestKernel } from '../support/sim.js';
import { compareWithImage, imageTruth } from './oracle.js';
import { FULL_CONFIG, serveKernel, simControl, successOf, upOf, type Served, everyCollector } from './served.js';

let kernel: TestKernel | undefined;
let image: KernelImage | undefined;
let served: Served | undefined;

beforeEach(() => simControl().resetPcpuCache());

afterEach(async () => {
  await served?.close();
  image?.close();
  kernel?.remove();
  served = undefined;
  image = undefined;
  kernel = undefined;
});

describe('reads so slow that the whole scrape would pass the scrape timeout', () => {
  it('a walk of 40 jails stops at the deadline between two list entries: kvm_up 1, vnet cut off, what was read served', async () => {
    const jails = Array.from({ length: 40 }, (_, i) => ({ jid: i + 1, name: `jail${i + 1}`, vnet: i % 2 === 0 }));
    kernel = makeKernel({ cpus: [0, 1, 2, 3], jails });
    image = kernel.open();
    served = await serveKernel(kernel, FULL_CONFIG);
    // The walk reads allprison twice and vnet_head once: about 100 reads, 2 s at 20 ms each, against a 1 s scrape.
    image.setReadDelayUs(20_000);
    const reply = await served.scrape('/metrics', { 'X-Prometheus-Scrape-Timeout-Seconds': '1' });
    image.setReadDelayUs(0);
    expect(reply.ms).toBeLessThan(1_000);
    expect(upOf(reply.parsed)).toBe(1);
    const success = successOf(reply.parsed);
    expect([success.cpus, success.counters, success.variables]).toEqual([1, 1, 1]);
    expect(success.vnet).toBe(0);
    expect(compareWithImage(reply.parsed, imageTruth(image, kernel.manifest, served.config)).wrong).toEqual([]);
    expect(served.log.find('warn', 'scrape deadline passed before every collector finished').map((l) => l.collectors)).toEqual([
      'vnet,dpcpu,pcpu,processes,loadavg,swap',
    ]);
  });

  it('answers within X-Prometheus-Scrape-Timeout-Seconds with what was collected, the late collectors failed', async () => {
    // 100 counters in 100 pages: one kvm_read_zpcpu each, so at 20 ms per read the counters alone take 2 s.
    kernel = makeKernel({ cpus: [0, 1, 2, 3], extraCounters: { count: 100, layout: 'scattered', slabs: 100 } });
    image = kernel.open();
    const extras = kernel.manifest.counters.filter((c) => c.name.startsWith('extra.'));
    expect(new Set(extras.map((c) => BigInt(c.handle) / 4096n)).size).toBe(100);
    const entries = extras.map((c, i) => `  - { name: extra_${i}, address: "0x${BigInt(c.handle).toString(16)}" }\n`).join('');
    served = await serveKernel(kernel, FULL_CONFIG.replace('counters:\n', `counters:\n${entries}`));
    image.setReadDelayUs(20_000);
    const reply = await served.scrape('/metrics', { 'X-Prometheus-Scrape-Timeout-Seconds': '2' });
    expect(reply.ms).toBeLessThan(2_000);
    expect(reply.ms).toBeGreaterThan(1_400);
    expect(upOf(reply.parsed)).toBe(1);
    const success = successOf(reply.parsed);
    expect(success.cpus).toBe(1);
    expect(success.counters).toBe(0);
    // Everything after the counters never started: the deadline had passed.
    expect([success.variables, success.dpcpu, success.pcpu, success.processes, success.loadavg, success.swap]).toEqual([0, 0, 0, 0, 0, 0]);
    const cmp = compareWithImage(reply.parsed, imageTruth(image, kernel.manifest, served.config));
    expect(cmp.wrong).toEqual([]);
    // The CPU counts and the counters read before the deadline are served.
    expect(cmp.published).toBeGreaterThan(3);
    // A deadline miss is the scrape's state, not each collector's: one line, naming the collectors it cut off.
    const missed = served.log.find('warn', 'scrape deadline passed before every collector finished');
    expect(missed.map((l) => l.collectors)).toEqual(['counters,variables,vnet,dpcpu,pcpu,processes,loadavg,swap']);
    expect(served.log.find('error', 'collector failed')).toEqual([]);

    image.setReadDelayUs(0);
    const after = await served.scrape();
    expect(Object.values(successOf(after.parsed))).toEqual(everyCollector(1));
    expect(compareWithImage(after.parsed, imageTruth(image, kernel.manifest, served.config)).absent).toEqual([]);
    expect(served.log.find('info', 'scrapes finish within their deadline again')).toHaveLength(1);
    expect(served.log.find('info', 'collector recovered')).toEqual([]);
  });
});

describe('100,000 processes', () => {
  it('counts every process and thread by state and caps the breakdowns exactly', async () => {
    const processes = manyProcesses(100_000);
    const records = processes.reduce((n, p) => n + p.threads.length, 0);
    kernel = makeKernel({ cpus: [0, 1, 2, 3], processes, procCapacity: records });
    image = kernel.open();
    const body = `${FULL_CONFIG}processes:
  by_jail: { enabled: true, max_series: 100 }
  by_user: { enabled: true, max_series: 100 }
  by_command: { enabled: true, max_series: 100 }
`;
    served = await serveKernel(kernel, body);
    const reply = await served.scrape();
    expect(reply.ms).toBeLessThan(5_000);
    expect(Object.values(successOf(reply.parsed))).toEqual(everyCollector(1));
    const cmp = compareWithImage(reply.parsed, imageTruth(image, kernel.manifest, served.config));
    expect(cmp.wrong).toEqual([]);
    expect(cmp.absent).toEqual([]);
    const total = (name: string) => reply.parsed.samples.filter((s) => s.name === name).reduce((n, s) => n + s.value, 0);
    expect(total('kvm_processes')).toBe(100_000);
    expect(total('kvm_threads')).toBe(records);
    expect(reply.parsed.samples.filter((s) => s.name === 'kvm_processes_by_command')).toHaveLength(100);
    expect(total('kvm_processes_by_command')).toBe(100_000);
    expect(total('kvm_processes_by_user')).toBe(100_000);
  }, 60_000);
});

/** A busy build host: every state, 250 command names, 37 users, 5 jails, every tenth process with 3 threads. */
function manyProcesses(count: number): KinfoProcess[] {
  const { SRUN, SSLEEP, SSTOP, SZOMB, SWAIT, SLOCK } = ProcState;
  const states: readonly ProcStateValue[] = [SRUN, SSLEEP, SSLEEP, SSLEEP, SSLEEP, SSTOP, SZOMB, SWAIT, SLOCK, SSLEEP];
  return Array.from({ length: count }, (_, i) => {
    const comm = `job${i % 250}`;
    const threads = Array.from({ length: i % 10 === 0 ? 3 : 1 }, (__, t) => ({
      tid: 100_000 + 3 * i + t,
      name: comm,
      stat: states[(i + t) % states.length]!,
    }));
    return { pid: i + 2, ppid: 1, uid: 1000 + (i % 37), jid: i % 5, comm, sizeBytes: 1n << 20n, rssPages: 64n, threads };
  });
}
