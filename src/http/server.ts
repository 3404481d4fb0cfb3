/**
 * The HTTP(S) server: routes, listeners, web config, graceful shutdown.
 *
 * Mirrors node_exporter's web side (exporter-toolkit `web.ListenAndServe`,
 * promhttp): one or more `--web.listen-address`es, the telemetry path, a
 * landing page, `/-/healthy` and `/-/ready` (as Prometheus itself has them),
 * `--web.config.file` for TLS and basic auth, `--web.max-requests`, and
 * `--web.max-connections` with handshake, header and idle timeouts so that
 * no client can hold the server's sockets or slots for long. The HTTP
 * layer sees the exporter only as a ScrapeSource: query parameters pick among
 * configured collectors, nothing a request sends decides what kernel memory
 * is read.
 *
 * Routing is an exact-path table, not express path patterns, so a telemetry
 * path holding `:` or `*` means itself. No response ever carries a stack
 * trace: errors are logged and answered with a status line.
 */
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import express, { type Request, type Response } from 'express';
import { ListenError, WebConfigError } from '../errors.js';
import type { ScrapeSource } from '../exporter/scrape-source.js';
import type { BuildInfo } from '../exposition/self-metrics.js';
import type { Logger } from '../log.js';
import { renderLandingPage } from './landing.js';
import { ConcurrencyLimit, perConnectionLimit } from './limits.js';
import { formatBoundAddress, type ListenAddress } from './listen-address.js';
import { createMetricsRoute } from './metrics-route.js';
import { sendText, type RouteHandler } from './respond.js';
import { errorHandler, routeTable, webConfigMiddleware } from './middleware.js';
import { Lifecycle, type NodeServer } from './shutdown.js';
import { applyTlsSettings, clientCertificateProblem, httpsServerOptions, type TlsSettings } from './tls.js';
import { WebConfigWatcher, type ReloadOutcome } from './web-config-watch.js';

export interface ServerOptions {
  readonly source: ScrapeSource;
  /** Checked by the command line (telemetryPathProblem). */
  readonly telemetryPath: string;
  readonly listenAddresses: readonly ListenAddress[];
  /** `--web.max-requests`: concurrent scrapes, 0 for no limit. */
  readonly maxRequests: number;
  /** `--web.max-connections`: open connections across all listeners; absent or 0 for no limit. */
  readonly maxConnections?: number;
  /** Seconds taken off `X-Prometheus-Scrape-Timeout-Seconds` for the scrape deadline. */
  readonly timeoutOffsetSeconds: number;
  readonly webConfigFile?: string;
  readonly logger: Logger;
  /** For the landing page. */
  readonly info: BuildInfo;
  /** How long `close()` waits for in-flight requests before cutting them off. */
  readonly shutdownTimeoutMs?: number;
  /** A scraper that takes no byte of its body for this long is disconnected (default WRITE_STALL_MS). */
  readonly writeStallTimeoutMs?: number;
}

export interface RunningServer {
  /** Where each listener is bound, as Go prints them: `[::]:9632`, `127.0.0.1:41234`. */
  readonly addresses: readonly string[];
  /** The same with scheme: `http://127.0.0.1:41234`, `https://[::1]:9632`. */
  readonly urls: readonly string[];
  readonly tls: boolean;
  /** Open connections across every listener. */
  readonly openConnections: number;
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
   * How often Node enforces the two above (its default, 30 s, lets a
   * connection that never sends a header live 40 s instead of 10).
   */
  connectionsCheckingInterval: 1_000,
  /** A TLS client that has not finished its handshake by then is dropped (Node's default is 120 s). */
  handshakeTimeout: 10_000,
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

/** The paths the server answers itself, which the telemetry path must not take. */
const RESERVED_PATHS = new Set(['/-/healthy', '/-/ready']);

/** Why `path` cannot be the telemetry path, or undefined when it can. */
export function telemetryPathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'must start with "/"';
  if (RESERVED_PATHS.has(path)) return 'is reserved for the health endpoints';
  if (/[?#\s]/.test(path)) return 'must not contain ?, # or white space';
  return undefined;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const limit = new ConcurrencyLimit(options.maxRequests);
  let watcher: WebConfigWatcher | undefined;
  const lifecycle = new Lifecycle(options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS, () => watcher?.stop());
  if (options.webConfigFile !== undefined) watcher = await openWebConfig(options.webConfigFile, options.logger, lifecycle);
  const tls = watcher?.current.config.tls;
  const app = buildApp(options, { limit, watcher, lifecycle });
  try {
    for (const address of options.listenAddresses) await listen(app, address, { tls, watcher, lifecycle, options });
  } catch (error) {
    await lifecycle.shutdown();
    throw error;
  }
  options.logger.info(tls ? 'TLS is enabled' : 'TLS is disabled', { web_config: options.webConfigFile ?? '' });
  const servers = lifecycle.servers;
  return {
    addresses: servers.map(boundAddress),
    urls: servers.map((server) => urlOf(server, tls !== undefined)),
    tls: tls !== undefined,
    get openConnections() {
      return lifecycle.openSockets;
    },
    reloadWebConfig: () => watcher?.checkNow() ?? Promise.resolve('unchanged'),
    close: () => lifecycle.shutdown(),
  };
}

/** Loads the web config and keeps it current; a reload may swap certificates but not turn TLS on or off. */
function openWebConfig(file: string, logger: Logger, lifecycle: Lifecycle): Promise<WebConfigWatcher> {
  return WebConfigWatcher.open(file, logger.child({ component: 'web-config' }), (next, previous) => {
    if ((next.config.tls === undefined) !== (previous.config.tls === undefined)) {
      throw new WebConfigError(file, 'adding or removing TLS (tls_server_config) takes a restart');
    }
    if (next.config.tls) for (const server of lifecycle.servers) applyTlsSettings(server as HttpsServer, next.config.tls);
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
  app.use(perConnectionLimit());
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

interface ListenContext {
  readonly tls: TlsSettings | undefined;
  readonly watcher: WebConfigWatcher | undefined;
  readonly lifecycle: Lifecycle;
  readonly options: ServerOptions;
}

async function listen(app: express.Express, address: ListenAddress, context: ListenContext): Promise<void> {
  const { tls, watcher, lifecycle, options } = context;
  const server = createNodeServer(app, tls);
  if (options.maxConnections) server.maxConnections = options.maxConnections;
  server.on('drop', () => options.logger.debug('connection refused: --web.max-connections reached', { max: options.maxConnections }));
  dropSilentConnections(server, tls !== undefined);
  if (tls && watcher) enforceClientCertificates(server as HttpsServer, watcher, options.logger);
  server.on('tlsClientError', (error: Error) => options.logger.debug('TLS handshake failed', { err: error }));
  lifecycle.adopt(server);
  try {
    await bind(server, address);
  } catch (error) {
    throw new ListenError(address.text, (error as Error).message, { cause: error });
  }
  options.logger.debug('listening', { address: urlOf(server, tls !== undefined) });
}

function createNodeServer(app: express.Express, tls: TlsSettings | undefined): NodeServer {
  const common = { maxHeaderSize: SERVER_LIMITS.maxHeaderSize, connectionsCheckingInterval: SERVER_LIMITS.connectionsCheckingInterval };
  const server = tls
    ? createHttpsServer({ ...httpsServerOptions(tls), ...common, handshakeTimeout: SERVER_LIMITS.handshakeTimeout }, app)
    : createHttpServer(common, app);
  server.headersTimeout = SERVER_LIMITS.headersTimeout;
  server.requestTimeout = SERVER_LIMITS.requestTimeout;
  server.keepAliveTimeout = SERVER_LIMITS.keepAliveTimeout;
  server.timeout = SERVER_LIMITS.socketTimeout;
  return server;
}

/**
 * Node times out a request whose headers are slow, but not a connection that
 * never starts one: it would live for the 120 s socket timeout. A connection
 * (for TLS: once its handshake is done, which has its own timeout) must
 * start a request within headersTimeout.
 */
function dropSilentConnections(server: NodeServer, tls: boolean): void {
  const waiting = new WeakMap<Socket, NodeJS.Timeout>();
  server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    const timer = setTimeout(() => socket.destroy(), SERVER_LIMITS.headersTimeout);
    timer.unref();
    waiting.set(socket, timer);
    socket.once('close', () => clearTimeout(timer));
  });
  server.on('request', (req: IncomingMessage) => {
    clearTimeout(waiting.get(req.socket));
    waiting.delete(req.socket);
  });
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
