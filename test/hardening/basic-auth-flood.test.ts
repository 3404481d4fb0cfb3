/**
 * Basic auth under attack (loopback only, bounded in count and time):
 * - a bcrypt cost that cannot be verified in reasonable time is refused at
 *   start and on reload, and a refused reload does not stop later ones;
 * - a flood of wrong passwords on 32 connections leaves an authenticated
 *   scrape within twice its idle latency plus 100 ms;
 * - an unknown user and a wrong password for a cheap (cost 4) user take the
 *   same time while a dearer (cost 10) user is configured.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebConfigError } from '../../src/errors.js';
import type { RunningServer } from '../../src/http/server.js';
import { fixedSource, send, startTestServer, tempDir } from '../http/helpers.js';
import { ROOT } from '../support/sim.js';

/** wrong-password-flood.mjs against `url` (an attacker does not share the exporter's event loop); the count of each status. */
function floodFromAnotherProcess(url: string, user: string, connections: number, seconds: number): Promise<Record<string, number>> {
  const script = join(ROOT, 'test', 'hardening', 'wrong-password-flood.mjs');
  const args = [script, url, user, String(connections), String(seconds)];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: ROOT, timeout: (seconds + 20) * 1000 }, (error, stdout) => {
      if (error) reject(error);
      else resolve(JSON.parse(stdout) as Record<string, number>);
    });
  });
}

let dir: string;
let cheapHash: string;
let dearHash: string;
const running: RunningServer[] = [];

beforeAll(async () => {
  dir = tempDir('auth-flood');
  cheapHash = await bcrypt.hash('cheap-secret', 4);
  dearHash = await bcrypt.hash('dear-secret', 10);
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
});

function basic(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

function writeUsers(file: string, users: Record<string, string>): void {
  writeFileSync(file, `basic_auth_users:\n${Object.entries(users).map(([user, hash]) => `  ${user}: ${hash}\n`).join('')}`);
}

async function serveUsers(users: Record<string, string>): Promise<{ url: string; file: string; server: RunningServer }> {
  const file = join(dir, `web-${running.length}-${Date.now()}.yml`);
  writeUsers(file, users);
  const server = await startTestServer(fixedSource(), { webConfigFile: file });
  running.push(server);
  return { url: server.urls[0]!, file, server };
}

/** `promise`, or a rejection naming `what` after `ms`: the old behaviour was never settling. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms))]);
}

async function timedStatus(url: string, headers: Record<string, string>, agent: Agent | false = false): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const reply = await send(url, '/metrics', { headers, agent });
  return { status: reply.status, ms: performance.now() - started };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

describe('bcrypt costs', () => {
  const slowHash = `$2b$31$${'a'.repeat(53)}`;

  it('refuses a cost-31 hash at start, naming file, line and user', async () => {
    const file = join(dir, 'cost31.yml');
    writeUsers(file, { alice: cheapHash, mallory: slowHash });
    const attempt = within(5_000, 'startServer', startTestServer(fixedSource(), { webConfigFile: file }));
    void attempt.then((server) => running.push(server), () => {});
    await expect(attempt).rejects.toBeInstanceOf(WebConfigError);
    await expect(attempt).rejects.toThrow(`${file}: line 3: basic_auth_users.mallory: bcrypt cost 31 is outside 4 to 12`);
  });

  it('refuses a cost-31 hash on reload, keeps serving, and still applies a later change (a revoked user is refused)', async () => {
    const { url, file, server } = await serveUsers({ alice: cheapHash, bob: dearHash });
    expect((await send(url, '/metrics', { headers: basic('bob', 'dear-secret') })).status).toBe(200);
    writeUsers(file, { alice: cheapHash, bob: dearHash, mallory: slowHash });
    expect(await within(5_000, 'the reload', server.reloadWebConfig())).toBe('rejected');
    expect((await send(url, '/-/healthy', { headers: basic('alice', 'cheap-secret') })).status).toBe(200);
    writeUsers(file, { alice: cheapHash });
    expect(await within(5_000, 'the next reload', server.reloadWebConfig())).toBe('reloaded');
    expect((await send(url, '/metrics', { headers: basic('bob', 'dear-secret') })).status).toBe(401);
    expect((await send(url, '/metrics', { headers: basic('alice', 'cheap-secret') })).status).toBe(200);
  });
});

describe('a flood of wrong passwords', () => {
  it('leaves an authenticated scrape within 2x its idle latency + 100 ms', async () => {
    // The guesses are for a cost-4 user: cheap to refuse, so many per second, and each must still not slow the scraper.
    const { url } = await serveUsers({ prometheus: dearHash, cheap: cheapHash });
    const scraper = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const credentials = basic('prometheus', 'dear-secret');
      expect((await timedStatus(url, credentials, scraper)).status).toBe(200);
      const idle: number[] = [];
      for (let i = 0; i < 5; i++) idle.push((await timedStatus(url, credentials, scraper)).ms);
      const bound = 2 * median(idle) + 100;

      const flood = floodFromAnotherProcess(`${url}/metrics`, 'cheap', 32, 6);
      // Well into the flood: thousands of guesses could have pushed a cached credential out by now.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      const underFlood: { status: number; ms: number }[] = [];
      for (let i = 0; i < 10; i++) {
        underFlood.push(await timedStatus(url, credentials, scraper));
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
      const result = await flood;
      expect(underFlood.map((r) => r.status)).toEqual(underFlood.map(() => 200));
      // All but the slowest one: on a shared 2-core test machine one scrape may lose the CPU for a moment to anything.
      const latencies = underFlood.map((r) => r.ms).sort((a, b) => a - b);
      const detail = `idle ${idle.map(Math.round).join(', ')} ms; under the flood ${underFlood.map((r) => Math.round(r.ms)).join(', ')} ms`;
      expect(latencies[latencies.length - 2], detail).toBeLessThan(bound);
      // The flood was refused, never admitted: 401 after a bcrypt check, or 429 when the checks are saturated.
      expect(result['2xx'] ?? 0).toBe(0);
      expect(result['401'] ?? 0).toBeGreaterThan(0);
    } finally {
      scraper.destroy();
    }
  }, 30_000);
});

describe('timing', () => {
  it('an unknown user takes as long as a wrong password for a cost-4 user beside a cost-10 user', async () => {
    const { url } = await serveUsers({ cheap: cheapHash, dear: dearHash });
    const unknown: number[] = [];
    const wrong: number[] = [];
    // Interleaved, so a change of machine load touches both alike.
    for (let i = 0; i < 6; i++) {
      const a = await timedStatus(url, basic('nobody', `guess-${i}`));
      const b = await timedStatus(url, basic('cheap', `guess-${i}`));
      expect([a.status, b.status]).toEqual([401, 401]);
      unknown.push(a.ms);
      wrong.push(b.ms);
    }
    const [u, w] = [median(unknown), median(wrong)];
    const detail = `unknown user ${unknown.map(Math.round).join(', ')} ms; wrong password ${wrong.map(Math.round).join(', ')} ms`;
    expect(Math.abs(u - w), detail).toBeLessThan(Math.max(20, 0.25 * Math.max(u, w)));
  }, 30_000);
});
