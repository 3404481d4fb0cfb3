/**
 * Turns a scrape's URL and headers into a ScrapeRequest.
 *
 * Mirrors node_exporter's handler: `collect[]=name` (repeatable) keeps only
 * those collectors, `exclude[]=name` drops them, both at once is refused
 * (400). The names only select among configured collectors; the exporter
 * checks them (UnknownCollectorError) and nothing here reaches the kernel.
 *
 * Mirrors blackbox_exporter's use of `X-Prometheus-Scrape-Timeout-Seconds`:
 * the deadline is the scraper's timeout minus a configured offset, so the
 * exporter answers with what it has before Prometheus gives up. A header that
 * is not a positive finite number is ignored, as if absent.
 */
import type { ScrapeRequest } from '../exporter/scrape-source.js';

export const SCRAPE_TIMEOUT_HEADER = 'x-prometheus-scrape-timeout-seconds';

export type ParsedScrapeRequest =
  | { readonly ok: true; readonly request: ScrapeRequest }
  | { readonly ok: false; readonly problem: string };

export interface ScrapeRequestInput {
  /** The request target as received (`/metrics?collect[]=pcpu`). */
  readonly url: string;
  readonly timeoutHeader: string | readonly string[] | undefined;
  readonly timeoutOffsetSeconds: number;
  /** Epoch milliseconds when the request arrived. */
  readonly now: number;
}

export function parseScrapeRequest(input: ScrapeRequestInput): ParsedScrapeRequest {
  const params = searchParamsOf(input.url);
  const collect = params.getAll('collect[]');
  const exclude = params.getAll('exclude[]');
  if (collect.length > 0 && exclude.length > 0) {
    return { ok: false, problem: 'collect[] and exclude[] cannot be used in the same request' };
  }
  const deadline = deadlineOf(input.timeoutHeader, input.timeoutOffsetSeconds, input.now);
  return {
    ok: true,
    request: {
      ...(collect.length > 0 ? { collect } : {}),
      ...(exclude.length > 0 ? { exclude } : {}),
      ...(deadline !== undefined ? { deadline } : {}),
    },
  };
}

/** Only the query string matters, and URLSearchParams accepts any text without throwing. */
function searchParamsOf(url: string): URLSearchParams {
  const query = url.indexOf('?');
  return new URLSearchParams(query < 0 ? '' : url.slice(query + 1));
}

/**
 * The epoch-ms deadline for a scraper timeout of `header` seconds. When the
 * offset is not smaller than the timeout, half the timeout is used instead:
 * still ahead of the scraper, never already past.
 */
export function deadlineOf(header: string | readonly string[] | undefined, offsetSeconds: number, now: number): number | undefined {
  if (typeof header !== 'string' || !/^\s*[0-9.eE+]+\s*$/.test(header)) return undefined;
  const timeout = Number(header);
  if (!Number.isFinite(timeout) || timeout <= 0) return undefined;
  const budget = timeout > offsetSeconds ? timeout - offsetSeconds : timeout / 2;
  return now + budget * 1000;
}
