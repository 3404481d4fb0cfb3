/** The --web.config.file format: what loads, and how every invalid file is reported. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { WebConfigError } from '../../src/errors.js';
import { loadWebConfig, parseWebConfigText } from '../../src/http/web-config.js';
import { makeCa, makeLeaf, tempDir, type Certificate } from './helpers.js';

/** bcrypt of "secret", cost 4 (as `htpasswd -nBC 4` makes). */
const HASH = '$2y$04$vNP/saWlGN7NotmrUQHFKun9KwayleMQZ4jJiREW/x6nWTDeb1f/2';

let dir: string;
let server: Certificate;
let ca: Certificate;

beforeAll(() => {
  dir = tempDir('webconfig');
  ca = makeCa(dir, 'ca');
  server = makeLeaf(dir, 'server', ca, 'server');
});

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function problemsOf(text: string): string {
  try {
    parseWebConfigText('web.yml', text);
  } catch (error) {
    expect(error).toBeInstanceOf(WebConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the web config to be refused');
}

describe('loadWebConfig', () => {
  it('loads TLS with paths relative to the file, client auth, users and headers', async () => {
    const file = write(
      'full.yml',
      `tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  min_version: TLS13
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]
  curve_preferences: [X25519, CurveP256]
  client_allowed_sans: [client.example]
http_server_config:
  http2: false
  headers:
    X-Frame-Options: deny
    Strict-Transport-Security: max-age=31536000
basic_auth_users:
  alice: ${HASH}
`,
    );
    const config = await loadWebConfig(file);
    expect(config.tls).toMatchObject({
      clientAuth: 'RequireAndVerifyClientCert',
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      ciphers: 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:ECDHE-ECDSA-AES128-GCM-SHA256',
      ecdhCurve: 'X25519:P-256',
      honorCipherOrder: true,
      clientAllowedSans: ['client.example'],
    });
    expect(config.tls!.cert.equals(server.cert)).toBe(true);
    expect(config.tls!.ca!.equals(ca.cert)).toBe(true);
    expect(config.headers).toEqual({ 'X-Frame-Options': 'deny', 'Strict-Transport-Security': 'max-age=31536000' });
    expect([...config.users]).toEqual([['alice', HASH]]);
    expect(config.watchedFiles).toEqual([file, server.certFile, server.keyFile, ca.certFile]);
  });

  it('defaults to TLS 1.2-1.3 and no client certificate, and to plain HTTP without TLS keys', async () => {
    const tls = await loadWebConfig(write('tls.yml', `tls_server_config:\n  cert: |\n${indent(server.cert)}  key_file: ${server.keyFile}\n`));
    expect(tls.tls).toMatchObject({ clientAuth: 'NoClientCert', minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' });
    expect(tls.tls!.ciphers).toBeUndefined();
    const plain = await loadWebConfig(write('auth-only.yml', `basic_auth_users:\n  bob: ${HASH}\n`));
    expect(plain.tls).toBeUndefined();
    const empty = await loadWebConfig(write('empty.yml', ''));
    expect(empty).toMatchObject({ headers: {}, users: new Map() });
    expect(empty.tls).toBeUndefined();
  });

  it('names the key, its line and the path of a file it cannot read', async () => {
    const file = write('missing.yml', 'tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n');
    await expect(loadWebConfig(file)).rejects.toThrow(
      `${file}: line 2: tls_server_config.cert_file: cannot read ${join(dir, 'nope.crt')}: ENOENT: no such file or directory`,
    );
  });

  it('names the web config file itself when it is missing', async () => {
    await expect(loadWebConfig(join(dir, 'absent.yml'))).rejects.toThrow(`${join(dir, 'absent.yml')}: cannot read the web config file: ENOENT`);
  });

  it('refuses a certificate and key that do not match', async () => {
    const other = makeLeaf(dir, 'other', ca, 'server');
    const file = write('mismatch.yml', `tls_server_config:\n  cert_file: server.crt\n  key_file: ${other.keyFile}\n`);
    await expect(loadWebConfig(file)).rejects.toThrow(
      `${file}: tls_server_config: cert_file ${server.certFile} and key_file ${other.keyFile} are not a usable certificate and key: `,
    );
  });

  it('refuses a client CA file that holds no certificate', async () => {
    write('bad-ca.crt', 'not a certificate\n');
    const file = write('bad-ca.yml', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: bad-ca.crt\n');
    await expect(loadWebConfig(file)).rejects.toThrow(`${file}: tls_server_config: client_ca_file ${join(dir, 'bad-ca.crt')} is not a usable client CA: no PEM certificate in it`);
  });
});

function indent(pem: Buffer): string {
  return pem
    .toString()
    .trimEnd()
    .split('\n')
    .map((line) => `    ${line}\n`)
    .join('');
}

describe('parseWebConfigText refuses, naming file, line and key', () => {
  it.each([
    ['unknown top-level key', 'tls_config: {}\n', 'web.yml: line 1: tls_config: unknown key'],
    ['unknown nested key', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  certfile: c\n', 'web.yml: line 4: tls_server_config.certfile: unknown key'],
    ['bad client_auth_type', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Always\n', 'web.yml: line 4: tls_server_config.client_auth_type: must be one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert'],
    ['cert without key', 'tls_server_config:\n  cert_file: a\n', 'web.yml: line 1: tls_server_config: missing one of key or key_file'],
    ['both cert forms', 'tls_server_config:\n  cert_file: a\n  cert: b\n  key_file: c\n', 'web.yml: line 3: tls_server_config.cert: set cert_file or cert, not both'],
    ['CA without client auth', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n', 'web.yml: tls_server_config.client_auth_type: client CAs are configured but client_auth_type is NoClientCert'],
    ['SANs with optional cert', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: VerifyClientCertIfGiven\n  client_allowed_sans: [x]\n', 'web.yml: line 5: tls_server_config.client_allowed_sans: requires client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert'],
    ['TLS 1.1', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS11\n', 'web.yml: line 4: tls_server_config.min_version: must be TLS12 or TLS13 (TLS 1.0 and 1.1 are not offered), not "TLS11"'],
    ['max below min', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n  max_version: TLS12\n', 'web.yml: line 5: tls_server_config.max_version: is lower than min_version'],
    ['unknown cipher', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n', 'web.yml: tls_server_config.cipher_suites.0: must be one of TLS_RSA_WITH_AES_128_CBC_SHA'],
    ['unknown curve', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  curve_preferences: [CurveP999]\n', 'web.yml: tls_server_config.curve_preferences.0: must be one of CurveP256, CurveP384, CurveP521, X25519'],
    ['header not allowed', 'http_server_config:\n  headers:\n    Server: kvm\n', 'web.yml: line 3: http_server_config.headers.Server: header cannot be configured (allowed: Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, Content-Security-Policy)'],
    ['header value not allowed', 'http_server_config:\n  headers:\n    X-Frame-Options: allow\n', 'web.yml: line 3: http_server_config.headers.X-Frame-Options: must be one of deny, sameorigin, not "allow"'],
    ['http2 on', 'http_server_config:\n  http2: true\n', 'web.yml: line 2: http_server_config.http2: kvm_exporter serves HTTP/1.1 only; set it to false or remove it'],
    ['rate_limit', 'rate_limit:\n  interval: 1s\n  burst: 5\n', 'web.yml: line 1: rate_limit: not supported by kvm_exporter (use a reverse proxy to rate-limit)'],
    ['plain password', 'basic_auth_users:\n  alice: secret\n', 'web.yml: line 2: basic_auth_users.alice: not a bcrypt hash'],
    ['users as a list', 'basic_auth_users:\n  - alice\n', 'web.yml: line 1: basic_auth_users: Invalid input: expected record, received array'],
    ['number for a path', 'tls_server_config:\n  cert_file: 12\n  key_file: b\n', 'web.yml: line 2: tls_server_config.cert_file: Invalid input: expected string, received number'],
    ['YAML syntax', 'tls_server_config:\n  cert_file: [a\n', 'web.yml: invalid YAML:'],
    ['duplicate key', 'basic_auth_users: {}\nbasic_auth_users: {}\n', 'web.yml: invalid YAML: Map keys must be unique'],
    ['not a mapping', '- a\n- b\n', 'web.yml: Invalid input: expected object, received array'],
  ])('%s', (_case, text, message) => {
    expect(problemsOf(text)).toContain(message);
  });

  it('reports every problem at once, one line each, each naming the file', () => {
    expect(problemsOf('bogus: 1\ntls_server_config:\n  typo: 1\n').split('\n')).toEqual([
      'web.yml: line 3: tls_server_config.typo: unknown key',
      'web.yml: line 1: bogus: unknown key',
    ]);
    const semantic = problemsOf('basic_auth_users:\n  alice: plain\nhttp_server_config:\n  headers:\n    Server: x\n').split('\n');
    expect(semantic).toHaveLength(2);
    expect(semantic[0]).toMatch(/^web\.yml: line 5: http_server_config\.headers\.Server: header cannot be configured/);
    expect(semantic[1]).toMatch(/^web\.yml: line 2: basic_auth_users\.alice: not a bcrypt hash/);
  });

  it('accepts exporter-toolkit spellings: RequireClientCert, empty client_auth_type, null sections', () => {
    expect(parseWebConfigText('w.yml', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireClientCert\n').raw.tls_server_config?.client_auth_type).toBe('RequireClientCert');
    expect(() => parseWebConfigText('w.yml', 'tls_server_config:\nhttp_server_config:\nbasic_auth_users:\n')).not.toThrow();
    expect(() => parseWebConfigText('w.yml', 'http_server_config:\n  http2: false\n')).not.toThrow();
  });
});
