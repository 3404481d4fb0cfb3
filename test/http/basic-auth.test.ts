/** Basic auth from basic_auth_users: answers, caching, one check per connection, reload. (Timing and floods: test/hardening.) */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BasicAuthVerifier, parseBasicAuth } from '../../src/http/basic-auth.js';
import { BcryptPool } from '../../src/http/bcrypt-pool.js';
import type { RunningServer } from '../../src/http/server.js';
import { fixedSource, send, startTestServer, tempDir } from './helpers.js';

let dir: string;
let aliceHash: string;
let bobHash: string;

beforeAll(async () => {
  dir = tempDir('auth');
  // Cost 10, as `htpasswd -nBC 10` and exporter-toolkit's docs use: ~70-90 ms per check.
  aliceHash = (await bcrypt.hash('wonderland', 10)).replace('$2b$', '$2y$');
  bobHash = await bcrypt.hash('builder', 4);
});

const running: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
});

function basic(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

async function serveUsers(users: string): Promise<{ url: string; file: string; server: RunningServer }> {
  const file = join(dir, `web-${Date.now()}-${running.length}.yml`);
  writeFileSync(file, users);
  const server = await startTestServer(fixedSource(), { webConfigFile: file });
  running.push(server);
  return { url: server.urls[0]!, file, server };
}

describe('basic auth on the server', () => {
  it('admits the right password and answers 401 with WWW-Authenticate otherwise', async () => {
    const { url } = await serveUsers(`basic_auth_users:\n  alice: ${aliceHash}\n`);
    const ok = await send(url, '/metrics', { headers: basic('alice', 'wonderland') });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('kvm_test_pcpu_total');
    for (const headers of [basic('alice', 'wrong'), basic('mallory', 'wonderland'), {}, { Authorization: 'Bearer abc' }, { Authorization: 'Basic !!!' }]) {
      const refused = await send(url, '/metrics', { headers });
      expect(refused.status).toBe(401);
      expect(refused.headers['www-authenticate']).toBe('Basic realm="kvm_exporter", charset="UTF-8"');
      expect(refused.text).toBe('unauthorized\n');
    }
  });

  it('protects every path, health checks and unknown paths included', async () => {
    const { url } = await serveUsers(`basic_auth_users:\n  alice: ${aliceHash}\n`);
    for (const path of ['/', '/-/healthy', '/-/ready', '/nope']) expect((await send(url, path)).status).toBe(401);
    expect((await send(url, '/-/healthy', { headers: basic('alice', 'wonderland') })).status).toBe(200);
  });

  it('does not pay bcrypt again for a credential it has verified', async () => {
    const { url } = await serveUsers(`basic_auth_users:\n  alice: ${aliceHash}\n`);
    const timed = async () => {
      const started = performance.now();
      expect((await send(url, '/-/healthy', { headers: basic('alice', 'wonderland') })).status).toBe(200);
      return performance.now() - started;
    };
    const first = await timed();
    const later = Math.min(await timed(), await timed(), await timed());
    expect(first).toBeGreaterThan(30);
    expect(later).toBeLessThan(first / 3);
  });

  it('reloads the users when the file changes', async () => {
    const { url, file, server } = await serveUsers(`basic_auth_users:\n  alice: ${aliceHash}\n`);
    expect((await send(url, '/-/healthy', { headers: basic('bob', 'builder') })).status).toBe(401);
    writeFileSync(file, `basic_auth_users:\n  bob: ${bobHash}\n`);
    expect(await server.reloadWebConfig()).toBe('reloaded');
    expect((await send(url, '/-/healthy', { headers: basic('bob', 'builder') })).status).toBe(200);
    expect((await send(url, '/-/healthy', { headers: basic('alice', 'wonderland') })).status).toBe(401);
    writeFileSync(file, 'basic_auth_users: {}\n');
    expect(await server.reloadWebConfig()).toBe('reloaded');
    expect((await send(url, '/-/healthy')).status).toBe(200);
  });
});

describe('BasicAuthVerifier', () => {
  const pool = new BcryptPool();
  afterAll(() => pool.close());
  const connection = () => ({});

  it('caches verified credentials only (bounded), and shares one bcrypt run between concurrent identical checks', async () => {
    const verifier = await BasicAuthVerifier.create(new Map([['bob', bobHash]]), pool, 3);
    const results = await Promise.all(Array.from({ length: 5 }, () => verifier.verify({ user: 'bob', password: 'builder' }, connection())));
    expect(results).toEqual(['admitted', 'admitted', 'admitted', 'admitted', 'admitted']);
    expect(verifier.cachedCredentials).toBe(1);
    for (const password of ['x', 'y', 'z', 'w']) expect(await verifier.verify({ user: 'bob', password }, connection())).toBe('refused');
    expect(verifier.cachedCredentials).toBe(1);
    expect(await verifier.verify({ user: 'bob', password: 'builder' }, connection())).toBe('admitted');
  });

  it('keeps users apart even when user:password strings collide', async () => {
    const verifier = await BasicAuthVerifier.create(new Map([['a', await bcrypt.hash('b:c', 4)], ['a:b', await bcrypt.hash('c', 4)]]), pool);
    expect(await verifier.verify({ user: 'a', password: 'b:c' }, connection())).toBe('admitted');
    expect(await verifier.verify({ user: 'a:b', password: 'c' }, connection())).toBe('admitted');
    expect(await verifier.verify({ user: 'a', password: 'c' }, connection())).toBe('refused');
  });

  it('checks one credential at a time per connection', async () => {
    const verifier = await BasicAuthVerifier.create(new Map([['alice', aliceHash]]), pool);
    const socket = connection();
    const first = verifier.verify({ user: 'alice', password: 'guess-1' }, socket);
    expect(await verifier.verify({ user: 'alice', password: 'guess-2' }, socket)).toBe('busy');
    expect(await first).toBe('refused');
  });
});

describe('parseBasicAuth', () => {
  it.each([
    ['Basic YWxpY2U6c2VjcmV0', { user: 'alice', password: 'secret' }],
    ['basic   YWxpY2U6c2VjcmV0 ', { user: 'alice', password: 'secret' }],
    [`Basic ${Buffer.from('ü:pa:ss').toString('base64')}`, { user: 'ü', password: 'pa:ss' }],
    [`Basic ${Buffer.from(':').toString('base64')}`, { user: '', password: '' }],
    ['Basic bm9jb2xvbg==', undefined],
    ['Bearer YWxpY2U6c2VjcmV0', undefined],
    ['Basic', undefined],
    ['Basic a b', undefined],
    [undefined, undefined],
  ])('%j → %j', (header, credentials) => {
    expect(parseBasicAuth(header)).toEqual(credentials);
  });
});
