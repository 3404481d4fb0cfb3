/**
 * GET/HEAD on the telemetry path: one scrape, rendered in the negotiated
 * format, gzip-compressed when the scraper accepts it.
 *
 * Mirrors promhttp's handler (client_golang): in-flight limit with 503,
 * content negotiation with an exact Content-Type, gzip. The families come
 * whole from the ScrapeSource, the exporter's own metrics included.
 *
 * The body is streamed: render.ts yields bounded chunks and a turn of the
 * event loop between them, `stream.pipeline` carries them through zlib (whose
 * work runs on libuv's thread pool, off the event loop) to the socket with
 * backpressure, and tears everything down if the scraper disconnects. zlib is
 * used directly rather than the `compression` middleware for that reason: the
 * middleware proxies 'drain' through its own stream, and waiting on it once
 * per chunk would leave a listener behind each time.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants as zlibConstants, createGzip } from 'node:zlib';
import type { Request, Response } from 'express';
import Negotiator from 'negotiator';
import { UnknownCollectorError } from '../errors.js';
import type { ScrapeSource } from '../exporter/types.js';
import type { MetricFamily } from '../exposition/family.js';
import { renderIncrementally, type ExpositionFormat } from '../exposition/render.js';
import type { Logger } from '../log.js';
import type { ConcurrencyLimit } from './limits.js';
import { CONTENT_TYPE, negotiateFormat } from './negotiate.js';
import { sendText, type RouteHandler } from './respond.js';
import { SCRAPE_TIMEOUT_HEADER, parseScrapeRequest } from './scrape-request.js';

export interface MetricsRouteOptions {
  readonly source: ScrapeSource;
  readonly limit: ConcurrencyLimit;
  readonly timeoutOffsetSeconds: number;
  readonly logger: Logger;
}

export function createMetricsRoute(options: MetricsRouteOptions): RouteHandler {
  return async (req, res) => {
    if (!options.limit.tryAcquire()) {
      sendText(res, 503, `too many concurrent scrapes: the limit of ${options.limit.max} (--web.max-requests) is reached, try again later\n`);
      return;
    }
    try {
      await serveScrape(options, req, res);
    } finally {
      options.limit.release();
    }
  };
}

async function serveScrape(options: MetricsRouteOptions, req: Request, res: Response): Promise<void> {
  const parsed = parseScrapeRequest({
    url: req.originalUrl,
    timeoutHeader: req.headers[SCRAPE_TIMEOUT_HEADER],
    timeoutOffsetSeconds: options.timeoutOffsetSeconds,
    now: Date.now(),
  });
  if (!parsed.ok) {
    sendText(res, 400, `${parsed.problem}\n`);
    return;
  }
  const families = await collect(options, parsed.request, res);
  if (families === undefined) return;
  const format = negotiateFormat(req.headers.accept);
  const gzip = acceptsGzip(req);
  res.status(200);
  res.setHeader('Content-Type', CONTENT_TYPE[format]);
  res.setHeader('Vary', 'Accept, Accept-Encoding');
  res.setHeader('Cache-Control', 'no-store');
  if (gzip) res.setHeader('Content-Encoding', 'gzip');
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  await streamBody(options.logger, families, format, gzip, res);
}

/** The scrape's families, or undefined after answering 400 for an unknown collector. */
async function collect(
  options: MetricsRouteOptions,
  request: Parameters<ScrapeSource['scrape']>[0],
  res: Response,
): Promise<MetricFamily[] | undefined> {
  try {
    return await options.source.scrape(request);
  } catch (error) {
    if (!(error instanceof UnknownCollectorError)) throw error;
    sendText(res, 400, `${error.message}\n`);
    return undefined;
  }
}

function acceptsGzip(req: Request): boolean {
  return new Negotiator(req).encoding(['gzip', 'identity']) === 'gzip';
}

async function streamBody(logger: Logger, families: MetricFamily[], format: ExpositionFormat, gzip: boolean, res: Response): Promise<void> {
  const body = Readable.from(renderIncrementally(families, format), { objectMode: false });
  try {
    if (gzip) {
      // Level 1: a 6.5 MB exposition shrinks ~6x for a quarter of level 6's CPU on the host being watched.
      await pipeline(body, createGzip({ level: zlibConstants.Z_BEST_SPEED }), res);
    } else {
      await pipeline(body, res);
    }
  } catch (error) {
    // The scraper went away mid-body; nothing can be sent any more.
    logger.debug('scrape response not completed', { err: error });
  }
}
