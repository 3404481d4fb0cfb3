/**
 * Test helpers for the HTTP layer: an in-test ScrapeSource with fixed
 * families (the HTTP layer never sees a kernel), a raw HTTP(S) client that
 * can present client certificates, and certificates made with openssl.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { UnknownCollectorError } from '../../src/errors.js';
import type { CollectorStatus, ExporterStatus, ScrapeRequest, ScrapeSource } from '../../src/exporter/scrape-source.js';
import type { MetricFamily } from '../../src/exposition/family.js';
import { columnar } from '../support/families.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/http/server.js';
import { createLogger, type Logger } from '../../src/log.js';

export const COLLECTOR_NAMES = ['counters', 'pcpu', 'loadavg'] as const;

/** One family per collector, so filtering by collect[]/exclude[] shows in the body. */
export function familyOf(collector: string): MetricFamily {
  return columnar({
    name: `kvm_test_${collector}_total`,
    help: `Test counter from the ${collector} collector.`,
    type: 'counter',
    labelNames: ['cpu'],
    series: [
      { labels: ['0'], value: 10 },
      { labels: ['1'], value: 20 },
    ],
  });
}

export interface FixedSource extends ScrapeSource {
  readonly requests: ScrapeRequest[];
  statusValue: ExporterStatus;
  /** Extra families every scrape returns after the collectors' own. */
  extra: MetricFamily[];
  /** Set to make scrape() wait, e.g. to hold a request in flight. */
  gate: Promise<void> | undefined;
}

/**
 * A ScrapeSource over COLLECTOR_NAMES ('loadavg' disabled unless `allEnabled`),
 * refusing unknown or disabled names with UnknownCollectorError as the real
 * exporter does.
 */
export function fixedSource(options: { allEnabled?: boolean } = {}): FixedSource {
  const enabled = COLLECTOR_NAMES.filter((name) => options.allEnabled || name !== 'loadavg');
  const collectors: CollectorStatus[] = COLLECTOR_NAMES.map((name) => ({ name, enabled: enabled.includes(name) }));
  const source: FixedSource = {
    requests: [],
    extra: [],
    gate: undefined,
    statusValue: { configFile: '/etc/kvm_exporter.yml', kernelUp: true, collectors, leftOut: [] },
    async scrape(request) {
      source.requests.push(request);
      for (const name of [...(request.collect ?? []), ...(request.exclude ?? [])]) {
        if (!COLLECTOR_NAMES.includes(name as (typeof COLLECTOR_NAMES)[number])) throw new UnknownCollectorError(name, 'unknown', enabled);
        if (!enabled.includes(name as (typeof COLLECTOR_NAMES)[number])) throw new UnknownCollectorError(name, 'disabled', enabled);
      }
      if (source.gate) await source.gate;
      const chosen = enabled.filter((name) => (request.collect ? request.collect.includes(name) : true) && !request.exclude?.includes(name));
      return [...chosen.map(familyOf), ...source.extra];
    },
    status: () => source.statusValue,
  };
  return source;
}

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly raw: Buffer;
  /** The body, gunzipped when Content-Encoding says gzip. */
  readonly text: string;
}

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Client TLS limits, to check what the server refuses. */
  readonly maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  readonly ciphers?: string;
  /** Leave `text` empty instead of gunzipping and decoding (no synchronous work in the client). */
  readonly decode?: boolean;
  /** Reuse connections (a keep-alive agent), or not. */
  readonly agent?: import('node:http').Agent | false;
}

/** One request; `pathAndQuery` is sent as is (no normalisation), so tests can send odd targets. */
export function send(baseUrl: string, pathAndQuery: string, options: RequestOptions = {}): Promise<Reply> {
  const url = new URL(baseUrl);
  const tls = url.protocol === 'https:';
  const request = tls ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port,
        path: pathAndQuery,
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        agent: options.agent ?? false,
        ...(tls
          ? { ca: options.ca, cert: options.cert, key: options.key, servername: 'localhost', maxVersion: options.maxVersion, ciphers: options.ciphers }
          : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const text = options.decode === false ? '' : decode(raw, res.headers['content-encoding']);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, raw, text });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function decode(raw: Buffer, encoding: string | undefined): string {
  return encoding === 'gzip' && raw.length > 0 ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
}

export function quietLogger(lines: string[] = []): Logger {
  return createLogger({ level: 'debug', format: 'json', stream: { write: (line: string) => lines.push(line) } });
}

export type TestServerOptions = Partial<ServerOptions>;

/** startServer on 127.0.0.1 with a free port and test defaults. */
export async function startTestServer(source: ScrapeSource, options: TestServerOptions = {}): Promise<RunningServer> {
  return startServer({
    source,
    telemetryPath: '/metrics',
    listenAddresses: [{ text: '127.0.0.1:0', host: '127.0.0.1', port: 0 }],
    maxRequests: 40,
    timeoutOffsetSeconds: 0.5,
    logger: quietLogger(),
    info: { version: '0.1.0-test', revision: 'cafe' },
    shutdownTimeoutMs: 2_000,
    ...options,
  });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `kvm-exporter-${prefix}-`));
}

export interface Certificate {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('/usr/bin/openssl', args, { cwd, stdio: 'pipe' });
}

/** A self-signed CA (P-256) named `name` in `dir`. */
export function makeCa(dir: string, name: string): Certificate {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`], dir);
  return loadCertificate(dir, name);
}

/** A leaf certificate signed by `ca`, for a server (localhost, 127.0.0.1) or a client. */
export function makeLeaf(dir: string, name: string, ca: Certificate, usage: 'server' | 'client', sans = ['DNS:localhost', 'IP:127.0.0.1']): Certificate {
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${sans.join(',')}\nextendedKeyUsage=${usage === 'server' ? 'serverAuth' : 'clientAuth'}\n`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`], dir);
  return loadCertificate(dir, name);
}

function loadCertificate(dir: string, name: string): Certificate {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
}

/** Waits until `check` holds, polling; fails with `what` after `timeoutMs`. */
export async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 8_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
