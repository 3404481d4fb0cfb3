/**
 * No request decides which kernel memory is read. The HTTP layer only picks
 * among configured collectors; addresses, symbol names, file paths, path
 * traversal and oversized requests must not reach libkvm. Measured with the
 * simulator's call counts (every kvm_* function and every pread of the
 * image): a request is either refused or answered without touching the
 * kernel (zero calls), or it is a normal scrape and makes exactly the calls
 * a plain scrape makes (or, with collect[], a subset of them).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimCallCounts, SimControl } from '../../sim/control.js';
import { makeKernel, type TestKernel } from '../support/sim.js';
import { FULL_CONFIG, httpGet, serveKernel, simControl, type Reply, type Served } from './served.js';

let kernel: TestKernel;
let served: Served;
let control: SimControl;
let plain: SimCallCounts;
let countersOnly: SimCallCounts;

/** Calls made while `send` runs, without the zero entries. */
async function callsDuring(send: () => Promise<Reply>): Promise<{ reply: Reply; calls: SimCallCounts }> {
  control.resetCallCounts();
  const reply = await send();
  const calls = Object.fromEntries(Object.entries(control.callCounts()).filter(([, n]) => n > 0));
  return { reply, calls };
}

function get(path: string, headers: Record<string, string> = {}): () => Promise<Reply> {
  return () => httpGet(served.url, path, headers);
}

beforeAll(async () => {
  control = simControl();
  control.resetPcpuCache();
  kernel = makeKernel({ cpus: [0, 1, 2, 3] });
  served = await serveKernel(kernel, FULL_CONFIG);
  await served.scrape();
  plain = (await callsDuring(get('/metrics'))).calls;
  countersOnly = (await callsDuring(get('/metrics?collect[]=counters'))).calls;
});

afterAll(async () => {
  await served.close();
  kernel.remove();
});

describe('a plain scrape', () => {
  it('reads the kernel, the same way every time', async () => {
    expect(plain.kvm_read_zpcpu).toBeGreaterThan(0);
    expect(plain.kvm_getprocs).toBe(2);
    expect(plain.pread).toBeGreaterThan(0);
    expect((await callsDuring(get('/metrics'))).calls).toEqual(plain);
  });
});

describe('requests that never reach the kernel', () => {
  const HUGE = 'x'.repeat(16 * 1024);
  it.each([
    { what: 'a collector named like a path', path: '/metrics?collect[]=../../../../dev/mem', status: 400 },
    { what: 'a collector named like an address', path: '/metrics?collect[]=0xffffffff81c01040', status: 400 },
    { what: 'a collector named like a symbol', path: '/metrics?collect[]=averunnable', status: 400 },
    { what: 'an empty collector name', path: '/metrics?collect[]=', status: 400 },
    { what: 'collect[] with exclude[]', path: '/metrics?collect[]=counters&exclude[]=pcpu', status: 400 },
    { what: 'path traversal after the telemetry path', path: '/metrics/../../../../dev/mem', status: 404 },
    { what: 'encoded path traversal', path: '/%2e%2e/%2e%2e/dev/mem', status: 404 },
    { what: 'an encoded slash in the telemetry path', path: '/metrics%2F..%2F..%2Fdev%2Fmem', status: 404 },
    { what: 'a path parameter', path: '/metrics;corefile=/dev/mem', status: 404 },
    { what: 'a doubled slash', path: '//metrics', status: 404 },
    { what: 'a NUL byte', path: '/metrics%00', status: 404 },
    { what: 'a kernel path', path: '/dev/kmem', status: 404 },
    { what: 'the landing page', path: '/', status: 200 },
    { what: 'the health check', path: '/-/healthy', status: 200 },
    { what: 'the readiness check', path: '/-/ready', status: 200 },
  ])('$what: $status, no libkvm call', async ({ path, status }) => {
    const { reply, calls } = await callsDuring(get(path));
    expect(reply.status).toBe(status);
    expect(calls).toEqual({});
  });

  it.each([
    { what: 'a 16 KB header', send: () => httpGet(served.url, '/metrics', { 'X-Padding': HUGE }) },
    { what: 'a 16 KB query', send: () => httpGet(served.url, `/metrics?collect[]=${HUGE}`) },
    { what: '2,000 collect[] parameters', send: () => httpGet(served.url, `/metrics?${'collect[]=counters&'.repeat(2_000)}`) },
  ])('$what: 431, no libkvm call', async ({ send }) => {
    const { reply, calls } = await callsDuring(send);
    expect(reply.status).toBe(431);
    expect(calls).toEqual({});
  });

  it('POST to the telemetry path: 405, no libkvm call', async () => {
    const { reply, calls } = await callsDuring(
      () =>
        new Promise<Reply>((resolve, reject) => {
          const url = new URL(served.url);
          import('node:http').then(({ request }) => {
            const req = request({ host: url.hostname, port: url.port, path: '/metrics', method: 'POST', agent: false }, (res) => {
              res.resume();
              res.on('end', () => resolve({ status: res.statusCode ?? 0, text: '', ms: 0 }));
            });
            req.on('error', reject);
            req.end('address=0xffffffff81c01040');
          }, reject);
        }),
    );
    expect(reply.status).toBe(405);
    expect(calls).toEqual({});
  });
});

describe('scrapes that carry addresses, symbols and paths', () => {
  const JUNK = 'address=0xffffffff81c01040&symbol=averunnable&length=1048576&corefile=/dev/mem&execfile=/etc/passwd&library=/tmp/evil.so&cpu=999';
  it.each<{ what: string; path: string; headers?: Record<string, string> }>([
    { what: 'junk parameters', path: `/metrics?${JUNK}` },
    { what: 'a negative scrape timeout', path: '/metrics', headers: { 'X-Prometheus-Scrape-Timeout-Seconds': '-1' } },
    { what: 'an infinite scrape timeout', path: '/metrics', headers: { 'X-Prometheus-Scrape-Timeout-Seconds': '1e309' } },
    { what: 'a protobuf Accept', path: '/metrics', headers: { Accept: 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited' } },
    { what: 'made-up kvm headers', path: '/metrics', headers: { 'X-Kvm-Corefile': '/dev/mem', 'X-Kvm-Address': '0x0' } },
  ])('$what: the reads of a plain scrape, no more', async ({ path, headers }) => {
    const { reply, calls } = await callsDuring(get(path, headers));
    expect(reply.status).toBe(200);
    expect(calls).toEqual(plain);
  });

  it('collect[] with junk reads what collect[] alone reads, a subset of a plain scrape', async () => {
    const { reply, calls } = await callsDuring(get(`/metrics?collect[]=counters&${JUNK}`));
    expect(reply.status).toBe(200);
    expect(calls).toEqual(countersOnly);
    for (const [fn, n] of Object.entries(countersOnly)) expect(n).toBeLessThanOrEqual(plain[fn] ?? 0);
    expect(countersOnly.kvm_getprocs).toBeUndefined();
  });
});
