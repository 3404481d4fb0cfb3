/**
 * End-to-end scrapes through the real HTTP layer: startServer on 127.0.0.1
 * port 0 with the exporter as its source, then sequential GETs of /metrics
 * over one keep-alive connection, as Prometheus makes them, while
 * monitorEventLoopDelay records the longest time the event loop was held;
 * then the same scrapes again while a health checker polls /-/healthy every
 * 10 ms, as a liveness probe would.
 */
import { Agent, request } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import type { ScrapeSource } from '../src/exporter/scrape-source.js';
import { startServer, type RunningServer } from '../src/http/server.js';
import { silentLogger } from '../src/log.js';
import { REVISION, VERSION } from '../src/version.js';
import { repeatTimed, type Effort } from './plan.js';
import type { HttpMeasurement } from './schema.js';
import { summarize, type Timing } from './stats.js';

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

/** How often the health checker asks, as a Kubernetes-style liveness probe at its most eager. */
export const HEALTH_POLL_MS = 10;

/**
 * Polls /-/healthy every HEALTH_POLL_MS, one request at a time, until
 * stopped. Each latency runs from when the poll was due, not from when it
 * was sent: the client shares the server's event loop, so a poll held back
 * by a blocked loop counts the wait, as an outside checker would see it.
 * Like a prober with a period, it does not queue the polls it missed: after
 * a late answer the next poll is due at once, not a backlog of them.
 */
class HealthPoller {
  readonly latencies: number[] = [];
  /** The error that ended the polling, if one did: the caller stops waiting for more polls. */
  failure: unknown;
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(url: string) {
    this.done = this.poll(url).catch((error: unknown) => {
      this.failure = error ?? new Error('health poll failed');
    });
  }

  async stop(): Promise<number[]> {
    this.stopped = true;
    await this.done;
    if (this.failure !== undefined) throw this.failure;
    return this.latencies;
  }

  private async poll(url: string): Promise<void> {
    // A new connection per poll, as kubelet's HTTP probes make them; a kept-alive
    // socket can also meet the server's keep-alive timeout firing right after a stall.
    const agent = new Agent({ keepAlive: false, maxSockets: 1 });
    try {
      for (let due = performance.now(); !this.stopped; ) {
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        // A timer can fire a little before its time: then the poll counts from when it was sent.
        const sent = performance.now();
        await scrapeOnce(url, agent);
        const answered = performance.now();
        this.latencies.push(answered - Math.min(due, sent));
        due = Math.max(due + HEALTH_POLL_MS, answered);
      }
    } finally {
      agent.destroy();
    }
  }
}

/**
 * /-/healthy latency during at least `health.scrapes` sequential /metrics
 * scrapes, and more until `health.polls` polls are in or `health.budgetMs`
 * has passed (a loop blocked by every scrape answers about one poll per
 * scrape).
 */
async function healthDuringScrapes(base: string, agent: Agent, health: Effort['health']): Promise<Timing> {
  const poller = new HealthPoller(`${base}/-/healthy`);
  const started = performance.now();
  const enough = (scrapes: number) =>
    scrapes >= health.scrapes && (poller.latencies.length >= health.polls || performance.now() - started >= health.budgetMs);
  let scrapes = 0;
  try {
    while (poller.failure === undefined && !enough(scrapes)) {
      await scrapeOnce(`${base}/metrics`, agent);
      scrapes++;
    }
  } finally {
    await poller.stop();
  }
  return summarize(poller.latencies);
}

/**
 * Latency percentiles, bytes and the longest event-loop stall of
 * `effort.http` sequential scrapes, after `effort.warmup` scrapes through
 * the same path (the first renders compile the hot paths and grow the heap),
 * then the health checker's latency during more of them.
 */
export async function probeHttp(source: ScrapeSource, effort: Pick<Effort, 'warmup' | 'http' | 'health'>): Promise<HttpMeasurement> {
  const server = await serveMetrics(source);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const url = `${server.urls[0]}/metrics`;
  try {
    await repeatTimed(effort.warmup, () => scrapeOnce(url, agent));
    const delay = monitorEventLoopDelay({ resolution: 1 });
    const rss = new RssPeak();
    delay.enable();
    const responses = await repeatTimed(effort.http, () => scrapeOnce(url, agent));
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
      healthDuringScrape: await healthDuringScrapes(server.urls[0]!, agent, effort.health),
    };
  } finally {
    agent.destroy();
    await server.close();
  }
}
