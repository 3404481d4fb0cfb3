/**
 * What every route shares: the handler signature and the plain-text answer
 * (status lines, health, refusals), so routes and middleware depend on this
 * small module rather than on one another.
 */
import type { Request, Response } from 'express';

export type RouteHandler = (req: Request, res: Response) => Promise<void>;

/** A short text/plain answer that no cache keeps. */
export function sendText(res: Response, status: number, body: string): void {
  res.status(status).setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}
