/**
 * The whole path a scraper takes: startServer and the Exporter on
 * 127.0.0.1 port 0, as `serve` wires them (self-metrics included), GET
 * /metrics in text 0.0.4 and in OpenMetrics by Accept negotiation, with and
 * without gzip, and the values parsed back from the body equal to what the
 * simulated kernel's image holds.
 */
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SelfMetrics } from '../../src/exposition/self-metrics.js';
import { startServer, type RunningServer } from '../../src/http/server.js';
import { silentLogger } from '../../src/log.js';
import type { KernelImage } from '../../sim/image/image.js';
import { symbolAddress } from '../../sim/image/manifest.js';
import { VERSION } from '../../src/version.js';
import { byLabel, parseExposition, samplesOf, valueOf, type ParsedScrape } from '../support/parse.js';
import { makeKernel, type TestKernel } from '../support/sim.js';
import { expectedCounters, openExporter, sumOf, copyOf, type ExporterUnderTest } from './harness.js';

const BODY = `preset: freebsd-14-amd64
variables:
  - { name: ticks, symbol: ticks, ctype: int32 }
processes:
  by_jail: { enabled: true }
`;
const CPUS = [0, 1, 3];
const OPENMETRICS_ACCEPT = 'application/openmetrics-text;version=1.0.0;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';

let kernel: TestKernel;
let image: KernelImage;
let run: ExporterUnderTest;
let server: RunningServer;

beforeAll(async () => {
  kernel = makeKernel({ cpus: CPUS, mpMaxcpus: 8 });
  image = kernel.open();
  for (const counter of kernel.manifest.counters) {
    for (const cpu of CPUS) image.addCounter(BigInt(counter.handle), cpu, BigInt(counter.index * 31 + cpu * 1_000_003));
  }
  const self = new SelfMetrics({ version: VERSION, revision: 'test' });
  run = await openExporter(kernel, BODY, { selfMetrics: () => self.families() });
  server = await startServer({
    source: run.exporter,
    telemetryPath: '/metrics',
    listenAddresses: [{ text: '127.0.0.1:0', host: '127.0.0.1', port: 0 }],
    maxRequests: 4,
    timeoutOffsetSeconds: 0.5,
    logger: silentLogger(),
    info: { version: VERSION, revision: 'test' },
  });
});
afterAll(async () => {
  await server.close();
  await run.close();
  image.close();
  kernel.remove();
});

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function get(path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.urls[0]}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = res.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every counter, the CPU times and the process counts, against the image. */
function expectKernelValues(scrape: ParsedScrape): void {
  for (const counter of expectedCounters(run.config, kernel.manifest)) {
    expect(valueOf(scrape, counter.sum), counter.sum).toBe(sumOf(image, counter.handle, CPUS, counter.signed));
    if (counter.percpu === undefined) continue;
    const series = byLabel(scrape, counter.percpu, 'cpu');
    expect([...series.keys()]).toEqual(CPUS.map(String));
    for (const cpu of CPUS) expect(series.get(String(cpu))).toBe(copyOf(image, counter.handle, cpu, counter.signed));
  }
  const stathz = image.readI32(symbolAddress(kernel.manifest, 'stathz'));
  for (const cpu of CPUS) {
    const idle = Number(image.readCpTime(cpu)[4]) / stathz;
    expect(valueOf(scrape, 'kvm_cpu_time_seconds_total', { cpu: String(cpu), mode: 'idle' })).toBe(idle);
  }
  const procs = image.readProcesses().filter((p) => p.threads[0]!.stat !== 1);
  expect([...byLabel(scrape, 'kvm_processes', 'state').values()].reduce((a, b) => a + b, 0)).toBe(procs.length);
  // This kernel has no jail 2 on allprison (its processes outlived it): an empty name.
  expect(valueOf(scrape, 'kvm_processes_by_jail', { jid: '2', jail: '' })).toBe(procs.filter((p) => p.jid === 2).length);
  expect(valueOf(scrape, 'kvm_ticks')).toBe(image.readI32(symbolAddress(kernel.manifest, 'ticks')));
  expect(valueOf(scrape, 'kvm_up')).toBe(1);
  expect([...byLabel(scrape, 'kvm_scrape_collector_success', 'collector').values()].every((v) => v === 1)).toBe(true);
}

describe('GET /metrics', () => {
  it('without Accept: text 0.0.4 whose values are the kernel\'s', async () => {
    const reply = await get('/metrics');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(reply.headers['content-encoding']).toBeUndefined();
    const scrape = parseExposition(reply.body, 'text');
    expectKernelValues(scrape);
    expect(samplesOf(scrape, 'kvm_vm_swtch_total')[0]?.type).toBe('counter');
    expect(valueOf(scrape, 'kvm_exporter_build_info', { version: VERSION, revision: 'test', nodejs: process.version })).toBe(1);
    expect(samplesOf(scrape, 'process_cpu_seconds_total')).toHaveLength(1);
  });

  it('with Prometheus\' OpenMetrics Accept: OpenMetrics 1.0.0, counters named without _total, ending in # EOF', async () => {
    const reply = await get('/metrics', { Accept: OPENMETRICS_ACCEPT });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(reply.body.endsWith('# EOF\n')).toBe(true);
    const scrape = parseExposition(reply.body, 'openmetrics');
    expectKernelValues(scrape);
    expect(scrape.families.get('kvm_vm_swtch')?.type).toBe('counter');
    expect(scrape.families.has('kvm_vm_swtch_total')).toBe(false);
    expect(samplesOf(scrape, 'kvm_vm_swtch_total')).toHaveLength(1);
  });

  it.each([
    ['text 0.0.4', {}, 'text'],
    ['OpenMetrics', { Accept: OPENMETRICS_ACCEPT }, 'openmetrics'],
  ] as const)('gzip-compressed %s carries the same values', async (_format, accept, flavour) => {
    const reply = await get('/metrics', { ...accept, 'Accept-Encoding': 'gzip' });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-encoding']).toBe('gzip');
    expect(reply.headers.vary).toBe('Accept, Accept-Encoding');
    expectKernelValues(parseExposition(reply.body, flavour));
  });

  it('collect[] selects collectors over HTTP, and an unknown one is a 400 naming it', async () => {
    const reply = await get('/metrics?collect[]=loadavg&collect[]=cpus');
    const scrape = parseExposition(reply.body, 'text');
    expect(samplesOf(scrape, 'kvm_scrape_collector_success').map((s) => s.labels.collector)).toEqual(['cpus', 'loadavg']);
    expect(valueOf(scrape, 'kvm_cpus_max')).toBe(8);
    expect(samplesOf(scrape, 'kvm_vm_swtch_total')).toEqual([]);
    const bad = await get('/metrics?collect[]=nosuch');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/nosuch/);
  });

  it('follows the kernel between scrapes', async () => {
    const swtch = BigInt(kernel.manifest.counters.find((c) => c.name === 'vm_cnt.v_swtch')!.handle);
    image.addCounter(swtch, 3, 987_654n);
    const scrape = parseExposition((await get('/metrics')).body, 'text');
    expect(valueOf(scrape, 'kvm_vm_swtch_percpu_total', { cpu: '3' })).toBe(copyOf(image, swtch, 3));
    expect(valueOf(scrape, 'kvm_vm_swtch_total')).toBe(sumOf(image, swtch, CPUS));
  });
});

describe('health', () => {
  it('/-/ready is 200 while the kernel is readable', async () => {
    const reply = await get('/-/ready');
    expect(reply.status).toBe(200);
  });
});
