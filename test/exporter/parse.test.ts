/**
 * The test-side exposition reader (test/support/parse.ts) is itself
 * checked, since every value test trusts it: families rendered by the
 * product's renderer come back exactly (escapes, NaN and infinities,
 * histograms, OpenMetrics counters), and malformed or ambiguous input is
 * refused with the line it is on.
 */
import { describe, expect, it } from 'vitest';

import type { MetricFamily } from '../../src/exposition/family.js';
import { renderFamilies } from '../../src/exposition/render.js';
import { ExpositionSyntaxError, byLabel, parseExposition, samplesOf, valueOf } from '../support/parse.js';
import { columnarAll } from '../support/families.js';

const FAMILIES: MetricFamily[] = columnarAll([
  {
    name: 'kvm_test_total',
    help: 'A counter with "quotes", a back\\slash\nand a newline',
    type: 'counter',
    labelNames: ['cpu', 'path'],
    series: [
      { labels: ['0', 'C:\\kernel "a"\nb'], value: 18_446_744_073_709_551_615 },
      { labels: ['1', ''], value: 0 },
    ],
  },
  { name: 'kvm_test_gauge', help: 'Odd values', type: 'gauge', labelNames: ['v'], series: [
    { labels: ['nan'], value: Number.NaN },
    { labels: ['inf'], value: Number.POSITIVE_INFINITY },
    { labels: ['-inf'], value: Number.NEGATIVE_INFINITY },
    { labels: ['neg'], value: -2.5e-7 },
  ] },
  { name: 'kvm_test_untyped', help: '', type: 'untyped', labelNames: [], series: [{ labels: [], value: 42 }] },
  {
    name: 'kvm_test_seconds',
    help: 'A histogram',
    type: 'histogram',
    labelNames: [],
    series: [
      { labels: [], value: 1, sampleName: 'kvm_test_seconds_bucket', extraLabels: [['le', '0.1']] },
      { labels: [], value: 3, sampleName: 'kvm_test_seconds_bucket', extraLabels: [['le', '+Inf']] },
      { labels: [], value: 0.75, sampleName: 'kvm_test_seconds_sum' },
      { labels: [], value: 3, sampleName: 'kvm_test_seconds_count' },
    ],
  },
]);

describe.each([
  ['text-0.0.4', 'text'],
  ['openmetrics-1.0.0', 'openmetrics'],
] as const)('round trip through the renderer (%s)', (format, flavour) => {
  const scrape = parseExposition(renderFamilies(FAMILIES, format), flavour);

  it('gives back every label value, escapes included', () => {
    expect(valueOf(scrape, 'kvm_test_total', { cpu: '0', path: 'C:\\kernel "a"\nb' })).toBe(18_446_744_073_709_551_615);
    expect(valueOf(scrape, 'kvm_test_total', { cpu: '1', path: '' })).toBe(0);
  });

  it('gives back NaN, the infinities and small negatives', () => {
    const values = byLabel(scrape, 'kvm_test_gauge', 'v');
    expect(values.get('nan')).toBeNaN();
    expect(values.get('inf')).toBe(Number.POSITIVE_INFINITY);
    expect(values.get('-inf')).toBe(Number.NEGATIVE_INFINITY);
    expect(values.get('neg')).toBe(-2.5e-7);
  });

  it('keeps types and HELP, and puts histogram samples under their family', () => {
    const counterFamily = flavour === 'openmetrics' ? 'kvm_test' : 'kvm_test_total';
    expect(scrape.families.get(counterFamily)?.help).toBe(FAMILIES[0]!.help);
    expect(scrape.families.get(counterFamily)?.type).toBe('counter');
    expect(scrape.families.get('kvm_test_untyped')?.type).toBe('untyped');
    expect(scrape.families.get('kvm_test_seconds')?.samples.map((s) => s.name)).toEqual([
      'kvm_test_seconds_bucket', 'kvm_test_seconds_bucket', 'kvm_test_seconds_sum', 'kvm_test_seconds_count',
    ]);
    expect(samplesOf(scrape, 'kvm_test_seconds_bucket', { le: '+Inf' })[0]?.value).toBe(3);
  });
});

describe('refuses', () => {
  it.each([
    ['a missing final newline', 'a 1', 'text', /line 1: the exposition must end with a newline/],
    ['a second TYPE', '# TYPE a gauge\n# TYPE a gauge\na 1\n', 'text', /line 2: second # TYPE for a/],
    ['a second HELP', '# HELP a x\n# HELP a y\na 1\n', 'text', /line 2: second # HELP for a/],
    ['TYPE after samples', 'a 1\n# TYPE a gauge\n', 'text', /line 2: # TYPE of a after its samples/],
    ['a family split by another', 'a 1\nb 1\na{x="1"} 2\n', 'text', /line 3: family a appears twice/],
    ['a repeated series', 'a{x="1",y="2"} 1\na{y="2",x="1"} 2\n', 'text', /line 2: repeated series a/],
    ['a repeated label', 'a{x="1",x="2"} 1\n', 'text', /line 1: label x repeated/],
    ['an unknown escape', 'a{x="\\t"} 1\n', 'text', /line 1: invalid escape \\t in a label value/],
    ['an unterminated label value', 'a{x="1} 1\n', 'text', /line 1: unterminated label value/],
    ['a value that is not a number', 'a 0x10\n', 'text', /line 1: invalid value "0x10"/],
    ['an unknown type', '# TYPE a meter\na 1\n', 'text', /line 1: unknown type "meter"/],
    ['a text counter without _total', '# TYPE a counter\na 1\n', 'text', /counter a does not end in _total/],
    ['OpenMetrics without # EOF', '# TYPE a gauge\na 1\n', 'openmetrics', /OpenMetrics must end with # EOF/],
    ['an OpenMetrics counter sample without _total', '# TYPE a counter\na 1\n# EOF\n', 'openmetrics', /needs the _total suffix/],
    ['lines after # EOF', '# EOF\na 1\n', 'openmetrics', /line 2: nothing may follow # EOF/],
    ['untyped spelled the text way in OpenMetrics', '# TYPE a untyped\na 1\n# EOF\n', 'openmetrics', /unknown type "untyped"/],
  ] as const)('%s', (_what, body, flavour, message) => {
    expect(() => parseExposition(body, flavour)).toThrow(ExpositionSyntaxError);
    expect(() => parseExposition(body, flavour)).toThrow(message);
  });

  it('asks for exactly one sample when a value is looked up', () => {
    const scrape = parseExposition('a{x="1"} 1\na{x="2"} 2\n');
    expect(() => valueOf(scrape, 'a')).toThrow('expected one sample a{}, found 0');
    expect(valueOf(scrape, 'a', { x: '2' })).toBe(2);
  });
});
