/**
 * The listeners' lives: the servers and every socket they accepted, and the
 * graceful shutdown — stop accepting, let in-flight requests finish
 * (answering them with `Connection: close`), close keep-alive connections as
 * they go idle, and destroy whatever is left when the grace period ends.
 *
 * Mirrors Go's `http.Server.Shutdown` as node_exporter gets it, with Node's
 * own pieces: `server.close()` (which since Node 19 also closes the idle
 * connections it finds) and `closeIdleConnections()`. The sockets are tracked
 * here rather than left to `closeAllConnections()`, which knows only
 * connections with an HTTP parser: a TLS socket still in its handshake, or
 * one whose last response is ended but not yet read by a slow client, is
 * invisible to it and would hold `close()` past the grace period.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { NextFunction, Request, Response } from 'express';

export type NodeServer = HttpServer | HttpsServer;

function closeServer(server: NodeServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Owns the servers and their sockets, tracks responses in flight, and runs the shutdown sequence once. */
export class Lifecycle {
  private readonly owned: NodeServer[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly responses = new Set<Response>();
  private closing: Promise<void> | undefined;

  /**
   * @param graceMs how long in-flight requests may take once shutdown starts
   * @param beforeClose runs first at shutdown (stops the web config watcher)
   */
  constructor(
    private readonly graceMs: number,
    private readonly beforeClose: () => void = () => {},
  ) {}

  /** Takes a server into this lifecycle: its sockets are tracked from now on. */
  adopt(server: NodeServer): void {
    this.owned.push(server);
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  get servers(): readonly NodeServer[] {
    return this.owned;
  }

  /** How many sockets are open across every server (for tests and debugging). */
  get openSockets(): number {
    return this.sockets.size;
  }

  middleware() {
    return (_req: Request, res: Response, next: NextFunction): void => {
      this.responses.add(res);
      if (this.closing) res.setHeader('Connection', 'close');
      res.once('close', () => this.requestDone(res));
      next();
    };
  }

  shutdown(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  private async closeAll(): Promise<void> {
    this.beforeClose();
    // Responses not yet started end their connection when done, instead of leaving it idle.
    for (const res of this.responses) if (!res.headersSent) res.setHeader('Connection', 'close');
    const closed = Promise.all(this.owned.map(closeServer));
    const force = setTimeout(() => this.destroySockets(), this.graceMs);
    force.unref();
    this.closeIdle();
    await closed;
    clearTimeout(force);
  }

  private destroySockets(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  private requestDone(res: Response): void {
    this.responses.delete(res);
    // A keep-alive connection whose response just ended is idle one turn later.
    if (this.closing) setImmediate(() => this.closeIdle());
  }

  private closeIdle(): void {
    for (const server of this.owned) server.closeIdleConnections();
  }
}
