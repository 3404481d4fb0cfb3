/**
 * The real exporter served over HTTP inside the test process, wired as
 * `kvm_exporter serve` wires it (Exporter, SelfMetrics, startServer), against
 * a simulated kernel, with the log captured line by line so a test can count
 * what was said about a fault. Scrapes go through HTTP and are read back
 * with the strict parser of test/support/parse.ts.
 *
 * In-process so that faults, backoff timings and the simulator's call counts
 * (process-wide, SimControl) are in the test's hands; the signal, privilege
 * and service tests run the built CLI instead.
 */
import { request } from 'node:http';
import { enabledCollectors } from '../../src/cli/flags.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { Exporter } from '../../src/exporter/exporter.js';
import type { Backoff } from '../../src/exporter/kernel-connection.js';
import { SelfMetrics } from '../../src/exposition/self-metrics.js';
import { startServer, type RunningServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { SimControl } from '../../sim/control.js';
import { parseExposition, valueOf, type ParsedScrape } from '../support/parse.js';
import { SIM_LIBRARY, type TestKernel } from '../support/sim.js';

/**
 * The config the hardening tests serve: the FreeBSD 14 preset (vm_cnt, udpstat,
 * ipstat, hz, stathz, pc_cp_time) plus what the demo kernel adds (sendfile's
 * handle array, two file-local counters, ticks, nprocs, DPCPU pcputicks), so
 * every collector and every kind of source is read.
 */
export const FULL_CONFIG = `preset: freebsd-14-amd64
counters:
  - { name: sendfile, symbol: sfstat, array: [syscalls, noiocnt, iocnt, pages_read, pages_valid, rhpages_requested, rhpages_read, busy, allocfail, allocwait, pages_bogus] }
  - { name: pqstate_commit_retries, symbol: pqstate_commit_retries }
  - { name: object_collapses, symbol: object_collapses }
variables:
  - { name: ticks, symbol: ticks, ctype: int32 }
  - { name: nprocs, symbol: nprocs, ctype: int32 }
dpcpu:
  - { name: pcputicks, symbol: pcputicks, ctype: int32, type: counter }
`;

export interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** The exporter's log as parsed JSON lines. */
export class LogCapture {
  readonly lines: LogLine[] = [];

  readonly stream = { write: (line: string) => this.lines.push(JSON.parse(line) as LogLine) };

  /** Lines at `level` whose msg is `msg` (and whose fields match `fields`), from line `from` on. */
  find(level: string, msg: string, fields: Readonly<Record<string, unknown>> = {}, from = 0): LogLine[] {
    return this.lines
      .slice(from)
      .filter((l) => l.level === level && l.msg === msg && Object.entries(fields).every(([k, v]) => l[k] === v));
  }

  /** Error and warning lines from line `from` on, as `msg err` text, for failure messages. */
  problems(from = 0): string[] {
    return this.lines.slice(from).filter((l) => l.level === 'error' || l.level === 'warn').map((l) => `${l.msg} ${String(l.err ?? l.problem ?? '')}`);
  }

  get mark(): number {
    return this.lines.length;
  }
}

export interface ServeOptions {
  readonly backoff?: Backoff;
  readonly maxRequests?: number;
  /** Seconds taken off X-Prometheus-Scrape-Timeout-Seconds (the CLI's default 0.5). */
  readonly timeoutOffsetSeconds?: number;
}

export interface Reply {
  readonly status: number;
  readonly text: string;
  /** Milliseconds from sending the request to the end of the body. */
  readonly ms: number;
}

export interface Scrape extends Reply {
  readonly parsed: ParsedScrape;
}

export interface Served {
  readonly url: string;
  readonly config: Config;
  readonly exporter: Exporter;
  readonly server: RunningServer;
  readonly log: LogCapture;
  get(path: string, headers?: Record<string, string>): Promise<Reply>;
  /** GET /metrics, expected to answer 200, parsed. */
  scrape(path?: string, headers?: Record<string, string>): Promise<Scrape>;
  close(): Promise<void>;
}

/** Loads `body` as the kernel's config and serves it on 127.0.0.1 with a free port. */
export async function serveKernel(kernel: TestKernel, body = '', options: ServeOptions = {}): Promise<Served> {
  const config = loadConfig(kernel.writeConfig(body));
  const log = new LogCapture();
  const logger = createLogger({ level: 'debug', format: 'json', stream: log.stream });
  const selfMetrics = new SelfMetrics({ version: 'test', revision: 'test' }, { defaultMetrics: false });
  const exporter = new Exporter({
    config,
    enabled: enabledCollectors({ collectors: new Map(), disableDefaults: false }, config.collectors),
    logger,
    selfMetrics: () => selfMetrics.families(),
    ...(options.backoff && { backoff: options.backoff }),
  });
  await exporter.opened();
  const server = await startServer({
    source: exporter,
    telemetryPath: '/metrics',
    listenAddresses: [{ text: '127.0.0.1:0', host: '127.0.0.1', port: 0 }],
    maxRequests: options.maxRequests ?? 40,
    timeoutOffsetSeconds: options.timeoutOffsetSeconds ?? 0.5,
    logger,
    info: { version: 'test', revision: 'test' },
  });
  const url = server.urls[0]!;
  const get = (path: string, headers: Record<string, string> = {}) => httpGet(url, path, headers);
  return {
    url,
    config,
    exporter,
    server,
    log,
    get,
    async scrape(path = '/metrics', headers = {}) {
      const reply = await get(path, headers);
      if (reply.status !== 200) throw new Error(`GET ${path} answered ${reply.status}: ${reply.text}`);
      return { ...reply, parsed: parseExposition(reply.text) };
    },
    async close() {
      await server.close();
      await exporter.close();
    },
  };
}

/** One GET with its own connection; the target is sent as given (no normalisation). */
export function httpGet(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  const { hostname, port } = new URL(baseUrl);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** kvm_scrape_collector_success of every collector in a scrape. */
export function successOf(scrape: ParsedScrape): Record<string, number> {
  return Object.fromEntries(scrape.samples.filter((s) => s.name === 'kvm_scrape_collector_success').map((s) => [s.labels.collector!, s.value]));
}

export function upOf(scrape: ParsedScrape): number {
  return valueOf(scrape, 'kvm_up');
}

/** The simulator's call counts, process-wide: the exporter under test runs in this process. */
export function simControl(): SimControl {
  return new SimControl(SIM_LIBRARY);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every 20 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
