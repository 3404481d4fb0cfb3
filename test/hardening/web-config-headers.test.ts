/**
 * A response header from `http_server_config.headers` that Node cannot send
 * (CR, LF, another control character, a character outside Latin-1) is
 * refused when the web config is loaded — at start and on reload — with the
 * file, line and key, instead of being accepted and then failing every
 * request with a 500.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebConfigError } from '../../src/errors.js';
import type { RunningServer } from '../../src/http/server.js';
import { fixedSource, send, startTestServer, tempDir } from '../http/helpers.js';

const servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

function webConfig(dir: string, header: string, value: string): string {
  const file = join(dir, 'web.yml');
  writeFileSync(file, `# security headers\nhttp_server_config:\n  headers:\n    ${header}: ${JSON.stringify(value)}\n`);
  return file;
}

const BAD_VALUES: readonly (readonly [string, string, string])[] = [
  ['a CR LF pair', 'Content-Security-Policy', "default-src 'self'\r\nSet-Cookie: a=b"],
  ['a lone LF', 'Strict-Transport-Security', 'max-age=1\nX-Evil: 1'],
  ['a NUL', 'X-XSS-Protection', '1\u0000'],
  ['a character outside Latin-1', 'Content-Security-Policy', "default-src 'self' \u2713"],
];

describe('web config header values', () => {
  it.each(BAD_VALUES)('refuses %s at start, naming file, line and key', async (_what, header, value) => {
    const file = webConfig(tempDir('headers'), header, value);
    const attempt = startTestServer(fixedSource(), { webConfigFile: file });
    void attempt.then((server) => servers.push(server), () => {});
    await expect(attempt).rejects.toBeInstanceOf(WebConfigError);
    await expect(attempt).rejects.toThrow(`${file}: line 4: http_server_config.headers.${header}: `);
    await expect(attempt).rejects.toThrow('is not a valid header value');
  });

  it('refuses such a value on reload and keeps answering with the previous headers', async () => {
    const dir = tempDir('headers-reload');
    const file = webConfig(dir, 'Content-Security-Policy', "default-src 'none'");
    const server = await startTestServer(fixedSource(), { webConfigFile: file });
    servers.push(server);
    const url = server.urls[0]!;
    expect((await send(url, '/metrics')).headers['content-security-policy']).toBe("default-src 'none'");
    webConfig(dir, 'Content-Security-Policy', "default-src 'none'\r\nX-Evil: 1");
    expect(await server.reloadWebConfig()).toBe('rejected');
    for (const path of ['/metrics', '/', '/-/healthy', '/-/ready']) {
      const reply = await send(url, path);
      expect(reply.status, path).toBe(200);
      expect(reply.headers['content-security-policy'], path).toBe("default-src 'none'");
    }
  });

  it('keeps accepting Latin-1 and tab, which Node can send', async () => {
    const file = webConfig(tempDir('headers-latin1'), 'Content-Security-Policy', "default-src\t'self' caf\u00e9");
    const server = await startTestServer(fixedSource(), { webConfigFile: file });
    servers.push(server);
    const reply = await send(server.urls[0]!, '/-/healthy');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-security-policy']).toMatch(/^default-src\t'self' caf/);
  });
});
