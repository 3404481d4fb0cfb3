/**
 * Picks the exposition format of a scrape from its Accept header.
 *
 * Mirrors Prometheus' content negotiation (prometheus/docs
 * `content_negotiation.md`): the scraper sends a weighted list such as
 * `application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,...,
 * text/plain;version=0.0.4;q=0.3,*\/*;q=0.2`; the target serves the
 * best-weighted format it supports and falls back to text 0.0.4 when the
 * header is missing, malformed or asks only for formats it lacks.
 *
 * The `negotiator` package does the parsing and ranking (RFC 9110 q-values,
 * specificity, parameters) instead of hand parsing. It matches a range's
 * parameters exactly, so the offers list each format with the `escaping`
 * and `charset` parameters a scraper may add: our metric and label names are
 * all legacy-valid, so every escaping scheme yields the same bytes.
 */
import Negotiator from 'negotiator';
import type { ExpositionFormat } from '../exposition/render.js';

export const CONTENT_TYPE: Readonly<Record<ExpositionFormat, string>> = {
  'text-0.0.4': 'text/plain; version=0.0.4; charset=utf-8',
  'openmetrics-1.0.0': 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

export const FALLBACK_FORMAT: ExpositionFormat = 'text-0.0.4';

const BASE_MEDIA_TYPE: Readonly<Record<ExpositionFormat, string>> = {
  'text-0.0.4': 'text/plain; version=0.0.4',
  'openmetrics-1.0.0': 'application/openmetrics-text; version=1.0.0',
};

/** The escaping schemes of prometheus/common `model.EscapingScheme`. */
const ESCAPING_SCHEMES = ['allow-utf-8', 'underscores', 'dots', 'values'] as const;

/**
 * Offered media types, text first: on a tie (`*\/*`, a browser's Accept)
 * negotiator keeps offer order, and text 0.0.4 is the safe default.
 */
const OFFERS: readonly (readonly [string, ExpositionFormat])[] = (['text-0.0.4', 'openmetrics-1.0.0'] as const).flatMap(
  (format) => offersFor(format).map((offer) => [offer, format] as const),
);

function offersFor(format: ExpositionFormat): string[] {
  const base = BASE_MEDIA_TYPE[format];
  const withEscaping = [base, ...ESCAPING_SCHEMES.map((scheme) => `${base}; escaping=${scheme}`)];
  return withEscaping.flatMap((offer) => [offer, `${offer}; charset=utf-8`]);
}

const FORMAT_OF_OFFER = new Map(OFFERS);
const OFFER_LIST = OFFERS.map(([offer]) => offer);

export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (accept === undefined || accept.trim() === '') return FALLBACK_FORMAT;
  let best: string | undefined;
  try {
    best = new Negotiator({ headers: { accept } }).mediaType(OFFER_LIST);
  } catch {
    // A header negotiator cannot parse is a malformed one: fall back, never fail the scrape.
    best = undefined;
  }
  return (best === undefined ? undefined : FORMAT_OF_OFFER.get(best)) ?? FALLBACK_FORMAT;
}
