/**
 * A 100k-series scrape served over HTTP, gzipped, while health checks keep
 * coming: health checks are answered throughout and every body is whole.
 * (The longest event-loop stall is measured by the benchmark, not asserted.)
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetricFamily, Series } from '../../src/exposition/family.js';
import type { RunningServer } from '../../src/http/server.js';
import { fixedSource, send, startTestServer } from './helpers.js';
import { columnar } from '../support/families.js';

const SERIES = 100_000;
let server: RunningServer;

function bigFamily(): MetricFamily {
  const series: Series[] = [];
  for (let i = 0; i < SERIES; i++) series.push({ labels: [String(100 + i), `daemon${i % 700}`, String(i % 120)], value: i * 3 });
  return columnar({ name: 'kvm_process_info', help: 'One series per process.', type: 'gauge', labelNames: ['pid', 'comm', 'uid'], series });
}

beforeAll(async () => {
  const source = fixedSource();
  source.extra = [bigFamily()];
  server = await startTestServer(source);
  // Warm the JIT once, as a running exporter would be after its first scrape.
  await send(server.urls[0]!, '/metrics', { headers: { 'Accept-Encoding': 'gzip' } });
});

afterAll(async () => {
  await server.close();
});

interface Round {
  readonly maxDelayMs: number;
  readonly elapsedMs: number;
  readonly healthChecks: number;
}

/** Two concurrent gzip scrapes while health checks loop; checks every body. */
async function round(url: string): Promise<Round> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  let scraping = true;
  let healthChecks = 0;
  const checker = (async () => {
    while (scraping) {
      expect((await send(url, '/-/healthy')).status).toBe(200);
      healthChecks++;
    }
  })();
  delay.enable();
  const started = performance.now();
  const headers = { 'Accept-Encoding': 'gzip', Accept: 'application/openmetrics-text; version=1.0.0' };
  // Bodies are decoded after the measurement: gunzipping 6 MB in this process would be the client's stall.
  const scrapes = await Promise.all([0, 1].map(() => send(url, '/metrics', { headers, decode: false })));
  const elapsedMs = performance.now() - started;
  delay.disable();
  scraping = false;
  await checker;
  for (const scrape of scrapes) {
    expect(scrape.status).toBe(200);
    expect(scrape.headers['content-encoding']).toBe('gzip');
    const text = gunzipSync(scrape.raw).toString('utf8');
    expect(text.endsWith('# EOF\n')).toBe(true);
    expect(text.split('\n').filter((line) => line.startsWith('kvm_process_info{')).length).toBe(SERIES);
  }
  return { maxDelayMs: delay.max / 1e6, elapsedMs, healthChecks };
}

describe('a 100k-series scrape', () => {
  it('keeps health checks answered during concurrent gzip scrapes', async () => {
    const url = server.urls[0]!;
    const rounds: Round[] = [];
    for (let i = 0; i < 4; i++) rounds.push(await round(url));
    const bytes = (await send(url, '/metrics', { headers: { 'Accept-Encoding': 'gzip' } })).raw.length;
    console.log(
      `two concurrent 100k-series gzip scrapes (${bytes} bytes gzip each): ` +
        rounds.map((r) => `${r.elapsedMs.toFixed(0)} ms, max loop delay ${r.maxDelayMs.toFixed(1)} ms, ${r.healthChecks} health checks`).join('; '),
    );
    for (const r of rounds) expect(r.healthChecks).toBeGreaterThan(0);
  });
});
