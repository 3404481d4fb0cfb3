/**
 * How much work clients may ask for at once.
 *
 * `--web.max-requests`: how many scrapes may run at once.
 *
 * Mirrors promhttp's `HandlerOpts.MaxRequestsInFlight` (client_golang), which
 * node_exporter sets from the same flag (default 40): a scrape beyond the
 * limit is answered at once with 503 rather than queued, so a pile-up of slow
 * scrapes cannot grow memory without bound. 0 means no limit.
 *
 * Per connection: HTTP/1.1 lets a client pipeline requests without reading
 * the answers, and Node starts handling all of them at once. A connection
 * may have MAX_REQUESTS_PER_CONNECTION requests unanswered; more are answered
 * 503 without being handled, so one connection cannot take every scrape slot
 * or pile up finished bodies it never reads. (Prometheus never pipelines.)
 */
import type { NextFunction, Request, Response } from 'express';
import { sendText } from './respond.js';
export class ConcurrencyLimit {
  private running = 0;

  /** `max` is checked by the command line: a whole number, 0 for no limit. */
  constructor(readonly max: number) {}

  /** Takes a slot, or returns false when all are taken. */
  tryAcquire(): boolean {
    if (this.max > 0 && this.running >= this.max) return false;
    this.running++;
    return true;
  }

  release(): void {
    if (this.running > 0) this.running--;
  }

  get inFlight(): number {
    return this.running;
  }
}

/** One being answered and one waiting behind it. */
export const MAX_REQUESTS_PER_CONNECTION = 2;

export function perConnectionLimit(max = MAX_REQUESTS_PER_CONNECTION) {
  const unanswered = new WeakMap<object, number>();
  return (req: Request, res: Response, next: NextFunction): void => {
    const socket = req.socket;
    const count = unanswered.get(socket) ?? 0;
    if (count >= max) {
      res.setHeader('Connection', 'close');
      sendText(res, 503, `too many requests on one connection: at most ${max} may wait for an answer\n`);
      return;
    }
    unanswered.set(socket, count + 1);
    res.once('close', () => unanswered.set(socket, (unanswered.get(socket) ?? 1) - 1));
    next();
  };
}
