/**
 * The HTTP(S) server: routes, listeners, web config, graceful shutdown.
 *
 * Mirrors node_exporter's web side (exporter-toolkit `web.ListenAndServe`,
 * promhttp): one or more `--web.listen-address`es, the telemetry path, a
 * landing page, `/-/healthy` and `/-/ready` (as Prometheus itself has them),
 * `--web.config.file` for TLS and basic auth, `--web.max-requests`. The HTTP
 * layer sees the exporter only as a ScrapeSource: query parameters pick among
 * configured collectors, nothing a request sends decides what kernel memory
 * is read.
 *
 * Routing is an exact-path table, not express path patterns, so a telemetry
 * path holding `:` or `*` means itself. No response ever carries a stack
 * trace: errors are logged and answered with a status line.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import express, { type Request, type Response } from 'express';
import { ConfigError, WebConfigError } from '../errors.js';
import type { ScrapeSource } from '../exporter/scrape-source.js';
import type { BuildInfo } from '../exposition/self-metrics.js';
import type { Logger } from '../log.js';
import { renderLandingPage } from './landing.js';
import { ConcurrencyLimit } from './limits.js';
import { formatBoundAddress, parseListenAddress, type ListenAddress } from './listen-address.js';
import { createMetricsRoute, sendText, type RouteHandler } from './metrics-route.js';
import { errorHandler, routeTable, webConfigMiddleware } from './middleware.js';
import { Lifecycle, closeServer, type NodeServer } from './shutdown.js';
import { applyTlsSettings, clientCertificateProblem, httpsServerOptions } from './tls.js';
import { WebConfigWatcher, type ReloadOutcome } from './web-config-watch.js';
import type { TlsSettings } from './web-config.js';

export interface ServerOptions {
  readonly source: ScrapeSource;
  readonly telemetryPath: string;
  readonly listenAddresses: readonly string[];
  /** `--web.max-requests`: concurrent scrapes, 0 for no limit. */
  readonly maxRequests: number;
  /** Seconds taken off `X-Prometheus-Scrape-Timeout-Seconds` for the scrape deadline. */
  readonly timeoutOffsetSeconds: number;
  readonly webConfigFile?: string;
  readonly logger: Logger;
  /** For the landing page. */
  readonly info: BuildInfo;
  /** How long `close()` waits for in-flight requests before cutting them off. */
  readonly shutdownTimeoutMs?: number;
}

export interface RunningServer {
  /** Where each listener is bound, as Go prints them: `[::]:9632`, `127.0.0.1:41234`. */
  readonly addresses: readonly string[];
  /** The same with scheme: `http://127.0.0.1:41234`, `https://[::1]:9632`. */
  readonly urls: readonly string[];
  readonly tls: boolean;
  /** Checks the web config files now instead of at the next poll. */
  reloadWebConfig(): Promise<ReloadOutcome>;
  /** Stops accepting, lets in-flight requests finish, then closes every connection. */
  close(): Promise<void>;
}


/** Node's defaults suit a public web server; a metrics port wants tighter ones. */
const SERVER_LIMITS = {
  /** Prometheus sends a few hundred bytes of headers; basic auth and Accept fit easily. */
  maxHeaderSize: 8 * 1024,
  headersTimeout: 10_000,
  /** Receiving the request (not producing the response): a GET has no body. */
  requestTimeout: 30_000,
  /**
   * Node's 5 s: shorter than any scrape interval, so an idle connection is
   * closed well before the scraper reuses it and the two never race.
   */
  keepAliveTimeout: 5_000,
  /** No byte either way for this long ends the socket: far above any scrape timeout. */
  socketTimeout: 120_000,
} as const;

/** Short enough to fit a service manager's stop timeout with the kernel close after it. */
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 3_000;

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  checkTelemetryPath(options.telemetryPath);
  const listenAddresses = parseListenAddresses(options.listenAddresses);
  const limit = new ConcurrencyLimit(options.maxRequests);
  const servers: NodeServer[] = [];
  const watcher = options.webConfigFile === undefined ? undefined : await openWebConfig(options.webConfigFile, options.logger, servers);
  const tls = watcher?.current.config.tls;
  const lifecycle = new Lifecycle();
  const app = buildApp(options, { limit, watcher, lifecycle });
  try {
    for (const address of listenAddresses) servers.push(await listen(app, address, tls, watcher, lifecycle, options.logger));
  } catch (error) {
    watcher?.stop();
    await Promise.all(servers.map((server) => closeServer(server)));
    throw error;
  }
  options.logger.info(tls ? 'TLS is enabled' : 'TLS is disabled', { web_config: options.webConfigFile ?? '' });
  return {
    addresses: servers.map(boundAddress),
    urls: servers.map((server) => urlOf(server, tls !== undefined)),
    tls: tls !== undefined,
    reloadWebConfig: () => watcher?.checkNow() ?? Promise.resolve('unchanged'),
    close: () => lifecycle.shutdown(servers, watcher, options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS),
  };
}

const RESERVED_PATHS = new Set(['/-/healthy', '/-/ready']);

function checkTelemetryPath(path: string): void {
  const problem = !path.startsWith('/')
    ? 'must start with /'
    : RESERVED_PATHS.has(path)
      ? 'is reserved for the health endpoints'
      : /[?#\s]/.test(path)
        ? 'must not contain ?, # or white space'
        : undefined;
  if (problem) throw new ConfigError('command line', undefined, undefined, '--web.telemetry-path', `"${path}" ${problem}`);
}

function parseListenAddresses(texts: readonly string[]): ListenAddress[] {
  if (texts.length === 0) {
    throw new ConfigError('command line', undefined, undefined, '--web.listen-address', 'at least one address is needed');
  }
  return texts.map(parseListenAddress);
}

/** Loads the web config and keeps it current; a reload may swap certificates but not turn TLS on or off. */
function openWebConfig(file: string, logger: Logger, servers: readonly NodeServer[]): Promise<WebConfigWatcher> {
  return WebConfigWatcher.open(file, logger.child({ component: 'web-config' }), (next, previous) => {
    if ((next.config.tls === undefined) !== (previous.config.tls === undefined)) {
      throw new WebConfigError(file, 'adding or removing TLS (tls_server_config) takes a restart');
    }
    if (next.config.tls) for (const server of servers) applyTlsSettings(server as HttpsServer, next.config.tls);
  });
}

interface AppParts {
  readonly limit: ConcurrencyLimit;
  readonly watcher: WebConfigWatcher | undefined;
  readonly lifecycle: Lifecycle;
}

function buildApp(options: ServerOptions, parts: AppParts): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // Hashing a multi-megabyte body for an ETag no scraper sends back is wasted work.
  app.set('etag', false);
  app.use(parts.lifecycle.middleware());
  if (parts.watcher) app.use(webConfigMiddleware(parts.watcher, options.logger));
  app.use(routeTable(routesOf(options, parts)));
  app.use((_req: Request, res: Response) => sendText(res, 404, 'not found\n'));
  app.use(errorHandler(options.logger));
  return app;
}

function routesOf(options: ServerOptions, parts: AppParts): Map<string, RouteHandler> {
  const routes = new Map<string, RouteHandler>();
  routes.set('/-/healthy', async (_req, res) => sendText(res, 200, 'kvm_exporter is healthy.\n'));
  routes.set('/-/ready', async (_req, res) => ready(options.source, res));
  // As exporter-toolkit: no landing page when the metrics themselves are at `/`.
  if (options.telemetryPath !== '/') {
    routes.set('/', async (_req, res) => landing(options, res));
  }
  const metrics = createMetricsRoute({ ...options, limit: parts.limit });
  routes.set(options.telemetryPath, metrics);
  return routes;
}

function ready(source: ScrapeSource, res: Response): void {
  const status = source.status();
  if (status.kernelUp) {
    sendText(res, 200, 'kvm_exporter is ready.\n');
  } else {
    sendText(res, 503, `kvm_exporter is not ready: kernel unavailable: ${status.kernelError ?? 'no error recorded'}\n`);
  }
}

function landing(options: ServerOptions, res: Response): void {
  const html = renderLandingPage({ info: options.info, telemetryPath: options.telemetryPath, status: options.source.status() });
  res.status(200).setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(html);
}

async function listen(
  app: express.Express,
  address: ListenAddress,
  tls: TlsSettings | undefined,
  watcher: WebConfigWatcher | undefined,
  lifecycle: Lifecycle,
  logger: Logger,
): Promise<NodeServer> {
  const server = tls ? createHttpsServer({ ...httpsServerOptions(tls), maxHeaderSize: SERVER_LIMITS.maxHeaderSize }, app) : createHttpServer({ maxHeaderSize: SERVER_LIMITS.maxHeaderSize }, app);
  server.headersTimeout = SERVER_LIMITS.headersTimeout;
  server.requestTimeout = SERVER_LIMITS.requestTimeout;
  server.keepAliveTimeout = SERVER_LIMITS.keepAliveTimeout;
  server.timeout = SERVER_LIMITS.socketTimeout;
  if (tls && watcher) enforceClientCertificates(server as HttpsServer, watcher, logger);
  server.on('tlsClientError', (error: Error) => logger.debug('TLS handshake failed', { err: error }));
  lifecycle.track(server);
  try {
    await bind(server, address);
  } catch (error) {
    throw new ConfigError('command line', undefined, undefined, '--web.listen-address', `cannot listen on "${address.text}": ${(error as Error).message}`);
  }
  logger.debug('listening', { address: urlOf(server, tls !== undefined) });
  return server;
}

/** Listens, settling on 'listening' or 'error' and leaving no listener behind either way. */
function bind(server: NodeServer, address: ListenAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      server.off('listening', onListening);
      reject(error);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host: address.host, port: address.port });
  });
}

/** Refuses, right after the handshake, a client the current client_auth_type does not admit. */
function enforceClientCertificates(server: HttpsServer, watcher: WebConfigWatcher, logger: Logger): void {
  server.on('secureConnection', (socket: TLSSocket) => {
    const tls = watcher.current.config.tls;
    const problem = tls === undefined ? undefined : clientCertificateProblem(socket, tls);
    if (problem === undefined) return;
    logger.debug('TLS client refused', { remote: socket.remoteAddress, reason: problem });
    socket.destroy();
  });
}

function boundAddress(server: NodeServer): string {
  const info = server.address() as AddressInfo;
  return formatBoundAddress(info.address, info.port);
}

function urlOf(server: NodeServer, tls: boolean): string {
  return `${tls ? 'https' : 'http'}://${boundAddress(server)}`;
}
