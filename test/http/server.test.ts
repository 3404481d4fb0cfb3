/** The HTTP server against an in-test ScrapeSource: routes, formats, filters, limits, shutdown. */
import { Agent } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ListenError } from '../../src/errors.js';
import type { RunningServer } from '../../src/http/server.js';
import { fixedSource, quietLogger, send, startTestServer, type FixedSource, type TestServerOptions } from './helpers.js';
import { columnar } from '../support/families.js';

const running: RunningServer[] = [];

async function serve(source: FixedSource = fixedSource(), options: TestServerOptions = {}): Promise<{ url: string; server: RunningServer; source: FixedSource }> {
  const server = await startTestServer(source, options);
  running.push(server);
  return { url: server.urls[0]!, server, source };
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
});

const TEXT_BODY = `# HELP kvm_test_counters_total Test counter from the counters collector.
# TYPE kvm_test_counters_total counter
kvm_test_counters_total{cpu="0"} 10
kvm_test_counters_total{cpu="1"} 20
# HELP kvm_test_pcpu_total Test counter from the pcpu collector.
# TYPE kvm_test_pcpu_total counter
kvm_test_pcpu_total{cpu="0"} 10
kvm_test_pcpu_total{cpu="1"} 20
`;

const OPENMETRICS_BODY = `# HELP kvm_test_counters Test counter from the counters collector.
# TYPE kvm_test_counters counter
kvm_test_counters_total{cpu="0"} 10
kvm_test_counters_total{cpu="1"} 20
# HELP kvm_test_pcpu Test counter from the pcpu collector.
# TYPE kvm_test_pcpu counter
kvm_test_pcpu_total{cpu="0"} 10
kvm_test_pcpu_total{cpu="1"} 20
# EOF
`;

const PROMETHEUS_3_ACCEPT =
  'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';

describe('GET /metrics', () => {
  it('serves text 0.0.4 with its exact Content-Type when no Accept is sent', async () => {
    const { url } = await serve();
    const reply = await send(url, '/metrics');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(reply.headers['content-encoding']).toBeUndefined();
    expect(reply.text).toBe(TEXT_BODY);
  });

  it('serves OpenMetrics 1.0.0 to Prometheus 3', async () => {
    const { url } = await serve();
    const reply = await send(url, '/metrics', { headers: { Accept: PROMETHEUS_3_ACCEPT } });
    expect(reply.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(reply.headers.vary).toBe('Accept, Accept-Encoding');
    expect(reply.text).toBe(OPENMETRICS_BODY);
  });

  it('gzips when Accept-Encoding allows it, and the body unzips to the same exposition', async () => {
    const { url } = await serve();
    const reply = await send(url, '/metrics', { headers: { 'Accept-Encoding': 'gzip' } });
    expect(reply.headers['content-encoding']).toBe('gzip');
    expect(reply.raw.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(reply.text).toBe(TEXT_BODY);
    const refused = await send(url, '/metrics', { headers: { 'Accept-Encoding': 'gzip;q=0, identity' } });
    expect(refused.headers['content-encoding']).toBeUndefined();
    expect(refused.text).toBe(TEXT_BODY);
  });

  it('streams a large exposition through gzip intact', async () => {
    const source = fixedSource();
    source.extra = [
      columnar({
        name: 'kvm_big',
        help: 'Many series.',
        type: 'gauge',
        labelNames: ['pid', 'command'],
        series: Array.from({ length: 30_000 }, (_, i) => ({ labels: [String(i), `cmd "${i % 50}"\\`], value: i / 4 })),
      }),
    ];
    const { url } = await serve(source);
    const reply = await send(url, '/metrics', { headers: { 'Accept-Encoding': 'gzip' } });
    const lines = reply.text.split('\n');
    expect(lines.filter((line) => line.startsWith('kvm_big{')).length).toBe(30_000);
    expect(lines).toContain('kvm_big{pid="29999",command="cmd \\"49\\"\\\\"} 7499.75');
    expect(reply.raw.length).toBeLessThan(reply.text.length / 4);
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const { url } = await serve();
    const reply = await send(url, '/metrics', { method: 'HEAD', headers: { Accept: 'application/openmetrics-text; version=1.0.0' } });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(reply.raw.length).toBe(0);
  });

  it('passes collect[] and exclude[] to the source as the collectors to run', async () => {
    const { url, source } = await serve();
    const only = await send(url, '/metrics?collect[]=pcpu');
    expect(only.text).toContain('kvm_test_pcpu_total{cpu="0"} 10');
    expect(only.text).not.toContain('kvm_test_counters_total');
    const encoded = await send(url, '/metrics?collect%5B%5D=counters&collect%5B%5D=pcpu');
    expect(encoded.text).toBe(TEXT_BODY);
    const without = await send(url, '/metrics?exclude[]=counters');
    expect(without.text).not.toContain('kvm_test_counters_total');
    expect(without.text).toContain('kvm_test_pcpu_total');
    expect(source.requests.map(({ collect, exclude }) => ({ collect, exclude }))).toEqual([
      { collect: ['pcpu'], exclude: undefined },
      { collect: ['counters', 'pcpu'], exclude: undefined },
      { collect: undefined, exclude: ['counters'] },
    ]);
  });

  it('refuses collect[] with exclude[] with 400 before scraping', async () => {
    const { url, source } = await serve();
    const reply = await send(url, '/metrics?collect[]=pcpu&exclude[]=counters');
    expect(reply.status).toBe(400);
    expect(reply.text).toBe('collect[] and exclude[] cannot be used in the same request\n');
    expect(source.requests).toHaveLength(0);
  });

  it.each([
    ['/metrics?collect[]=nope', 'unknown collector: nope (enabled collectors: counters, pcpu)\n'],
    ['/metrics?exclude[]=loadavg', 'disabled collector: loadavg (enabled collectors: counters, pcpu)\n'],
    ['/metrics?collect[]=', 'unknown collector:  (enabled collectors: counters, pcpu)\n'],
  ])('answers %s with 400 and the UnknownCollectorError message', async (path, body) => {
    const { url } = await serve();
    const reply = await send(url, path);
    expect(reply.status).toBe(400);
    expect(reply.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(reply.text).toBe(body);
  });

  it('turns X-Prometheus-Scrape-Timeout-Seconds minus the offset into the deadline', async () => {
    const { url, source } = await serve(fixedSource(), { timeoutOffsetSeconds: 0.5 });
    const before = Date.now();
    await send(url, '/metrics', { headers: { 'X-Prometheus-Scrape-Timeout-Seconds': '10' } });
    const after = Date.now();
    const deadline = source.requests[0]!.deadline!;
    expect(deadline).toBeGreaterThanOrEqual(before + 9_500);
    expect(deadline).toBeLessThanOrEqual(after + 9_500);
  });

  it.each(['abc', '-3', '0', 'Infinity', '', '1e400', '0x10'])('ignores the invalid timeout header %j', async (value) => {
    const { url, source } = await serve();
    const reply = await send(url, '/metrics', { headers: { 'X-Prometheus-Scrape-Timeout-Seconds': value } });
    expect(reply.status).toBe(200);
    expect(source.requests[0]!.deadline).toBeUndefined();
  });

  it('answers 503 beyond --web.max-requests and serves again once a slot frees', async () => {
    const source = fixedSource();
    let open!: () => void;
    source.gate = new Promise((resolve) => (open = resolve));
    const { url } = await serve(source, { maxRequests: 2 });
    const first = send(url, '/metrics');
    const second = send(url, '/metrics');
    await eventuallyRequests(source, 2);
    const third = await send(url, '/metrics');
    expect(third.status).toBe(503);
    expect(third.text).toBe('too many concurrent scrapes: the limit of 2 (--web.max-requests) is reached, try again later\n');
    // Health checks are not scrapes and are not limited.
    expect((await send(url, '/-/healthy')).status).toBe(200);
    open();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    source.gate = undefined;
    expect((await send(url, '/metrics')).status).toBe(200);
  });

  it('has no limit with --web.max-requests 0', async () => {
    const source = fixedSource();
    let open!: () => void;
    source.gate = new Promise((resolve) => (open = resolve));
    const { url } = await serve(source, { maxRequests: 0 });
    const replies = Array.from({ length: 60 }, () => send(url, '/metrics'));
    await eventuallyRequests(source, 60);
    open();
    expect((await Promise.all(replies)).map((reply) => reply.status)).toEqual(Array(60).fill(200));
  });

  it('answers 500 without any detail or stack when the source fails unexpectedly', async () => {
    const source = fixedSource();
    source.scrape = async () => {
      throw new Error('secret internal detail at /home/x/file.ts:12');
    };
    const lines: string[] = [];
    const { url } = await serve(source, { logger: quietLogger(lines) });
    const reply = await send(url, '/metrics');
    expect(reply.status).toBe(500);
    expect(reply.text).toBe('internal error, see the exporter log\n');
    expect(lines.some((line) => line.includes('secret internal detail'))).toBe(true);
  });
});

async function eventuallyRequests(source: FixedSource, count: number): Promise<void> {
  for (let i = 0; i < 200 && source.requests.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(source.requests.length).toBe(count);
}

describe('other routes', () => {
  it('answers 404 for unknown paths, including near misses of the telemetry path', async () => {
    const { url } = await serve();
    for (const path of ['/nope', '/metrics/', '/Metrics', '/metrics.txt', '//metrics', '/-/healthy/x']) {
      const reply = await send(url, path);
      expect([path, reply.status]).toEqual([path, 404]);
    }
  });

  it('answers 405 with Allow for other methods on known paths', async () => {
    const { url } = await serve();
    for (const [method, path] of [
      ['POST', '/metrics'],
      ['PUT', '/'],
      ['DELETE', '/-/healthy'],
      ['OPTIONS', '/-/ready'],
    ]) {
      const reply = await send(url, path!, { method: method! });
      expect(reply.status).toBe(405);
      expect(reply.headers.allow).toBe('GET, HEAD');
    }
  });

  it('reports healthy while serving', async () => {
    const { url } = await serve();
    const reply = await send(url, '/-/healthy');
    expect([reply.status, reply.text]).toEqual([200, 'kvm_exporter is healthy.\n']);
  });

  it('reports ready only while the kernel is up, with the kernel error otherwise', async () => {
    const { url, source } = await serve();
    expect((await send(url, '/-/ready')).status).toBe(200);
    source.statusValue = { ...source.statusValue, kernelUp: false, kernelError: 'kvm_openfiles(NULL, /dev/mem, NULL) failed: /dev/mem: Permission denied' };
    const down = await send(url, '/-/ready');
    expect(down.status).toBe(503);
    expect(down.text).toBe('kvm_exporter is not ready: kernel unavailable: kvm_openfiles(NULL, /dev/mem, NULL) failed: /dev/mem: Permission denied\n');
  });

  it('shows a landing page with version, metrics link, kernel, config and collectors, all HTML-escaped', async () => {
    const source = fixedSource();
    source.statusValue = {
      configFile: '/etc/<kvm>&"exporter".yml',
      kernelUp: false,
      kernelError: 'symbol <script>alert(1)</script> not found',
      collectors: [
        { name: 'pcpu', enabled: true, lastSuccess: false, lastError: 'kvm_read at 0x1 on CPU 3: <b>short</b> read' },
        { name: 'counters', enabled: true, lastSuccess: true },
        { name: 'loadavg', enabled: false },
      ],
      leftOut: ["entry 'x<y>': symbol \"_z\" & more"],
    };
    const { url } = await serve(source, { telemetryPath: '/kvm"metrics' });
    const reply = await send(url, '/');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/html; charset=utf-8');
    const html = reply.text;
    expect(html).toContain('Version 0.1.0-test (revision cafe)');
    expect(html).toContain('<a href="/kvm&quot;metrics">Metrics</a>');
    expect(html).toContain('Kernel unavailable: symbol &lt;script&gt;alert(1)&lt;/script&gt; not found');
    expect(html).toContain('<code>/etc/&lt;kvm&gt;&amp;&quot;exporter&quot;.yml</code>');
    expect(html).toContain('<li>entry &#39;x&lt;y&gt;&#39;: symbol &quot;_z&quot; &amp; more</li>');
    expect(html).toContain('<tr><td>pcpu</td><td>yes</td><td class="bad">failed</td><td>kvm_read at 0x1 on CPU 3: &lt;b&gt;short&lt;/b&gt; read</td></tr>');
    expect(html).toContain('<tr><td>counters</td><td>yes</td><td>success</td><td></td></tr>');
    expect(html).toContain('<tr><td>loadavg</td><td>no</td><td>not run yet</td><td></td></tr>');
    expect(html).not.toMatch(/<script>|<b>/);
  });

  it('serves the metrics at / without a landing page when the telemetry path is /', async () => {
    const { url } = await serve(fixedSource(), { telemetryPath: '/' });
    const reply = await send(url, '/');
    expect(reply.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(reply.text).toBe(TEXT_BODY);
  });

  it('keeps the telemetry path literal, even with characters express would treat as patterns', async () => {
    const { url } = await serve(fixedSource(), { telemetryPath: '/stats/:name/*all' });
    expect((await send(url, '/stats/:name/*all')).text).toBe(TEXT_BODY);
    expect((await send(url, '/stats/x/y')).status).toBe(404);
  });
});

describe('listening and shutdown', () => {
  it('listens on several addresses, IPv4 and IPv6, and reports the bound ports', async () => {
    const { server } = await serve(fixedSource(), {
      listenAddresses: [
        { text: '127.0.0.1:0', host: '127.0.0.1', port: 0 },
        { text: '[::1]:0', host: '::1', port: 0 },
      ],
    });
    expect(server.addresses).toHaveLength(2);
    expect(server.addresses[0]).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(server.addresses[1]).toMatch(/^\[::1\]:\d+$/);
    for (const url of server.urls) expect((await send(url, '/metrics')).text).toBe(TEXT_BODY);
  });

  it('names the address when it cannot listen', async () => {
    const { server } = await serve();
    const taken = server.addresses[0]!;
    const port = Number(taken.slice(taken.lastIndexOf(':') + 1));
    const attempt = startTestServer(fixedSource(), { listenAddresses: [{ text: taken, host: '127.0.0.1', port }] });
    await expect(attempt).rejects.toBeInstanceOf(ListenError);
    await expect(attempt).rejects.toThrow(`cannot listen on ${taken}: listen EADDRINUSE`);
  });

  it('lets an in-flight scrape finish on close, then stops accepting and ends keep-alive connections', async () => {
    const source = fixedSource();
    let open!: () => void;
    source.gate = new Promise((resolve) => (open = resolve));
    const server = await startTestServer(source);
    const url = server.urls[0]!;
    const agent = new Agent({ keepAlive: true });
    expect((await send(url, '/-/healthy', { agent })).status).toBe(200);
    const inFlight = send(url, '/metrics', { agent });
    await eventuallyRequests(source, 1);
    const closed = server.close();
    let closedYet = false;
    void closed.then(() => (closedYet = true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(closedYet).toBe(false);
    open();
    const reply = await inFlight;
    expect(reply.status).toBe(200);
    expect(reply.text).toBe(TEXT_BODY);
    expect(reply.headers.connection).toBe('close');
    const started = Date.now();
    await closed;
    // Well before the 2 s force timeout: idle keep-alive sockets were closed, not waited out.
    expect(Date.now() - started).toBeLessThan(1_500);
    await expect(send(url, '/-/healthy')).rejects.toThrow(/ECONNREFUSED/);
    agent.destroy();
  });

  it('cuts off a request still running after the shutdown timeout', async () => {
    const source = fixedSource();
    source.gate = new Promise(() => undefined);
    const server = await startTestServer(source, { shutdownTimeoutMs: 300 });
    const stuck = send(server.urls[0]!, '/metrics');
    await eventuallyRequests(source, 1);
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect(stuck).rejects.toThrow(/socket hang up|ECONNRESET/);
  });
});
