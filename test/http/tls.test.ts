/** HTTPS from --web.config.file: TLS, each client_auth_type, allowed SANs, and certificate reload. */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/http/server.js';
import { parseSubjectAltName } from '../../src/http/tls.js';
import { eventually, fixedSource, makeCa, makeLeaf, quietLogger, send, startTestServer, tempDir, type Certificate } from './helpers.js';

let dir: string;
let ca: Certificate;
let otherCa: Certificate;
let serverCert: Certificate;
let client: Certificate;
let strangerClient: Certificate;

beforeAll(() => {
  dir = tempDir('tls');
  ca = makeCa(dir, 'ca');
  otherCa = makeCa(dir, 'other-ca');
  serverCert = makeLeaf(dir, 'server', ca, 'server');
  client = makeLeaf(dir, 'client', ca, 'client', ['DNS:scraper.example', 'IP:10.0.0.7']);
  strangerClient = makeLeaf(dir, 'stranger', otherCa, 'client', ['DNS:stranger.example']);
});

const running: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
});

async function serveWith(webConfig: string, logLines: string[] = []): Promise<{ url: string; server: RunningServer; file: string }> {
  const file = join(dir, `web-${running.length}-${Date.now()}.yml`);
  writeFileSync(file, webConfig);
  const server = await startTestServer(fixedSource(), { webConfigFile: file, logger: quietLogger(logLines) });
  running.push(server);
  return { url: server.urls[0]!, server, file };
}

function tlsConfig(extra = ''): string {
  return `tls_server_config:\n  cert_file: ${serverCert.certFile}\n  key_file: ${serverCert.keyFile}\n${extra}`;
}

describe('TLS', () => {
  it('serves HTTPS with the configured certificate and refuses plain HTTP on the port', async () => {
    const { url, server } = await serveWith(tlsConfig());
    expect(server.tls).toBe(true);
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const reply = await send(url, '/metrics', { ca: ca.cert });
    expect(reply.status).toBe(200);
    expect(reply.text).toContain('kvm_test_pcpu_total{cpu="0"} 10');
    await expect(send(url.replace('https:', 'http:'), '/metrics')).rejects.toThrow();
  });

  it('is refused by a client that does not trust the CA', async () => {
    const { url } = await serveWith(tlsConfig());
    await expect(send(url, '/metrics', { ca: otherCa.cert })).rejects.toThrow(/certificate/i);
  });

  it('applies min_version: a TLS 1.2-only client cannot connect to a TLS 1.3 server', async () => {
    const { url } = await serveWith(tlsConfig('  min_version: TLS13\n'));
    expect((await send(url, '/-/healthy', { ca: ca.cert })).status).toBe(200);
    await expect(send(url, '/-/healthy', { ca: ca.cert, maxVersion: 'TLSv1.2' })).rejects.toThrow(/version/i);
  });

  it('applies cipher_suites to TLS 1.2 and leaves TLS 1.3 working, as Go does', async () => {
    const { url } = await serveWith(tlsConfig('  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n'));
    expect((await send(url, '/-/healthy', { ca: ca.cert, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' })).status).toBe(200);
    await expect(send(url, '/-/healthy', { ca: ca.cert, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' })).rejects.toThrow(/handshake failure/);
    expect((await send(url, '/-/healthy', { ca: ca.cert, maxVersion: 'TLSv1.3' })).status).toBe(200);
  });

  it('sets the configured security headers on every response', async () => {
    const { url } = await serveWith(`${tlsConfig()}http_server_config:\n  headers:\n    Strict-Transport-Security: max-age=63072000\n    X-Content-Type-Options: nosniff\n`);
    for (const path of ['/metrics', '/nope']) {
      const reply = await send(url, path, { ca: ca.cert });
      expect(reply.headers['strict-transport-security']).toBe('max-age=63072000');
      expect(reply.headers['x-content-type-options']).toBe('nosniff');
    }
  });
});

describe('client certificates', () => {
  const verified = `  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${'CA'}\n`;

  it('RequireAndVerifyClientCert: admits a client certificate from the CA, refuses none or a stranger', async () => {
    const { url } = await serveWith(tlsConfig(verified.replace('CA', ca.certFile)));
    const ok = await send(url, '/metrics', { ca: ca.cert, cert: client.cert, key: client.key });
    expect(ok.status).toBe(200);
    await expect(send(url, '/metrics', { ca: ca.cert })).rejects.toThrow();
    await expect(send(url, '/metrics', { ca: ca.cert, cert: strangerClient.cert, key: strangerClient.key })).rejects.toThrow();
  });

  it('RequireAnyClientCert: needs a certificate but does not verify it', async () => {
    const { url } = await serveWith(tlsConfig('  client_auth_type: RequireAnyClientCert\n'));
    expect((await send(url, '/metrics', { ca: ca.cert, cert: strangerClient.cert, key: strangerClient.key })).status).toBe(200);
    await expect(send(url, '/metrics', { ca: ca.cert })).rejects.toThrow();
  });

  it('VerifyClientCertIfGiven: admits none or a verified one, refuses an unverifiable one', async () => {
    const { url } = await serveWith(tlsConfig(`  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ${ca.certFile}\n`));
    expect((await send(url, '/metrics', { ca: ca.cert })).status).toBe(200);
    expect((await send(url, '/metrics', { ca: ca.cert, cert: client.cert, key: client.key })).status).toBe(200);
    await expect(send(url, '/metrics', { ca: ca.cert, cert: strangerClient.cert, key: strangerClient.key })).rejects.toThrow();
  });

  it('RequestClientCert: asks, but admits anyone', async () => {
    const { url } = await serveWith(tlsConfig('  client_auth_type: RequestClientCert\n'));
    expect((await send(url, '/metrics', { ca: ca.cert })).status).toBe(200);
    expect((await send(url, '/metrics', { ca: ca.cert, cert: strangerClient.cert, key: strangerClient.key })).status).toBe(200);
  });

  it('client_allowed_sans: admits a verified certificate only with an allowed SAN', async () => {
    const lines: string[] = [];
    const { url } = await serveWith(tlsConfig(`${verified.replace('CA', ca.certFile)}  client_allowed_sans: [other.example, 10.0.0.7]\n`), lines);
    expect((await send(url, '/metrics', { ca: ca.cert, cert: client.cert, key: client.key })).status).toBe(200);
    const { url: strict } = await serveWith(tlsConfig(`${verified.replace('CA', ca.certFile)}  client_allowed_sans: [other.example]\n`), lines);
    await expect(send(strict, '/metrics', { ca: ca.cert, cert: client.cert, key: client.key })).rejects.toThrow();
    await eventually('the refusal to be logged', () => lines.some((line) => line.includes('has none of the allowed SANs')));
  });

  it('reads the SANs Node reports, quoted values included', () => {
    const sans = new X509Certificate(client.cert).subjectAltName!;
    expect(parseSubjectAltName(sans)).toEqual(['scraper.example', '10.0.0.7']);
    expect(parseSubjectAltName('DNS:a.example, URI:"spiffe://x/a,b", email:me@example.org')).toEqual(['a.example', 'spiffe://x/a,b', 'me@example.org']);
  });
});

describe('reload', () => {
  it('swaps the server certificate without a restart when the files change', async () => {
    const live = { certFile: join(dir, 'live.crt'), keyFile: join(dir, 'live.key') };
    copyFileSync(serverCert.certFile, live.certFile);
    copyFileSync(serverCert.keyFile, live.keyFile);
    const { url, server } = await serveWith(`tls_server_config:\n  cert_file: live.crt\n  key_file: live.key\n`);
    expect((await send(url, '/-/healthy', { ca: ca.cert })).status).toBe(200);

    const rotated = makeLeaf(dir, 'rotated', otherCa, 'server');
    copyFileSync(rotated.certFile, live.certFile);
    copyFileSync(rotated.keyFile, live.keyFile);
    expect(await server.reloadWebConfig()).toBe('reloaded');
    // The old CA no longer verifies the server; the new one does.
    await expect(send(url, '/-/healthy', { ca: ca.cert })).rejects.toThrow();
    expect((await send(url, '/-/healthy', { ca: otherCa.cert })).status).toBe(200);
  });

  it('picks up a change by itself within a few seconds', async () => {
    const live = { certFile: join(dir, 'poll.crt'), keyFile: join(dir, 'poll.key') };
    copyFileSync(serverCert.certFile, live.certFile);
    copyFileSync(serverCert.keyFile, live.keyFile);
    const { url } = await serveWith(`tls_server_config:\n  cert_file: poll.crt\n  key_file: poll.key\n`);
    const rotated = makeLeaf(dir, 'rotated2', otherCa, 'server');
    copyFileSync(rotated.keyFile, live.keyFile);
    copyFileSync(rotated.certFile, live.certFile);
    await eventually('the new certificate to be served', async () => {
      try {
        return (await send(url, '/-/healthy', { ca: otherCa.cert })).status === 200;
      } catch {
        return false;
      }
    });
  });

  it('turns client certificate checking on at reload', async () => {
    const { url, file } = await serveWith(tlsConfig());
    expect((await send(url, '/-/healthy', { ca: ca.cert })).status).toBe(200);
    writeFileSync(file, tlsConfig(`  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${ca.certFile}\n`));
    expect(await running.at(-1)!.reloadWebConfig()).toBe('reloaded');
    await expect(send(url, '/-/healthy', { ca: ca.cert })).rejects.toThrow();
    expect((await send(url, '/-/healthy', { ca: ca.cert, cert: client.cert, key: client.key })).status).toBe(200);
  });

  it('keeps the old config, and logs why, when the new file is invalid', async () => {
    const lines: string[] = [];
    const { url, file, server } = await serveWith(tlsConfig(), lines);
    writeFileSync(file, `${tlsConfig()}  client_auth_type: Sometimes\n`);
    expect(await server.reloadWebConfig()).toBe('rejected');
    expect((await send(url, '/-/healthy', { ca: ca.cert })).status).toBe(200);
    const logged = lines.map((line) => JSON.parse(line)).find((record) => record.msg === 'web config reload failed, keeping the previous one');
    expect(logged).toMatchObject({ level: 'error', file });
    expect(logged.err).toContain(`${file}: line 4: tls_server_config.client_auth_type: must be one of`);
    // Reported once: an unchanged broken file is not reloaded (nor logged) again.
    expect(await server.reloadWebConfig()).toBe('unchanged');
  });

  it('refuses to turn TLS off at reload, keeping HTTPS', async () => {
    const { url, file, server } = await serveWith(tlsConfig());
    writeFileSync(file, 'basic_auth_users: {}\n');
    expect(await server.reloadWebConfig()).toBe('rejected');
    expect((await send(url, '/-/healthy', { ca: ca.cert })).status).toBe(200);
  });
});
