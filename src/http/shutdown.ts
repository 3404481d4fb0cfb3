/**
 * Graceful shutdown of the HTTP(S) listeners: stop accepting, let in-flight
 * requests finish (answering them with `Connection: close`), close
 * keep-alive connections as they go idle, and cut off what is left after a
 * timeout.
 *
 * Mirrors Go's `http.Server.Shutdown` as node_exporter gets it, with Node's
 * own pieces: `server.close()` (which since Node 19 also closes the idle
 * connections it finds), `closeIdleConnections()` and `closeAllConnections()`.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { NextFunction, Request, Response } from 'express';
import type { WebConfigWatcher } from './web-config-watch.js';

export type NodeServer = HttpServer | HttpsServer;

export function closeServer(server: NodeServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Tracks responses in flight and runs the shutdown sequence once. */
export class Lifecycle {
  private readonly responses = new Set<Response>();
  private closing: Promise<void> | undefined;
  private readonly servers: NodeServer[] = [];

  track(server: NodeServer): void {
    this.servers.push(server);
  }

  middleware() {
    return (_req: Request, res: Response, next: NextFunction): void => {
      this.responses.add(res);
      if (this.closing) res.setHeader('Connection', 'close');
      res.once('close', () => this.requestDone(res));
      next();
    };
  }

  shutdown(servers: readonly NodeServer[], watcher: WebConfigWatcher | undefined, timeoutMs: number): Promise<void> {
    this.closing ??= this.closeAll(servers, watcher, timeoutMs);
    return this.closing;
  }

  private async closeAll(servers: readonly NodeServer[], watcher: WebConfigWatcher | undefined, timeoutMs: number): Promise<void> {
    watcher?.stop();
    // Responses not yet started end their connection when done, instead of leaving it idle.
    for (const res of this.responses) if (!res.headersSent) res.setHeader('Connection', 'close');
    const closed = Promise.all(servers.map(closeServer));
    const force = setTimeout(() => servers.forEach((server) => server.closeAllConnections()), timeoutMs);
    force.unref();
    this.closeIdle();
    await closed;
    clearTimeout(force);
  }

  private requestDone(res: Response): void {
    this.responses.delete(res);
    // A keep-alive connection whose response just ended is idle one turn later.
    if (this.closing) setImmediate(() => this.closeIdle());
  }

  private closeIdle(): void {
    for (const server of this.servers) server.closeIdleConnections();
  }

}
