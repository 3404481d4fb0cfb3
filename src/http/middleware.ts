/**
 * The express middleware between a request and its route: exact-path
 * dispatch with 405 for other methods, the web config's security headers and
 * basic auth, and the error handler that never lets a stack trace out.
 *
 * Mirrors exporter-toolkit's `webHandler` (headers, then auth, around every
 * route) and Go's ServeMux exact matching.
 */
import { STATUS_CODES } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../log.js';
import { parseBasicAuth, type Verdict } from './basic-auth.js';
import { sendText, type RouteHandler } from './respond.js';
import type { ActiveWebConfig, WebConfigWatcher } from './web-config-watch.js';

/** Exact-path dispatch: GET and HEAD only; any other method on a known path is 405. */
export function routeTable(routes: ReadonlyMap<string, RouteHandler>) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const handler = routes.get(req.path);
    if (handler === undefined) return next();
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      sendText(res, 405, `method ${req.method} not allowed, use GET\n`);
      return;
    }
    await handler(req, res);
  };
}

/** Security headers from `http_server_config.headers`, then basic auth when users are configured. */
export function webConfigMiddleware(watcher: WebConfigWatcher, logger: Logger) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const active = watcher.current;
    for (const [name, value] of Object.entries(active.config.headers)) res.setHeader(name, value);
    const verdict = await authorize(active, req, logger);
    if (verdict === 'admitted') return next();
    if (verdict === 'busy') {
      // Said before any password is checked, the same for every user: it tells a client nothing.
      res.setHeader('Retry-After', '1');
      sendText(res, 429, 'too many authentication attempts in progress, try again later\n');
      return;
    }
    res.setHeader('WWW-Authenticate', 'Basic realm="kvm_exporter", charset="UTF-8"');
    sendText(res, 401, 'unauthorized\n');
  };
}

async function authorize(active: ActiveWebConfig, req: Request, logger: Logger): Promise<Verdict> {
  if (!active.auth.enabled) return 'admitted';
  const credentials = parseBasicAuth(req.headers.authorization);
  if (credentials === undefined) return 'refused';
  const verdict = await active.auth.verify(credentials, req.socket);
  if (verdict !== 'admitted') logger.debug(`basic auth ${verdict}`, { user: credentials.user, remote: req.socket.remoteAddress });
  return verdict;
}

/** 4xx errors raised by express or Node keep their status; anything else is a 500 with no detail. */
export function errorHandler(logger: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const status = clientErrorStatus(error) ?? 500;
    if (status === 500) logger.error('request failed', { method: req.method, path: req.path, err: error });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendText(res, status, status === 500 ? 'internal error, see the exporter log\n' : `${STATUS_CODES[status] ?? 'bad request'}\n`);
  };
}

function clientErrorStatus(error: unknown): number | undefined {
  const status = (error as { status?: unknown; statusCode?: unknown } | null)?.status ?? (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}
