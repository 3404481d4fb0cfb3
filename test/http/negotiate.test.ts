/** Accept header → exposition format, with the headers real scrapers and clients send. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONTENT_TYPE, negotiateFormat } from '../../src/http/negotiate.js';

const TEXT = 'text-0.0.4';
const OM = 'openmetrics-1.0.0';

describe('negotiateFormat', () => {
  it.each([
    // Prometheus 2.0-2.48 (scrape.go acceptHeader before scrape_protocols)
    ['Prometheus 2.x', 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1', OM],
    // Prometheus 2.49+ default scrape_protocols
    ['Prometheus 2.49+', 'application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2', OM],
    // Prometheus 3.x default (UTF-8 escaping)
    [
      'Prometheus 3.x',
      'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2',
      OM,
    ],
    [
      'Prometheus 3.x, legacy name validation',
      'application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=underscores;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2',
      OM,
    ],
    [
      'Prometheus 3.x, native histograms (protobuf first)',
      'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1',
      OM,
    ],
    ['Prometheus 3.x, scrape_protocols: [PrometheusText0.0.4]', 'text/plain;version=0.0.4;q=0.6,*/*;q=0.5', TEXT],
    ['Prometheus 3.x, scrape_protocols: [PrometheusText1.0.0]', 'text/plain;version=1.0.0;escaping=allow-utf-8;q=0.6,*/*;q=0.5', TEXT],
    ['Firefox', 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8', TEXT],
    ['Chrome', 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7', TEXT],
    ['curl', '*/*', TEXT],
    ['no Accept', undefined, TEXT],
    ['empty', '', TEXT],
    ['blank', '   ', TEXT],
    ['plain text without version', 'text/plain', TEXT],
    ['text with charset', 'text/plain; version=0.0.4; charset=utf-8', TEXT],
    ['OpenMetrics without version', 'application/openmetrics-text', OM],
    ['OpenMetrics with charset', 'application/openmetrics-text; version=1.0.0; charset=utf-8', OM],
    ['OpenMetrics upper case', 'Application/OpenMetrics-Text;Version=1.0.0', OM],
    ['only OpenMetrics 0.0.1 (not served)', 'application/openmetrics-text;version=0.0.1', TEXT],
    ['only protobuf (not served)', 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited', TEXT],
    ['text refused, anything else', 'text/plain;q=0, */*;q=0.1', OM],
    ['everything refused', 'text/plain;version=0.0.4;q=0', TEXT],
    ['text preferred over OpenMetrics', 'application/openmetrics-text;q=0.2, text/plain;q=0.9', TEXT],
    ['garbage', 'garbage', TEXT],
    ['control characters', '\u0001;;,,;=', TEXT],
    ['bad q value', 'application/openmetrics-text;q=abc', TEXT],
    ['quoted parameter (RFC 9110)', 'application/openmetrics-text;version="1.0.0"', OM],
  ])('%s → %s', (_client, accept, format) => {
    expect(negotiateFormat(accept)).toBe(format);
  });

  it('never throws and always picks a served format, whatever the header', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (accept) => {
        expect([TEXT, OM]).toContain(negotiateFormat(accept));
      }),
      { numRuns: 2000 },
    );
  });

  it('names the exact Content-Types Prometheus expects', () => {
    expect(CONTENT_TYPE[TEXT]).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(CONTENT_TYPE[OM]).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
  });
});
