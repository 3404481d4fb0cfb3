/**
 * Clients that do not read (loopback only, bounded): a scrape slot is
 * released when the body is produced, not when the client has taken it, so
 * slow readers and a connection pipelining requests it never reads cannot
 * turn other scrapers away; what one connection may have unanswered is
 * bounded; and a client that takes nothing of its body is disconnected.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { MetricFamily } from '../../src/exposition/family.js';
import type { RunningServer } from '../../src/http/server.js';
import { eventually, fixedSource, send, startTestServer, type FixedSource } from '../http/helpers.js';
import { columnar } from '../support/families.js';

const sockets: Socket[] = [];
const servers: RunningServer[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** ~8 MB of exposition: far more than loopback buffers a client that does not read. */
function largeFamily(): MetricFamily {
  const series = Array.from({ length: 60_000 }, (_, i) => ({ labels: [`${'x'.repeat(100)}-${i}`], value: i }));
  return columnar({ name: 'kvm_test_large', help: 'A large page.', type: 'gauge', labelNames: ['item'], series });
}

function largeSource(): FixedSource {
  const source = fixedSource();
  source.extra = [largeFamily()];
  return source;
}

/** A client that sends `requests` GETs at once (identity encoding) and never reads a byte of the answers. */
function nonReader(url: string, requests: number): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.pause();
      socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(requests));
      resolve(socket);
    });
    socket.on('error', () => {});
    socket.once('error', reject);
    sockets.push(socket);
  });
}

async function serve(source: FixedSource, options: { maxRequests: number }): Promise<string> {
  const server = await startTestServer(source, options);
  servers.push(server);
  return server.urls[0]!;
}

describe('slow readers', () => {
  it('readers that stop reading a large page do not hold the scrape slots', async () => {
    const source = largeSource();
    const url = await serve(source, { maxRequests: 4 });
    for (let i = 0; i < 4; i++) await nonReader(url, 1);
    await eventually('the four scrapes to start', () => source.requests.length >= 4);
    // Once their bodies are produced the four slots are free again, though not one byte has been read.
    await eventually(
      'a fifth scrape to be served beside four clients that do not read',
      async () => (await send(url, '/metrics?collect[]=pcpu', { decode: false })).status === 200,
      15_000,
    );
  }, 30_000);

  it('one connection pipelining 10 scrapes it never reads gets at most 2 handled, and other scrapes are served', async () => {
    const source = largeSource();
    const url = await serve(source, { maxRequests: 4 });
    await nonReader(url, 10);
    await eventually('the pipelined scrapes to start', () => source.requests.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(source.requests.length).toBeLessThanOrEqual(2);
    for (let i = 0; i < 3; i++) expect((await send(url, '/metrics?collect[]=pcpu')).status).toBe(200);
  }, 20_000);

  it('disconnects a client that takes no byte of its body for the write-stall timeout', async () => {
    const server = await startTestServer(largeSource(), { maxRequests: 4, writeStallTimeoutMs: 1_000 });
    servers.push(server);
    await nonReader(server.urls[0]!, 1);
    await eventually('the connection to be open', () => server.openConnections === 1);
    // Producing 8 MB takes about a second here; then a second without progress.
    await eventually('the non-reading client to be disconnected', () => server.openConnections === 0, 15_000);
  }, 30_000);
});
