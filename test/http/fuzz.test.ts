/**
 * Property test: whatever method, path, query string and headers a client
 * sends, over a raw socket so nothing is normalised on the way, the server
 * answers with a status below 500 (503 only for the deliberate scrape limit),
 * never hangs, never crashes, and keeps serving.
 */
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import type { RunningServer } from '../../src/http/server.js';
import { eventually, fixedSource, send, startTestServer, tempDir } from './helpers.js';

interface RawReply {
  readonly status: number;
  readonly text: string;
}

/**
 * Writes `head` (request line and headers) and reads until the server closes
 * the connection (every request says `Connection: close`). The client does
 * not half-close first: Node's server drops a response to a client that did.
 */
function rawRequest(port: number, head: string): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.setTimeout(3_000, () => socket.destroy(new Error(`no answer within 3 s to ${JSON.stringify(head)}`)));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      if (match) resolve({ status: Number(match[1]), text });
      else reject(new Error(`no status line in ${JSON.stringify(text.slice(0, 200))} for ${JSON.stringify(head)}`));
    });
    socket.write(head, 'latin1');
    socket.on('end', () => socket.end());
  });
}

const noLineBreak = (text: string) => text.replace(/[\r\n]/g, '');

const method = fc.oneof(fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE'), fc.stringMatching(/^[A-Z]{1,10}$/));
const pathStart = fc.constantFrom('/metrics', '/', '/-/healthy', '/-/ready', '/metrics/', '//metrics', '/%', '/%2e%2e/', '*', 'http://x/metrics', '');
const queryPart = fc.tuple(fc.constantFrom('collect[]', 'exclude[]', 'collect%5B%5D', 'x', ''), fc.string({ maxLength: 20 }));
const target = fc
  .tuple(pathStart, fc.string({ maxLength: 30 }), fc.array(queryPart, { maxLength: 6 }), fc.boolean())
  .map(([start, tail, query, withQuery]) => noLineBreak(`${start}${tail}${withQuery ? `?${query.map(([k, v]) => `${k}=${v}`).join('&')}` : ''}`));
const headerName = fc.oneof(
  fc.constantFrom('Accept', 'Accept-Encoding', 'X-Prometheus-Scrape-Timeout-Seconds', 'Authorization', 'Host', 'Connection', 'Content-Length', 'Transfer-Encoding', 'Expect'),
  fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/),
);
const headerValue = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constantFrom('gzip', '*/*', 'application/openmetrics-text;version=1.0.0', '10', '-1', 'NaN', 'Basic Zm9vOmJhcg==', 'chunked', '100-continue', '0'),
);
const headers = fc.array(fc.tuple(headerName, headerValue), { maxLength: 8 });

function requestHead(m: string, t: string, h: [string, string][]): string {
  const lines = h.map(([name, value]) => `${name}: ${noLineBreak(Buffer.from(value, 'utf8').toString('latin1'))}`);
  return `${m} ${t} HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines.map((line) => `${line}\r\n`).join('')}Connection: close\r\n\r\n`;
}

function acceptable(reply: RawReply): boolean {
  if (reply.status < 500) return true;
  return reply.status === 503 && reply.text.includes('too many concurrent scrapes');
}

const servers: RunningServer[] = [];
/** The source of servers[0], whose scrapes the limit test holds in flight. */
const limited = fixedSource();

beforeAll(async () => {
  const dir = tempDir('fuzz');
  const webConfig = join(dir, 'web.yml');
  writeFileSync(webConfig, `basic_auth_users:\n  foo: ${await bcrypt.hash('bar', 4)}\n`);
  servers.push(await startTestServer(limited, { maxRequests: 2 }));
  servers.push(await startTestServer(fixedSource(), { webConfigFile: webConfig }));
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

describe('any request', () => {
  for (const [index, label] of [
    [0, 'plain server'],
    [1, 'server with basic auth'],
  ] as const) {
    it(`gets a non-5xx answer from the ${label} and the server keeps serving`, async () => {
      const port = Number(new URL(servers[index]!.urls[0]!).port);
      await fc.assert(
        fc.asyncProperty(method, target, headers, async (m, t, h) => {
          const reply = await rawRequest(port, requestHead(m, t, h));
          if (!acceptable(reply)) throw new Error(`status ${reply.status} for ${JSON.stringify(requestHead(m, t, h))}: ${reply.text.slice(0, 300)}`);
        }),
        { numRuns: 400, endOnFailure: true },
      );
      const health = await send(servers[index]!.urls[0]!, '/-/healthy', { headers: { Authorization: `Basic ${Buffer.from('foo:bar').toString('base64')}` } });
      expect(health.status).toBe(200);
    }, 120_000);
  }

  it('answers the limit with 503 and nothing else, under concurrent load', async () => {
    const port = Number(new URL(servers[0]!.urls[0]!).port);
    // Scrapes wait at the gate, so the two the limit admits stay in flight while the other 28 arrive.
    let open!: () => void;
    limited.gate = new Promise((resolve) => (open = resolve));
    const admittedBefore = limited.requests.length;
    let answered = 0;
    const replies = Array.from({ length: 30 }, () =>
      rawRequest(port, requestHead('GET', '/metrics', [['Accept-Encoding', 'gzip']])).then((reply) => {
        answered += 1;
        return reply;
      }),
    );
    try {
      await eventually('28 requests answered while two scrapes are held', () => answered === 28, 15_000);
      expect(limited.requests.length - admittedBefore).toBe(2);
    } finally {
      open();
      limited.gate = undefined;
    }
    const statuses = (await Promise.all(replies)).map((reply) => {
      if (!acceptable(reply)) throw new Error(`status ${reply.status}: ${reply.text.slice(0, 300)}`);
      return reply.status;
    });
    expect(statuses.filter((status) => status === 503)).toHaveLength(28);
    expect(statuses.filter((status) => status === 200)).toHaveLength(2);
  });
});
