/**
 * GET/HEAD on the telemetry path: one scrape, rendered in the negotiated
 * format, gzip-compressed when the scraper accepts it.
 *
 * Mirrors promhttp's handler (client_golang): in-flight limit with 503,
 * content negotiation with an exact Content-Type, gzip. The families come
 * whole from the ScrapeSource, the exporter's own metrics included.
 *
 * A scrape slot (`--web.max-requests`) is held while the body is produced,
 * not while it is delivered: render.ts yields bounded chunks with a turn of
 * the event loop between them, zlib compresses them on libuv's thread pool,
 * and the finished body is kept as those chunks. The slot is then released
 * and the body written, so a client that reads slowly, or not at all, holds
 * its own connection and nothing else. A client that takes no byte of its
 * body for WRITE_STALL_MS is disconnected. What this costs is memory: one
 * finished body per connection being answered, which `--web.max-connections`
 * and the per-connection request limit bound.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants as zlibConstants, createGzip } from 'node:zlib';
import type { Request, Response } from 'express';
import Negotiator from 'negotiator';
import { UnknownCollectorError } from '../errors.js';
import type { ScrapeSource } from '../exporter/scrape-source.js';
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
  /** A client that takes no byte of its body for this long is disconnected. */
  readonly writeStallTimeoutMs?: number;
}

/** Far longer than a scraper on any working network needs to take the next chunk. */
export const WRITE_STALL_MS = 10_000;

/** What a scrape answers with: status line and headers decided, body produced. */
interface ProducedScrape {
  readonly headers: Readonly<Record<string, string>>;
  /** Undefined for HEAD. */
  readonly body: readonly Buffer[] | undefined;
}

export function createMetricsRoute(options: MetricsRouteOptions): RouteHandler {
  return async (req, res) => {
    if (!options.limit.tryAcquire()) {
      sendText(res, 503, `too many concurrent scrapes: the limit of ${options.limit.max} (--web.max-requests) is reached, try again later\n`);
      return;
    }
    let produced: ProducedScrape | undefined;
    try {
      produced = await produceScrape(options, req, res);
    } finally {
      options.limit.release();
    }
    if (produced) await deliver(options, produced, res);
  };
}

/** The scrape's headers and body; undefined when it was answered already (400). */
async function produceScrape(options: MetricsRouteOptions, req: Request, res: Response): Promise<ProducedScrape | undefined> {
  const parsed = parseScrapeRequest({
    url: req.originalUrl,
    timeoutHeader: req.headers[SCRAPE_TIMEOUT_HEADER],
    timeoutOffsetSeconds: options.timeoutOffsetSeconds,
    now: Date.now(),
  });
  if (!parsed.ok) {
    sendText(res, 400, `${parsed.problem}\n`);
    return undefined;
  }
  const families = await collect(options, parsed.request, res);
  if (families === undefined) return undefined;
  const format = negotiateFormat(req.headers.accept);
  const gzip = acceptsGzip(req);
  const headers = {
    'Content-Type': CONTENT_TYPE[format],
    Vary: 'Accept, Accept-Encoding',
    'Cache-Control': 'no-store',
    ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
  };
  if (req.method === 'HEAD') return { headers, body: undefined };
  return { headers, body: await produceBody(families, format, gzip) };
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

/** The whole body, rendered and compressed in bounded chunks without blocking the event loop. */
async function produceBody(families: MetricFamily[], format: ExpositionFormat, gzip: boolean): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  const rendered = Readable.from(renderIncrementally(families, format), { objectMode: false });
  const keep = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  if (gzip) {
    // Level 1: a 6.5 MB exposition shrinks ~6x for a quarter of level 6's CPU on the host being watched.
    await pipeline(rendered, createGzip({ level: zlibConstants.Z_BEST_SPEED }), keep);
  } else {
    await pipeline(rendered, keep);
  }
  return chunks;
}

/** Writes a produced scrape; resolves when it is sent, or the client is gone or cut off for not reading. */
async function deliver(options: MetricsRouteOptions, produced: ProducedScrape, res: Response): Promise<void> {
  const body = produced.body ?? [];
  res.status(200);
  for (const [name, value] of Object.entries(produced.headers)) res.setHeader(name, value);
  if (produced.body) res.setHeader('Content-Length', String(body.reduce((total, chunk) => total + chunk.length, 0)));
  // The socket's inactivity timer, restarted by every write the client lets through.
  res.setTimeout(options.writeStallTimeoutMs ?? WRITE_STALL_MS, () => res.destroy());
  const sent = new Promise<void>((resolve) => res.once('close', resolve));
  for (const chunk of body) res.write(chunk);
  res.end();
  await sent;
  if (!res.writableFinished) options.logger.debug('scrape response not completed: the client left or stopped reading');
}
