/**
 * End-to-end scrapes through the real HTTP layer: startServer on 127.0.0.1
 * port 0 with the exporter as its source, then sequential GETs of /metrics
 * over one keep-alive connection, as Prometheus makes them, while
 * monitorEventLoopDelay records the longest time the event loop was held.
 */
import { Agent, request } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';

import type { ScrapeSource } from '../src/exporter/types.js';
import { startServer, type RunningServer } from '../src/http/server.js';
import { silentLogger } from '../src/log.js';
import { REVISION, VERSION } from '../src/version.js';
import { repeatTimed, type Repeat } from './plan.js';
import type { HttpMeasurement } from './schema.js';
import { summarize } from './stats.js';

/** Prometheus 2.x's Accept header: OpenMetrics first, then text 0.0.4. */
export const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

export interface ScrapeResponse {
  readonly ms: number;
  readonly bytes: number;
  readonly contentType: string;
}

export async function serveMetrics(source: ScrapeSource): Promise<RunningServer> {
  return startServer({
    source,
    telemetryPath: '/metrics',
    listenAddresses: [{ text: '127.0.0.1:0', host: '127.0.0.1', port: 0 }],
    maxRequests: 40,
    timeoutOffsetSeconds: 0.5,
    logger: silentLogger(),
    info: { version: VERSION, revision: REVISION },
  });
}

/** One GET, timed from the request to the last body byte; the body is counted, not kept. */
export function scrapeOnce(url: string, agent: Agent, encoding: 'identity' | 'gzip' = 'identity'): Promise<ScrapeResponse> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(url, { agent, headers: { Accept: PROMETHEUS_ACCEPT, 'Accept-Encoding': encoding } }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`GET ${url}: HTTP ${res.statusCode}`));
        else resolve({ ms: performance.now() - started, bytes, contentType: String(res.headers['content-type']) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The highest RSS seen by a 10 ms timer while the scrapes run (a timer held off by a stall samples right after it). */
class RssPeak {
  private peak = process.memoryUsage.rss();
  private readonly timer = setInterval(() => this.sample(), 10);

  get peakMb(): number {
    this.sample();
    return this.peak / (1024 * 1024);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }
}

/**
 * Latency percentiles, bytes and the longest event-loop stall of `repeat`
 * sequential scrapes, after `warmup` scrapes through the same path (the
 * first renders compile the hot paths and grow the heap).
 */
export async function probeHttp(source: ScrapeSource, warmup: Repeat, repeat: Repeat): Promise<HttpMeasurement> {
  const server = await serveMetrics(source);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const url = `${server.urls[0]}/metrics`;
  try {
    await repeatTimed(warmup, () => scrapeOnce(url, agent));
    const delay = monitorEventLoopDelay({ resolution: 1 });
    const rss = new RssPeak();
    delay.enable();
    const responses = await repeatTimed(repeat, () => scrapeOnce(url, agent));
    delay.disable();
    rss.stop();
    const gzip = await scrapeOnce(url, agent, 'gzip');
    const last = responses[responses.length - 1]!;
    return {
      latency: summarize(responses.map((r) => r.ms)),
      bytes: last.bytes,
      gzipBytes: gzip.bytes,
      contentType: last.contentType,
      maxEventLoopStallMs: delay.max / 1e6,
      peakRssMb: rss.peakMb,
    };
  } finally {
    agent.destroy();
    await server.close();
  }
}
